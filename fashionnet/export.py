"""Homework export: the newest step's numbers as CSV (one row per W3 entry) and as JSON (everything)."""

from __future__ import annotations

import json

import torch

from fashionnet.data import CLASSES
from fashionnet.learner import StepReport

SCHEMA = """\
Homework export of one training step (FashionNet Lab).
CSV: one row per entry of W3 (64 x 64 = 4,096 rows).
  row, column  - W3[row, column] connects layer-2 unit `column` to layer-3 unit `row`
  before, after, change - the weight before and after the step, and after - before
  gradient     - dLoss/dW3[row, column] of this step
  adam_m, adam_v - Adam's running means of the gradient and of its square after the step (empty for SGD)
JSON: the same arrays as nested lists [row][column] ("w3_before", "w3_after", "w3_gradient", "adam_m",
  "adam_v"), plus "image" (28 x 28 pixel values 0-255), "label", "class", "loss_before", "loss_after",
  "optimizer", "lr", "step". All numbers are the exact 32-bit values, written with 9 significant digits.
"""


def _state(report: StepReport, key: str) -> torch.Tensor | None:
    value = report.w3_state_after.get(key)
    return value if isinstance(value, torch.Tensor) and value.shape == (64, 64) else None


def step_csv(report: StepReport) -> str:
    m, v = _state(report, "exp_avg"), _state(report, "exp_avg_sq")
    lines = ["row,column,before,after,change,gradient,adam_m,adam_v"]
    before, after, delta, grad = report.w3_before, report.w3_after, report.w3_delta, report.w3_grad
    for i in range(64):
        for j in range(64):
            adam = f"{float(m[i, j]):.9g},{float(v[i, j]):.9g}" if m is not None else ","
            lines.append(
                f"{i},{j},{float(before[i, j]):.9g},{float(after[i, j]):.9g},{float(delta[i, j]):.9g},{float(grad[i, j]):.9g},{adam}"
            )
    return "\n".join(lines) + "\n"


def step_json(report: StepReport) -> str:
    def grid(t: torch.Tensor | None):
        return None if t is None else [[float(f"{float(x):.9g}") for x in row] for row in t]

    r = report.record
    return json.dumps(
        {
            "schema": SCHEMA,
            "step": r.number,
            "optimizer": r.optimizer,
            "lr": r.lr,
            "label": r.label,
            "class": CLASSES[r.label],
            "loss_before": r.loss_before,
            "loss_after": r.loss_after,
            "image": report.image.tolist(),
            "w3_before": grid(report.w3_before),
            "w3_after": grid(report.w3_after),
            "w3_gradient": grid(report.w3_grad),
            "adam_m": grid(_state(report, "exp_avg")),
            "adam_v": grid(_state(report, "exp_avg_sq")),
        }
    )
