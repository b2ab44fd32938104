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

Training runs (many mini-batch steps, :class:`TrainingRun`) are one entry of the same history. A run is
recorded by what makes it (batch size, number of batches, shuffle seed): replaying it needs the shared
dataset, so a snapshot is kept at the end of every run and moving through the history never replays
one; only rebuilding a learner from a link or a progress file does.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import torch
from torch import nn

from fashionnet.model import LAYERS, Net, make_net, to_input
from fashionnet.settings import LESSON, Settings

if TYPE_CHECKING:
    from fashionnet.data import FashionData


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

    kind = "step"


@dataclass(frozen=True)
class EpochEval:
    """Accuracy measured during a training run, after ``batches`` of its batches."""

    batches: int
    epoch: float  # batches / batches per epoch
    train_accuracy: float  # on the whole training set
    test_accuracy: float  # on the whole test set


@dataclass(frozen=True)
class RunRecord:
    """A mini-batch training run in the history: enough to replay it exactly, and its curves."""

    number: int  # position in the history, 1-based
    batch_size: int
    batches: int  # batches trained: all that were asked for, or fewer when stopped
    planned: int  # batches asked for
    seed: int  # the training set is shuffled once per epoch from this seed
    optimizer: str
    lr: float
    data: str  # the training set it ran on ("full:60000"); a replay on any other is refused
    loss_before: float  # loss of the run's first batch
    loss_after: float  # loss of its last batch
    update_norm: float  # L2 norm of the change of all parameters over the run
    losses: torch.Tensor  # (batches,) float32: every batch's loss
    evals: tuple[EpochEval, ...]  # after each whole epoch, and at the end
    ended: str  # "done", "stopped" or "refused"

    kind = "run"

    @property
    def ref(self) -> None:  # a run has no single image
        return None


@dataclass(frozen=True)
class RunSpec:
    """What a training run was asked to do (links carry runs as this)."""

    batch_size: int
    batches: int
    seed: int


class DataMismatch(Exception):
    """A training run cannot be replayed: it ran on a different training set than the one given."""


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
    params_before: dict[str, torch.Tensor] = field(default_factory=dict)  # every weight before the step
    params_after: dict[str, torch.Tensor] = field(default_factory=dict)  # and after it
    w3_state_before: dict[str, torch.Tensor] = field(default_factory=dict)  # optimizer state of W3's weight
    w3_state_after: dict[str, torch.Tensor] = field(default_factory=dict)
    hyper: dict[str, float] = field(default_factory=dict)  # the optimizer's betas, eps, momentum...
    image: torch.Tensor | None = None  # (28, 28) uint8

    @cached_property
    def layers(self) -> dict[str, LayerUpdate]:
        """How much each layer moved (computed when first asked for, so the step itself stays fast)."""
        return {name: _layer_update(self.params_before, self.params_after, name) for name in LAYERS}

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
    optimizer: tuple[dict[str, torch.Tensor], ...]  # each parameter's optimizer state, in the net's parameter order

    def nbytes(self) -> int:
        tensors = list(self.params.values()) + [v for state in self.optimizer for v in state.values()]
        return sum(t.numel() * t.element_size() for t in tensors)


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}")


