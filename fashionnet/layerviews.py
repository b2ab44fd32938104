"""Every layer of the model as a learner can look at it: W1 as 64 small images, W2 and W3 as grids,
W4 per class, the biases; each either as it is now or as the change since an earlier point.

W1's 784 weights into a hidden unit, laid out as 28x28, show which pixels push that unit up (orange)
or down (blue): what the unit looks for. Colours are symmetric around zero.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import torch
from PIL import Image

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
