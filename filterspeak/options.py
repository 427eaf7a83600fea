"""Every option of a build, declared once: type, default, allowed values and help.

The CLI flags (`filterspeak build --help`), their choices, the Prefect parameter schema of the
deployments, the checks before any work, and the generated reference all come from the fields
of `BuildOptions`. Allowed values come from the registries that implement them (responses,
prior corrections, datasets, devices), so a new variant is declared where it is implemented.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from filterspeak.backbones import pretrained
from filterspeak.backbones.devices import DEVICES
from filterspeak.backbones.features import LAYOUTS
from filterspeak.backbones.images import INTERPOLATIONS
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.captions.sources import FORMATS
from filterspeak.captions.vocabulary import WEIGHTINGS
from filterspeak.datasets.registry import DATASETS, Synthetic
from filterspeak.datasets.synthetic import SyntheticConfig
from filterspeak.datasets.synthetic_spec import MAX_CONFUSABLE_PAIRS
from filterspeak.errors import OptionError
from filterspeak.interpret.estimators import ESTIMATORS
from filterspeak.interpret.prior_corrections import PRIOR_CORRECTIONS
from filterspeak.interpret.responses import RESPONSES

HEADS = ("auto", "model", "train")
_SYNTHETIC = SyntheticConfig()
_BACKBONE = BackboneSpec()


def option(default: Any, help: str, choices: tuple | None = None, minimum: float | None = None) -> Any:
    """A field of BuildOptions with what the CLI and the checks need to know about it."""
    return field(default=default, metadata={"help": help, "choices": tuple(choices) if choices else None, "minimum": minimum})


@dataclass(frozen=True)
class OptionInfo:
    name: str
    type: type
    default: Any
    help: str
    choices: tuple | None
    minimum: float | None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class BuildOptions:
    """Every knob of `filterspeak build`; the defaults are the documented defaults."""

    dataset: str = option("synthetic", "the images and captions to explain: " + DATASETS.help(), choices=DATASETS.names)
    data_dir: str | None = option(None, "folder of the dataset (for every dataset but synthetic)")
    max_images_per_class: int = option(0, "a quick look: keep the first N images of each class in each split (0 = all)", minimum=0)
    captions: str | None = option(None, "caption file for dataset folder")
    caption_format: str | None = option(None, "format of --captions", choices=FORMATS)
    dataset_seed: int = option(_SYNTHETIC.seed, "seed of the synthetic dataset", minimum=0)
    num_classes: int = option(_SYNTHETIC.num_classes, "synthetic species (>= 12)", minimum=12)
    images_per_class: int = option(_SYNTHETIC.images_per_class, "synthetic images per species", minimum=1)
    image_size: int = option(_SYNTHETIC.image_size, "image side in pixels (input size of the built-in backbone)", minimum=32)
    confusable_pairs: int = option(
        _SYNTHETIC.confusable_pairs,
        f"synthetic: add N twin species (at most {MAX_CONFUSABLE_PAIRS}), each one attribute of one part away from an existing one, "
        "so the classifier confuses some: ground truth for `filterspeak failures`",
        minimum=0,
    )
    backbone: str = option(
        _BACKBONE.architecture,
        "smallcnn (built in, trained here), a torchvision model name (resnet50, squeezenet1_0, ...) or package.module:function",
    )
    weights: str | None = option(None, "weights: a local state_dict file, or a torchvision weights name (IMAGENET1K_V1, DEFAULT)")
    weights_sha256: str | None = option(None, "expected sha256 of --weights (checked)")
    head: str = option(
        "auto",
        "who decides: auto (train a linear head when the backbone's classes differ from the dataset's), model, or train",
        choices=HEADS,
    )
    width: int = option(_BACKBONE.width, "backbone width: the default layer has 4 x width filters", minimum=1)
    train_seed: int = option(_BACKBONE.train_seed, "backbone training seed (another seed = another backbone)", minimum=0)
    epochs: int = option(_BACKBONE.epochs, "backbone training epochs (0 = the random initialisation)", minimum=0)
    concept_filters: int = option(
        0, "built-in backbone only: train its first N filters to detect N known attributes (the evaluation's known-filter model)", minimum=0
    )
    train: bool = option(
        False,
        "built-in backbone only: train it here even where FilterSpeak ships its weights (the default network, its known-filter twin "
        "and the --confusable-pairs 4 network: docs/concepts.md#shipped-weights); it is then named <backbone>-trained, and its "
        "weights depend on this CPU's float kernels",
    )
    input_size: int | None = option(
        None,
        "network input side in pixels, the centre crop (e.g. 448 for fine-grained bird models; default: the backbone's own: "
        "its torchvision weights' transforms, 224 for other ImageNet networks, --image-size for the built-in)",
        minimum=16,
    )
    resize: int | None = option(
        None,
        "shorter image side before the centre crop, 0 = scale straight to the input size (default: the backbone's, "
        "scaled with --input-size: 256 for 224, 512 for 448)",
        minimum=0,
    )
    interpolation: str | None = option(
        None, "resampling of the resize (default: the backbone's, bilinear unless its weights say)", choices=INTERPOLATIONS
    )
    mean: str | None = option(None, "per-channel mean R,G,B the network was trained with, e.g. 0.485,0.456,0.406 (default: the backbone's)")
    std: str | None = option(None, "per-channel standard deviation R,G,B, e.g. 0.229,0.224,0.225 (default: the backbone's)")
    layer: str | None = option(
        None, "layer to explain, or several comma-separated (default: the backbone's last conv block, e.g. features.3)"
    )
    device: str = option("auto", "where to train and extract", choices=DEVICES)
    layout: str = option(
        "auto",
        "feature-map layout of extraction: auto (channels_last for a convolutional network, on the CPU and CUDA: 1.4x to 1.9x "
        "faster convolutions on the CPU), channels_last, or contiguous (the same tables up to float rounding, ~1e-6 of their largest values)",
        choices=LAYOUTS,
    )
    loader_workers: int | None = option(
        None,
        "processes decoding images while extraction runs the network (0 = in the main process; "
        "default: as suits the machine, see filterspeak/backbones/loader.py); changes no table",
        minimum=0,
    )
    dask: str | None = option(
        None,
        "address of a running Dask scheduler (tcp://host:8786): extraction shards run on its workers, which must reach "
        "the store (s3://... or a shared folder); changes no table",
    )
    dask_resources: str | None = option(
        None, "Dask resources each shard job needs, e.g. GPU=1 to use only workers started with --resources GPU=1"
    )
    min_df: int = option(5, "keep attributes mentioned for at least this many images", minimum=1)
    attribute_weighting: str = option(
        "presence", "p(a|x) from caption counts or from presence (each attribute of x weighs the same)", choices=WEIGHTINGS
    )
    response: str = option("max", "filter response s_f(x): " + RESPONSES.help(), choices=RESPONSES.names)
    top_k_images: int = option(0, "images per filter used for p(x|f) (0 = all train images)", minimum=0)
    prior_correction: str = option(
        "pmi", "correct p(a|f) for the attribute prior p(a): " + PRIOR_CORRECTIONS.help(), choices=PRIOR_CORRECTIONS.names
    )
    estimator: str = option(
        "counting",
        f"how p(a|f) is estimated from the captions: {ESTIMATORS.help()} (docs/evaluation.md compares them)",
        choices=ESTIMATORS.names,
    )
    em_tolerance: float = option(1e-4, "EM stops when the caption log-likelihood per image gains less than this", minimum=0.0)
    sentence_attributes: int = option(3, "attributes cited per sentence", minimum=1)
    min_relative_score: float = option(
        0.3, "cite an attribute only if its score is at least this fraction of the top attribute's", minimum=0.0
    )

    # ---- what the declarations say ----------------------------------------------------------

    @classmethod
    def declared(cls) -> Iterator[OptionInfo]:
        hints = {"str": str, "int": int, "float": float, "bool": bool, "str | None": str, "int | None": int}
        for item in fields(cls):
            yield OptionInfo(
                item.name, hints[str(item.type)], item.default, item.metadata["help"], item.metadata["choices"], item.metadata["minimum"]
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> BuildOptions:
        return dataclasses.replace(self, **changes)

    def check(self) -> None:
        """Every value allowed by its declaration; a wrong one is one line naming the flag."""
        for info in self.declared():
            value = getattr(self, info.name)
            if value is None:
                continue
            if info.choices is not None and value not in info.choices:
                raise OptionError(f"{info.flag} must be one of {', '.join(map(str, info.choices))}, got {value!r}")
            if info.minimum is not None and value < info.minimum:
                raise OptionError(f"{info.flag} must be >= {info.minimum}, got {value}")
        self.resources  # noqa: B018 - parsed here so a wrong value fails before any work
        self.preprocessing_overrides  # noqa: B018 - likewise --mean and --std

    @property
    def resources(self) -> dict[str, float] | None:
        """--dask-resources as Dask takes them ({"GPU": 1.0})."""
        if not self.dask_resources:
            return None
        parsed = {}
        for item in self.dask_resources.split(","):
            name, _, amount = item.partition("=")
            try:
                parsed[name.strip()] = float(amount)
            except ValueError:
                raise OptionError(f"--dask-resources takes NAME=AMOUNT[,NAME=AMOUNT], e.g. GPU=1; got {self.dask_resources!r}") from None
            if not name.strip():
                raise OptionError(f"--dask-resources takes NAME=AMOUNT[,NAME=AMOUNT], e.g. GPU=1; got {self.dask_resources!r}")
        return parsed

    # ---- derived settings ------------------------------------------------------------------

    @property
    def synthetic(self) -> SyntheticConfig:
        """The synthetic dataset's knobs (what `--dataset synthetic` generates)."""
        return SyntheticConfig(**{field: getattr(self, option) for option, field in SYNTHETIC_FIELDS.items()})

    @classmethod
    def of_network(cls, network: BackboneSpec, dataset: SyntheticConfig, **changes: Any) -> BuildOptions:
        """The options that build `network` (its architecture and training knobs) on the synthetic `dataset`."""
        values = {option: getattr(dataset, field) for option, field in SYNTHETIC_FIELDS.items()}
        values.update({option: getattr(network, field) for option, field in BACKBONE_FIELDS.items()})
        return cls(**values, **changes)

    @property
    def backbone_spec(self) -> BackboneSpec:
        """The network: for the built-in, with the shipped weights of these knobs on this dataset when there are any."""
        spec = BackboneSpec(**{field: getattr(self, option) for option, field in BACKBONE_FIELDS.items()})
        whole_synthetic = self.dataset == "synthetic" and not self.max_images_per_class
        shipped = pretrained.find(spec, self.synthetic) if whole_synthetic else None
        return dataclasses.replace(spec, shipped=shipped.key, train=self.train) if shipped is not None else spec

    @property
    def preprocessing_overrides(self) -> dict[str, Any]:
        """The preprocessing the options set, as `Preprocessing.overridden` takes it."""
        overrides: dict[str, Any] = {"image_size": self.input_size, "resize": self.resize, "interpolation": self.interpolation}
        for name in ("mean", "std"):
            text = getattr(self, name)
            if text is None:
                continue
            try:
                values = tuple(float(value) for value in text.split(","))
            except ValueError:
                values = ()
            if len(values) != 3 or (name == "std" and min(values) <= 0):
                raise OptionError(
                    f"--{name} takes three numbers R,G,B{' above 0' if name == 'std' else ''}, e.g. 0.485,0.456,0.406; got {text!r}"
                )
            overrides[name] = values
        return {name: value for name, value in overrides.items() if value is not None}

    @property
    def preprocessing(self) -> Preprocessing:
        """The backbone's own preprocessing with what the options override."""
        return self.backbone_spec.default_preprocessing(self.image_size).overridden(**self.preprocessing_overrides)

    @property
    def layers(self) -> list[str]:
        """`--layer a,b` explains several layers (extracted in one pass)."""
        layer = self.layer or self.backbone_spec.default_layer
        if not layer:
            raise OptionError(f"--layer is required for backbone {self.backbone!r} (a module name such as features.12 or layer4)")
        return list(dict.fromkeys(name.strip() for name in layer.split(",") if name.strip()))

    def validate(self) -> None:
        """Fail in a second, before any work, on a wrong choice, backbone name, weights file or layer."""
        from filterspeak.backbones.features import check_layers
        from filterspeak.backbones.registry import build_backbone

        self.check()
        if self.concept_filters and self.backbone != _BACKBONE.architecture:
            raise OptionError("--concept-filters applies to the built-in backbone (smallcnn) only")
        spec = self.backbone_spec
        if spec.in_memory and self.dask:
            raise OptionError(
                "--dask cannot run an in-memory model: the workers are other processes and cannot rebuild the module object; "
                "give it as a builder (--backbone package.module:function, importable on the workers, with --weights FILE) or build without --dask"
            )
        model = build_backbone(spec, num_classes=2 if spec.trainable else None)
        check_layers(model, self.layers, self.preprocessing.image_size)

    def trains_head(self, backbone_outputs: int, dataset_classes: int) -> bool:
        """A linear head is fitted when asked, or (auto) when the backbone's classes are not the dataset's."""
        if self.head == "auto":
            return not self.backbone_spec.trainable and backbone_outputs != dataset_classes
        return self.head == "train"


# The options that are fields of the synthetic dataset's config and of the backbone's spec: option -> field.
SYNTHETIC_FIELDS = Synthetic.fields
BACKBONE_FIELDS = {
    "backbone": "architecture",
    "weights": "weights",
    "weights_sha256": "weights_sha256",
    "width": "width",
    "train_seed": "train_seed",
    "epochs": "epochs",
    "concept_filters": "concept_filters",
}

# Options renamed since builds were first recorded: old name -> new name. A build record of an
# older format is read through this map, so an old store keeps working after a rename.
RENAMED: dict[str, str] = {}


def options_from_record(values: dict[str, Any]) -> tuple[BuildOptions, list[str]]:
    """(options, notes) from a build record's stored options, whatever version wrote them:
    renamed options are mapped, options that no longer exist are dropped (and noted), options
    added since take their defaults (a new option's default reproduces the old behaviour)."""
    known = {item.name for item in fields(BuildOptions)}
    renamed = {RENAMED.get(name, name): value for name, value in values.items()}
    dropped = sorted(name for name in renamed if name not in known)
    options = BuildOptions(**{name: value for name, value in renamed.items() if name in known})
    return options, [f"option {name!r} of this build no longer exists; ignored" for name in dropped]
