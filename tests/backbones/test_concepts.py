"""Planted concept filters: which attributes are planted, their labels, the variant's name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from filterspeak.backbones.concepts import ConceptProbe, choose_concepts, concept_labels
from filterspeak.backbones.registry import BackboneSpec, build_backbone

TRUTH = pd.DataFrame(
    {
        "image_id": [0, 0, 1, 1, 2, 2, 3, 3],
        "part": ["crown", "wing", "crown", "wing", "crown", "tail", "beak", "tail"],
        "phrase": ["red crown", "grey wing", "red crown", "white stripe", "green crown", "grey tail", "black beak", "grey tail"],
        "kind": ["colour", "colour", "colour", "marking", "colour", "colour", "colour", "colour"],
    }
)
DEFINITIONS = pd.DataFrame({"class_id": [0], "part": ["crown"], "phrase": ["red crown"]})


def test_concepts_skip_defining_and_marking_phrases_and_rotate_over_parts():
    chosen = choose_concepts(TRUTH, np.arange(4), DEFINITIONS, 4)
    assert "red crown" not in chosen and "white stripe" not in chosen
    assert chosen == ("black beak", "green crown", "grey tail", "grey wing")  # one per part, parts in order


def test_asking_for_more_concepts_than_qualify_is_an_error():
    with pytest.raises(ValueError, match="only 4 attributes qualify"):
        choose_concepts(TRUTH, np.arange(4), DEFINITIONS, 5)


def test_concept_labels_mark_presence():
    labels = concept_labels(np.array([3, 0]), TRUTH, ("grey tail", "grey wing"))
    assert labels.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_probe_scale_is_positive_so_the_filter_must_fire():
    probe = ConceptProbe(2)
    with torch.no_grad():
        probe.scale.fill_(-5.0)
    maps = torch.zeros(1, 3, 2, 2)
    maps[0, 0, 1, 1] = 4.0
    logits = probe(maps)
    assert logits[0, 0] > logits[0, 1]  # a stronger response always means "more present"


def test_variant_names_keep_models_apart():
    assert BackboneSpec().name == "smallcnn-w16-s0"
    assert BackboneSpec(epochs=0).name == "smallcnn-w16-s0-e0"
    assert BackboneSpec(concept_filters=8).name == "smallcnn-w16-s0-c8"
    assert "concept_filters" not in BackboneSpec().to_dict()  # plain models keep their fingerprints
    assert BackboneSpec(concept_filters=8).to_dict()["concept_filters"] == 8


def test_a_backbone_without_weights_is_the_same_random_network_every_time():
    first, second = build_backbone(BackboneSpec("squeezenet1_0")), build_backbone(BackboneSpec("squeezenet1_0"))
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
