"""Per-split response statistics summed shard by shard equal numpy's over the whole matrix, bit for bit."""

import numpy as np

from filterspeak.interpret.response_stats import ResponseStats


def test_shard_by_shard_equals_the_whole_matrix_exactly():
    rng = np.random.default_rng(0)
    responses = (rng.random((1000, 9)) * rng.random(9) * 1e3).astype(np.float32)
    splits = np.where(rng.random(1000) < 0.7, "train", "test")
    stats = ResponseStats()
    for start in range(0, 1000, 64):
        stats.add(splits[start : start + 64], {"max_response": responses[start : start + 64]})
    table = stats.table().set_index(["split", "filter"])
    for split in ("train", "test"):
        rows = responses[splits == split].astype(np.float64)
        assert np.array_equal(table.loc[split, "mean"].to_numpy(), rows.mean(axis=0))
        assert np.array_equal(table.loc[split, "maximum"].to_numpy(), rows.max(axis=0))
        assert (table.loc[split, "images"] == len(rows)).all()
