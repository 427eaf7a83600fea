"""Everything a session with a GPU must measure, in one run (under 8 minutes on one H100):

    python benchmarks/gpu_check.py              # on a machine with CUDA
    python benchmarks/gpu_check.py --dry-run    # the same steps at toy sizes on the CPU (a test runs it)

1. the CUDA parity tests (tests/backbones/test_device_parity.py: CPU and CUDA extraction agree);
2. `benchmarks/extraction.py --device cuda` for ResNet-50 `layer4` at 224 px (random weights: speed
   only) on the cub100 photos repeated to 20,480 images: the bare forward and the real `extract`
   stage, `ratio` of the two;
3. a CUB-sized end-to-end build on CUDA: the synthetic dataset at 20 species × 590 images (11,800,
   CUB-200-2011's 11,788), the built-in backbone trained and explained there; its summary's
   stage times and `total:`.
Each step prints its own figures; the end lists them. Record them in docs/performance.md. Without
`../shared/data/cub100` the extraction runs on synthetic birds drawn at 224 px instead (said so).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CUB_PHOTOS = REPO.parent / "shared" / "data" / "cub100" / "images"
FIGURES = re.compile(r"(img/s|^ratio |  total: |  test accuracy: |passed|failed|skipped|    (extract|backbone|dataset) )")


@dataclass(frozen=True)
class Step:
    name: str
    command: list[str]


def steps(dry_run: bool, scratch: Path, images: Path) -> list[Step]:
    python = sys.executable
    device = "cpu" if dry_run else "cuda"
    parity = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO / "tests" / "backbones" / "test_device_parity.py")]
    extraction = [python, str(REPO / "benchmarks" / "extraction.py"), "--device", device, "--model", "resnet50", "--layer", "layer4"]
    extraction += ["--images", str(images), "--limit", "64" if dry_run else "20480"]
    size = ["--num-classes", "12", "--images-per-class", "4", "--width", "4", "--epochs", "1"] if dry_run else []
    size = size or ["--num-classes", "20", "--images-per-class", "590"]
    build = [python, "-m", "filterspeak.flows.cli", "build", "--store", str(scratch / "store"), *size, "--device", device, "--no-progress"]
    return [
        Step("CUDA parity tests" + (" (collected only)" if dry_run else ""), [*parity, "--collect-only"] if dry_run else parity),
        Step("extraction, ResNet-50 layer4 at 224 px", extraction),
        Step("end-to-end build" + (" (toy size)" if dry_run else ", CUB-sized synthetic (11,800 images)"), build),
    ]


def _synthetic_photos(folder: Path, count: int = 256) -> Path:
    """Synthetic birds drawn at 224 px, as PNG files in class folders (when the cub100 photos are absent)."""
    import numpy as np
    from PIL import Image

    from filterspeak.datasets.synthetic import SyntheticConfig, render_bird, sample_bird

    config, rng = SyntheticConfig(), np.random.default_rng(0)
    for index in range(count):
        species = index % config.num_classes
        image, _ = render_bird(sample_bird(species, config, rng), 224, rng)
        (folder / f"class{species:02d}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"class{species:02d}" / f"{index:04d}.png")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="every step at toy sizes on the CPU (checks the script, measures nothing)")
    parser.add_argument("--images", type=Path, default=CUB_PHOTOS, help="photos for the extraction step (default: ../shared's cub100)")
    args = parser.parse_args(argv)
    if not args.dry_run:
        import torch

        if not torch.cuda.is_available():
            print("gpu_check: no CUDA device here; run it on a GPU machine, or with --dry-run", file=sys.stderr)
            return 2
        print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    summary, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        scratch = Path(folder)
        images = args.images
        if not images.is_dir():
            print(f"{images} not found: the extraction step uses synthetic birds drawn at 224 px", flush=True)
            images = _synthetic_photos(scratch / "photos")
        for step in steps(args.dry_run, scratch, images):
            print(f"\n== {step.name}\n$ {' '.join(step.command)}", flush=True)
            clock = time.perf_counter()
            done = subprocess.run(step.command, cwd=REPO, capture_output=True, text=True)
            seconds = time.perf_counter() - clock
            print(done.stdout + done.stderr[-3000:] if done.returncode else done.stdout, flush=True)
            figures = [line.strip() for line in done.stdout.splitlines() if FIGURES.search(line)]
            summary.append((step.name, done.returncode, seconds, figures))
            failed += done.returncode != 0
    print("\n== summary")
    for name, code, seconds, figures in summary:
        print(f"- {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds:.0f} s" + "".join(f"\n    {f}" for f in figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
