from pathlib import Path

import pytest
from PIL import Image

from filterspeak.storage.atomic import atomic_write


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_a_complete_write_replaces_the_file(tmp_path):
    target = tmp_path / "deep" / "bird.png"
    atomic_write(target, lambda stream: Image.new("RGB", (8, 4), "red").save(stream, format="PNG"))
    atomic_write(target, lambda stream: Image.new("RGB", (3, 5), "blue").save(stream, format="PNG"))
    with Image.open(target) as picture:
        assert picture.size == (3, 5) and picture.getpixel((0, 0)) == (0, 0, 255)
    assert _files(target.parent) == {"bird.png"}


def test_a_failed_write_leaves_no_partial_file_and_the_old_one_intact(tmp_path, monkeypatch):
    def disk_full(stream):
        stream.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(tmp_path / "bird-1-red-crown.png", disk_full)
    assert _files(tmp_path) == set()

    (tmp_path / "old.json").write_text("{}")
    with pytest.raises(OSError, match="No space"):
        atomic_write(tmp_path / "old.json", disk_full)
    assert _files(tmp_path) == {"old.json"} and (tmp_path / "old.json").read_text() == "{}"
