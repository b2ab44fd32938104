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
