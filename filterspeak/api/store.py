"""The Python API's two objects: a `Store` (a folder or `s3://` prefix of builds) and a `Build` (one
finished build of a backbone's layer, everything read from it). Thin: each method is one call
into the read side (`filterspeak.api.explain`, `.search`, `.failures`, `.diff`, `.evaluate`) or the
plain-Python build (`filterspeak.api.building.run_build`), the same functions the CLI runs.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from torch import nn

from filterspeak.api import cards
from filterspeak.api.building import BuildReport, run_build
from filterspeak.api.data import Dataset
from filterspeak.api.explain import Explanation, Explanations, explain_images
from filterspeak.api.inputs import ImageInput, as_list, is_single
from filterspeak.backbones import in_memory
from filterspeak.backbones.registry import Preprocessing
from filterspeak.errors import OptionError
from filterspeak.options import BuildOptions
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.graph import BuildView, open_build, require_stage

if TYPE_CHECKING:
    from filterspeak.api.diff import BuildDiff
    from filterspeak.evaluation.report import EvaluationRecord

# Preprocessing fields -> the build options that override them.
PREPROCESSING_OPTIONS = {"image_size": "input_size", "resize": "resize", "interpolation": "interpolation", "mean": "mean", "std": "std"}


def _option_values(options: dict[str, Any]) -> dict[str, Any]:
    """Keyword options checked against BuildOptions' fields (one line with the closest name otherwise)."""
    known = [item.name for item in fields(BuildOptions)]
    for key in options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            raise OptionError(
                f"unknown build option {key!r}{f'; did you mean {close[0]!r}?' if close else ''} (see filterspeak build --help)"
            )
    return options


def _preprocessing_options(preprocessing: Preprocessing | dict | None) -> dict[str, Any]:
    """`preprocessing=` (a Preprocessing, or a dict of some of its fields) as build options."""
    if preprocessing is None:
        return {}
    given = (
        preprocessing.to_dict() | {"interpolation": preprocessing.interpolation}
        if isinstance(preprocessing, Preprocessing)
        else dict(preprocessing)
    )
    unknown = sorted(set(given) - set(PREPROCESSING_OPTIONS))
    if unknown:
        raise OptionError(f"preprocessing takes {', '.join(PREPROCESSING_OPTIONS)}; not {', '.join(unknown)}")
    values = {}
    for name, value in given.items():
        if name == "resize" and value is None:
            value = 0  # straight to the input size
        if name in ("mean", "std") and value is not None and not isinstance(value, str):
            value = ",".join(str(float(v)) for v in value)
        values[PREPROCESSING_OPTIONS[name]] = value
    return values


def _backbone_option(model: nn.Module | str | None) -> dict[str, Any]:
    if model is None:
        return {}
    if isinstance(model, nn.Module):
        return {"backbone": in_memory.register(model)}
    if isinstance(model, str):
        return {"backbone": model}
    raise OptionError(f"model must be a torch.nn.Module or a backbone name, got {type(model).__name__}")