def _locked(method):
    """Run a method holding the learner's lock, so two script threads of one session never interleave."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.busy if isinstance(self, Learner) else self.learner.busy:
            return method(self, *args, **kwargs)

    return wrapper


class Learner:
    def __init__(self, settings: Settings = LESSON, keyframe_every: int = 64) -> None:
        self.keyframe_every = keyframe_every
        self.data: FashionData | None = None  # the shared, read-only dataset, once a training run has used it
        # Held while a training run trains and is recorded. Streamlit starts the next script run of a
        # session as soon as a click interrupts the current one, while the interrupted run is still
        # recording; the next run waits on this before it reads the learner.
        self.busy = threading.RLock()  # every method that changes the learner takes it too
        self.reset(settings)

    # --- life cycle -------------------------------------------------------------------------
    @_locked
    def reset(self, settings: Settings | None = None) -> None:
        """A fresh model from the seed (of ``settings``, else the current ones); the history is cleared."""
        self.settings = (settings or self.settings).validated()
        self.net: Net = make_net(self.settings.seed, self.settings.activation)
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = make_optimizer(self.settings.optimizer, self.net.parameters(), self.settings.lr)
        self._named = [(name, p) for name, p in self.net.named_parameters()]  # W1.weight, W1.bias, ... W4.bias
        self.history: list[StepRecord | RunRecord] = []
        self.cursor = 0  # how many entries of the history the current weights include
        self.last_report: StepReport | None = None
        self.version = getattr(self, "version", 0) + 1  # changes whenever the weights may have changed
        self._keyframes: dict[int, _Snapshot] = {0: self._snapshot()}
        self._undo_slot: tuple[int, _Snapshot] | None = None
        self._at_cache: tuple[int, int, dict[str, torch.Tensor]] | None = None  # (version, step, params)

    # --- looking --------------------------------------------------------------------------------
    def predict(self, image: torch.Tensor) -> Prediction:
        """Probabilities and logits of all ten classes for one (28, 28) uint8 image."""
        self.net.eval()
        with torch.no_grad():
            logits = self.net(to_input(image, self.settings.scale_inputs))[0]  # (10,)
        return Prediction(logits=logits, probs=torch.softmax(logits, dim=0))

    # --- one step ---------------------------------------------------------------------------------
    @_locked
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
        now = {name: p.detach().clone() for name, p in self._named}
        changes = torch._foreach_norm(torch._foreach_sub(list(now.values()), list(before.params.values())))  # one norm per tensor
        if not (math.isfinite(float(loss)) and math.isfinite(loss_after) and self._finite_after(list(now.values()))):
            self._restore(before)
            raise StepRefused(
                f"This step (lr {self.settings.lr:g}) would have made the loss, some weights or the optimizer's state infinite or NaN, "
                "so it was undone: your weights and optimizer are exactly as before. Try a smaller learning rate."
            )
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
            update_norm=math.sqrt(sum(float(n) ** 2 for n in changes)),
        )
        self._commit(record, before)
        self.version += 1
        self.last_report = StepReport(
            record=record,
            before=Prediction(logits=logits, probs=torch.softmax(logits, dim=0)),
            after=after,
            w3_before=w3_before,
            w3_after=now["W3.weight"],
            b3_before=b3_before,
            b3_after=now["W3.bias"],
            w3_grad=w3_grad,
            params_before=before.params,
            params_after=now,
            w3_state_before=dict(before.optimizer[_W3_WEIGHT]),
            w3_state_after={k: v.clone() for k, v in self.optimizer.state[self.net.W3.weight].items()},
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

    # --- many steps -----------------------------------------------------------------------------------
    @_locked
    def start_run(self, data: FashionData, batch_size: int, batches: int, seed: int | None = None) -> TrainingRun:
        """A mini-batch training run on the training set from the current weights; see :class:`TrainingRun`."""
        return TrainingRun(self, data, batch_size, batches, self._run_seed() if seed is None else seed)

    def train_run(self, data: FashionData, spec: RunSpec) -> RunRecord:
        """A whole training run at once (replaying a link's run, benchmarks)."""
        run = self.start_run(data, spec.batch_size, spec.batches, spec.seed)
        run.advance()
        return run.finish()

    def _run_seed(self) -> int:
        return self.settings.seed * 1_000 + self.cursor

    def _commit(self, record: StepRecord | RunRecord, before: _Snapshot) -> None:
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

    @_locked
    def goto(self, step: int) -> None:
        """Put the weights and optimizer state exactly where they were after ``step`` steps."""
        if not 0 <= step <= len(self.history):
            raise IndexError(f"step must be 0 to {len(self.history)}")
        # The nearest snapshot at or before the target, also ahead of the cursor (redo over a training
        # run restores its end instead of training it again), else replay from where we are.
        snapshots = [(n, s) for n, s in self._keyframes.items() if n <= step]
        if self._undo_slot and self._undo_slot[0] <= step:
            snapshots.append(self._undo_slot)
        start, snap = max(snapshots, key=lambda p: p[0])
        if step < self.cursor or start > self.cursor:
            self._restore(snap)
            self.cursor = start
        for record in self.history[self.cursor : step]:
            if isinstance(record, RunRecord):
                self._replay_run(record)
            else:
                image = torch.frombuffer(bytearray(record.pixels), dtype=torch.uint8).reshape(28, 28)
                self._apply(image, record.label, record.lr)
            self.cursor += 1
            if (self.cursor % self.keyframe_every == 0 or isinstance(record, RunRecord)) and self.cursor not in self._keyframes:
                self._keyframes[self.cursor] = self._snapshot()
        self.optimizer.zero_grad()  # gradients belong to the step that made them, not to this point
        self.last_report = None
        self.version += 1

    def _replay_run(self, record: RunRecord) -> None:
        """Train a recorded run's batches again; only links and progress files need this (runs end in a snapshot)."""
        if self.data is None or data_id(self.data) != record.data:
            have = "no dataset" if self.data is None else data_id(self.data)
            raise DataMismatch(f"training run {record.number} ran on {record.data}; this server has {have}")
        batcher = _Batcher(self.data, record.batch_size, record.seed, self.settings.scale_inputs)
        self._start_batches(record.lr)
        for b in range(record.batches):
            self._apply_batch(*batcher.batch(b))

    @_locked
    def params_at(self, step: int) -> dict[str, torch.Tensor]:
        """Every weight and bias as they were after ``step`` entries of the history (the learner does not move)."""
        if step == self.cursor:
            return {name: p.detach().clone() for name, p in self._named}
        if self._at_cache and self._at_cache[:2] == (self.version, step):
            return self._at_cache[2]
        scratch = Learner.__new__(Learner)  # the same replay, on a scratch copy that shares only the records
        scratch.keyframe_every, scratch.settings, scratch.data = self.keyframe_every, self.settings, self.data
        scratch.busy = threading.RLock()
        scratch.net = make_net(self.settings.seed, self.settings.activation)
        scratch.loss_fn = nn.CrossEntropyLoss()
        scratch.optimizer = make_optimizer(self.settings.optimizer, scratch.net.parameters(), self.settings.lr)
        scratch._named = list(scratch.net.named_parameters())
        scratch.history, scratch.cursor, scratch.version = self.history, self.cursor, 0
        scratch._keyframes, scratch._undo_slot = dict(self._keyframes), self._undo_slot
        scratch._restore(self._snapshot())
        scratch.goto(step)
        params = {name: p.detach().clone() for name, p in scratch._named}
        self._at_cache = (self.version, step, params)
        return params

    # --- snapshots ----------------------------------------------------------------------------------
    def _snapshot(self) -> _Snapshot:
        """A copy of every weight and every optimizer buffer (Adam's step count and moments, SGD's momentum)."""
        params = {name: p.detach().clone() for name, p in self._named}
        state = self.optimizer.state
        buffers = tuple({k: v.clone() for k, v in state[p].items()} if p in state else {} for _, p in self._named)
        return _Snapshot(params=params, optimizer=buffers)

    def _start_batches(self, lr: float) -> None:
        """Set the lr and training mode once before a series of :meth:`_apply_batch` (per batch, this
        set-up cost a fifth of bulk training's speed at batch 64)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.net.train()

    def _apply_batch(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One mini-batch step, in the same canonical order as :meth:`_apply` (after :meth:`_start_batches`); its loss."""
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.net(x), y)  # mean over the batch
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def _restore(self, snap: _Snapshot) -> None:
        with torch.no_grad():
            for (name, p), state in zip(self._named, snap.optimizer, strict=True):
                p.copy_(snap.params[name])
                # The optimizer updates its buffers in place at the next step: give it copies, so the
                # snapshot stays as it was.
                if state:
                    self.optimizer.state[p] = {k: v.clone() for k, v in state.items()}
                else:
                    self.optimizer.state.pop(p, None)
        self.optimizer.zero_grad()

    def _finite_after(self, weights: list[torch.Tensor]) -> bool:
        """The weights and the optimizer's buffers (not its step counts) in one fused norm call; the exact
        per-entry check only when a norm is not finite (it can overflow while every entry is finite)."""
        state = self.optimizer.state
        buffers = [v for _, p in self._named if p in state for k, v in state[p].items() if k != "step"]
        return bool(torch.isfinite(torch.stack(torch._foreach_norm(weights + buffers))).all()) or self._weights_finite()

    def _weights_finite(self) -> bool:
        """Every weight and every optimizer buffer is finite (an infinite Adam v would freeze its weight for good)."""
        state = self.optimizer.state
        params = [p.detach() for _, p in self._named] + [v for _, p in self._named if p in state for v in state[p].values()]
        if bool(torch.isfinite(torch.stack(torch._foreach_norm(params))).all()):  # fast: a finite norm has finite entries
            return True
        return all(bool(torch.isfinite(p).all()) for p in params)  # a norm can overflow while every entry is finite

    def history_bytes(self) -> int:
        """What the history costs in memory: snapshots plus records (for the memory benchmark)."""
        snaps = list(self._keyframes.values()) + ([self._undo_slot[1]] if self._undo_slot else [])
        return sum(s.nbytes() for s in snaps) + sum(len(r.pixels) + 200 for r in self.history)


