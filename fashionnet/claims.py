"""Test the lesson's claim: "a confidently right prediction changes the network little, a wrong one a lot".

For many images, from the same weights (a copy of the learner's, optionally trained further first), take
the true-class probability before the step and the size of the update one step would make, with SGD and
with Adam, each starting fresh. The learner's own model is never touched.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from fashionnet.data import FashionData
from fashionnet.learner import Learner, make_optimizer
from fashionnet.model import Net, to_input

EXPERIMENT_SEED = 7  # which images are drawn: fixed, so the page and docs/findings.md agree


def pretrained_copy(learner: Learner, data: FashionData, steps: int, batch_size: int = 64, seed: int = EXPERIMENT_SEED) -> Net:
    """A copy of the learner's net trained ``steps`` mini-batch steps more (the learner's optimizer and lr)."""
    net = copy.deepcopy(learner.net)
    opt = make_optimizer(learner.settings.optimizer, net.parameters(), learner.settings.lr)
    gen = torch.Generator().manual_seed(seed)
    n = data.size("train")
    net.train()
    for _ in range(steps):
        idx = torch.randint(n, (batch_size,), generator=gen)
        x = to_input(data.train_images[idx], learner.settings.scale_inputs)  # (B, 784)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), data.train_labels[idx])
        loss.backward()
        opt.step()
    return net


def run_experiment(
    net: Net, scale_inputs: bool, data: FashionData, n: int, lrs: dict[str, float], seed: int = EXPERIMENT_SEED
) -> pd.DataFrame:
    """One row per (image, optimizer): the true-class probability before, and the update's size.

    The update size is the L2 norm of the change of all the network's parameters after one step on that
    one image, from ``net``'s weights with a fresh optimizer.
    """
    start = {k: v.detach().clone() for k, v in net.state_dict().items()}
    work = copy.deepcopy(net)
    gen = torch.Generator().manual_seed(seed)
    indices = torch.randperm(data.size("test"), generator=gen)[:n]  # fewer when the test set is smaller
    n = len(indices)
    x_all = to_input(data.test_images[indices], scale_inputs)  # (n, 784)
    labels = data.test_labels[indices]
    net.eval()
    with torch.no_grad():
        p_true = torch.softmax(net(x_all), dim=1)[torch.arange(n), labels]
    rows = []
    for name, lr in lrs.items():
        for k in range(n):
            work.load_state_dict(start)
            opt = make_optimizer(name, work.parameters(), lr)
            work.train()
            opt.zero_grad()
            nn.functional.cross_entropy(work(x_all[k : k + 1]), labels[k : k + 1]).backward()
            opt.step()
            with torch.no_grad():
                size = math.sqrt(sum(float((p - start[key]).pow(2).sum()) for key, p in work.state_dict().items()))
            rows.append({"test index": int(indices[k]), "optimizer": name, "lr": lr, "p_true": float(p_true[k]), "update size": size})
    return pd.DataFrame(rows)


def spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman's rank correlation: the Pearson correlation of the ranks (ties get their mean rank)."""
    rx, ry = x.rank(), y.rank()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(rx.corr(ry))


@dataclass(frozen=True)
class Finding:
    optimizer: str
    rho: float  # rank correlation of p_true and update size
    small_p_update: float  # median update size for the least confident fifth
    large_p_update: float  # ... and for the most confident fifth

    @property
    def holds(self) -> bool:
        """The claim holds when confident images clearly get smaller updates."""
        return self.rho < -0.3 and self.large_p_update < 0.8 * self.small_p_update


def findings(frame: pd.DataFrame) -> list[Finding]:
    out = []
    for name, group in frame.groupby("optimizer", sort=False):
        low, high = group["p_true"].quantile([0.2, 0.8])
        out.append(
            Finding(
                optimizer=str(name),
                rho=spearman(group["p_true"], group["update size"]),
                small_p_update=float(group[group["p_true"] <= low]["update size"].median()),
                large_p_update=float(group[group["p_true"] >= high]["update size"].median()),
            )
        )
    return out


def _signed(x: float) -> str:
    """+0.42, -0.31, and 0.00 for a correlation that rounds to zero (not "-0.00")."""
    text = f"{x:+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


def finding_sentence(found: list[Finding], spread: tuple[float, float]) -> str:
    """What the data show, in words computed from them (``spread``: the lowest and highest P(true class))."""
    parts = [f"True-class probabilities range from {spread[0]:.1%} to {spread[1]:.1%}."]
    for f in found:
        name = "Adam" if f.optimizer == "adam" else "SGD"
        verdict = "the lesson's claim holds" if f.holds else "the lesson's claim does not hold"
        parts.append(
            f"{name}: rank correlation between confidence and update size ρ = {_signed(f.rho)}; the least confident fifth "
            f"get a median update of {f.small_p_update:.4g}, the most confident fifth {f.large_p_update:.4g}: {verdict}."
        )
    return " ".join(parts)


def summary(frame: pd.DataFrame) -> str:
    """The finding sentence of one experiment's results."""
    return finding_sentence(findings(frame), (float(frame["p_true"].min()), float(frame["p_true"].max())))
