"""Regenerate the weights FilterSpeak ships for its built-in backbone, or check them.

    python scripts/shipped_weights.py            # check: train every entry again, compare sha256
    python scripts/shipped_weights.py --write    # write the files and filterspeak/backbones/weights/index.json
    python scripts/shipped_weights.py --entry smallcnn-w16-s0 --store /tmp/w

Each entry of `filterspeak.backbones.pretrained.SHIPPED` is trained by the `backbone` stage itself
(the dataset and backbone stages of a build with `--train`, no Prefect), so the shipped file is
byte for byte the `model.pt` a `--train` build writes. Training is deterministic on one CPU kind
but not across kinds: on another machine `--check` may report other sha256s, which is why the
weights are shipped (about 1 minute of training per entry on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import torch

from filterspeak.backbones import pretrained
from filterspeak.files import sha256_file
from filterspeak.options import BuildOptions
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks import backbone as backbone_stage
from filterspeak.tasks import dataset as dataset_stage
from filterspeak.tasks.stage import Context, Inputs, run


def train_entry(entry: pretrained.ShippedWeights, store: Path, progress: bool = True) -> tuple[Path, dict]:
    """Train `entry` in `store` as a `--train` build does: (its model.pt, the record for index.json)."""
    options = BuildOptions.of_network(entry.network, entry.dataset, train=True, device="cpu")
    spec = options.backbone_spec
    if spec.shipped != entry.key:
        raise SystemExit(f"{entry.key}: its build options resolve to {spec.shipped!r}; fix SHIPPED")
    paths = StorePaths(store).ensure()
    context = Context(progress=progress)
    dataset = run(dataset_stage.STAGE, paths, Inputs.of(), dataset_stage.params_from(options), context)
    params = backbone_stage.params_from(options)
    backbone = run(backbone_stage.STAGE, paths, Inputs.of(dataset), params, Context(spec.name, device="cpu", progress=progress))
    weights = backbone.file_path("weights")
    metrics = backbone.metrics
    record = {
        "file": f"{entry.key}.pt",
        "sha256": sha256_file(weights),
        "bytes": weights.stat().st_size,
        "test_accuracy": metrics["test_accuracy"],
        "train_accuracy": metrics["train_accuracy"],
        "final_loss": metrics["final_loss"],
        "pixels_hash": dataset.metrics["pixels_hash"],
        "trained_with": {
            "torch": torch.__version__,
            "cpu": _cpu_name(),
            "threads": torch.get_num_threads(),
            "date": datetime.now(UTC).date().isoformat(),
        },
    }
    if entry.network.concept_filters:
        record.update(concept_filters=metrics["concept_filters"], concept_accuracy=metrics["concept_accuracy"])
    return weights, record


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the weights files and index.json (default: only check)")
    parser.add_argument("--entry", action="append", choices=sorted(pretrained.SHIPPED), help="only these entries (default: all)")
    parser.add_argument("--store", type=Path, default=None, help="the store to train in (default: a temporary folder, removed after)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    store = args.store or Path(tempfile.mkdtemp(prefix="shipped-weights-"))
    index = json.loads(pretrained.INDEX.read_text()) if pretrained.INDEX.is_file() else {}
    differs = 0
    try:
        for key in args.entry or list(pretrained.SHIPPED):
            entry = pretrained.SHIPPED[key]
            weights, record = train_entry(entry, store, progress=not args.no_progress)
            recorded = index.get(key, {}).get("sha256")
            same = recorded == record["sha256"]
            differs += not same
            print(
                f"{key}: sha256 {record['sha256']} ({'same as shipped' if same else f'shipped {recorded}'}); "
                f"test accuracy {record['test_accuracy']:.4f}"
            )
            if args.write:
                pretrained.WEIGHTS_DIR.mkdir(exist_ok=True)
                shutil.copyfile(weights, pretrained.WEIGHTS_DIR / record["file"])
                index[key] = record
        if args.write:
            pretrained.INDEX.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
            print(f"wrote {pretrained.INDEX}")
    finally:
        if args.store is None:
            shutil.rmtree(store, ignore_errors=True)
    if differs and not args.write:
        print(
            f"{differs} entr{'y' if differs == 1 else 'ies'} differ from the shipped files on this machine ({_cpu_name()})", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
