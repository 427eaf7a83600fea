"""Build options: flat, JSON-able flow parameters → the typed configs each stage takes."""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass
from typing import Literal

from filterspeak.backbones.linear_head import HeadParams
from filterspeak.backbones.features import layer_module
from filterspeak.backbones.registry import BackboneSpec, Preprocessing, build_backbone
from filterspeak.captions.parser import ParserConfig
from filterspeak.datasets.synthetic import SyntheticConfig
from filterspeak.tasks.count_cooccurrence import CooccurrenceParams
from filterspeak.tasks.estimate_pdfs import PdfParams
from filterspeak.tasks.generate_explanations import ExplanationParams
from filterspeak.tasks.parse_captions import CaptionParams
from filterspeak.datasets.registry import DatasetParams


@dataclass(frozen=True)
class BuildOptions:
    """Every knob of `filterspeak build`; defaults are the documented defaults."""

    dataset: str = "synthetic"
    data_dir: str | None = None
    max_images_per_class: int = 0
    captions: str | None = None
    caption_format: str | None = None
    dataset_seed: int = 0
    num_classes: int = 16
    images_per_class: int = 200
    image_size: int = 64
    backbone: str = "smallcnn"
    weights: str | None = None
    weights_sha256: str | None = None
    head: Literal["auto", "model", "train"] = "auto"
    width: int = 16
    train_seed: int = 0
    epochs: int = 20
    concept_filters: int = 0
    layer: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    min_df: int = 5
    attribute_weighting: Literal["counts", "presence"] = "presence"
    response: Literal["max", "mean"] = "max"
    top_k_images: int = 0
    prior_correction: Literal["none", "lift", "pmi"] = "pmi"
    sentence_attributes: int = 3
    min_relative_score: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def dataset_params(self) -> DatasetParams:
        config = SyntheticConfig(
            seed=self.dataset_seed,
            num_classes=self.num_classes,
            images_per_class=self.images_per_class,
            image_size=self.image_size,
        )
        return DatasetParams(
            name=self.dataset, data_dir=self.data_dir, synthetic=config, max_images_per_class=self.max_images_per_class or None,
            captions=self.captions, caption_format=self.caption_format,
        )

    @property
    def caption_params(self) -> CaptionParams:
        return CaptionParams(min_df=self.min_df, weighting=self.attribute_weighting, parser=ParserConfig())

    @property
    def backbone_spec(self) -> BackboneSpec:
        return BackboneSpec(
            architecture=self.backbone, weights=self.weights, weights_sha256=self.weights_sha256,
            width=self.width, train_seed=self.train_seed, epochs=self.epochs, concept_filters=self.concept_filters,
        )

    @property
    def preprocessing(self) -> Preprocessing:
        return self.backbone_spec.default_preprocessing(self.image_size)

    @property
    def layers(self) -> list[str]:
        """`--layer a,b` explains several layers (extracted in one pass)."""
        layer = self.layer or self.backbone_spec.default_layer
        if not layer:
            raise ValueError(f"--layer is required for backbone {self.backbone!r} (a module name such as features.12 or layer4)")
        return list(dict.fromkeys(name.strip() for name in layer.split(",") if name.strip()))

    def validate(self) -> None:
        """Fail in a second, before any work, on a wrong choice, backbone name, weights file or layer."""
        for name in ("head", "device", "attribute_weighting", "response", "prior_correction"):
            allowed = typing.get_args(typing.get_type_hints(BuildOptions)[name])
            if getattr(self, name) not in allowed:
                raise ValueError(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for name in ("epochs", "concept_filters", "top_k_images"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.concept_filters and self.backbone != "smallcnn":
            raise ValueError("--concept-filters applies to the built-in backbone (smallcnn) only")
        spec = self.backbone_spec
        model = build_backbone(spec, num_classes=2 if spec.trainable else None)
        for layer in self.layers:
            layer_module(model, layer)

    def trains_head(self, backbone_outputs: int, dataset_classes: int) -> bool:
        """A linear head is fitted when asked, or (auto) when the backbone's classes are not the dataset's."""
        if self.head == "auto":
            return not self.backbone_spec.trainable and backbone_outputs != dataset_classes
        return self.head == "train"

    @property
    def head_params(self) -> HeadParams:
        return HeadParams()

    @property
    def cooccurrence_params(self) -> CooccurrenceParams:
        return CooccurrenceParams(response=self.response, top_k=self.top_k_images)

    @property
    def pdf_params(self) -> PdfParams:
        return PdfParams(prior_correction=self.prior_correction)

    @property
    def explanation_params(self) -> ExplanationParams:
        return ExplanationParams(top_k=self.sentence_attributes, min_relative_score=self.min_relative_score)
