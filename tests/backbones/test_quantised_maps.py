"""Quantised feature maps come back within half a level of each map's range, signs and extremes kept."""

from __future__ import annotations

import numpy as np
import torch

from filterspeak.backbones.quantised_maps import LEVELS, dequantise, quantise


def test_round_trip_is_within_half_a_level_of_each_maps_range():
    torch.manual_seed(0)
    maps = torch.relu(torch.randn(3, 5, 7, 6)) * torch.tensor([1.0, 10.0, 0.01, 3.0, 0.5])[None, :, None, None]
    maps[1, 2] = 0.0  # a filter silent on an image: a flat map comes back flat
    stored = quantise(maps)
    back = dequantise(*stored.arrays())
    assert back.shape == (3, 5, 7, 6) and back.dtype == np.float32
    span = (maps.amax(dim=(2, 3)) - maps.amin(dim=(2, 3))).numpy()
    error = np.abs(back - maps.numpy()).max(axis=(2, 3))
    assert np.all(error <= span / (2 * LEVELS) + 1e-6)
    assert np.all(back[1, 2] == 0.0)
    # the extremes are exact: the peak a heat map shows is where the network's is
    np.testing.assert_allclose(back.max(axis=(2, 3)), maps.amax(dim=(2, 3)).numpy(), rtol=1e-6)


def test_negative_maps_keep_their_sign():
    maps = torch.tensor([[[[-2.0, 0.0], [1.0, 2.0]]]])
    back = dequantise(*quantise(maps).arrays())
    np.testing.assert_allclose(back[0, 0], [[-2.0, 0.0], [1.0, 2.0]], atol=4 / (2 * LEVELS) + 1e-6)
