"""Backbone registry, in the style of torchvision's model builders.

Three kinds of `BackboneSpec.architecture`:
- `smallcnn`: the built-in CNN, trained by the `backbone` stage on the dataset, or loaded from the
  weights FilterSpeak ships for it (`shipped`, see `filterspeak.backbones.pretrained`);
- any torchvision classification model name (`resnet50`, `squeezenet1_0`, …) with `weights`:
  a local weights file, or a torchvision weights name (`IMAGENET1K_V1`, `DEFAULT`,
  `ResNet50_Weights.IMAGENET1K_V1`) read from torchvision's own cache
  (`torch.hub.get_dir()/checkpoints/<file of the weights' url>`) and never downloaded; both are
  loaded with `torch.load(weights_only=True)`; without weights it is a random network
  (`random_init_warning`);
- `package.module:function`: the user's own builder returning an nn.Module (+ optional weights);
- `memory:<Class>:<sha256>`: an nn.Module held in this Python process (`filterspeak.backbones.in_memory`),
  addressed by the content hash of its class and state_dict.
A spec's identity (its fingerprint and `name`) covers the architecture and the weights file's
sha256, never its path nor the name it was given by.

`weights` precedence: an existing file wins; otherwise, for a torchvision architecture, a string
that looks like a weights name (upper case, `<Enum>_Weights.<NAME>`, or a name of that
architecture in any case) is resolved through `torchvision.models.get_model_weights`; anything
else is a missing file.
"""

from __future__ import annotations

import difflib
import importlib
import re
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum

from filterspeak.backbones import in_memory
from filterspeak.backbones.images import INTERPOLATIONS
from filterspeak.backbones.small_cnn import DEFAULT_LAYER as SMALL_CNN_LAYER
from filterspeak.backbones.small_cnn import SmallCNN
from filterspeak.errors import FilterSpeakError
from filterspeak.files import sha256_file

BUILT_IN = "smallcnn"
DEFAULT_EPOCHS = 20
RANDOM_INIT_SEED = 0  # a backbone named without weights is this seeded initialisation (`<arch>-random`)


class BackboneError(FilterSpeakError, ValueError):
    """A backbone that cannot be built or loaded; the message is one line for the user."""


@dataclass(frozen=True)
class Preprocessing:
    """Image → tensor: resize (shorter side to `resize`, then centre-crop `image_size`; or straight
    to `image_size` when `resize` is None) with `interpolation`, scale to [0, 1], normalise."""

    image_size: int = 64
    resize: int | None = None
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    interpolation: str = "bilinear"  # one of images.INTERPOLATIONS

    @property
    def loading(self) -> tuple[int, int | None, str]:
        """(size, resize, interpolation): the arguments of `images.load_images`."""
        return self.image_size, self.resize, self.interpolation

    def overridden(self, **changes) -> Preprocessing:
        """This preprocessing with some of its fields given (None = keep). A new `image_size` without
        a `resize` scales the resize with it (256 for 224 → 512 for 448); `resize=0` scales images
        straight to the input size."""
        changes = {name: value for name, value in changes.items() if value is not None}
        if "image_size" in changes and "resize" not in changes and self.resize is not None:
            changes["resize"] = round(self.resize * changes["image_size"] / self.image_size)
        if changes.get("resize") == 0:
            changes["resize"] = None
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """Identity for fingerprints (bilinear, the only interpolation before it was a choice, is left out,
        so the stages stored before keep their keys)."""
        values = asdict(self)
        if values["interpolation"] == "bilinear":
            del values["interpolation"]
        return values


