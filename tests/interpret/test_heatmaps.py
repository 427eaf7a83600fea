"""Attribute heat maps on a hand-made layer: the map of an attribute peaks where its filter fires,
and the drawn picture shows it there. The grounding metric uses the same functions."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from filterspeak.evaluation import grounding
from filterspeak.interpret import heatmaps
from filterspeak.interpret.heatmap_images import COLOUR_MAP, PADDING, colourise, heat_map_image, overlay, title_height, title_lines

SIZE = 32  # the image; the layer is 4×4, so each cell covers 8×8 pixels


def _planted() -> tuple[torch.Tensor, np.ndarray]:
    """Filter 0 fires only in the top-left cell, filter 1 only in the bottom-right quadrant;
    attribute 0 is mostly filter 0's, attribute 1 mostly filter 1's, attribute 2 nobody's."""
    maps = torch.zeros(1, 2, 4, 4)
    maps[0, 0, 0, 0] = 5.0
    maps[0, 1, 2:, 2:] = 1.0
    pdf = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]])  # (F, A) p(a|f)
    return maps, pdf


def test_filter_prior_and_filter_given_attribute_by_hand():
    prior = heatmaps.filter_prior(np.array([[3.0, 1.0], [-1.0, 2.0]]))  # shares (0.75, 0.25) and (0, 1): negatives clipped
    np.testing.assert_allclose(prior, [0.375, 0.625])
    _, pdf = _planted()
    given = heatmaps.filter_given_attribute(pdf, np.array([0.5, 0.5]))  # (A, F)
    np.testing.assert_allclose(given[0], [0.9 / 1.1, 0.2 / 1.1])
    np.testing.assert_allclose(given[1], [0.1 / 0.9, 0.8 / 0.9])
    np.testing.assert_allclose(given[:2].sum(axis=1), 1.0)
    np.testing.assert_array_equal(given[2], [0.0, 0.0])  # an attribute no filter carries: a zero row, not NaN
    assert grounding.filter_prior is heatmaps.filter_prior and grounding.filter_given_attribute is heatmaps.filter_given_attribute


def test_heat_map_peaks_where_the_attributes_filter_fires():
    maps, pdf = _planted()
    weights = torch.from_numpy(heatmaps.filter_given_attribute(pdf, np.array([0.5, 0.5])))
    heat = heatmaps.heat_maps(maps, weights, (SIZE, SIZE))
    assert heat.shape == (1, 3, SIZE, SIZE)
    row, column = divmod(int(heat[0, 0].argmax()), SIZE)
    assert row < 8 and column < 8  # attribute 0: in filter 0's cell
    row, column = divmod(int(heat[0, 1].argmax()), SIZE)
    assert row >= 16 and column >= 16  # attribute 1: in filter 1's quadrant
    assert float(heat[0, 2].abs().max()) == 0.0
    # summing at the layer then upsampling is upsampling each filter's map then summing
    upsampled = F.interpolate(maps, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    torch.testing.assert_close(heat[0, 0], (weights[0, :, None, None].float() * upsampled[0]).sum(0))
    # the grounding metric's peaks are these maps' argmax; per-image weights give the same maps
    peaks = grounding.heat_map_peaks(maps, weights, (SIZE, SIZE))
    assert peaks.shape == (1, 3, 2) and tuple(peaks[0, 0]) == divmod(int(heat[0, 0].argmax()), SIZE)
    torch.testing.assert_close(heatmaps.heat_maps(maps, weights[None], (SIZE, SIZE)), heat)


def test_picture_is_the_image_with_a_title_strip_and_the_peak_coloured():
    maps, pdf = _planted()
    weights = torch.from_numpy(heatmaps.filter_given_attribute(pdf, np.array([0.5, 0.5])))
    heat = heatmaps.heat_maps(maps, weights, (SIZE, SIZE))[0, 0].numpy()
    image = np.full((SIZE, SIZE, 3), 120, np.uint8)
    picture = heat_map_image(image, heat, "red crown")
    strip = title_height("red crown", SIZE)
    assert picture.mode == "RGB" and picture.size == (SIZE, SIZE + strip) and strip > 2 * PADDING
    pixels = np.asarray(picture)
    area = pixels[strip:]
    np.testing.assert_array_equal(area, overlay(image, heat))  # the image area: the bottom SIZE rows
    peak, far = divmod(int(heat.argmax()), SIZE), (0, SIZE - 1)  # far: where neither filter fires
    np.testing.assert_array_equal(area[peak], np.round(0.5 * 120 + 0.5 * COLOUR_MAP[255]))  # the top of the colour map
    np.testing.assert_array_equal(area[far], np.round(0.5 * 120 + 0.5 * COLOUR_MAP[0]))  # the bottom
    assert np.abs(area[peak].astype(int) - area[far]).sum() > 100
    title = pixels[:strip]
    assert (title == 255).all(axis=2).mean() > 0.5 and (title < 128).all(axis=2).any()  # black text on white


def test_colours_are_relative_and_sizes_must_match():
    np.testing.assert_array_equal(colourise(np.full((3, 3), 7.0)), np.broadcast_to(COLOUR_MAP[0], (3, 3, 3)))  # flat: all low
    np.testing.assert_array_equal(colourise(np.array([[2.0, 4.0]])), colourise(np.array([[-1.0, 9.0]])))
    with pytest.raises(ValueError, match="differ in size"):
        overlay(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5)))


def test_a_long_title_wraps_within_the_width_and_loses_no_letter():
    title = "black and white supercalifragilisticexpialidocious wing"
    lines = title_lines(title, SIZE * 2)
    assert len(lines) > 3 and "".join(lines).replace(" ", "") == title.replace(" ", "")
    picture = heat_map_image(np.zeros((SIZE, SIZE * 2, 3), np.uint8), np.zeros((SIZE, SIZE * 2)), title)
    assert picture.size == (SIZE * 2, SIZE + title_height(title, SIZE * 2))
    from filterspeak.interpret.heatmap_images import _font

    assert max(_font().getlength(line) for line in lines) <= SIZE * 2 - 2 * PADDING
    assert title_lines("red crown", 200) == ["red crown"]
