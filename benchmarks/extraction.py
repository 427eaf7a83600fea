"""Extraction against the network's bare forward pass, on the same images in the same run.

    python benchmarks/extraction.py [--model squeezenet1_0] [--weights FILE] [--layer features.12]
                                    [--images DIR] [--limit 1024] [--device cpu|cuda] [--workers N] [--repeat 1]

(a) The bare forward: the network up to the layer on already-decoded, normalised batches of 64
    in `torch.inference_mode()`, contiguous and channels-last (the best of the two is the
    reference).
(b) The real `extract` stage (`extract_layers`, head "none": the forward stops at the layer, as in
    the real-data build of docs/own-model-and-data.md) on the same images, from its image files: decoding, the forward,
    the reductions, the shards and the stage output. The upstream `dataset` (a table of the
    folder's images) and `backbone` stages run first into a temporary store, untimed.
It prints images/s for each and ends with `ratio <R>x`: extraction over the best bare forward.

Defaults: SqueezeNet 1.0 `features.12` with the ImageNet weights in ../shared/models and the
cub100 photos in ../shared/data (nothing is downloaded); 1,024 images, about two minutes on the
2-core CPU. `--limit` larger than the folder repeats its images. `--repeat N` runs each
measurement N times and keeps the best (the machine may be shared). `--workers` is the build's
`--loader-workers` (default: as suits the machine).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

from offline_environment import configure

configure()

SHARED = Path(__file__).resolve().parents[2] / "shared"
BATCH = 64
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class _Reached(Exception):
    pass


def _image_files(folder: Path, limit: int) -> list[str]:
    files = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"no images under {folder}")
    return [files[i % len(files)] for i in range(limit)]


def _synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_forward(model, layer: str, paths: list[str], preprocessing, device, channels_last: bool) -> float:
    """Images/s of the network up to `layer` on decoded, normalised batches already on the device."""
    import torch

    from filterspeak.backbones.features import layer_module
    from filterspeak.backbones.images import load_images, normalise

    distinct = list(dict.fromkeys(paths))[: 16 * BATCH]  # up to 16 distinct batches, cycled
    decoded = load_images(distinct, preprocessing.image_size, preprocessing.resize)
    batches = [normalise(decoded[i : i + BATCH].to(device), preprocessing) for i in range(0, len(distinct), BATCH)]
    if channels_last:
        batches = [b.contiguous(memory_format=torch.channels_last) for b in batches]
    model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def stop(*_args):
        raise _Reached

    handle = layer_module(model, layer).register_forward_hook(stop)
    sizes = [min(BATCH, len(paths) - start) for start in range(0, len(paths), BATCH)]
    try:
        with torch.inference_mode():
            for run in ([batches[0]], None):  # a warm-up batch, then the timed pass
                if run is None:
                    _synchronize(device)
                    clock = time.perf_counter()
                for index, size in enumerate(sizes if run is None else [len(batches[0])]):
                    with contextlib.suppress(_Reached):
                        model(batches[index % len(batches)][:size])
            _synchronize(device)
            seconds = time.perf_counter() - clock
    finally:
        handle.remove()
        model.to(memory_format=torch.contiguous_format)
    return len(paths) / seconds


def _upstream(store: Path, paths: list[str], spec, preprocessing, device: str):
    """The dataset (the folder's images as an `images` table) and backbone stages, run untimed."""
    import pandas as pd

    from filterspeak.storage.cache import run_stage
    from filterspeak.storage.fingerprint import fingerprint
    from filterspeak.storage.paths import StorePaths
    from filterspeak.tasks import backbone as backbone_stage
    from filterspeak.tasks import dataset as dataset_stage
    from filterspeak.tasks.stage import Context, Inputs, run

    store_paths = StorePaths(store).ensure()
    classes = sorted({Path(p).parent.name for p in paths})
    images = pd.DataFrame(
        {"image_id": range(len(paths)), "split": "train", "path": paths, "class_id": [classes.index(Path(p).parent.name) for p in paths]}
    )
    metrics = {"pixels_hash": fingerprint(paths), "images": len(paths), "classes": len(classes)}

    def write(output) -> None:
        output.write("images", images)
        output.write("classes", pd.DataFrame({"class_id": range(len(classes)), "name": classes}))
        output.metrics.update(metrics)

    dataset = run_stage(store_paths, "dataset", {"benchmark": metrics}, write, dataset_stage.TABLES, None)
    params = backbone_stage.BackboneParams(spec, preprocessing)
    backbone = run(backbone_stage.STAGE, store_paths, Inputs.of(dataset), params, Context(spec.name, device=device, progress=False))
    return store_paths, Inputs.of(dataset, backbone)


def extract_stage(paths: list[str], layer: str, spec, preprocessing, device: str, workers: int | None, layout: str) -> float:
    """Images/s of the real `extract` stage, on a fresh temporary store."""
    from filterspeak.tasks.extract import ExtractParams, extract_layers
    from filterspeak.tasks.stage import Context

    with tempfile.TemporaryDirectory(prefix="extraction-benchmark-") as folder:
        store, inputs = _upstream(Path(folder), paths, spec, preprocessing, device)
        context = Context(spec.name, device=device, progress=False, loader_workers=workers)
        clock = time.perf_counter()
        [result] = extract_layers(store, inputs, ExtractParams(spec, preprocessing, "none", layout), [layer], context)
        seconds = time.perf_counter() - clock
    assert not result.reused and result.metrics["images"] == len(paths)
    return len(paths) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="squeezenet1_0", help="a torchvision classification model name")
    parser.add_argument("--weights", default=None, help="local state_dict (default: the shared SqueezeNet 1.0 ImageNet weights)")
    parser.add_argument("--layer", default="features.12")
    parser.add_argument("--images", default=str(SHARED / "data" / "cub100" / "images"), help="folder of images (searched recursively)")
    parser.add_argument("--limit", type=int, default=1024, help="images per measurement (the folder's, repeated if it holds fewer)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--workers", type=int, default=None, help="loader worker processes (default: as suits the machine)")
    parser.add_argument("--layout", default="auto", help="the build's --layout: auto, channels_last or contiguous")
    parser.add_argument("--repeat", type=int, default=1, help="run each measurement this many times, keep the best")
    args = parser.parse_args(argv)

    import torch

    from filterspeak.backbones import loader
    from filterspeak.backbones.devices import resolve_device
    from filterspeak.backbones.features import uses_channels_last
    from filterspeak.backbones.registry import BackboneSpec, build_backbone

    weights = args.weights
    if weights is None and args.model == "squeezenet1_0":
        weights = str(SHARED / "models" / "squeezenet1_0-imagenet-deepcompression.pth")
    spec = BackboneSpec(architecture=args.model, weights=weights)
    preprocessing = spec.default_preprocessing(224)
    device = resolve_device(args.device)
    paths = _image_files(Path(args.images), args.limit)
    model = build_backbone(spec).eval().to(device)
    channels_last = uses_channels_last(args.layout, model)
    workers = loader.auto_workers(device, -(-len(paths) // BATCH)) if args.workers is None else args.workers
    print(
        f"{spec.name} {args.layer}, {len(paths)} images ({len(set(paths))} distinct) at {preprocessing.image_size} px, "
        f"{device}, torch {torch.__version__}, {torch.get_num_threads()} threads, {loader.usable_cpus()} CPUs, "
        f"loader workers {workers} ({loader.start_method_name() if workers else 'main process'}), "
        f"extraction {'channels-last' if channels_last else 'contiguous'}",
        flush=True,
    )
    bare = {}
    for layout, channels_last in (("contiguous", False), ("channels_last", True)):
        bare[layout] = max(bare_forward(model, args.layer, paths, preprocessing, device, channels_last) for _ in range(args.repeat))
        print(f"bare forward, {layout}: {bare[layout]:.1f} img/s", flush=True)
    del model
    extract = max(extract_stage(paths, args.layer, spec, preprocessing, args.device, args.workers, args.layout) for _ in range(args.repeat))
    best = max(bare.values())
    same = bare["channels_last" if channels_last else "contiguous"]
    print(f"extract stage: {extract:.1f} img/s ({extract / same:.2f} x the bare forward in the layout extraction uses)")
    print(f"ratio {extract / best:.2f}x")
    return 0


if __name__ == "__main__":  # loader workers start by importing this script as a module: keep the work under the guard
    sys.exit(main())
