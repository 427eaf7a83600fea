"""Progress of long steps: two plain lines when the output is not a terminal, a bar on a terminal,
nothing when disabled."""

from __future__ import annotations

import io
import re

import pytest

from filterspeak.progress import Progress, announce, iterate


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_step_off_a_terminal_prints_a_start_and_an_end_line():
    stream = io.StringIO()
    with Progress(5, "extract features.3", unit="shard", stream=stream) as bar:
        for _ in range(5):
            bar.update(1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == "extract features.3: started (5 shard)"
    assert re.fullmatch(r"extract features\.3: done, 5 shard in \d+\.\d s", lines[1]), lines[1]


def test_a_resumed_step_counts_what_was_already_done_and_shows_its_postfix():
    stream = io.StringIO()
    with Progress(4, "train smallcnn", unit="epoch", initial=2, stream=stream) as bar:
        bar.update(2)
        bar.postfix(loss="0.123")
    first, last = stream.getvalue().splitlines()
    assert first == "train smallcnn: started (4 epoch, 2 already done)"
    assert re.fullmatch(r"train smallcnn: done, 4 epoch in \d+\.\d s \(loss=0\.123\)", last), last


def test_a_failing_step_says_so_in_its_end_line():
    stream = io.StringIO()
    with pytest.raises(RuntimeError, match="shape mismatch"), Progress(3, "planted birds", unit="img", stream=stream) as bar:
        bar.update(1)
        raise RuntimeError("shape mismatch")
    assert re.fullmatch(r"planted birds: failed, 1 img in \d+\.\d s", stream.getvalue().splitlines()[-1])


def test_on_a_terminal_a_bar_is_drawn_instead_of_lines():
    stream = FakeTerminal()
    with Progress(3, "planted birds", unit="img", stream=stream) as bar:
        for _ in range(3):
            bar.update(1)
    output = stream.getvalue()
    assert "started" not in output and "done," not in output
    assert output.startswith("\rplanted birds:") and "0/3" in output  # tqdm's first frame (later ones are rate-limited)
    assert output.endswith("\r")  # leave=False: the bar is wiped when the step ends


def test_disabled_prints_nothing_on_either_kind_of_stream():
    for stream in (io.StringIO(), FakeTerminal()):
        with Progress(3, "planted birds", enabled=False, stream=stream) as bar:
            bar.update(3)
            bar.postfix(loss="1.0")
        assert stream.getvalue() == ""


def test_iterate_yields_every_item_and_prints_two_lines(capsys):
    assert list(iterate(range(4), "planted birds", 4, unit="img")) == [0, 1, 2, 3]
    lines = capsys.readouterr().err.splitlines()  # pytest's captured stderr is not a terminal
    assert lines[0] == "planted birds: started (4 img)" and lines[1].startswith("planted birds: done, 4 img in ")
    assert len(lines) == 2


def test_announce_is_one_line():
    stream = io.StringIO()
    announce("train smallcnn: resuming after epoch 2 of 4", stream)
    assert stream.getvalue() == "train smallcnn: resuming after epoch 2 of 4\n"
