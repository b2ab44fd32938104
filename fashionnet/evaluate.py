"""How good the learner's model is on a whole split: accuracy, the confusion matrix and its examples.

Computed under ``model.eval()`` and ``torch.no_grad()``; cached on the learner's ``version`` so a page
that redraws without a new step does not classify 10,000 images again.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from fashionnet.data import CLASSES, FashionData
from fashionnet.learner import Learner, predictions


@dataclass(frozen=True)
class Confusion:
    split: str
    predicted: torch.Tensor  # (N,) the model's class for every image of the split
    labels: torch.Tensor  # (N,) the true classes
    counts: torch.Tensor  # (10, 10): counts[true, predicted]

    @property
    def accuracy(self) -> float:
        return int(self.counts.diagonal().sum()) / len(self.labels)

    def frame(self) -> pd.DataFrame:
        """One row per (true, predicted) pair: count and the share of that true class."""
        totals = self.counts.sum(dim=1)
        rows = [
            {
                "true": CLASSES[t],
                "predicted": CLASSES[p],
                "count": int(self.counts[t, p]),
                "share of true class": int(self.counts[t, p]) / max(int(totals[t]), 1),
                "correct": t == p,
            }
            for t in range(10)
            for p in range(10)
        ]
        return pd.DataFrame(rows)

    def examples(self, true: int, predicted: int, limit: int = 12) -> list[int]:
        """Indices (in the split) of images of class ``true`` that the model calls ``predicted``."""
        hits = torch.nonzero((self.labels == true) & (self.predicted == predicted)).flatten()
        return [int(i) for i in hits[:limit]]

    def worst(self) -> tuple[int, int, int]:
        """The most frequent confusion (true, predicted, count), off the diagonal."""
        off = self.counts.clone()
        off.fill_diagonal_(-1)
        flat = int(torch.argmax(off))
        return flat // 10, flat % 10, int(off.flatten()[flat])


def confusion(learner: Learner, data: FashionData, split: str = "test") -> Confusion:
    """The confusion matrix of the learner's current model on a whole split (cached per model version)."""
    cache = getattr(learner, "_confusion_cache", None)
    if cache and cache[0] == (learner.version, split, id(data)):
        return cache[1]
    images = data.train_images if split == "train" else data.test_images
    labels = data.train_labels if split == "train" else data.test_labels
    predicted = predictions(learner.net, images, learner.settings.scale_inputs)
    counts = torch.bincount(labels * 10 + predicted, minlength=100).reshape(10, 10)
    result = Confusion(split=split, predicted=predicted, labels=labels, counts=counts)
    learner._confusion_cache = ((learner.version, split, id(data)), result)
    return result
