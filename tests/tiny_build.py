"""The one tiny build of the test suite, for every test that needs a build but not its quality.

12 synthetic species × 16 images at 32 px (192 images: 3 extraction shards of 64, so a cluster
gets shards to share), the built-in backbone at width 4 trained for one epoch (trained here:
weights are shipped only for the default data), p(x|f) over each filter's top 10 images,
attributes seen in at least 2 images. A build of it takes a few seconds.

    TINY                          the options (BuildOptions: one source of every field)
    TINY.replace(train_seed=1)    a variant of it
    cli_flags(TINY)               the same build as `filterspeak build` flags
    parameters(TINY)              ... as the `options` mapping of a Prefect deployment run
    dataset_params(TINY)          ... as the dataset stage's parameters (tests of single stages)

The session store built from it is the `small_store` fixture (conftest.py); `default_store` is the
documented default build, for the tests whose figures must be the documented ones.
"""

from __future__ import annotations

from typing import Any

from filterspeak.datasets.registry import DatasetParams
from filterspeak.options import BuildOptions

TINY = BuildOptions(num_classes=12, images_per_class=16, image_size=32, width=4, epochs=1, min_df=2, top_k_images=10, device="cpu")
TINY_BACKBONE = TINY.backbone_spec.name  # smallcnn-w4-s0-e1


def parameters(options: BuildOptions = TINY) -> dict[str, Any]:
    """The fields of `options` that differ from the defaults."""
    defaults = BuildOptions()
    return {
        info.name: getattr(options, info.name)
        for info in BuildOptions.declared()
        if getattr(options, info.name) != getattr(defaults, info.name)
    }


def cli_flags(options: BuildOptions = TINY) -> list[str]:
    """`filterspeak build` flags for `options` (only those that differ from the defaults), and --no-progress."""
    flags = []
    declared = {info.name: info for info in BuildOptions.declared()}
    for name, value in parameters(options).items():
        info = declared[name]
        flags += [info.flag] if info.type is bool else [info.flag, str(value)]
    return [*flags, "--no-progress"]


def dataset_params(options: BuildOptions = TINY) -> DatasetParams:
    from filterspeak.tasks.dataset import params_from

    return params_from(options)
