"""The NLTK data bundled in the package (filterspeak/nltk_data/): found with no NLTK_DATA and no
~/nltk_data, overridden by NLTK_DATA and NLTK's own search path, shipped with its licences."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from filterspeak.captions import nltk_resources as r
from filterspeak.errors import FilterSpeakError

REPO = Path(__file__).resolve().parents[2]
SHARED_NLTK_DATA = REPO.parent / "shared" / "nltk_data"
BUNDLED = Path(r.__file__).resolve().parents[1] / "nltk_data"
TAGGER_FILES = [
    f"taggers/averaged_perceptron_tagger_eng/averaged_perceptron_tagger_eng.{part}.json" for part in ("classes", "tagdict", "weights")
]
DATA_FILES = ["corpora/wordnet.zip", *TAGGER_FILES]

CAPTION = "a small bird with a red crown and black wings"
# what the parser gave for CAPTION with NLTK_DATA=../shared/nltk_data before the data was bundled
EXPECTED = [["red", "crown", False], ["black", "wing", False]]

_CHILD = """
import json, sys
import nltk.data
if sys.argv[1] == "bundled-only":  # NLTK's default folders out of the way: only the package copy
    nltk.data.path[:] = []
from filterspeak.captions import nltk_resources as r
from filterspeak.captions.parser import CaptionParser
phrases = CaptionParser().parse(sys.argv[2])
print(json.dumps({"phrases": [[p.modifier, p.noun, p.negated] for p in phrases], "where": r.locate()}))
"""


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NLTK_DATA"}
    env["HOME"] = str(home)  # so ~/nltk_data does not exist
    return env


@pytest.mark.parametrize("mode", ["defaults", "bundled-only"])
def test_parses_without_nltk_data_env_or_home_data(tmp_path, mode):
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, CAPTION],
        env=_clean_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["phrases"] == EXPECTED
    if mode == "bundled-only":
        assert out["where"] == {
            r.TAGGER_RESOURCE: str(BUNDLED / "taggers" / "averaged_perceptron_tagger_eng"),
            r.WORDNET_RESOURCE: str(BUNDLED / "corpora" / "wordnet.zip") + "/wordnet/",
        }
    assert "NLTK will not read data" not in proc.stderr  # the package folder is not refused


def _fake_tagger(root: Path, tag: str) -> Path:
    """A one-word POS tagger model under ``root`` that tags 'bird' as ``tag``."""
    loc = root / "taggers" / "averaged_perceptron_tagger_eng"
    loc.mkdir(parents=True)
    stem = "averaged_perceptron_tagger_eng"
    (loc / f"{stem}.weights.json").write_text("{}")
    (loc / f"{stem}.tagdict.json").write_text(json.dumps({"bird": tag}))
    (loc / f"{stem}.classes.json").write_text(json.dumps([tag]))
    for folder in (root, root / "taggers", loc):  # NLTK refuses group-writable folders (umask 002)
        folder.chmod(0o755)
    return loc


def test_lookup_order_nltk_data_then_nltk_path_then_bundled(tmp_path, monkeypatch):
    """NLTK_DATA (read at call time) > nltk.data.path (NLTK's defaults, ~/nltk_data...) > the
    bundled copy, per resource: a folder with only a tagger still gets WordNet from the package."""
    import nltk.data

    env_dir, path_dir = tmp_path / "env_data", tmp_path / "path_data"
    env_loc, path_loc = _fake_tagger(env_dir, "ENV"), _fake_tagger(path_dir, "PATH")
    monkeypatch.setattr(r, "BUNDLED_DATA", BUNDLED)
    monkeypatch.setattr(nltk.data, "path", [str(path_dir)])
    monkeypatch.setenv("NLTK_DATA", str(env_dir))

    assert r.search_paths() == [str(env_dir), str(path_dir), str(BUNDLED)]
    where = r.locate()
    assert where[r.TAGGER_RESOURCE] == str(env_loc)
    assert where[r.WORDNET_RESOURCE] == str(BUNDLED / "corpora" / "wordnet.zip") + "/wordnet/"
    assert r.load_tagger().tag(["bird"]) == [("bird", "ENV")]

    monkeypatch.delenv("NLTK_DATA")
    monkeypatch.setattr(nltk.data, "path", [str(path_dir)])
    assert r.locate()[r.TAGGER_RESOURCE] == str(path_loc)
    assert r.load_tagger().tag(["bird"]) == [("bird", "PATH")]

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "nothing_here")])
    assert r.locate()[r.TAGGER_RESOURCE] == str(BUNDLED / "taggers" / "averaged_perceptron_tagger_eng")
    assert r.load_tagger().tag(["a", "bird"]) == [("a", "DT"), ("bird", "NN")]


def test_missing_after_all_is_one_clear_line(tmp_path, monkeypatch):
    import nltk.data

    gone = tmp_path / "site-packages" / "filterspeak" / "nltk_data"  # a deleted bundled copy
    monkeypatch.setattr(r, "BUNDLED_DATA", gone)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "other")])
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "env"))
    for loader, resource in ((r.load_tagger, r.TAGGER_RESOURCE), (r.load_lemmatizer, r.WORDNET_RESOURCE)):
        with pytest.raises(r.NltkDataMissing, match=f"^NLTK data resource '{resource}' ") as info:
            loader()
        err = info.value
        assert isinstance(err, FilterSpeakError) and isinstance(err, RuntimeError)
        msg = str(err)
        assert "\n" not in msg
        assert msg.startswith(f"NLTK data resource '{resource}'")
        assert err.searched == [str(tmp_path / "env"), str(tmp_path / "other"), str(gone)]
        assert f"{tmp_path / 'env'}, {tmp_path / 'other'}, {gone}." in msg
        assert "reinstall FilterSpeak" in msg and r.DOWNLOAD_COMMAND in msg and "NLTK_DATA" in msg


def test_licence_notices_beside_the_shipped_data():
    assert r.BUNDLED_DATA == BUNDLED
    for name in DATA_FILES:
        assert (BUNDLED / name).is_file(), name
    notice = (BUNDLED / "NOTICE.md").read_text(encoding="utf-8")
    assert "corpora/wordnet.zip" in notice and "taggers/averaged_perceptron_tagger_eng/" in notice
    assert "LICENSE-wordnet.txt" in notice and "Apache" in notice and "NLTK Project" in notice
    licence = (BUNDLED / "LICENSE-wordnet.txt").read_text(encoding="utf-8")
    assert "WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved." in licence
    assert 'PROVIDED "AS IS"' in licence
    readme = (BUNDLED / "README.md").read_text(encoding="utf-8")
    for name in DATA_FILES:  # the README lists each file's SHA-256
        digest = hashlib.sha256((BUNDLED / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in readme, name


def test_package_data_lists_every_bundled_file():
    """pyproject lists each data folder as a package and its package-data patterns cover each
    file of the folder (else a wheel lacks it; an unlisted folder makes setuptools warn)."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    package = BUNDLED.parent
    folders = {
        "filterspeak." + ".".join(d.relative_to(package).parts)
        for d in [BUNDLED, *BUNDLED.rglob("*")]
        if d.is_dir() and d.name != "__pycache__"
    }
    assert folders <= set(setuptools["packages"])
    shipped = {
        p
        for name, patterns in setuptools["package-data"].items()
        if name.startswith("filterspeak.nltk_data")
        for pattern in patterns
        for p in package.joinpath(*name.split(".")[1:]).glob(pattern)
        if p.is_file()
    }
    present = {p for p in BUNDLED.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert present == shipped
    assert {"NOTICE.md", "LICENSE-wordnet.txt", "README.md"} <= {p.name for p in shipped}


@pytest.mark.skipif(not SHARED_NLTK_DATA.is_dir(), reason="no ../shared/nltk_data to compare with")
def test_bundled_data_is_byte_identical_to_shared_copy():
    for name in [*DATA_FILES, "NOTICE.md", "LICENSE-wordnet.txt"]:
        assert (BUNDLED / name).read_bytes() == (SHARED_NLTK_DATA / name).read_bytes(), name
