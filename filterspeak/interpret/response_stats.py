"""Per filter and split, the largest and the mean value of every response s_f(x), summed while
extraction streams its shards: later stages (filter_stats) read 2,048 numbers instead of
every image's responses again.

The mean's sum runs row by row in image order in float64 (the running sum is the first row
of each shard's sum), exactly as numpy's mean over the whole (images, filters) matrix does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class ResponseStats:
    def __init__(self) -> None:
        self._maximum: dict[tuple[str, str], np.ndarray] = {}
        self._total: dict[tuple[str, str], np.ndarray] = {}
        self._images: dict[str, int] = {}

    def add(self, splits: np.ndarray, responses: dict[str, np.ndarray]) -> None:
        """One shard in image order: each image's split, and (images, filters) per response column."""
        for split in dict.fromkeys(splits):  # first-seen order
            rows = splits == split
            self._images[split] = self._images.get(split, 0) + int(rows.sum())
            for column, matrix in responses.items():
                values = matrix[rows].astype(np.float64)
                key = (split, column)
                if key not in self._total:
                    self._maximum[key], self._total[key] = np.full(values.shape[1], -np.inf), np.zeros(values.shape[1])
                self._maximum[key] = np.maximum(self._maximum[key], values.max(axis=0))
                self._total[key] = np.vstack([self._total[key], values]).sum(axis=0)

    def table(self) -> pd.DataFrame:
        """(split, response column, filter, images, maximum, mean), ordered."""
        frames = [
            pd.DataFrame(
                {
                    "split": split,
                    "response": column,
                    "filter": np.arange(len(total), dtype=np.int32),
                    "images": self._images[split],
                    "maximum": self._maximum[(split, column)],
                    "mean": total / self._images[split],
                }
            )
            for (split, column), total in sorted(self._total.items())
        ]
        columns = ["split", "response", "filter", "images", "maximum", "mean"]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
