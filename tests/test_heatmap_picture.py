"""The Train page's picture of W3's change and its most-moved table, checked against plain PyTorch.

The picture is a palette PNG: every cell's palette index is read back from the decoded image and compared
with the colour step its change should get, computed here from a plain-PyTorch step with numpy."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from fashionnet import layerviews, report
from fashionnet.learner import Learner
from fashionnet.settings import LESSON
from plain_reference import PlainRun

pytestmark = pytest.mark.realdata

CELL, LEFT, TOP = 5, 26, 16  # the picture's layout: 5 px a cell, room for the labels at the left and top


def decode(png: bytes) -> tuple[np.ndarray, list[int], dict]:
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.mode == "P"
    return np.array(picture), picture.getpalette(), picture.info


def cell_indices(pixels: np.ndarray) -> np.ndarray:
    """The palette index at the centre of each of the 64 x 64 cells."""
    centre = CELL // 2
    return pixels[TOP + centre : TOP + 64 * CELL : CELL, LEFT + centre : LEFT + 64 * CELL : CELL]


def expected_steps(change: np.ndarray) -> np.ndarray:
    """The colour step of each change, written out independently: 0 at -max|change|, 126 at 0, 252 at +max."""
    limit = np.abs(change).max()
    return np.rint((np.clip(change / limit, -1, 1) + 1) * 126).astype(np.uint8)


@pytest.fixture(scope="module")
def plain_and_learner_steps(real_data):
    learner = Learner(LESSON)
    plain = PlainRun(learner, LESSON)
    out = []
    for i in range(3):
        image, label = real_data.image("train", i)
        out.append((learner.train_step(image, label), plain.step(image, label)))
    return out


def test_every_cell_has_the_colour_of_its_change(plain_and_learner_steps):
    for step, plain in plain_and_learner_steps:
        change = (plain["after"]["4.weight"] - plain["before"]["4.weight"]).double().numpy()
        pixels, palette, info = decode(layerviews.heatmap_png(step.w3_delta, mark=None))
        assert pixels.shape == (TOP + 64 * CELL + 30, LEFT + 64 * CELL + 2)
        cells = cell_indices(pixels)
        assert np.array_equal(cells, expected_steps(change.astype(np.float32).astype(np.float64)))
        # Every pixel of a cell has the cell's colour (5 x 5 blocks).
        block = pixels[TOP : TOP + 64 * CELL, LEFT : LEFT + 64 * CELL]
        assert np.array_equal(block, cells.repeat(CELL, 0).repeat(CELL, 1))
        assert info.get("transparency") == 255 and pixels[0, 0] == 255  # transparent around the cells
        # The ends and the middle of the scale are the charts' blue, white and orange.
        rgb = np.array(palette[: 3 * 253]).reshape(253, 3)
        assert rgb[0].tolist() == [5, 48, 97] and rgb[126].tolist() == [247, 247, 247] and rgb[252].tolist() == [179, 88, 6]
        # The largest increase is the darkest orange, the largest decrease the darkest blue.
        i, j = np.unravel_index(np.argmax(change), change.shape)
        assert cells[i, j] == 252 or change.max() < abs(change.min())
        i, j = np.unravel_index(np.argmin(change), change.shape)
        assert cells[i, j] == 0 or -change.min() < change.max()


def test_the_marked_entry_is_boxed_and_keeps_its_colour(plain_and_learner_steps):
    step, _ = plain_and_learner_steps[0]
    plain_pixels, *_ = decode(layerviews.heatmap_png(step.w3_delta))
    for i, j in ((0, 0), (17, 42), (63, 63), (0, 63)):
        pixels, *_ = decode(layerviews.heatmap_png(step.w3_delta, mark=(i, j)))
        y, x = TOP + i * CELL, LEFT + j * CELL
        assert (pixels[y : y + CELL, x : x + CELL] == plain_pixels[y : y + CELL, x : x + CELL]).all()  # the cell itself
        ring = pixels[max(y - 2, 0) : y + CELL + 2, max(x - 2, 0) : x + CELL + 2].copy()
        ring[2:-2, 2:-2] = 254
        assert (ring == 254).all(), (i, j)  # a 2-pixel box all round
        changed = np.argwhere(pixels != plain_pixels)
        assert changed[:, 0].min() >= y - 2 and changed[:, 0].max() < y + CELL + 2  # nothing else moved
        assert changed[:, 1].min() >= x - 2 and changed[:, 1].max() < x + CELL + 2


def test_no_change_is_all_white_and_says_so(plain_and_learner_steps):
    step, _ = plain_and_learner_steps[0]
    still = replace(step, w3_after=step.w3_before.clone())
    pixels, *_ = decode(layerviews.heatmap_png(still.w3_delta))
    assert (cell_indices(pixels) == 126).all()
    assert report.heatmap_caption(still, 0, 0) == "No entry of W3 changed in this step: every cell is white."
    caption = report.heatmap_caption(step, 3, 9)
    assert f"±{float(step.w3_delta.abs().max()):.3g}" in caption and "W3[3, 9]" in caption


def test_most_moved_table_matches_plain_pytorch_including_ties(real_data):
    """SGD leaves the rows of silent ReLU units unchanged: many ties at zero, which keep row-major order."""
    settings = replace(LESSON, activation="relu", optimizer="sgd", lr=0.01)
    learner = Learner(settings)
    plain = PlainRun(learner, settings)
    for i in range(4):
        image, label = real_data.image("train", i)
        step, ref = learner.train_step(image, label), plain.step(image, label)
        change = (ref["after"]["4.weight"] - ref["before"]["4.weight"]).flatten()
        assert (change == 0).sum() > 0, "the check needs ties"
        # Largest |change| first; equal sizes in row-major order (a stable sort of the flat indices).
        order = sorted(range(4096), key=lambda k: (-abs(float(change[k])), k))
        top = report.top_moves(step, 4096)
        assert top["row"].tolist() == [k // 64 for k in order] and top["column"].tolist() == [k % 64 for k in order]
        assert torch.equal(torch.tensor(top["change"].to_numpy()), change[order].double())
        assert torch.equal(torch.tensor(top["after"].to_numpy()), ref["after"]["4.weight"].flatten()[order].double())
        assert top.equals(report.top_moves_of(report.w3_change_frame(step), 4096))
