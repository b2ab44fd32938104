"""One learner: the net, the loss, the optimizer, the settings, and an exact, compact step history.

A :class:`Learner` lives in one browser session and is never shared. ``train_step`` takes one real
training step in the lesson's order and returns a :class:`StepReport` with everything the Train page
shows. ``undo``, ``redo`` and ``goto`` move through the history and restore the weights *and* the
optimizer state bit for bit.

Why the history is compact: a full snapshot (weights + Adam's two moment buffers) is ~0.7 MB, so
keeping one per step would cost 140 MB for 200 steps. Instead each step is recorded by what made it
(the 784 input bytes, the label, the optimizer and lr: ~1 KB), snapshots are kept only every
``keyframe_every`` steps, plus one of the weights just before the newest step (so the first Undo is a
copy). Any earlier point is reached by restoring the nearest snapshot and replaying the recorded steps,
which on a CPU with one thread gives the very same bits. The same records replayed from the seed
reproduce a learner's weights anywhere (links and progress files build on this).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from fashionnet.model import LAYERS, Net, make_net, to_input
from fashionnet.settings import LESSON, Settings


class StepRefused(Exception):
    """A step would have made the loss or a weight non-finite; it was rolled back."""


class NothingToUndo(Exception):
    """Undo at step 0, or redo with no undone step."""


@dataclass(frozen=True)
class ImageRef:
    """Where a step's image came from: a dataset split and index (kept for links and the timeline)."""

    split: str
    index: int


@dataclass(frozen=True)
class Prediction:
    logits: torch.Tensor  # (10,) float32
    probs: torch.Tensor  # (10,) softmax of the logits

    @property
    def predicted(self) -> int:
        return int(torch.argmax(self.probs))


@dataclass(frozen=True)
class StepRecord:
    """One step of the history: enough to replay it exactly, and the numbers for a timeline."""

    number: int  # 1 for the first step
    ref: ImageRef | None
    pixels: bytes  # the (28, 28) uint8 image, so replay never needs the dataset
    label: int
    optimizer: str
    lr: float
    loss_before: float
    loss_after: float
    p_true_before: float
    p_true_after: float
    update_norm: float  # L2 norm of the change of all parameters


@dataclass(frozen=True)
class LayerUpdate:
    weight_norm: float  # L2 norm of the change of the layer's weight
    bias_norm: float
    max_abs: float  # largest single change, weight or bias
    moved_share: float  # share of the layer's weight entries whose value changed at all


@dataclass(frozen=True)
class StepReport:
    """Everything about the newest step, before and after, as the Train page shows it."""

    record: StepRecord
    before: Prediction
    after: Prediction
    w3_before: torch.Tensor  # (64, 64): rows are layer-3 units (outputs), columns layer-2 units (inputs)
    w3_after: torch.Tensor  # (64, 64)
    b3_before: torch.Tensor  # (64,)
    b3_after: torch.Tensor  # (64,)
    w3_grad: torch.Tensor  # (64, 64): dLoss/dW3 of this step
    layers: dict[str, LayerUpdate] = field(default_factory=dict)
    params_before: dict[str, torch.Tensor] = field(default_factory=dict)  # every weight before the step
    w3_state_before: dict[str, torch.Tensor] = field(default_factory=dict)  # optimizer state of W3's weight
    w3_state_after: dict[str, torch.Tensor] = field(default_factory=dict)
    hyper: dict[str, float] = field(default_factory=dict)  # the optimizer's betas, eps, momentum...
    image: torch.Tensor | None = None  # (28, 28) uint8

    @property
    def w3_delta(self) -> torch.Tensor:
        return self.w3_after - self.w3_before  # (64, 64)

    @property
    def b3_delta(self) -> torch.Tensor:
        return self.b3_after - self.b3_before  # (64,)

    @property
    def moved_share(self) -> float:
        """Share of W3's 4,096 weight entries whose value changed at all (compared bit for bit)."""
        return float((self.w3_after != self.w3_before).float().mean())

    def ranked(self) -> torch.Tensor:
        """Flat indices of W3's entries, largest absolute change first (ties keep row-major order)."""
        return torch.sort(self.w3_delta.abs().flatten(), descending=True, stable=True).indices


@dataclass(frozen=True)
class _Snapshot:
    params: dict[str, torch.Tensor]
    optimizer: dict

    def nbytes(self) -> int:
        tensors = list(self.params.values())
        for state in self.optimizer["state"].values():
            tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
        return sum(t.numel() * t.element_size() for t in tensors)


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}")


