"""What the evaluation's metrics (`filterspeak.api.metrics`) compute from a build: ground truth,
the network run again on the test images, and each measurement (metric definitions in
`filterspeak.evaluation`). Plain Python, no Prefect.

Everything is measured on the test split, which neither the backbone nor p(a|f) saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from filterspeak.backbones import features
from filterspeak.backbones import images as image_loading
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.heads import DecisionHead
from filterspeak.captions.config import PHRASE_CAPTION
from filterspeak.captions.parser import CaptionParser
from filterspeak.datasets.synthetic_render import PART_LABELS
from filterspeak.evaluation import deletion, failure_recall, grounding, known_filters, randomization, retrieval, truth_checks
from filterspeak.interpret import failures
from filterspeak.interpret.image_attributes import image_attribute_scores
from filterspeak.interpret.responses import RESPONSES
from filterspeak.tasks import captions as captions_stage
from filterspeak.tasks import failures as failures_stage
from filterspeak.tasks.decisions import head_of
from filterspeak.tasks.graph import BuildView
from filterspeak.tasks.readers import attribute_score_matrix, response_matrix

BATCH_SIZE = 128


def _responses(stages: BuildView, image_ids: np.ndarray) -> np.ndarray:
    """s_f(x) (N, F) of the build's `--response` for `image_ids`."""
    return response_matrix(stages, "filter_responses", RESPONSES[stages.options.response].column, image_ids)


def _contributions(stages: BuildView, image_ids: np.ndarray) -> np.ndarray:
    return response_matrix(stages, "filter_contributions", "contribution", image_ids)


def image_scores(stages: BuildView, image_ids: np.ndarray) -> np.ndarray:
    """p(a|x) (N, A) as the build stored it (what `filterspeak search` ranks by); computed the same
    way for a build recorded before the `attribute_scores` stage existed."""
    if "attribute_scores" in stages.produced.by_stage:
        return attribute_score_matrix(stages, image_ids, len(stages.phrases))
    return image_attribute_scores(stages.pdf, _responses(stages, image_ids))


def _predicted(stages: BuildView, image_ids: np.ndarray) -> np.ndarray:
    return stages.read("predictions").set_index("image_id").loc[image_ids, "predicted_class_id"].to_numpy()


# ---- ground truth --------------------------------------------------------------------------


def truth_presence(stages: BuildView, image_ids: np.ndarray) -> np.ndarray | None:
    """(N, A) whether each vocabulary attribute is truly present: per image where the dataset
    knows it (`image_truth`), else at class level (`class_definitions`, e.g. CUB's attributes
    present in >= 50% of a class's images, phrased through the caption parser). None when
    the dataset has neither."""
    index = {phrase: a for a, phrase in enumerate(stages.phrases)}
    presence = np.zeros((len(image_ids), len(index)), dtype=bool)
    row_of = {int(i): r for r, i in enumerate(image_ids)}
    truth = stages.read("image_truth")
    if len(truth):
        for image_id, phrase in zip(truth["image_id"], truth["phrase"]):
            if int(image_id) in row_of and phrase in index:
                presence[row_of[int(image_id)], index[phrase]] = True
        return presence
    definitions = stages.read("class_definitions")
    if not len(definitions):
        return None
    parsed = CaptionParser(captions_stage.params_from(stages.options).parser).parse_many(
        [PHRASE_CAPTION.format(p) for p in definitions["phrase"]]
    )
    images = stages.read("images").set_index("image_id").loc[image_ids]
    rows_of_class = images.reset_index().groupby("class_id").indices
    for class_id, phrases in zip(definitions["class_id"], parsed):
        for phrase in phrases:
            if not phrase.negated and phrase.text in index and class_id in rows_of_class:
                presence[rows_of_class[class_id], index[phrase.text]] = True
    return presence


# ---- 1. known filters ----------------------------------------------------------------------


def evaluate_known_filters(stages: BuildView) -> known_filters.KnownFilterResult | None:
    planted = stages.metrics("backbones").get("concept_filters")
    return known_filters.known_filter_recovery(stages.pdf, stages.phrases, list(planted)) if planted else None


