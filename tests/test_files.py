"""filterspeak/files.py: a write is whole or absent; a file's hash follows its bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from filterspeak.files import atomic_write, sha256_file


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


def test_a_files_hash_is_its_bytes_sha256_and_follows_a_rewrite(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"first")
    assert sha256_file(path) == hashlib.sha256(b"first").hexdigest()
    atomic_write(path, lambda stream: stream.write(b"second, longer"))  # another size: not the memoised hash
    assert sha256_file(path) == hashlib.sha256(b"second, longer").hexdigest()
