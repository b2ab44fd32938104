"""The ripple of one step: what training on one image did to everything else the network believes.

A fixed probe set (20 test images of each class, chosen once by a seed) is scored with the weights
before and after the newest step, in one batched forward pass each. Everything is computed from the
step's report, so the learner's step itself pays nothing for it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd
import torch
from PIL import Image

from fashionnet.data import CLASSES, FashionData
from fashionnet.learner import Learner, StepReport
from fashionnet.model import Net, net_with, to_input

PROBE_SEED = 2024  # fixed, so every learner and every link sees the same probe set
PER_CLASS = 20


@dataclass(frozen=True)
class ProbeSet:
    indices: torch.Tensor  # (200,) indices into the test set, class by class
    images: torch.Tensor  # (200, 28, 28) uint8
    labels: torch.Tensor  # (200,) int64


def probe_set(data: FashionData, per_class: int = PER_CLASS, seed: int = PROBE_SEED) -> ProbeSet:
    """``per_class`` test images of each class, drawn once with a fixed seed."""
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for label in range(len(CLASSES)):
        pool = data.indices_of_class("test", label)
        take = min(per_class, len(pool))
        chosen.append(pool[torch.randperm(len(pool), generator=gen)[:take]].sort().values)
    indices = torch.cat(chosen)
    return ProbeSet(indices=indices, images=data.test_images[indices], labels=data.test_labels[indices])


def probe_probs(net: Net, scale_inputs: bool, probe: ProbeSet) -> torch.Tensor:
    """Class probabilities of every probe image: one batched forward pass, (200, 10)."""
    net.eval()
    with torch.no_grad():
        return torch.softmax(net(to_input(probe.images, scale_inputs)), dim=1)


@dataclass(frozen=True)
class Ripple:
    labels: torch.Tensor  # (200,)
    before: torch.Tensor  # (200, 10) probabilities with the weights before the step
    after: torch.Tensor  # (200, 10) ... and after

    @property
    def accuracy_before(self) -> float:
        return float((self.before.argmax(1) == self.labels).double().mean())

    @property
    def accuracy_after(self) -> float:
        return float((self.after.argmax(1) == self.labels).double().mean())


def ripple(report: StepReport, learner: Learner, probe: ProbeSet) -> Ripple:
    """Score the probe set with the weights the newest step started from and with the learner's current ones."""
    start = net_with(report.params_before, learner.settings.activation)
    return Ripple(
        labels=probe.labels,
        before=probe_probs(start, learner.settings.scale_inputs, probe),
        after=probe_probs(learner.net, learner.settings.scale_inputs, probe),
    )


def class_changes(rip: Ripple) -> pd.DataFrame:
    """Per class: the mean probability of the true class before, after and its change."""
    rows = torch.arange(len(rip.labels))
    p_before = rip.before[rows, rip.labels].double()
    p_after = rip.after[rows, rip.labels].double()
    out = []
    for label, name in enumerate(CLASSES):
        mask = rip.labels == label
        b, a = float(p_before[mask].mean()), float(p_after[mask].mean())
        out.append({"class": name, "before": b, "after": a, "change": a - b})
    return pd.DataFrame(out)


def flips(rip: Ripple, probe: ProbeSet) -> pd.DataFrame:
    """Probe images whose prediction went right → wrong or wrong → right in this step."""
    guess_b, guess_a = rip.before.argmax(1), rip.after.argmax(1)
    right_b, right_a = guess_b == rip.labels, guess_a == rip.labels
    out = []
    for k in torch.nonzero(right_b != right_a).flatten().tolist():
        out.append(
            {
                "test index": int(probe.indices[k]),
                "class": CLASSES[int(rip.labels[k])],
                "before": CLASSES[int(guess_b[k])],
                "after": CLASSES[int(guess_a[k])],
                "direction": "wrong → right" if bool(right_a[k]) else "right → wrong",
                "probe position": k,
            }
        )
    return pd.DataFrame(out, columns=["test index", "class", "before", "after", "direction", "probe position"])


def gallery_png(images: torch.Tensor, columns: int = 20, scale: int = 2) -> bytes:
    """Many (28, 28) images as one PNG grid, so a page draws the whole probe set as a single picture."""
    n = len(images)
    rows = (n + columns - 1) // columns
    sheet = torch.zeros(rows * 28, columns * 28, dtype=torch.uint8)
    for k in range(n):
        r, c = divmod(k, columns)
        sheet[r * 28 : (r + 1) * 28, c * 28 : (c + 1) * 28] = images[k]
    pil = Image.fromarray(sheet.numpy(), mode="L").resize((columns * 28 * scale, rows * 28 * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()