# ---- 3. retrieval --------------------------------------------------------------------------


def evaluate_retrieval(stages: BuildView) -> retrieval.RetrievalResult | None:
    test_ids, train_ids = stages.split_ids("test"), stages.split_ids("train")
    presence = truth_presence(stages, test_ids)
    if presence is None:
        return None
    test_responses = _responses(stages, test_ids)
    scores = image_scores(stages, test_ids)
    images = stages.read("images").set_index("image_id")
    num_classes = int(stages.metrics("classes")["classes"])
    train_classes = images.loc[train_ids, "class_id"].to_numpy()
    train_presence = truth_presence(stages, train_ids)
    frequency = retrieval.class_frequencies(train_presence, train_classes, num_classes)
    predicted = _predicted(stages, test_ids)
    varying = retrieval.varies_within_classes(train_presence, train_classes, num_classes)
    probe = retrieval.linear_probe_scores(_responses(stages, train_ids), train_presence, test_responses)
    return retrieval.evaluate_retrieval(scores, presence, frequency[predicted], varying, stages.phrases, probe)


def evaluate_planted_retrieval(stages: BuildView) -> float | None:
    """Retrieval mAP on the attributes the backbone's concept filters were trained to detect: what
    retrieval reaches when the network is known to encode the attribute."""
    result = evaluate_retrieval(stages)
    planted = [p for p in stages.metrics("backbones").get("concept_filters") or [] if result and p in result.per_attribute]
    return float(np.mean([result.per_attribute[p] for p in planted])) if planted else None


def evaluate_cited_precision(stages: BuildView) -> float | None:
    """The share of the cited attributes of correct decisions truly present; None without per-image truth."""
    truth = stages.read("image_truth")
    if not len(truth):
        return None
    return truth_checks.cited_attribute_precision(stages.read("explanations"), stages.read("explanation_attributes"), truth).value


# ---- 6. failure analysis against planted confusions ------------------------------------------


def evaluate_failures(stages: BuildView) -> failure_recall.FailureRecallResult | None:
    """`failure_attribute_recall` on a dataset with planted twins (`--confusable-pairs`), else None."""
    dataset = stages.table_result("classes")
    if not dataset.has_table("planted_confusions") or not len(planted := stages.read("planted_confusions")):
        return None
    errors = failures_stage.errors_of(stages, "test")

    def ranked(true: int, predicted: int, phrases: list[str]) -> list[str]:
        found = failures.distinguishing_attributes(
            errors.profiles, true, predicted, errors.of_pair(true, predicted), phrases, failure_recall.TOP
        )
        return [item.phrase for item in found]

    return failure_recall.failure_attribute_recall(planted, errors.counts(), ranked, errors.phrases)


# ---- the network, run again on the test images ---------------------------------------------