IMAGENET_PREPROCESSING = Preprocessing(image_size=224, resize=256, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


@dataclass(frozen=True)
class BackboneSpec:
    """Which network. `name` is its partition value (`backbone` column) in every table."""

    architecture: str = BUILT_IN
    weights: str | None = None  # local state_dict file, or a torchvision weights name (IMAGENET1K_V1, DEFAULT, …)
    weights_sha256: str | None = None  # expected sha256 of the weights file, checked when given
    width: int = 16  # built-in only
    train_seed: int = 0  # built-in only
    epochs: int = DEFAULT_EPOCHS  # built-in only; 0 keeps the random initialisation
    batch_size: int = 64  # built-in only
    learning_rate: float = 1e-2  # built-in only
    concept_filters: int = 0  # built-in only: first K filters trained to detect K known attributes
    shipped: str | None = None  # built-in only: the shipped weights of this network on this dataset (pretrained.SHIPPED)
    train: bool = False  # built-in only: train it although `shipped` weights exist (named `-trained`, so both fit in a store)

    @property
    def in_memory(self) -> bool:
        """An nn.Module held in this process, named by its content hash (`in_memory.register`)."""
        return in_memory.is_reference(self.architecture)

    @property
    def trainable(self) -> bool:
        """The built-in backbone: its weights are made by the `backbone` stage (trained or shipped) and kept in the store."""
        return self.architecture == BUILT_IN

    @property
    def loads_shipped(self) -> bool:
        """The built-in backbone with shipped weights, not trained here."""
        return self.trainable and self.shipped is not None and not self.train

    @property
    def weights_source(self) -> str:
        """How the network got its weights, as the build summary says it."""
        if self.loads_shipped:
            return "pretrained, shipped"
        if self.trainable:
            return "trained" if self.epochs else "random initialisation (0 epochs)"
        if self.in_memory:
            return "in memory (the module object passed in)"
        if self.weights:
            return "pretrained, from --weights"
        return "random initialisation (no --weights)" if self.is_random_init else "as the builder made it"

    def training_knobs(self) -> dict:
        """What training the built-in backbone depends on (besides the dataset): the key of its shipped weights."""
        return {
            "width": self.width,
            "train_seed": self.train_seed,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "concept_filters": self.concept_filters,
        }

    @property
    def name(self) -> str:
        if self.trainable:
            variant = (
                (f"-e{self.epochs}" if self.epochs != DEFAULT_EPOCHS else "")
                + (f"-c{self.concept_filters}" if self.concept_filters else "")
                + ("-trained" if self.shipped is not None and self.train else "")
            )
            return f"{self.architecture}-w{self.width}-s{self.train_seed}{variant}"
        if self.in_memory:
            class_name, digest = in_memory.parts(self.architecture)
            return f"{class_name.rsplit('.', 1)[-1]}-{digest[:8]}"
        short = self.architecture.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
        return f"{short}-{self.sha256()[:8]}" if self.weights else f"{short}-random"

    @property
    def default_layer(self) -> str | None:
        return SMALL_CNN_LAYER if self.trainable else None

    @property
    def is_random_init(self) -> bool:
        """True for a torchvision architecture without weights: a randomly initialised network.

        Not for the built-in (trained by the pipeline; `epochs=0` is an explicit choice) nor for a
        user builder, which may load its own weights."""
        return not self.weights and self.architecture in _torchvision_names()

    @property
    def torchvision_weights(self) -> WeightsEnum | None:
        """The torchvision weights that `weights` names (DEFAULT resolved to its entry), or None for a
        local file, no weights or a non-torchvision architecture; BackboneError for an invalid name."""
        if not self.weights or self.architecture not in _torchvision_names() or _local_file(self.weights).is_file():
            return None
        return resolve_torchvision_weights(self.architecture, self.weights)

    def weights_file(self) -> Path:
        """The existing file that holds the weights: the local file, or the torchvision cache's file for a
        weights name; a one-line BackboneError otherwise (never a download)."""
        if not self.weights:
            raise BackboneError(f"backbone {self.architecture!r} has no weights file")
        local = _local_file(self.weights)
        if local.is_file():
            return local
        named = self.torchvision_weights
        if named is None:
            raise BackboneError(f"weights file not found: {local}{_not_found_hint(self.architecture, self.weights)}")
        cached = torchvision_cache_path(named)
        if not cached.is_file():
            given = self.weights if self.weights == _full_name(named) else f"{self.weights} ({_full_name(named)})"
            raise BackboneError(
                f"the weights {given} for {self.architecture} are not in the torchvision cache (expected {cached}) "
                f"and cannot be downloaded here; pass a local file (--weights PATH) instead, or put {cached.name} at that path"
            )
        return cached

    def sha256(self) -> str:
        """sha256 of the weights file, checked against `weights_sha256` when that is given."""
        path = self.weights_file()
        actual = sha256_file(path)
        if self.weights_sha256 and actual != self.weights_sha256.lower():
            raise BackboneError(f"weights file {path} has sha256 {actual}, expected {self.weights_sha256}")
        return actual

    def to_dict(self) -> dict:
        """Identity for fingerprints: the shipped weights' hash, or the training knobs, for the built-in;
        the weights' hash otherwise."""
        if self.loads_shipped:
            from filterspeak.backbones.pretrained import SHIPPED

            return {"architecture": self.architecture, "shipped": self.shipped, "weights_sha256": SHIPPED[self.shipped].sha256}
        if self.trainable:  # concept_filters and shipped only when set, so the networks trained before keep their fingerprints
            knobs = {"architecture": self.architecture, **self.training_knobs()}
            if not self.concept_filters:
                del knobs["concept_filters"]
            return {**knobs, "trained_over_shipped": self.shipped} if self.shipped is not None else knobs
        if self.in_memory:
            class_name, digest = in_memory.parts(self.architecture)
            return {"architecture": f"{in_memory.PREFIX}{class_name}", "module_sha256": digest}
        return {"architecture": self.architecture, "weights_sha256": self.sha256() if self.weights else None}

    def default_preprocessing(self, image_size: int) -> Preprocessing:
        """`image_size` for the built-in; the weights' own transforms for torchvision weights given by name;
        the ImageNet default otherwise (a local file carries no metadata)."""
        if self.trainable:
            return Preprocessing(image_size=image_size)
        named = self.torchvision_weights
        return preprocessing_from_weights(named) if named is not None else IMAGENET_PREPROCESSING


def random_init_warning(spec: BackboneSpec) -> str | None:
    """The one-paragraph warning to print when `spec` is a randomly initialised network; None otherwise."""
    if not spec.is_random_init:
        return None
    names = weights_names(spec.architecture)
    example = next((n for n in names if n != "DEFAULT"), "DEFAULT")
    return (
        f"backbone {spec.architecture} has no weights: FilterSpeak will explain a RANDOMLY INITIALISED network "
        f"({spec.name}, seed {RANDOM_INIT_SEED}), not a trained classifier, so its filters and their descriptions "
        f"reflect no learned concepts. Pass --weights FILE (a local state_dict) or a torchvision weights name such as "
        f"{example} (for {spec.architecture}: {', '.join(names)}), read from the torchvision cache "
        f"{Path(torch.hub.get_dir()) / 'checkpoints'} and never downloaded."
    )


def weights_names(architecture: str) -> list[str]:
    """The torchvision weights names of a torchvision architecture (`DEFAULT` last); [] for any other."""
    if architecture not in _torchvision_names():
        return []
    return [member.name for member in torchvision.models.get_model_weights(architecture)] + ["DEFAULT"]


def resolve_torchvision_weights(architecture: str, name: str) -> WeightsEnum | None:
    """The weights `name` (`IMAGENET1K_V1`, `DEFAULT`, `ResNet50_Weights.IMAGENET1K_V1`; the entry name in any
    case) of torchvision `architecture`; None when `name` does not look like a weights name; a one-line
    BackboneError when it does but is not one of this architecture's."""
    enum_class = torchvision.models.get_model_weights(architecture)
    members = {member.name.upper(): member for member in enum_class}
    match = _WEIGHTS_NAME.fullmatch(name.strip())
    if match is None:
        return None
    prefix, entry = match.group("enum"), match.group("entry")
    if prefix is None and entry.upper() not in members and entry.upper() != "DEFAULT" and entry != entry.upper():
        return None  # e.g. `model`: a missing file, not a weights name
    if (prefix is None or prefix.lower() == enum_class.__name__.lower()) and entry.upper() in members:
        return members[entry.upper()]
    if (prefix is None or prefix.lower() == enum_class.__name__.lower()) and entry.upper() == "DEFAULT":
        return enum_class.DEFAULT
    valid = ", ".join(f"{n} (= {enum_class.DEFAULT.name})" if n == "DEFAULT" else n for n in weights_names(architecture))
    raise BackboneError(
        f"{name} is not a torchvision weights name for {architecture}; valid names: {valid}; "
        f"also as {enum_class.__name__}.NAME; or pass a local weights file"
    )


def torchvision_cache_path(weights: WeightsEnum) -> Path:
    """Where torchvision keeps `weights` once downloaded: `torch.hub.get_dir()/checkpoints/<url's file name>`
    (`TORCH_HOME` decides the folder)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def preprocessing_from_weights(weights: WeightsEnum) -> Preprocessing:
    """The weights' own `transforms()` (torchvision's ImageClassification: crop, resize, mean, std); the
    ImageNet default when they define no such transforms. Their interpolation (bicubic for some) is kept."""
    transforms = weights.transforms()
    try:
        crop, resize = transforms.crop_size[0], transforms.resize_size[0]
        mean, std = tuple(float(v) for v in transforms.mean), tuple(float(v) for v in transforms.std)
    except (AttributeError, IndexError, TypeError):
        return IMAGENET_PREPROCESSING
    interpolation = str(getattr(getattr(transforms, "interpolation", None), "value", "bilinear"))
    return Preprocessing(
        image_size=int(crop),
        resize=int(resize),
        mean=mean,
        std=std,
        interpolation=interpolation if interpolation in INTERPOLATIONS else "bilinear",
    )


_WEIGHTS_NAME = re.compile(r"(?:(?P<enum>\w+_Weights)\.)?(?P<entry>[A-Za-z]\w*)")


def _torchvision_names() -> list[str]:
    return torchvision.models.list_models(module=torchvision.models)


def _local_file(weights: str) -> Path:
    return Path(weights).expanduser()


def _full_name(weights: WeightsEnum) -> str:
    return f"{type(weights).__name__}.{weights.name}"


def _not_found_hint(architecture: str, weights: str) -> str:
    """What else `weights` could have been, for the "weights file not found" message."""
    names = weights_names(architecture)
    if names:
        return f" (nor a torchvision weights name for {architecture}: {', '.join(names)})"
    if ":" in architecture:  # a user builder: torchvision weights names do not apply
        return " (torchvision weights names apply to torchvision architectures only)" if _WEIGHTS_NAME.fullmatch(weights.strip()) else ""
    return f" (nor a torchvision weights name: {architecture!r} is not a torchvision architecture)"


def available_architectures() -> list[str]:
    return [BUILT_IN, *torchvision.models.list_models(module=torchvision.models)]


def _torchvision_model(name: str) -> nn.Module:
    names = torchvision.models.list_models(module=torchvision.models)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=5)
        hint = (
            f"; did you mean {', '.join(close)}?" if close else "; use a torchvision classification model name or package.module:function"
        )
        raise BackboneError(f"unknown backbone {name!r}{hint}")
    return torchvision.models.get_model(name, weights=None)


def _user_model(reference: str) -> nn.Module:
    module_name, _, function_name = reference.partition(":")
    try:
        builder = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise BackboneError(f"cannot import backbone builder {reference!r}: {error}") from None
    model = builder()
    if not isinstance(model, nn.Module):
        raise BackboneError(f"{reference} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _read_state_dict(path: Path, label: str) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise BackboneError(f"cannot read weights file {label} as a PyTorch state_dict: {str(error).splitlines()[0]}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise BackboneError(f"weights file {label} holds a {type(state).__name__}, not a state_dict")
    return state


def _mismatch(label: str, keys: list[str]) -> str:
    return f"{len(keys)} {label} keys (e.g. {keys[0]})"


def _load_weights(model: nn.Module, spec: BackboneSpec) -> None:
    path = spec.weights_file()
    spec.sha256()  # existence and expected hash first
    state = _read_state_dict(path, spec.weights)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or mismatched:
        details = [
            _mismatch(label, keys)
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong-shape", mismatched))
            if keys
        ]
        raise BackboneError(f"weights file {spec.weights} does not fit architecture {spec.architecture}: {', '.join(details)}")
    model.load_state_dict(state)


_BUILDER_PATCH = threading.Lock()


def _torchvision_model_with_weights(spec: BackboneSpec, weights: WeightsEnum) -> nn.Module:
    """torchvision's own builder called with `weights`, so that the model follows the weights' metadata as
    torchvision does (num_classes, inception's transform_input, ViT's image_size, DenseNet's renamed keys),
    but its state_dict is the cached file read here (checked, weights_only): the builder never downloads."""
    path = spec.weights_file()
    spec.sha256()  # existence and expected hash first
    state = _read_state_dict(path, str(path))
    enum_class = type(weights)
    inherited = enum_class.get_state_dict

    def get_state_dict(member: WeightsEnum, *args, **kwargs) -> dict:
        return state if member is weights else inherited(member, *args, **kwargs)

    with _BUILDER_PATCH:
        own = enum_class.__dict__.get("get_state_dict")
        enum_class.get_state_dict = get_state_dict
        try:
            return torchvision.models.get_model(spec.architecture, weights=weights)
        except RuntimeError as error:
            if "loading state_dict" not in str(error):
                raise
            raise BackboneError(
                f"weights file {path} does not fit architecture {spec.architecture}: {_summarise_load_error(error)}"
            ) from None
        finally:
            if own is None:
                del enum_class.get_state_dict
            else:
                enum_class.get_state_dict = own


def _summarise_load_error(error: RuntimeError) -> str:
    """torch's multi-line `load_state_dict` error as one line, in `_load_weights`' words."""
    lines = [line.strip() for line in str(error).splitlines()[1:]]
    details = []
    for label, prefix in (("missing", "Missing key(s)"), ("unexpected", "Unexpected key(s)")):
        keys = [key for line in lines if line.startswith(prefix) for key in re.findall(r'"([^"]+)"', line)]
        if keys:
            details.append(_mismatch(label, keys))
    wrong = [match.group(1) for line in lines if (match := re.match(r"size mismatch for ([^:]+):", line))]
    if wrong:
        details.append(_mismatch("wrong-shape", wrong))
    return ", ".join(details) or str(error).splitlines()[0]


def build_backbone(spec: BackboneSpec, num_classes: int | None = None) -> nn.Module:
    """The nn.Module for `spec`: untrained for the built-in (`num_classes` outputs), weights loaded otherwise
    (a local file, or torchvision weights by name from torchvision's cache), seeded random without weights."""
    if spec.trainable:
        if num_classes is None:
            raise BackboneError("the built-in backbone needs the number of classes")
        return SmallCNN(num_classes, spec.width)
    if spec.in_memory:
        if spec.weights:
            raise BackboneError("an in-memory model carries its own weights: leave --weights out")
        return in_memory.module_copy(spec.architecture)
    named = spec.torchvision_weights
    with torch.random.fork_rng(devices=[]):  # without weights: the same random network every time
        torch.manual_seed(RANDOM_INIT_SEED)
        if named is not None:
            return _torchvision_model_with_weights(spec, named).eval()
        model = _user_model(spec.architecture) if ":" in spec.architecture else _torchvision_model(spec.architecture)
    if spec.weights:
        _load_weights(model, spec)
    return model.eval()
