"""The independent computation every number is checked against: the lesson's training, written from
scratch in plain PyTorch (nn.Sequential, torch.optim), sharing nothing with ``fashionnet`` but the start weights."""

from __future__ import annotations

import torch
from torch import nn

from fashionnet.learner import Learner
from fashionnet.settings import Settings


class PlainRun:
    """The same training written from scratch in plain PyTorch, starting from a copy of a learner's weights."""

    def __init__(self, learner: Learner, settings: Settings) -> None:
        act = nn.Sigmoid() if settings.activation == "sigmoid" else nn.ReLU()
        self.model = nn.Sequential(nn.Linear(784, 64), act, nn.Linear(64, 64), act, nn.Linear(64, 64), act, nn.Linear(64, 10))
        src = learner.net
        with torch.no_grad():
            for dst, layer in zip(self.model[::2], (src.W1, src.W2, src.W3, src.W4), strict=True):
                dst.weight.copy_(layer.weight)
                dst.bias.copy_(layer.bias)
        params = self.model.parameters()
        self.opt = torch.optim.Adam(params, lr=settings.lr) if settings.optimizer == "adam" else torch.optim.SGD(params, lr=settings.lr)
        self.settings = settings

    def step(self, image: torch.Tensor, label: int) -> dict:
        x = image.float().reshape(1, 784)
        if self.settings.scale_inputs:
            x = x / 255.0
        y = torch.tensor([label])
        before = {k: v.clone() for k, v in self.model.state_dict().items()}
        logits = self.model(x)
        loss = nn.functional.cross_entropy(logits, y)
        self.opt.zero_grad()
        loss.backward()
        grad = self.model[4].weight.grad.clone()
        self.opt.step()
        with torch.no_grad():
            logits_after = self.model(x)
        return {
            "before": before,
            "after": {k: v.clone() for k, v in self.model.state_dict().items()},
            "loss_before": loss.item(),
            "loss_after": nn.functional.cross_entropy(logits_after, y).item(),
            "p_before": torch.softmax(logits, 1)[0, label].item(),
            "p_after": torch.softmax(logits_after, 1)[0, label].item(),
            "grad": grad,
            "probs_after": torch.softmax(logits_after, 1)[0],
        }

    def batch(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        """One mini-batch step: images (B, 28, 28) uint8, labels (B,); the batch's mean loss."""
        x = images.float().reshape(-1, 784)
        if self.settings.scale_inputs:
            x = x / 255.0
        self.model.train()
        loss = nn.functional.cross_entropy(self.model(x), labels)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def weights(self) -> dict[str, torch.Tensor]:
        """The weights under the learner's names (W1.weight ... W4.bias)."""
        names = {0: "W1", 2: "W2", 4: "W3", 6: "W4"}
        return {f"{names[int(k.split('.')[0])]}.{k.split('.')[1]}": v.clone() for k, v in self.model.state_dict().items()}

    def accuracy(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        x = images.float().reshape(-1, 784)
        if self.settings.scale_inputs:
            x = x / 255.0
        self.model.eval()
        with torch.no_grad():
            right = sum(int((self.model(x[i : i + 5000]).argmax(1) == labels[i : i + 5000]).sum()) for i in range(0, len(labels), 5000))
        return right / len(labels)


def plain_batches(data, batch_size: int, seed: int, count: int):
    """A training run's batches, spelled out: the training set reshuffled every epoch from (seed, epoch)."""
    n = len(data.train_labels)
    per_epoch = -(-n // batch_size)
    for b in range(count):
        epoch, within = divmod(b, per_epoch)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000 + epoch))
        idx = perm[within * batch_size : (within + 1) * batch_size]
        yield data.train_images[idx], data.train_labels[idx]
