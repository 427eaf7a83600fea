"""What an image shows, in attribute words: p(a|x) = Σ_f p(a|f) p(f|x), p(f|x) ∝ s_f(x).

One implementation behind search (`filterspeak search`, the `image_attribute_scores` table), the
retrieval metric and the failure analysis, so a ranking a user sees is the ranking that is scored.
"""

from __future__ import annotations

import numpy as np

from filterspeak.interpret.decomposition import positive_shares


def image_attribute_scores(pdf: np.ndarray, responses: np.ndarray) -> np.ndarray:
    """(N, A) p(a|x) from p(a|f) (F, A) and filter responses s_f(x) (N, F)."""
    return positive_shares(responses) @ pdf
