"""`filterspeak captions parse|vocab` handlers, called through a small argparse tree."""

from __future__ import annotations

import argparse
import json

import pytest

from _helpers import FIXTURES
from filterspeak.flows.captions_cli import add_captions_commands, run_captions


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="filterspeak")
    commands = parser.add_subparsers(dest="command", required=True)
    add_captions_commands(commands)
    args = parser.parse_args(list(argv))
    assert args.command == "captions"
    return run_captions(args)


def test_parse_text_output(capsys):
    assert cli("captions", "parse", str(FIXTURES / "cub"), "--format", "cub", "--limit", "2") == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg\ta large bird with a long hooked bill and dark brown wings",
        "    -> long beak; hooked beak; dark brown wing",
        (
            "001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg\t"
            "this bird has a white face around its bill and dark brown feathers"
        ),
        "    -> white face; dark brown feather",
    ]


def test_parse_json_output_every_format(capsys):
    cases = [
        (FIXTURES / "cub", "cub", 16),
        (FIXTURES / "coco" / "captions_val2014_sample.json", "coco", 4),
        (FIXTURES / "flickr8k" / "Flickr8k.token.txt", "flickr8k", 10),
        (FIXTURES / "jsonl" / "captions.jsonl", "jsonl", 5),
        (FIXTURES / "csv" / "captions.csv", "csv", 3),
    ]
    for path, fmt, n in cases:
        assert cli("captions", "parse", str(path), "--format", fmt, "--json") == 0
        captured = capsys.readouterr()
        records = [json.loads(line) for line in captured.out.splitlines()]
        assert len(records) == n, fmt
        assert all(set(r) == {"image", "line", "text", "phrases"} for r in records)
    # the COCO sample has a caption for an unlisted image: reported on stderr, others kept
    cli("captions", "parse", str(cases[1][0]), "--format", "coco", "--json")
    captured = capsys.readouterr()
    assert "skipped 1 of 5 captions: 1 caption for unknown image" in captured.err
    assert "annotation 1005 (image_id 999): caption for unknown image" in captured.err
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert records[1] == {
        "image": "COCO_val2014_000000000042.jpg",
        "line": 2,
        "text": "A yellow songbird with black wings sitting in a tree",
        "phrases": ["yellow songbird", "black wing"],
    }
    assert records[3]["phrases"] == ["red motorcycle", "black seat"]


def test_parse_marks_negation_on_request(capsys, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"image": "a.jpg", "caption": "a bird with no white wingbars and a red crown"}) + "\n")
    cli("captions", "parse", str(path), "--format", "jsonl")
    assert capsys.readouterr().out.splitlines()[1] == "    -> red crown"
    cli("captions", "parse", str(path), "--format", "jsonl", "--negation", "mark")
    assert capsys.readouterr().out.splitlines()[1] == "    -> not white wingbar; red crown"
    cli("captions", "parse", str(path), "--format", "jsonl", "--negation", "mark", "--json")
    record = json.loads(capsys.readouterr().out)
    assert record["phrases"] == ["red crown"] and record["negated"] == ["white wingbar"]


def test_vocab(capsys):
    assert cli("captions", "vocab", str(FIXTURES / "cub"), "--format", "cub", "--min-df", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    # phrases the captions of two of the three images mention, most frequent first, then A-Z
    assert lines == ["long beak\t2", "long wing\t2", "thick beak\t2"]
    cli("captions", "vocab", str(FIXTURES / "cub"), "--format", "cub", "--min-df", "1", "--max-size", "3", "--json")
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["attribute_id"] for r in records] == [0, 1, 2]
    assert set(records[0]) == {"attribute_id", "phrase", "modifier", "noun", "document_frequency"}


def test_vocab_empty_hint(capsys):
    cli("captions", "vocab", str(FIXTURES / "csv" / "captions.csv"), "--format", "csv")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no phrase is mentioned for at least 5 images" in captured.err


def test_argument_errors(capsys):
    with pytest.raises(SystemExit, match="^2$"):  # argparse's usage error status
        cli("captions", "parse", "x.txt", "--format", "yaml")
    assert "argument --format: invalid choice: 'yaml'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="^2$"):
        cli("captions", "vocab", "x.txt", "--format", "csv", "--min-df", "0")
    assert "argument --min-df: expected an integer >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="caption file not found: /nonexistent/x.txt"):
        cli("captions", "parse", "/nonexistent/x.txt", "--format", "csv")