class Store:
    """A store of builds: a folder, or `s3://bucket/prefix` (AWS settings from the environment).

    >>> store = fs.Store("S")
    >>> build = store.build()                                  # the default build (about 30 s)
    >>> build = store.build(model=my_module, layer="layer4", dataset=fs.data.cub100("../shared/data/cub100"))
    """

    def __init__(self, location: str | os.PathLike | None = None) -> None:
        self.paths = StorePaths.at(None if location is None else str(location))

    @property
    def location(self) -> str:
        """Where the store is: its folder, or its `s3://` prefix."""
        return self.paths.location

    def __repr__(self) -> str:
        return f"Store({self.location!r})"

    def build(
        self,
        model: nn.Module | str | None = None,
        *,
        layer: str | Sequence[str] | None = None,
        dataset: Dataset | str | None = None,
        preprocessing: Preprocessing | dict | None = None,
        progress: bool = True,
        report: bool = True,
        latest: bool = True,
        **options: Any,
    ) -> Build:
        """Build (or reuse) the explanations of `model`'s `layer` on `dataset`, in this process.

        `model`: an nn.Module (identified by the content hash of its class and weights: the same
        module again reuses every stage), a torchvision name (`resnet50`, with `weights=`), a builder
        `package.module:function`, or None for the built-in network. `layer`: a module name or several
        (one pass). `preprocessing`: overrides of the model's own (input size, resize, interpolation,
        mean, std). Any other keyword is a `filterspeak build` option (`weights`, `response`,
        `estimator`, `device`, …: `filterspeak build --help`). Returns the first layer's `Build`."""
        values = _option_values(dict(options))
        values.update(_backbone_option(model))
        if isinstance(dataset, Dataset):
            values.update(dataset.build_options())
        elif dataset is not None:
            values["dataset"] = str(dataset)
        values.update(_preprocessing_options(preprocessing))
        if layer is not None:
            values["layer"] = layer if isinstance(layer, str) else ",".join(layer)
        built = run_build(self.location, BuildOptions(**values), progress=progress, latest=latest, report=report)
        return Build(self, open_build(self.paths, built.backbone, built.layer), built)

    def open(self, backbone: str | None = None, layer: str | None = None, model: nn.Module | None = None) -> Build:
        """A finished build: the latest one, or that of `backbone` (a name such as `smallcnn-w16-s0`) and
        `layer`. Give `model` (the same module it was built with) to explain new images with a build
        of an in-memory model in a new Python session."""
        if model is not None:
            reference = in_memory.register(model)
            backbone = backbone or BuildOptions(backbone=reference).backbone_spec.name
        return Build(self, open_build(self.paths, backbone, layer))

    def sql(self, query: str) -> pd.DataFrame:
        """A read-only SQL query over the store's catalog (every table of every build; the CLI's `sql`)."""
        from filterspeak.storage.catalog import query as run_query

        return run_query(self.paths, query).to_pandas()


def open(
    store: str | os.PathLike | None = None, backbone: str | None = None, layer: str | None = None, model: nn.Module | None = None
) -> Build:
    """The finished build of `store` (the latest, or the named backbone and layer): `Store(store).open(...)`."""
    return Store(store).open(backbone, layer, model)