class Learner:
    def __init__(self, settings: Settings = LESSON, keyframe_every: int = 64) -> None:
        self.keyframe_every = keyframe_every
        self.reset(settings)

    # --- life cycle -------------------------------------------------------------------------
    def reset(self, settings: Settings | None = None) -> None:
        """A fresh model from the seed (of ``settings``, else the current ones); the history is cleared."""
        self.settings = (settings or self.settings).validated()
        self.net: Net = make_net(self.settings.seed, self.settings.activation)
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = make_optimizer(self.settings.optimizer, self.net.parameters(), self.settings.lr)
        self.history: list[StepRecord] = []
        self.cursor = 0  # how many steps of the history the current weights include
        self.last_report: StepReport | None = None
        self._keyframes: dict[int, _Snapshot] = {0: self._snapshot()}
        self._undo_slot: tuple[int, _Snapshot] | None = None

    # --- looking --------------------------------------------------------------------------------
    def predict(self, image: torch.Tensor) -> Prediction:
        """Probabilities and logits of all ten classes for one (28, 28) uint8 image."""
        self.net.eval()
        with torch.no_grad():
            logits = self.net(to_input(image, self.settings.scale_inputs))[0]  # (10,)
        return Prediction(logits=logits, probs=torch.softmax(logits, dim=0))

    # --- one step ---------------------------------------------------------------------------------
    def train_step(self, image: torch.Tensor, label: int, ref: ImageRef | None = None) -> StepReport:
        """Forward, loss, backward and one optimizer step on one image; the report of what changed.

        A step that makes the loss or any weight non-finite is rolled back (weights and optimizer
        state) and raises :class:`StepRefused`; the learner keeps everything it had.
        """
        image = image.to(torch.uint8).reshape(28, 28)
        if not 0 <= int(label) < 10:
            raise ValueError("label must be 0 to 9")
        before = self._snapshot()
        w3_before, b3_before = before.params["W3.weight"], before.params["W3.bias"]
        logits, loss = self._apply(image, int(label), self.settings.lr)
        w3_grad = self.net.W3.weight.grad.detach().clone()
        after = self.predict(image)
        loss_after = float(self.loss_fn(after.logits.unsqueeze(0), torch.tensor([int(label)])))
        if not (math.isfinite(float(loss)) and math.isfinite(loss_after) and self._weights_finite()):
            self._restore(before)
            raise StepRefused(
                f"This step (lr {self.settings.lr:g}) would have made the loss or some weights infinite or NaN, "
                "so it was undone: your weights and optimizer are exactly as before. Try a smaller learning rate."
            )
        now = {k: v.detach() for k, v in self.net.state_dict().items()}
        layers = {name: _layer_update(before.params, now, name) for name in LAYERS}
        record = StepRecord(
            number=self.cursor + 1,
            ref=ref,
            pixels=image.contiguous().numpy().tobytes(),
            label=int(label),
            optimizer=self.settings.optimizer,
            lr=self.settings.lr,
            loss_before=float(loss),
            loss_after=loss_after,
            p_true_before=float(torch.softmax(logits, 0)[label]),
            p_true_after=float(after.probs[label]),
            update_norm=math.sqrt(sum(u.weight_norm**2 + u.bias_norm**2 for u in layers.values())),
        )
        self._commit(record, before)
        self.last_report = StepReport(
            record=record,
            before=Prediction(logits=logits, probs=torch.softmax(logits, dim=0)),
            after=after,
            w3_before=w3_before,
            w3_after=now["W3.weight"].clone(),
            b3_before=b3_before,
            b3_after=now["W3.bias"].clone(),
            w3_grad=w3_grad,
            layers=layers,
            params_before=before.params,
            w3_state_before=_w3_state(before.optimizer),
            w3_state_after=_w3_state(_copy_optimizer_state(self.optimizer.state_dict())),
            hyper=_hyper(self.optimizer),
            image=image.clone(),
        )
        return self.last_report

    def _apply(self, image: torch.Tensor, label: int, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The lesson's step, in the canonical order. Replay runs exactly this code."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x = to_input(image, self.settings.scale_inputs)  # (1, 784)
        y = torch.tensor([label])  # (1,)
        self.net.train()
        self.optimizer.zero_grad()
        logits = self.net(x)  # (1, 10)
        loss = self.loss_fn(logits, y)
        loss.backward()
        self.optimizer.step()
        return logits.detach()[0], loss.detach()

    def _commit(self, record: StepRecord, before: _Snapshot) -> None:
        del self.history[self.cursor :]  # a new step ends the undone future
        self._keyframes = {n: s for n, s in self._keyframes.items() if n <= self.cursor}
        self.history.append(record)
        self._undo_slot = (self.cursor, before)
        self.cursor += 1
        if self.cursor % self.keyframe_every == 0:
            self._keyframes[self.cursor] = self._snapshot()

    # --- moving through history ----------------------------------------------------------------------
    @property
    def steps_taken(self) -> int:
        return self.cursor

    def undo(self) -> None:
        if self.cursor == 0:
            raise NothingToUndo("There is no step to undo.")
        self.goto(self.cursor - 1)

    def redo(self) -> None:
        if self.cursor >= len(self.history):
            raise NothingToUndo("There is no undone step to redo.")
        self.goto(self.cursor + 1)

    def goto(self, step: int) -> None:
        """Put the weights and optimizer state exactly where they were after ``step`` steps."""
        if not 0 <= step <= len(self.history):
            raise IndexError(f"step must be 0 to {len(self.history)}")
        if step < self.cursor:
            start, snap = max(((n, s) for n, s in self._keyframes.items() if n <= step), key=lambda p: p[0])
            if self._undo_slot and start < self._undo_slot[0] <= step:
                start, snap = self._undo_slot
            self._restore(snap)
            self.cursor = start
        for record in self.history[self.cursor : step]:
            image = torch.frombuffer(bytearray(record.pixels), dtype=torch.uint8).reshape(28, 28)
            self._apply(image, record.label, record.lr)
            self.cursor += 1
            if self.cursor % self.keyframe_every == 0 and self.cursor not in self._keyframes:
                self._keyframes[self.cursor] = self._snapshot()
        self.optimizer.zero_grad()  # gradients belong to the step that made them, not to this point
        self.last_report = None

    # --- snapshots ----------------------------------------------------------------------------------
    def _snapshot(self) -> _Snapshot:
        params = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        return _Snapshot(params=params, optimizer=_copy_optimizer_state(self.optimizer.state_dict()))

    def _restore(self, snap: _Snapshot) -> None:
        self.net.load_state_dict(snap.params)
        # load_state_dict keeps the given tensors as the optimizer's state, and the next step updates
        # them in place: hand it a copy so the snapshot stays as it was.
        self.optimizer.load_state_dict(_copy_optimizer_state(snap.optimizer))
        self.optimizer.zero_grad()

    def _weights_finite(self) -> bool:
        return bool(torch.isfinite(torch.cat([p.detach().flatten() for p in self.net.parameters()])).all())

    def history_bytes(self) -> int:
        """What the history costs in memory: snapshots plus records (for the memory benchmark)."""
        snaps = list(self._keyframes.values()) + ([self._undo_slot[1]] if self._undo_slot else [])
        return sum(s.nbytes() for s in snaps) + sum(len(r.pixels) + 200 for r in self.history)


_W3_WEIGHT = 4  # W3.weight's index in the optimizer's parameter list: W1.weight, W1.bias, W2.weight, W2.bias, W3.weight


def _w3_state(state_dict: dict) -> dict[str, torch.Tensor]:
    return dict(state_dict["state"].get(_W3_WEIGHT, {}))


def _hyper(optimizer: torch.optim.Optimizer) -> dict[str, float]:
    group = optimizer.param_groups[0]
    if isinstance(optimizer, torch.optim.Adam):
        return {"beta1": group["betas"][0], "beta2": group["betas"][1], "eps": group["eps"]}
    return {"momentum": group["momentum"]}


def _copy_optimizer_state(state_dict: dict) -> dict:
    """A copy of an optimizer's state_dict whose tensors share no memory with it (deepcopy, 10x faster)."""
    return {
        "state": {
            i: {k: v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v) for k, v in s.items()}
            for i, s in state_dict["state"].items()
        },
        "param_groups": copy.deepcopy(state_dict["param_groups"]),
    }


def _layer_update(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], name: str) -> LayerUpdate:
    dw = after[f"{name}.weight"] - before[f"{name}.weight"]
    db = after[f"{name}.bias"] - before[f"{name}.bias"]
    return LayerUpdate(
        weight_norm=float(dw.norm()),
        bias_norm=float(db.norm()),
        max_abs=float(max(dw.abs().max(), db.abs().max())),
        moved_share=float((after[f"{name}.weight"] != before[f"{name}.weight"]).float().mean()),
    )
