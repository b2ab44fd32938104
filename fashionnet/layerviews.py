"""Every layer of the model as a learner can look at it: W1 as 64 small images, W2 and W3 as grids,
W4 per class, the biases; each either as it is now or as the change since an earlier point.

W1's 784 weights into a hidden unit, laid out as 28x28, show which pixels push that unit up (orange)
or down (blue): what the unit looks for. Colours are symmetric around zero.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw, ImageFont

from fashionnet.data import CLASSES
from fashionnet.model import LAYERS

# The charts' diverging pair (Vega's "blueorange" ends), so images and heatmaps read the same way.
_NEG = np.array([5, 48, 97], dtype=np.float64)  # strong negative: dark blue
_POS = np.array([179, 88, 6], dtype=np.float64)  # strong positive: dark orange
_MID = np.array([247, 247, 247], dtype=np.float64)  # zero: near white


def diverging_rgb(values: np.ndarray, limit: float) -> np.ndarray:
    """Values to RGB uint8: -limit dark blue, 0 white, +limit dark orange (clipped beyond)."""
    t = np.clip(values / (limit or 1e-12), -1.0, 1.0)[..., None]
    rgb = np.where(t < 0, _MID + (_NEG - _MID) * -t, _MID + (_POS - _MID) * t)
    return rgb.round().astype(np.uint8)


def w1_grid_png(w1: torch.Tensor, per_unit: bool = True, cell: int = 3, gap: int = 2) -> bytes:
    """W1 (64, 784) as an 8x8 grid of 28x28 tiles (unit 0 top left, row by row), as PNG bytes.

    ``per_unit``: each tile uses its own colour range (shows every unit's pattern); otherwise one
    range for all (shows which units have the largest weights, or changed most).
    """
    tiles = w1.detach().double().numpy().reshape(64, 28, 28)
    limits = np.abs(tiles).reshape(64, -1).max(axis=1) if per_unit else np.full(64, np.abs(tiles).max())
    size = 28 * cell
    canvas = np.full((8 * size + 9 * gap, 8 * size + 9 * gap, 3), 255, dtype=np.uint8)
    for unit in range(64):
        r, c = divmod(unit, 8)
        tile = diverging_rgb(tiles[unit], float(limits[unit])).repeat(cell, axis=0).repeat(cell, axis=1)
        y, x = gap + r * (size + gap), gap + c * (size + gap)
        canvas[y : y + size, x : x + size] = tile
    buf = io.BytesIO()
    Image.fromarray(canvas, mode="RGB").save(buf, format="PNG")
    return buf.getvalue()


def matrix_frame(matrix: torch.Tensor, row_names: list[str] | None = None) -> pd.DataFrame:
    """A (R, C) weight matrix as tidy rows: row, column, value (and the row's name for W4's classes)."""
    values = matrix.detach().double().numpy()
    rows, cols = values.shape
    frame = pd.DataFrame(
        {
            "row": np.repeat(np.arange(rows), cols),
            "column": np.tile(np.arange(cols), rows),
            "value": values.reshape(-1),
        }
    )
    if row_names is not None:
        frame["class"] = np.repeat(np.array(row_names, dtype=object), cols)
    return frame


def bias_frame(params: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Every bias entry: layer, unit (for W4, its class), value."""
    rows = []
    for layer in LAYERS:
        for unit, value in enumerate(params[f"{layer}.bias"].tolist()):
            rows.append({"layer": layer, "unit": unit, "name": CLASSES[unit] if layer == "W4" else f"unit {unit}", "value": value})
    return pd.DataFrame(rows)


def compare(now: dict[str, torch.Tensor], then: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The weights now, or (with ``then``) the change from then to now, entry by entry."""
    return dict(now) if then is None else {k: now[k] - then[k] for k in now}


def summary_frame(now: dict[str, torch.Tensor], then: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Per layer: size, typical weight now, and how much it changed since then (norm, largest, share moved)."""
    rows = []
    for layer in LAYERS:
        w, w0 = now[f"{layer}.weight"], then[f"{layer}.weight"]
        b, b0 = now[f"{layer}.bias"], then[f"{layer}.bias"]
        rows.append(
            {
                "layer": layer,
                "shape": f"{w.shape[0]} × {w.shape[1]}",
                "mean |weight|": float(w.abs().mean()),
                "weight change (L2)": float((w - w0).norm()),
                "largest weight change": float((w - w0).abs().max()),
                "weights moved": float((w != w0).double().mean()),
                "bias change (L2)": float((b - b0).norm()),
            }
        )
    return pd.DataFrame(rows)


# The Train page's picture of W3's change: one image instead of 4,096 chart marks, so a click repaints it
# in a millisecond or two (docs/performance.md). A palette image (one byte a pixel) keeps the PNG encoding
# to about a millisecond: 253 colour steps from -max (dark blue) through 0 (white) to +max (dark orange),
# then grey for the labels, near-black for the marked entry's box, and transparent around it, so the
# picture reads in light and dark themes alike.
_STEPS = 253
_LABEL, _BOX, _CLEAR = 253, 254, 255
_PALETTE = [
    *diverging_rgb(np.linspace(-1.0, 1.0, _STEPS), 1.0).reshape(-1).tolist(),
    *(128, 128, 128),  # labels
    *(17, 17, 17),  # the marked entry's box
    *(0, 0, 0),  # transparent (tRNS)
]
_HEAT_LEFT, _HEAT_TOP = 26, 16  # room for the row and column labels


def change_limit(delta: torch.Tensor) -> float:
    """The colour scale's end: the largest absolute change (so the scale is symmetric around zero)."""
    return float(delta.detach().abs().max())


def colour_steps(values: np.ndarray, limit: float) -> np.ndarray:
    """Each value's palette index: 0 at -limit, 126 at zero, 252 at +limit (clipped beyond)."""
    t = np.clip(values / (limit or 1e-12), -1.0, 1.0)
    return np.rint((t + 1.0) * ((_STEPS - 1) / 2)).astype(np.uint8)


@functools.cache
def _heatmap_frame(rows: int, cols: int, cell: int) -> np.ndarray:
    """What every heatmap picture of this size shares: the tick labels and the colour bar (drawn once)."""
    font = ImageFont.load_default(10)
    width, height = _HEAT_LEFT + cols * cell + 2, _HEAT_TOP + rows * cell + 30
    picture = Image.new("P", (width, height), _CLEAR)
    draw = ImageDraw.Draw(picture)
    for k in range(0, max(rows, cols), 8):
        if k < cols:
            draw.text((_HEAT_LEFT + k * cell + cell / 2, _HEAT_TOP - 3), str(k), fill=_LABEL, font=font, anchor="mb")
        if k < rows:
            draw.text((_HEAT_LEFT - 4, _HEAT_TOP + k * cell + cell / 2), str(k), fill=_LABEL, font=font, anchor="rm")
    bar_top, bar_text = _HEAT_TOP + rows * cell + 8, _HEAT_TOP + rows * cell + 16
    draw.text((_HEAT_LEFT, bar_text), "-max", fill=_LABEL, font=font, anchor="lt")
    draw.text((_HEAT_LEFT + cols * cell / 2, bar_text), "0", fill=_LABEL, font=font, anchor="mt")
    draw.text((_HEAT_LEFT + cols * cell, bar_text), "+max", fill=_LABEL, font=font, anchor="rt")
    frame = np.array(picture)
    frame[bar_top : bar_top + 6, _HEAT_LEFT : _HEAT_LEFT + cols * cell] = colour_steps(np.linspace(-1, 1, cols * cell), 1.0)
    frame.flags.writeable = False
    return frame


def heatmap_png(delta: torch.Tensor, mark: tuple[int, int] | None = None, cell: int = 5) -> bytes:
    """A (64, 64) change as a heatmap PNG: row i down, column j across, a tick label every 8 entries,
    a colour bar from -max|change| (blue) through 0 (white) to +max|change| (orange; the page says
    what max is), and ``mark``'s entry outlined."""
    values = delta.detach().double().numpy()
    rows, cols = values.shape
    canvas = _heatmap_frame(rows, cols, cell).copy()
    cells = colour_steps(values, change_limit(delta)).repeat(cell, axis=0).repeat(cell, axis=1)
    canvas[_HEAT_TOP : _HEAT_TOP + rows * cell, _HEAT_LEFT : _HEAT_LEFT + cols * cell] = cells
    if mark is not None:  # a near-black box (2 px) around the entry
        i, j = mark
        y, x = _HEAT_TOP + i * cell, _HEAT_LEFT + j * cell
        box = canvas[max(y - 2, 0) : y + cell + 2, max(x - 2, 0) : x + cell + 2]
        inner = box[2:-2, 2:-2].copy()
        box[...] = _BOX
        box[2:-2, 2:-2] = inner
    picture = Image.fromarray(canvas, mode="P")
    picture.putpalette(_PALETTE)
    buf = io.BytesIO()
    picture.save(buf, format="PNG", compress_level=1, transparency=_CLEAR)
    return buf.getvalue()