@dataclass
class _Network:
    model: torch.nn.Module
    device: torch.device
    head: DecisionHead  # who decides, as in the build

    def batches(self, stages: BuildView, image_ids: np.ndarray) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
        """(image ids, uint8 images, feature maps at the layer) for `image_ids`, in batches."""
        names = stages.read("images").set_index("image_id").loc[image_ids, "path"]
        paths = stages.table_result("images").located(names)
        for positions, batch in image_loading.iterate_batches(paths, stages.options.preprocessing, BATCH_SIZE):
            maps = features.forward_to_layer(self.model, stages.layer, batch, stages.options.preprocessing, self.device).feature_maps
            yield image_ids[positions], batch, maps

    def probabilities(self, stages: BuildView, batch: torch.Tensor, maps: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Class probabilities with the filters where `keep` is 0 zeroed at the layer."""
        return self.head.probabilities_with_filters_kept(
            self.model, stages.layer, batch, maps, keep, stages.options.preprocessing, self.device
        )


def _network(stages: BuildView, device: str) -> _Network:
    torch_device = resolve_device(device)
    model = stages.model().to(torch_device).eval()
    return _Network(model, torch_device, head_of(stages.table_result("predictions")))


# ---- 2. grounding --------------------------------------------------------------------------


def _masks(stages: BuildView) -> dict[int, np.ndarray] | None:
    if "masks" not in stages.table_result("images").manifest.files:
        return None
    with np.load(stages.table_result("images").file_path("masks")) as archive:
        return dict(zip(archive["image_id"].tolist(), archive["masks"]))


def _truth_parts(stages: BuildView, image_ids: np.ndarray) -> pd.DataFrame:
    """(image_id, attribute_id, label): vocabulary attributes truly present, with their part's mask label."""
    index = {phrase: a for a, phrase in enumerate(stages.phrases)}
    truth = stages.read("image_truth")
    truth = truth[truth["image_id"].isin(set(image_ids)) & truth["phrase"].isin(index) & truth["part"].isin(PART_LABELS)]
    truth = truth.drop_duplicates(["image_id", "phrase"])
    return pd.DataFrame(
        {
            "image_id": truth["image_id"].to_numpy(),
            "attribute_id": truth["phrase"].map(index).to_numpy(),
            "label": truth["part"].map(PART_LABELS).to_numpy(),
        }
    )


def _pair_rows(pairs: pd.DataFrame, image_ids: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The pairs of a batch of `image_ids`, and each pair's row in the batch."""
    batch_pairs = pairs[pairs["image_id"].isin(set(image_ids.tolist()))]
    position = {int(i): p for p, i in enumerate(image_ids)}
    return batch_pairs, batch_pairs["image_id"].map(position).to_numpy()


def _pair_masks(masks: dict[int, np.ndarray], batch_pairs: pd.DataFrame, size: tuple[int, int]) -> np.ndarray:
    return np.stack([masks[int(i)] for i in batch_pairs["image_id"]]) if len(batch_pairs) else np.zeros((0, *size), np.uint8)


def _fitted_references(stages: BuildView, network: _Network, masks: dict[int, np.ndarray]) -> grounding.ReferenceTally:
    """The supervised grounding references fitted with the train masks, ready for the test pairs."""
    train_ids = stages.split_ids("train")
    attributes, filters = len(stages.phrases), stages.num_filters
    pairs = _truth_parts(stages, train_ids)
    fitted = grounding.FilterHitTally(attributes, filters)
    locator = grounding.PartLocator(tuple(sorted(set(pairs["label"].tolist()))))
    for image_ids, _, maps in network.batches(stages, train_ids):
        batch_pairs, rows = _pair_rows(pairs, image_ids)
        size = masks[int(image_ids[0])].shape
        peaks = grounding.filter_peaks(maps, size)[rows]
        fitted.add(_pair_masks(masks, batch_pairs, size), batch_pairs["attribute_id"].to_numpy(), batch_pairs["label"].to_numpy(), peaks)
        locator.add(maps, np.stack([masks[int(i)] for i in image_ids]))
    locator.fit()
    return grounding.ReferenceTally(fitted, locator, grounding.FilterHitTally(attributes, filters))


def evaluate_grounding(
    stages: BuildView, network: _Network, phrases: set[str] | None = None, references: bool = False
) -> grounding.GroundingResult | None:
    """Over every vocabulary attribute truly present, or only over `phrases`; with `references`, also
    the two supervised references on the same pairs (one more pass, over the train images)."""
    masks = _masks(stages)
    if masks is None:
        return None
    test_ids = stages.split_ids("test")
    weights = torch.from_numpy(stages.attribute_map_weights)
    pairs = _truth_parts(stages, test_ids)
    if phrases is not None:
        pairs = pairs[pairs["attribute_id"].isin([a for a, p in enumerate(stages.phrases) if p in phrases])]
    predictions = stages.read("predictions").set_index("image_id")
    contributions = _contributions(stages, test_ids)
    row_of = {int(i): r for r, i in enumerate(test_ids)}
    cited = stages.read("explanation_attributes")
    cited_pairs = set(zip(cited["image_id"].tolist(), cited["attribute_id"].tolist()))
    tally = grounding.GroundingTally()
    reference_tally = _fitted_references(stages, network, masks) if references else None
    for image_ids, _, maps in network.batches(stages, test_ids):
        size = masks[int(image_ids[0])].shape
        peaks = grounding.heat_map_peaks(maps, weights, size)  # (B, A, 2)
        predicted = predictions.loc[image_ids, "predicted_class_id"].to_numpy()
        if network.head.linear is not None:
            cam_weights = torch.from_numpy(network.head.linear[0][predicted])
        else:
            cam_weights = torch.from_numpy(contributions[[row_of[int(i)] for i in image_ids]])
        cam_peaks = grounding.heat_map_peaks(maps, cam_weights[:, None, :], size)[:, 0]  # (B, 2)
        batch_pairs, rows = _pair_rows(pairs, image_ids)
        pair_masks = _pair_masks(masks, batch_pairs, size)
        tally.add(
            pair_masks,
            batch_pairs["label"].to_numpy(),
            peaks[rows, batch_pairs["attribute_id"].to_numpy()],
            cam_peaks[rows],
            np.array([(int(i), int(a)) in cited_pairs for i, a in zip(batch_pairs["image_id"], batch_pairs["attribute_id"])], dtype=bool),
        )
        if reference_tally is not None:
            reference_tally.add(maps, pair_masks, batch_pairs["attribute_id"].to_numpy(), batch_pairs["label"].to_numpy(), rows)
    result = tally.result()
    if reference_tally is not None:
        best_filter, part_locator = reference_tally.result()
        result = replace(result, best_filter=best_filter, part_locator=part_locator)
    names = {label: part for part, label in PART_LABELS.items()}
    named = lambda by_label: {names.get(label, str(label)): value for label, value in by_label.items()}
    return replace(result, by_part=named(result.by_part), miss_regions=named(result.miss_regions))


# ---- 4. deletion ---------------------------------------------------------------------------


def evaluate_deletion(
    stages: BuildView, network: _Network, per_attribute: int = 2, draws: int = 5, seed: int = 0
) -> deletion.DeletionResult:
    test_ids = stages.split_ids("test")
    pdf = stages.pdf
    contributions = _contributions(stages, test_ids)
    predicted = _predicted(stages, test_ids)
    cited = stages.read("explanation_attributes").sort_values(["image_id", "rank"])
    cited_by_image = cited.groupby("image_id")["attribute_id"].agg(list).to_dict()
    num_filters = pdf.shape[0]
    rng = np.random.default_rng(seed)
    tally = deletion.DeletionTally()
    start = 0
    for image_ids, batch, maps in network.batches(stages, test_ids):
        rows = np.arange(start, start + len(image_ids))
        start += len(image_ids)
        behind = [
            deletion.filters_behind_citations(contributions[r], pdf, cited_by_image.get(int(i), []), per_attribute)
            for r, i in zip(rows, image_ids)
        ]
        chosen = [k for k, filters in enumerate(behind) if filters]
        if not chosen:
            continue
        batch, maps, behind, classes = batch[chosen], maps[chosen], [behind[k] for k in chosen], predicted[rows[chosen]]
        keep_all = torch.ones(len(chosen), num_filters)
        keep_cited = keep_all.clone()
        for k, filters in enumerate(behind):
            keep_cited[k, filters] = 0
        randoms = []
        for _ in range(draws):
            keep_random = keep_all.clone()
            for k, filters in enumerate(behind):
                keep_random[k, deletion.random_filter_sets(len(filters), num_filters, 1, rng)[0]] = 0
            randoms.append(keep_random)
        take = lambda probabilities, classes=classes: probabilities[torch.arange(len(classes)), torch.from_numpy(classes)].numpy()
        original = take(network.probabilities(stages, batch, maps, keep_all))
        after_cited = take(network.probabilities(stages, batch, maps, keep_cited))
        after_random = np.stack([take(network.probabilities(stages, batch, maps, keep)) for keep in randoms], axis=1)
        tally.add(original, after_cited, after_random, sum(len(f) for f in behind))
    return tally.result()


# ---- 5. randomisation ----------------------------------------------------------------------


def evaluate_randomization(trained: BuildView, randomised: BuildView) -> tuple[float, int]:
    return randomization.cited_overlap(trained.read("explanation_attributes"), randomised.read("explanation_attributes"))
