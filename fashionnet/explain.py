"""Why W3's entries moved: one entry's whole story, the two vectors behind its gradient, what another
optimizer would have done, and why the lesson's network learns slowly (saturated sigmoids).

Everything here is computed from the learner's own numbers, and nothing here changes the learner:
what-ifs run on copies.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from fashionnet.learner import Learner, StepReport, make_optimizer
from fashionnet.model import ACTIVATION_FNS, Net, make_net, to_input
from fashionnet.report import w3_frame
from fashionnet.settings import PRESETS, Settings

SATURATED = (0.01, 0.99)  # a sigmoid output outside this band passes back at most ~1 % of the gradient


@dataclass(frozen=True)
class Signals:
    """The two vectors whose outer product is W3's gradient for one image."""

    activation: torch.Tensor  # (64,) a: layer-2 output, the input W3 multiplies
    delta: torch.Tensor  # (64,) δ: dLoss/dz3, the error signal at layer 3's pre-activation

    def gradient(self) -> torch.Tensor:
        return torch.outer(self.delta, self.activation)  # (64, 64): g[i, j] = δ_i · a_j


def signals(report: StepReport, settings: Settings) -> Signals:
    """a and δ of the step in ``report``, recomputed from the weights the step started from.

    The same operations as ``Net``'s forward (``nn.Linear`` is ``F.linear``) on the step's weights, without
    building a module (~1 ms a click on the server); autograd runs only from the loss back to z3."""
    p, act = report.params_before, ACTIVATION_FNS[settings.activation]
    x = to_input(report.image, settings.scale_inputs)
    with torch.no_grad():
        h2 = act(F.linear(act(F.linear(x, p["W1.weight"], p["W1.bias"])), p["W2.weight"], p["W2.bias"]))  # (1, 64)
        z3 = F.linear(h2, p["W3.weight"], p["W3.bias"])  # (1, 64) pre-activation
    z3.requires_grad_(True)
    logits = F.linear(act(z3), p["W4.weight"], p["W4.bias"])  # (1, 10)
    nn.functional.cross_entropy(logits, torch.tensor([report.record.label])).backward()
    return Signals(activation=h2[0], delta=z3.grad[0])


def entry_story(report: StepReport, sig: Signals, row: int, col: int) -> pd.DataFrame:
    """W3[row, col]'s step from gradient to change, one line per quantity, with the real numbers."""
    r = report.record
    g = float(report.w3_grad[row, col])
    lines = [
        ("a_j", f"output of layer-2 unit j = {col} for this image", float(sig.activation[col])),
        ("δ_i", f"error signal of layer-3 unit i = {row}: dLoss/dz_i", float(sig.delta[row])),
        ("δ_i · a_j", "the gradient, by hand", float(sig.delta[row]) * float(sig.activation[col])),
        ("g", "the gradient PyTorch computed (W3.weight.grad)", g),
    ]
    if r.optimizer == "adam":
        b1, b2, eps = report.hyper["beta1"], report.hyper["beta2"], report.hyper["eps"]
        before, after = report.w3_state_before, report.w3_state_after
        t = int(after["step"])
        m_prev = float(before["exp_avg"][row, col]) if before else 0.0
        v_prev = float(before["exp_avg_sq"][row, col]) if before else 0.0
        m, v = float(after["exp_avg"][row, col]), float(after["exp_avg_sq"][row, col])
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        update = -r.lr * m_hat / (math.sqrt(v_hat) + eps)
        lines += [
            ("t", "Adam's step count for this weight", t),
            ("m before", "running mean of the gradient, before this step", m_prev),
            ("v before", "running mean of the squared gradient, before", v_prev),
            ("m", f"β1·m + (1 − β1)·g, with β1 = {b1:g}", m),
            ("v", f"β2·v + (1 − β2)·g², with β2 = {b2:g}", v),
            ("m̂", "m / (1 − β1^t): bias correction", m_hat),
            ("v̂", "v / (1 − β2^t): bias correction", v_hat),
            ("update", f"−lr · m̂ / (√v̂ + ε), with lr = {r.lr:g}, ε = {eps:g}", update),
        ]
    else:
        lines.append(("update", f"−lr · g, with lr = {r.lr:g}", -r.lr * g))
    before_w, after_w = float(report.w3_before[row, col]), float(report.w3_after[row, col])
    lines += [
        ("before", f"W3[{row}, {col}] before the step", before_w),
        ("after", "before + update, stored as a 32-bit float", after_w),
        ("change", "after − before: the value on the heatmap", float(report.w3_delta[row, col])),
    ]
    return pd.DataFrame(lines, columns=["quantity", "how", "value"])


def story_table(story: pd.DataFrame) -> pd.DataFrame:
    """``entry_story`` as the page shows it in a static table (whose cells are Markdown): each value with 9
    significant digits, which writes every 32-bit float exactly; underscores and asterisks kept as written."""

    def plain(text: str) -> str:
        return text.replace("\\", "\\\\").replace("_", "\\_").replace("*", "\\*")

    return pd.DataFrame(
        {
            "quantity": [plain(q) for q in story["quantity"]],
            "how": [plain(h) for h in story["how"]],
            "value": [f"{v:.9g}" for v in story["value"]],
        }
    )


def still_lines(report: StepReport) -> tuple[list[int], list[int]]:
    """Rows and columns of W3 that did not move at all in this step."""
    delta = report.w3_delta
    rows = torch.nonzero((delta == 0).all(dim=1)).flatten().tolist()
    cols = torch.nonzero((delta == 0).all(dim=0)).flatten().tolist()
    return rows, cols