_W3_WEIGHT = 4  # W3.weight's index in the optimizer's parameter list: W1.weight, W1.bias, W2.weight, W2.bias, W3.weight


def _hyper(optimizer: torch.optim.Optimizer) -> dict[str, float]:
    group = optimizer.param_groups[0]
    if isinstance(optimizer, torch.optim.Adam):
        return {"beta1": group["betas"][0], "beta2": group["betas"][1], "eps": group["eps"]}
    return {"momentum": group["momentum"]}


def _layer_update(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], name: str) -> LayerUpdate:
    dw = after[f"{name}.weight"] - before[f"{name}.weight"]
    db = after[f"{name}.bias"] - before[f"{name}.bias"]
    return LayerUpdate(
        weight_norm=float(dw.norm()),
        bias_norm=float(db.norm()),
        max_abs=float(max(dw.abs().max(), db.abs().max())),
        moved_share=float((after[f"{name}.weight"] != before[f"{name}.weight"]).float().mean()),
    )


def batches_per_epoch(images: int, batch_size: int) -> int:
    """Batches in one pass over ``images`` images (the last batch of an epoch may be smaller)."""
    return -(-images // batch_size)


def data_id(data: FashionData) -> str:
    """Which training set a run used: runs replay only on the same one."""
    return f"{data.source}:{data.size('train')}"


class _Batcher:
    """The batches of a run: the training set shuffled once per epoch, from the run's seed alone."""

    def __init__(self, data: FashionData, batch_size: int, seed: int, scale_inputs: bool) -> None:
        self.images, self.labels = data.train_images, data.train_labels
        self.batch_size, self.seed, self.scale_inputs = batch_size, seed, scale_inputs
        self.per_epoch = batches_per_epoch(len(self.labels), batch_size)
        self._order: tuple[int, torch.Tensor] | None = None

    def batch(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``b`` of the run (0-based, counting across epochs): inputs (B, 784) and labels (B,)."""
        epoch, within = divmod(b, self.per_epoch)
        if self._order is None or self._order[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000 + epoch)
            self._order = (epoch, torch.randperm(len(self.labels), generator=generator))
        idx = self._order[1][within * self.batch_size : (within + 1) * self.batch_size]  # (B,)
        return to_input(self.images[idx], self.scale_inputs), self.labels[idx]


def accuracy(net: Net, images: torch.Tensor, labels: torch.Tensor, scale_inputs: bool, chunk: int = 10_000) -> float:
    """Share of ``images`` the net classifies right (evaluation mode, no gradients)."""
    return int((predictions(net, images, scale_inputs, chunk) == labels).sum()) / len(labels)  # exact: right / count


def predictions(net: Net, images: torch.Tensor, scale_inputs: bool, chunk: int = 10_000) -> torch.Tensor:
    """The predicted class of each image (N,) int64."""
    net.eval()
    with torch.no_grad():
        return torch.cat([net(to_input(images[i : i + chunk], scale_inputs)).argmax(dim=1) for i in range(0, len(images), chunk)])


MAX_RUN_BATCHES = 20 * 938  # 20 epochs of batch 64: ~20 s here; more belongs in a script, not a page


class TrainingRun:
    """Mini-batch training from the learner's current weights, in pieces so a page can show progress.

    ``advance`` trains more batches (all, a number, or for a time); ``finish`` records what was trained
    as one history entry, also when the run was stopped early, so nothing trained is lost. Accuracy on
    the whole training and test sets is measured after every epoch and at the end. A batch whose loss is
    not finite, or weights that stop being finite, end the run: the weights and optimizer go back to the
    last point where all was finite (checked after every ``advance``), and the run is recorded up to there.
    """

    def __init__(self, learner: Learner, data: FashionData, batch_size: int, batches: int, seed: int) -> None:
        if not 1 <= batch_size <= 1024:
            raise ValueError("batch size must be 1 to 1,024")
        if not 1 <= batches <= MAX_RUN_BATCHES:
            raise ValueError(f"a run is 1 to {MAX_RUN_BATCHES:,} batches")
        self.learner, self.data = learner, data
        learner.data = data
        self.batch_size, self.planned, self.seed = batch_size, batches, seed
        self.lr, self.optimizer = learner.settings.lr, learner.settings.optimizer
        self._batcher = _Batcher(data, batch_size, seed, learner.settings.scale_inputs)
        self.per_epoch = self._batcher.per_epoch
        self.done = 0
        self.losses = torch.empty(batches)  # (planned,) filled as batches are trained
        self.evals: list[EpochEval] = []
        self.message: str | None = None  # why a run ended early
        self.record: RunRecord | None = None
        self._before = learner._snapshot()
        self._good = (0, self._before)  # the last point known to be finite
        learner.last_report = None

    @property
    def finished(self) -> bool:
        return self.record is not None or self.message is not None or self.done >= self.planned

    @property
    def epoch(self) -> float:
        return self.done / self.per_epoch

    @_locked
    def advance(self, batches: int | None = None, seconds: float | None = None) -> int:
        """Train up to ``batches`` more batches, or for about ``seconds``, or to the end; how many were trained."""
        if self.record is not None:
            raise RuntimeError("this run is finished")
        learner = self.learner
        end = self.planned if batches is None else min(self.planned, self.done + batches)
        deadline = None if seconds is None else time.perf_counter() + seconds
        start = self.done
        learner._start_batches(self.lr)
        while self.done < end:
            value = learner._apply_batch(*self._batcher.batch(self.done)).item()  # the very code a replay runs
            if not math.isfinite(value):
                self._refuse()
                break
            self.losses[self.done] = value
            self.done += 1
            if self.done % self.per_epoch == 0:
                self._evaluate()
                learner.net.train()  # measuring put the net in evaluation mode
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if self.message is None:
            if learner._weights_finite():
                self._good = (self.done, learner._snapshot())
            else:
                self._refuse()
        learner.version += 1
        return self.done - start

    def _refuse(self) -> None:
        good, snap = self._good
        self.learner._restore(snap)
        self.message = (
            f"Batch {self.done + 1} (lr {self.lr:g}) made the loss, some weights or the optimizer's state infinite "
            "or NaN, so training stopped and "
            f"went back to batch {good}: every weight and the optimizer state are as they were there. Try a smaller learning rate."
        )
        self.done = good
        self.evals = [e for e in self.evals if e.batches <= good]

    def _evaluate(self) -> None:
        net, scale = self.learner.net, self.learner.settings.scale_inputs
        self.evals.append(
            EpochEval(
                batches=self.done,
                epoch=self.done / self.per_epoch,
                train_accuracy=accuracy(net, self.data.train_images, self.data.train_labels, scale),
                test_accuracy=accuracy(net, self.data.test_images, self.data.test_labels, scale),
            )
        )

    @_locked
    def finish(self) -> RunRecord | None:
        """Record what was trained as one history entry (None when not a single batch was); idempotent."""
        if self.record is not None:
            return self.record
        learner = self.learner
        if self.message is None and not learner._weights_finite():
            self._refuse()
        if self.done == 0:
            learner._restore(self._before)
            learner.version += 1
            self.planned = 0
            return None
        if not self.evals or self.evals[-1].batches != self.done:
            self._evaluate()
        now = {name: p.detach() for name, p in learner._named}
        ended = "refused" if self.message else ("done" if self.done >= self.planned else "stopped")
        self.record = RunRecord(
            number=learner.cursor + 1,
            batch_size=self.batch_size,
            batches=self.done,
            planned=self.planned,
            seed=self.seed,
            optimizer=self.optimizer,
            lr=self.lr,
            data=data_id(self.data),
            loss_before=float(self.losses[0]),
            loss_after=float(self.losses[self.done - 1]),
            update_norm=math.sqrt(sum(float((now[k] - v).norm()) ** 2 for k, v in self._before.params.items())),
            losses=self.losses[: self.done].clone(),
            evals=tuple(self.evals),
            ended=ended,
        )
        learner._commit(self.record, self._before)
        learner._keyframes[learner.cursor] = learner._snapshot()  # so moving through the history never replays a run
        learner.last_report = None
        learner.version += 1
        return self.record
