"""A damaged training checkpoint reads as None (training starts over); an intact one reads back."""

from __future__ import annotations

import pytest
import torch

from filterspeak.backbones.checkpoints import load_checkpoint, save_checkpoint


def _state() -> dict:
    return {
        "spec": "smallcnn",
        "epochs": 3,
        "epochs_done": 1,
        "loss": 0.5,
        "model": {"weight": torch.arange(400.0).reshape(20, 20)},
        "rng": torch.get_rng_state(),
    }


def test_an_intact_checkpoint_reads_back(tmp_path):
    save_checkpoint(tmp_path / "training.pt", _state())
    state = load_checkpoint(tmp_path / "training.pt")
    assert state["epochs_done"] == 1 and torch.equal(state["model"]["weight"], _state()["model"]["weight"])


@pytest.mark.parametrize("keep", [0.0, 0.001, 0.01, 0.1, 0.5, 0.9, 0.999], ids=lambda f: f"first {f:.1%}")
def test_a_truncated_checkpoint_reads_as_none(tmp_path, keep):
    path = tmp_path / "training.pt"
    save_checkpoint(path, _state())
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert load_checkpoint(path) is None


@pytest.mark.parametrize("content", [b"not a checkpoint", b"\x80\x04K\x01.", b"PK\x03\x04garbage"], ids=["text", "pickle", "zip-ish"])
def test_a_foreign_file_reads_as_none(tmp_path, content):
    path = tmp_path / "training.pt"
    path.write_bytes(content)
    assert load_checkpoint(path) is None
