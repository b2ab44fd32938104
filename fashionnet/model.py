"""The lesson's network, ``Net``: 784-64-64-64-10, layers ``W1``..``W4``, an activation between layers.

``print(net)`` reads exactly like the lesson's: the activation is kept as a name, not a submodule.
"""

from __future__ import annotations

import threading

import torch
from torch import nn

from fashionnet.settings import ACTIVATIONS

ACTIVATION_FNS = {"sigmoid": torch.sigmoid, "relu": torch.relu}
# nn.Linear draws its initial weights from torch's process-wide generator; this lock makes seeding and
# drawing one atomic step when several learners' sessions build a net at the same moment.
_INIT_LOCK = threading.Lock()


class Net(nn.Module):
    def __init__(self, activation: str = "sigmoid") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}")
        self.W1 = nn.Linear(784, 64)
        self.W2 = nn.Linear(64, 64)
        self.W3 = nn.Linear(64, 64)
        self.W4 = nn.Linear(64, 10)
        self.activation = activation

    @property
    def act(self):
        """The activation function between layers (torch.sigmoid or torch.relu)."""
        return ACTIVATION_FNS[self.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[-1]

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input, each hidden layer's output and the logits, for explaining a step."""
        act = self.act
        h1 = act(self.W1(x))  # (B, 64)
        h2 = act(self.W2(h1))  # (B, 64)
        h3 = act(self.W3(h2))  # (B, 64)
        return [x, h1, h2, h3, self.W4(h3)]  # logits (B, 10)


LAYERS = ("W1", "W2", "W3", "W4")


def make_net(seed: int, activation: str) -> Net:
    """A fresh net whose initial weights depend only on ``seed``: bit-for-bit the lesson's for seed 0."""
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):  # leaves the process-wide generator as it was
        torch.manual_seed(seed)
        return Net(activation)


def net_with(params: dict[str, torch.Tensor], activation: str) -> Net:
    """A net holding exactly these weights (shared, not copied), built without drawing initial weights.

    For looking at a step again (its weights before, on a scratch net): no random draws (each would take
    ~1 ms and the process-wide generator), and backward leaves the tensors in ``params`` as they are."""
    with torch.device("meta"):
        net = Net(activation)
    net.load_state_dict(params, assign=True)
    return net


def to_input(images: torch.Tensor, scale_inputs: bool) -> torch.Tensor:
    """uint8 images (B, 28, 28) or (28, 28) to the net's float input (B, 784).

    The lesson feeds raw 0-255 values; the Modern preset divides by 255.
    """
    x = images.reshape(-1, 784).to(torch.float32)  # (B, 784)
    return x / 255.0 if scale_inputs else x
