"""Each prior correction on a 2 x 2 case computed by hand: rows sum to one (or stay zero), and
every correction a user can name is tested here (add the expected values of a new one)."""

import numpy as np
import pytest

from filterspeak.interpret.prior_corrections import PRIOR_CORRECTIONS

RAW = np.array([[2 / 3, 1 / 3], [0.0, 0.0]])  # the second filter never co-occurs
PRIOR = np.array([0.375, 0.625])
LIFT = RAW / PRIOR
EXPECTED = {
    "none": RAW,
    "lift": np.array([[10 / 13, 3 / 13], [0.0, 0.0]]),  # (16/9) / (16/9 + 8/15)
    "pmi": np.array([[1.0, 0.0], [0.0, 0.0]]),  # a1 is depleted (lift 8/15 < 1): no mass
}


@pytest.mark.parametrize("name", list(PRIOR_CORRECTIONS))
def test_each_correction_gives_the_hand_computed_distribution(name):
    assert name in EXPECTED, f"add the expected p(a|f) of prior correction {name!r} to EXPECTED"
    corrected = PRIOR_CORRECTIONS[name].correct(RAW, LIFT)
    np.testing.assert_allclose(corrected, EXPECTED[name], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(corrected.sum(axis=1), [1.0, 0.0])