def vector_frame(vector: torch.Tensor) -> pd.DataFrame:
    """A 64-unit vector (δ or a) as a tidy frame for a chart."""
    return pd.DataFrame({"unit": range(len(vector)), "value": vector.double().numpy()})


def still_sentence(report: StepReport) -> str:
    """Which rows and columns of W3 could not move in this step, named."""
    rows, cols = still_lines(report)
    if not rows and not cols:
        return "Every row and every column of W3 moved."

    def named(kind: str, items: list[int]) -> str:
        return f"{len(items)} {kind}" + (f" ({', '.join(map(str, items))})" if items else "")

    return f"{named('rows', rows)} and {named('columns', cols)} could not move."


@dataclass(frozen=True)
class WhatIf:
    """What one optimizer's first step from the learner's current weights would do."""

    optimizer: str
    lr: float
    w3_before: torch.Tensor  # (64, 64)
    w3_after: torch.Tensor  # (64, 64)
    loss_before: float
    loss_after: float

    @property
    def w3_delta(self) -> torch.Tensor:
        return self.w3_after - self.w3_before


def what_if(
    learner: Learner, image: torch.Tensor, label: int, optimizer: str, lr: float, start: dict[str, torch.Tensor] | None = None
) -> WhatIf:
    """One step with a fresh ``optimizer`` on a copy of the learner's net (or of the weights ``start``).

    The learner is untouched.
    """
    net = copy.deepcopy(learner.net)
    if start is not None:
        net.load_state_dict(start)
    opt = make_optimizer(optimizer, net.parameters(), lr)
    x = to_input(image, learner.settings.scale_inputs)  # (1, 784)
    y = torch.tensor([label])
    before = net.W3.weight.detach().clone()
    net.train()
    opt.zero_grad()
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    with torch.no_grad():
        loss_after = nn.functional.cross_entropy(net(x), y)
    return WhatIf(optimizer, lr, before, net.W3.weight.detach().clone(), float(loss.detach()), float(loss_after))


def what_if_frame(result: WhatIf) -> pd.DataFrame:
    return w3_frame(result.w3_before, result.w3_after)


def _hidden_outputs(net: Net, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return net.forward_all(x)[1:4]  # h1, h2, h3: (B, 64) each


def saturation_frame(probes: dict[str, torch.Tensor], seed: int) -> pd.DataFrame:
    """For both presets' fresh nets (same seed): each hidden layer's share of saturated or dead units.

    ``probes`` names sets of uint8 images. Sigmoid outputs count as saturated outside 0.01-0.99; ReLU
    outputs as off when exactly 0 (no gradient passes).
    """
    out = []
    for name, preset in PRESETS.items():
        net = make_net(seed, preset.activation)
        for probe, images in probes.items():
            for k, h in enumerate(_hidden_outputs(net, to_input(images, preset.scale_inputs)), start=1):
                if preset.activation == "sigmoid":
                    stuck = ((h < SATURATED[0]) | (h > SATURATED[1])).double().mean()
                    what = "saturated (outside 0.01–0.99)"
                else:
                    stuck = (h == 0).double().mean()
                    what = "off (exactly 0)"
                out.append({"preset": name, "images": probe, "layer": f"layer {k}", "share stuck": float(stuck), "counted as": what})
    return pd.DataFrame(out)


def saturation_sentence(frame: pd.DataFrame, probe: str) -> str:
    """What the saturation table shows for layer 1, in one sentence computed from it."""

    def share(preset: str) -> float:
        rows = frame[(frame.preset == preset) & (frame.layer == "layer 1") & (frame.images == probe)]
        return float(rows["share stuck"].iloc[0])

    return (
        f"With the Lesson preset, {share('Lesson'):.1%} of layer-1 outputs on the {probe} are saturated (outside "
        f"0.01–0.99), so almost no gradient reaches W1 through them; with the Modern preset (inputs scaled to 0–1, "
        f"ReLU), {share('Modern'):.1%} of layer-1 outputs are off (exactly 0) and the others pass the gradient back unchanged."
    )


def activation_histograms(images: torch.Tensor, seed: int, bins: int = 20) -> pd.DataFrame:
    """Pre-binned histograms of every hidden layer's outputs, for both presets' fresh nets."""
    out = []
    for name, preset in PRESETS.items():
        net = make_net(seed, preset.activation)
        for k, h in enumerate(_hidden_outputs(net, to_input(images, preset.scale_inputs)), start=1):
            lo, hi = (0.0, 1.0) if preset.activation == "sigmoid" else (0.0, max(float(h.max()), 1e-6))
            counts = torch.histc(h.double(), bins=bins, min=lo, max=hi)
            edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
            for b in range(bins):
                out.append(
                    {
                        "preset": name,
                        "layer": f"layer {k}",
                        "from": float(edges[b]),
                        "to": float(edges[b + 1]),
                        "share": float(counts[b] / h.numel()),
                    }
                )
    return pd.DataFrame(out)


def gradient_sizes(image: torch.Tensor, label: int, seed: int) -> pd.DataFrame:
    """The norm of each layer's weight gradient for one image, for both presets' fresh nets."""
    out = []
    for name, preset in PRESETS.items():
        net = make_net(seed, preset.activation)
        loss = nn.functional.cross_entropy(net(to_input(image, preset.scale_inputs)), torch.tensor([label]))
        loss.backward()
        for layer in ("W1", "W2", "W3", "W4"):
            out.append({"preset": name, "layer": layer, "gradient norm": float(getattr(net, layer).weight.grad.norm())})
    return pd.DataFrame(out)