class Build:
    """One finished build of a backbone's layer: explain new images, search, failures, its tables."""

    def __init__(self, store: Store, view: BuildView, summary: BuildReport | None = None) -> None:
        self.store, self.view, self.summary = store, view, summary

    @property
    def backbone(self) -> str:
        """The network's name in every table's `backbone` column (e.g. `smallcnn-w16-s0`, `TinyNet-1a2b3c4d`)."""
        return self.view.backbone

    @property
    def layer(self) -> str:
        """The explained layer (a module name of the network)."""
        return self.view.layer

    @property
    def options(self) -> BuildOptions:
        """The build's options, as recorded (`fs.BuildOptions`)."""
        return self.view.options

    def __repr__(self) -> str:
        return f"Build({self.store.location!r}, backbone={self.backbone!r}, layer={self.layer!r})"

    def _resolve(self, phrase: str) -> int:
        from filterspeak.api.search import resolve_phrase

        return resolve_phrase(phrase, self.view.phrases, self._parse()).attribute_id

    def _parse(self):
        if not hasattr(self, "_parser"):
            from filterspeak.api.search import caption_parse
            from filterspeak.tasks import captions as captions_stage

            self._parser = caption_parse(captions_stage.params_from(self.options).parser)
        return self._parser

    def explain(
        self, images: ImageInput | Sequence[ImageInput], top_k: int | None = None, device: str = "auto", heatmaps: str | Path | None = None
    ) -> Explanation | Explanations:
        """Explain the model's decision on images: one (a path, PIL image, (H, W, 3) array or (3, H, W)
        tensor) gives one Explanation; a list or an (N, 3, H, W) batch gives a list. With `heatmaps`,
        a folder that gets a PNG per cited attribute."""
        explained = explain_images(self.view, as_list(images), device, top_k, heatmaps, self._resolve)
        return explained[0] if is_single(images) else explained

    def search(self, phrase: str, top: int = 10, split: str = "test") -> pd.DataFrame:
        """The `top` images of `split` (test, train or all) that show `phrase` most, by p(a|x)."""
        from filterspeak.api.search import search

        result = search(self.view, phrase, top, split, self._parse())
        frame = pd.DataFrame([hit.to_json() for hit in result.hits], columns=["rank", "image_id", "class", "split", "score", "path"])
        frame.attrs.update(phrase=result.phrase, query=result.query, split=split)
        return frame

    def failures(self, top: int = 10) -> pd.DataFrame:
        """The `top` most frequent test confusions, each with its sentence and ranked attributes."""
        from filterspeak.api.failures import top_confusions

        columns = ["true_class", "predicted_class", "count", "rate", "sentence", "attributes"]
        return pd.DataFrame(top_confusions(self.view, top), columns=columns)

    def filters(self) -> pd.DataFrame:
        """One row per filter: selectivity, entropy, its most likely attribute and p(a|f), responses."""
        stats = self.view.read("filter_stats")
        phrases = pd.Series(self.view.phrases, name="top_attribute")
        return stats.join(phrases, on="top_attribute_id").sort_values("filter").reset_index(drop=True)

    def attributes(self) -> pd.DataFrame:
        """The vocabulary: one row per attribute phrase (modifier, noun, document frequency, prior p(a))."""
        return self.view.read("attributes").sort_values("attribute_id").reset_index(drop=True)

    def images(self, split: str = "all") -> pd.DataFrame:
        """The build's images of `split` (test, train or all): image_id, split, class_id, class and the file's path."""
        from filterspeak.api.search import check_split

        check_split(split)
        images = self.view.read("images", ["image_id", "split", "class_id", "path"]).sort_values("image_id")
        if split != "all":
            images = images[images["split"] == split]
        names = self.view.read("classes", ["class_id", "name"]).set_index("class_id")["name"]
        images = images.assign(path=self.view.table_result("images").located(images["path"].tolist()))
        return images.assign(**{"class": images["class_id"].map(names)})[["image_id", "split", "class_id", "class", "path"]].reset_index(
            drop=True
        )

    def classes(self) -> pd.DataFrame:
        """The dataset's classes (class_id, name)."""
        return self.view.read("classes").sort_values("class_id").reset_index(drop=True)

    def sql(self, query: str) -> pd.DataFrame:
        """A read-only SQL query over the store's catalog (every build's rows: filter by backbone and layer)."""
        return self.store.sql(query)

    def evaluate(
        self, metrics: Sequence[str] | None = None, device: str = "auto", variants: bool = False, progress: bool = True
    ) -> EvaluationRecord:
        """Score the explanations against ground truth (what `filterspeak evaluate` prints): an
        EvaluationRecord, shown in Jupyter as the evaluation's table."""
        from filterspeak.api.evaluate import evaluate_build
        from filterspeak.api.metrics import METRICS

        chosen = tuple(metrics) if metrics is not None else METRICS
        return evaluate_build(self.store.location, self.backbone, self.layer, variants, device, progress, chosen)

    def diff(self, other: Build | str) -> BuildDiff:
        """What changed from this build to `other` (a Build, or `backbone[:layer]` of this store)."""
        from filterspeak.api.diff import diff_builds

        return diff_builds(
            self.store.paths, f"{self.backbone}:{self.layer}", other if isinstance(other, str) else f"{other.backbone}:{other.layer}"
        )

    def report(self) -> Path:
        """The build's HTML report (its index.html, published in the store)."""
        from filterspeak.api.publish import publish_report

        require_stage(self.view, "report", "the HTML report")
        return publish_report(self.store.paths, self.backbone, self.layer)

    def model(self) -> nn.Module:
        """The network the build explains (a copy, in eval mode)."""
        return self.view.model()

    def _repr_html_(self) -> str:
        metrics = self.view.metrics("predictions")
        lines = [
            f"{self.backbone}:{self.layer} in {self.store.location}",
            f"test accuracy {metrics.get('decision_accuracy', float('nan')):.3f} · {self.view.num_filters} filters · {len(self.view.phrases)} attributes",
        ]
        return cards.frame_card(lines[0], f"<p>{lines[1]}</p>")
