"""One learner: the net, the loss, the optimizer, the settings, and an exact, compact step history.

A :class:`Learner` lives in one browser session and is never shared. ``train_step`` takes one real
training step in the lesson's order and returns a :class:`StepReport` with everything the Train page
shows. ``undo``, ``redo`` and ``goto`` move through the history and restore the weights *and* the
optimizer state bit for bit.

Why the history is compact: a full snapshot (weights + Adam's two moment buffers) is ~0.7 MB, so
keeping one per step would cost 140 MB for 200 steps. Instead each step is recorded by what made it
(the 784 input bytes, the label, the optimizer and lr: ~1 KB), snapshots are kept only every
``keyframe_every`` steps, plus one of the weights just before the newest step (so the first Undo is a
copy). The point 0 is not stored: it is rebuilt from the seed. Any earlier point is reached by restoring
the nearest snapshot and replaying the recorded steps, which on a CPU with one thread gives the very same
bits. The same records replayed from the seed
reproduce a learner's weights anywhere (links and progress files build on this). The history stays within a
budget (``HISTORY_BUDGET``, 4 MB): 200 single steps fit with every keyframe; a longer history keeps fewer,
spread out so that the longest replay is as short as the budget allows.

Training runs (many mini-batch steps, :class:`TrainingRun`) are one entry of the same history. A run is
recorded by what makes it (batch size, number of batches, shuffle seed): replaying it needs the shared
dataset, so a snapshot is kept at the end of every run and moving through the history replays one only
when the budget has dropped that snapshot (a run is dear to replay, so its end is among the last kept);
rebuilding a learner from a link or a progress file replays them all.
"""

from __future__ import annotations

import ctypes
import functools
import math
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
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

    @cached_property
    def w3_delta(self) -> torch.Tensor:
        return self.w3_after - self.w3_before  # (64, 64); a page reads it several times per step

    @property
    def b3_delta(self) -> torch.Tensor:
        return self.b3_after - self.b3_before  # (64,)

    @cached_property
    def moved_share(self) -> float:
        """Share of W3's 4,096 weight entries whose value changed at all (compared bit for bit)."""
        return float((self.w3_after != self.w3_before).float().mean())

    @cached_property
    def _ranked(self) -> torch.Tensor:
        return torch.sort(self.w3_delta.abs().flatten(), descending=True, stable=True).indices

    def ranked(self) -> torch.Tensor:
        """Flat indices of W3's entries, largest absolute change first (ties keep row-major order)."""
        return self._ranked


@dataclass(frozen=True, eq=False)
class _Snapshot:
    """Every weight and every optimizer entry at one point, exactly; nothing in it is ever written again.

    ``params``: every weight by name (a step's snapshot shares them with the previous step's report).
    ``buffers``: all of the optimizer's tensors (Adam's two moments, SGD's momentum) in one flat float32
    buffer. ``layout``: per parameter, in the net's parameter order, each optimizer state entry as
    ``(key, "t", offset, shape)`` for a tensor in ``buffers``, ``(key, "s", i, dtype)`` for a 0-dim tensor
    kept as the number ``scalars[i]`` (Adam's step count), or ``(key, "o", i, None)`` for anything else,
    kept as ``scalars[i]``. Layouts are shared between snapshots (tuples, never changed).
    """

    params: dict[str, torch.Tensor]
    buffers: torch.Tensor
    layout: tuple[tuple[tuple[str, str, int, object], ...], ...]
    scalars: tuple = ()

    def nbytes(self) -> int:
        tensors = [*self.params.values(), self.buffers] + [v for v in self.scalars if isinstance(v, torch.Tensor)]
        return sum(t.numel() * t.element_size() for t in tensors) + 8 * len(self.scalars)

    def state(self, i: int) -> dict[str, torch.Tensor]:
        """Parameter ``i``'s optimizer state as new tensors (the optimizer updates its buffers in place)."""
        out = {}
        for key, kind, a, b in self.layout[i]:
            if kind == "t":
                out[key] = self.buffers[a : a + b.numel()].view(b).clone()
            elif kind == "s":
                out[key] = torch.tensor(self.scalars[a], dtype=b)
            else:
                value = self.scalars[a]
                out[key] = value.clone() if isinstance(value, torch.Tensor) else value
        return out


_NO_BUFFERS = torch.empty(0)
_LABELS = tuple(torch.tensor([label]) for label in range(10))  # (1,) each: a step's target, never written


@dataclass(frozen=True, eq=False)
class _OptimizerPlan:
    """Where each entry of the optimizer's state goes in a snapshot (see :class:`_Snapshot`), and the live
    tensors to copy from, flattened (views: the optimizer updates them in place, so they stay current)."""

    key: tuple[int, int]  # (the learner's state epoch, how many state entries there were) it was made for
    layout: tuple[tuple[tuple[str, str, int, object], ...], ...]
    flat: tuple[torch.Tensor, ...]  # the live float32 tensors, flattened, in layout order
    scalars: tuple[tuple[object, bool], ...]  # the live 0-dim tensors (True) and other values (False), in layout order
    buffers: tuple[torch.Tensor, ...]  # the live tensors that must stay finite (all but the step counts)
    size: int  # entries of the flat buffer


@functools.lru_cache(maxsize=8)
def _start_weights(seed: int, activation: str) -> tuple[tuple[str, ...], tuple[torch.Size, ...], torch.Tensor]:
    """The point 0's weights of a seed (names, shapes, all of them in one flat float32 tensor), made once per
    process and shared by every learner with that seed: read only, never written or handed out."""
    named = list(make_net(seed, activation).named_parameters())
    flat = torch.cat([p.detach().reshape(-1) for _, p in named])
    return tuple(n for n, _ in named), tuple(p.shape for _, p in named), flat


@dataclass(frozen=True, eq=False)
class _PackedSnapshot:
    """A keyframe, stored as what differs from the point 0, bit for bit.

    Entries whose weight and optimizer buffers all still hold their point-0 bits (the weights from the
    seed, buffers 0: with the lesson's raw pixels, every weight fed by a pixel that was 0 in all images
    so far) are not stored: ``mask`` has one bit per weight entry, set where the weight or one of its
    buffers differs; ``weights`` and ``buffers`` hold the bits of those entries only (as int32, so
    nothing is computed on them).
    """

    mask: bytes  # np.packbits of the (entries,) bool mask
    weights: torch.Tensor  # (touched,) int32
    buffers: torch.Tensor  # (k, touched) int32: each of a weight's k optimizer buffers (Adam: 2, SGD with momentum: 1)
    layout: tuple[tuple[tuple[str, str, int, object], ...], ...]
    scalars: tuple

    def nbytes(self) -> int:
        return len(self.mask) + 4 * (self.weights.numel() + self.buffers.numel()) + 8 * len(self.scalars)


def _buffers_per_weight(snap: _Snapshot, shapes: tuple[torch.Size, ...]) -> int | None:
    """How many optimizer buffers each weight has when every parameter has the same number, each shaped like
    it and laid out one after the other (as Adam and SGD keep them); else None (then a keyframe is not packed)."""
    counts = set()
    for entries, shape in zip(snap.layout, shapes, strict=True):
        tensors = [e for e in entries if e[1] == "t"]
        if any(e[3] != shape for e in tensors):
            return None
        counts.add(len(tensors))
    return counts.pop() if len(counts) == 1 else None


def _pack(snap: _Snapshot, seed: int, activation: str) -> _Snapshot | _PackedSnapshot:
    names, shapes, start = _start_weights(seed, activation)
    k = _buffers_per_weight(snap, shapes)
    if k is None or tuple(snap.params) != names:
        return snap
    weights = torch.cat([t.reshape(-1) for t in snap.params.values()]).view(torch.int32)  # (entries,)
    touched = weights != start.view(torch.int32)
    if k:
        sizes = [shape.numel() for shape in shapes]
        parts = snap.buffers.view(torch.int32).split([k * n for n in sizes])  # per weight: its k buffers one after the other
        buffers = torch.cat([b.view(k, n) for b, n in zip(parts, sizes, strict=True)], dim=1)  # (k, entries)
        touched |= (buffers != 0).any(dim=0)
    index = torch.from_numpy(np.flatnonzero(touched.numpy()))  # (touched,) int64
    kept = buffers.index_select(1, index) if k else torch.empty(0, len(index), dtype=torch.int32)
    mask = np.packbits(touched.numpy()).tobytes()
    return _PackedSnapshot(mask=mask, weights=weights.index_select(0, index), buffers=kept, layout=snap.layout, scalars=snap.scalars)


def _unpack(packed: _Snapshot | _PackedSnapshot, seed: int, activation: str) -> _Snapshot:
    if isinstance(packed, _Snapshot):
        return packed
    names, shapes, start = _start_weights(seed, activation)
    sizes = [shape.numel() for shape in shapes]
    bits = np.unpackbits(np.frombuffer(packed.mask, dtype=np.uint8), count=start.numel())
    index = torch.from_numpy(np.flatnonzero(bits))  # (touched,) int64
    weights = start.view(torch.int32).clone().index_copy_(0, index, packed.weights)
    params = {n: w.view(torch.float32).view(shape) for n, w, shape in zip(names, weights.split(sizes), shapes, strict=True)}
    k = packed.buffers.shape[0]
    if k:
        full = torch.zeros(k, start.numel(), dtype=torch.int32).index_copy_(1, index, packed.buffers)
        buffers = torch.cat([b.reshape(-1) for b in full.split(sizes, dim=1)]).view(torch.float32)
    else:
        buffers = _NO_BUFFERS
    return _Snapshot(params=params, buffers=buffers, layout=packed.layout, scalars=packed.scalars)


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


# A jump replays at most KEYFRAME_EVERY - 1 steps (~1.3-2 ms each on the 2-core dev machine, depending on its
# load). With 56 the worst jump measured 103 ms on a nearly quiet machine; with 48, 90 ms (third session) and
# 95.8 ms on a slower day (fourth session, bench/learner_ab.py). 39 steps keep the worst case under 100 ms with
# room, for ~0.5 MB more per 200 steps (5 keyframes: 40 ... 200).
KEYFRAME_EVERY = 40
# The history's memory (:meth:`Learner.history_bytes`: keyframes, the undo slot, the records and their images),
# whatever a learner does: 200 single steps from a fresh net take 3.5-3.8 MB with every keyframe kept; past the
# budget, keyframes are dropped so that the longest replay stays as short as the budget allows
# (:meth:`Learner._fit_budget`). Without it a history grew ~0.6 MB per 40 steps and ~0.7 MB per training run
# (17.6 MB after 1,000 steps and 5 runs). A learner's weights, gradients, optimizer and last report add ~1-2 MB.
HISTORY_BUDGET = 4_000_000


class Learner:
    def __init__(self, settings: Settings = LESSON, keyframe_every: int = KEYFRAME_EVERY, history_budget: int = HISTORY_BUDGET) -> None:
        self.keyframe_every = keyframe_every
        self.history_budget = history_budget  # bytes of history (history_bytes) kept at most, by dropping keyframes
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
        self._build(make_net(self.settings.seed, self.settings.activation))
        self.history: list[StepRecord | RunRecord] = []
        self.cursor = 0  # how many entries of the history the current weights include
        self.last_report: StepReport | None = None
        self.version = getattr(self, "version", 0) + 1  # changes whenever the weights may have changed
        # Snapshots after that many entries of the history; the point 0 is rebuilt from the seed when needed.
        self._keyframes: dict[int, _Snapshot | _PackedSnapshot] = {}
        self._undo_slot: tuple[int, _Snapshot] | None = None
        self._at_cache: tuple[int, int, dict[str, torch.Tensor]] | None = None  # (version, step, params)
        self._pixels: dict[bytes, bytes] = {}  # one bytes object per distinct image of the history

    def _build(self, net: Net) -> None:
        """The net, its loss and a fresh optimizer (no state yet)."""
        self.net: Net = net
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = make_optimizer(self.settings.optimizer, self.net.parameters(), self.settings.lr)
        self._named = [(name, p) for name, p in self.net.named_parameters()]  # W1.weight, W1.bias, ... W4.bias
        self._params = [p for _, p in self._named]
        self._state_epoch = 0  # changes whenever the optimizer's state entries are replaced (see _plan)
        self._plan_cache: _OptimizerPlan | None = None
        self._now: tuple[int, dict[str, torch.Tensor]] | None = None  # (version, copy of the weights at that version)
        self._recyclable: _Snapshot | None = None  # the snapshot a step took before it: its buffer is the step's own

    # --- looking --------------------------------------------------------------------------------
    def predict(self, image: torch.Tensor) -> Prediction:
        """Probabilities and logits of all ten classes for one (28, 28) uint8 image."""
        if self.net.training:
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
        label = int(label)
        if not 0 <= label < 10:
            raise ValueError("label must be 0 to 9")
        x = to_input(image, self.settings.scale_inputs)  # (1, 784)
        y = _LABELS[label]  # (1,)
        # The weights before: the copy taken after the previous step when nothing moved them since.
        params = self._now[1] if self._now is not None and self._now[0] == self.version else None
        # The optimizer's state before goes into the buffer of the undo slot this step replaces (when it
        # is a step's own, shared with nothing), instead of a new one.
        spare = self._undo_slot[1].buffers if self._undo_slot is not None and self._undo_slot[1] is self._recyclable else None
        before = self._snapshot(params, into=spare)
        w3_state_before = {k: v.clone() for k, v in self.optimizer.state.get(self.net.W3.weight, {}).items()}
        w3_before, b3_before = before.params["W3.weight"], before.params["W3.bias"]
        logits, loss = self._step(x, y, self.settings.lr)
        w3_grad = self.net.W3.weight.grad.detach()  # the report's own: the gradients are let go below
        # The same forward pass as predict() (this net has no dropout or batch norm: its mode changes nothing).
        with torch.no_grad():
            logits_after = self.net(x)[0]  # (10,)
            now = {name: p.detach().clone() for name, p in self._named}
            # One norm per tensor of the update: finite norms mean finite weights, as the weights before were finite.
            norms = [n.item() for n in torch._foreach_norm(torch._foreach_sub(list(now.values()), list(before.params.values())))]
        loss_after = float(self.loss_fn(logits_after.unsqueeze(0), y))
        loss_before = float(loss)
        finite = math.isfinite(loss_before) and math.isfinite(loss_after) and self._finite_after(norms)
        if not finite:
            self._restore(before)
            if spare is not None:  # the undo slot's buffer now holds this point: keep it as the undo slot
                self._undo_slot = (self.cursor, before)
                self._recyclable = before
            raise StepRefused(
                f"This step (lr {self.settings.lr:g}) would have made the loss, some weights or the optimizer's state infinite or NaN, "
                "so it was undone: your weights and optimizer are exactly as before. Try a smaller learning rate."
            )
        probs_before = torch.softmax(logits, dim=0)
        probs_after = torch.softmax(logits_after, dim=0)
        pixels = image.contiguous().numpy().tobytes()
        record = StepRecord(
            number=self.cursor + 1,
            ref=ref,
            pixels=self._pixels.setdefault(pixels, pixels),
            label=label,
            optimizer=self.settings.optimizer,
            lr=self.settings.lr,
            loss_before=loss_before,
            loss_after=loss_after,
            p_true_before=float(probs_before[label]),
            p_true_after=float(probs_after[label]),
            update_norm=math.sqrt(sum(n**2 for n in norms)),
        )
        w3_state_after = {k: v.clone() for k, v in self.optimizer.state.get(self.net.W3.weight, {}).items()}
        for p in self._params:  # the gradients are in the report (W3's); the next step makes its own
            p.grad = None
        self._commit(record, before, now)
        self._recyclable = before
        self.version += 1
        self._now = (self.version, now)
        self.last_report = StepReport(
            record=record,
            before=Prediction(logits=logits, probs=probs_before),
            after=Prediction(logits=logits_after, probs=probs_after),
            w3_before=w3_before,
            w3_after=now["W3.weight"],
            b3_before=b3_before,
            b3_after=now["W3.bias"],
            w3_grad=w3_grad,
            params_before=before.params,
            params_after=now,
            w3_state_before=w3_state_before,
            w3_state_after=w3_state_after,
            hyper=_hyper(self.optimizer),
            image=image.clone(),
        )
        return self.last_report

    def _apply(self, image: torch.Tensor, label: int, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The lesson's step on one image, in the canonical order. Replay runs exactly this code."""
        return self._step(to_input(image, self.settings.scale_inputs), _LABELS[label], lr)

    def _step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_apply` on the net's input (1, 784) and the label (1,): the logits (10,) and the loss."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if not self.net.training:
            self.net.train()
        for p in self._params:  # optimizer.zero_grad() (set_to_none), without its profiler bookkeeping (~30 us)
            p.grad = None
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

    def _commit(self, record: StepRecord | RunRecord, before: _Snapshot, now: dict[str, torch.Tensor] | None = None) -> None:
        """Append ``record`` at the cursor (``before``: the snapshot before it; ``now``: a copy of the weights after it)."""
        del self.history[self.cursor :]  # a new step ends the undone future
        self._keyframes = {n: s for n, s in self._keyframes.items() if n <= self.cursor}
        self.history.append(record)
        if len(self._pixels) > 2 * len(self.history) + 64:  # images only undone steps had
            self._pixels = {r.pixels: r.pixels for r in self.history if isinstance(r, StepRecord)}
        self._undo_slot = (self.cursor, before)
        self.cursor += 1
        if self.cursor % self.keyframe_every == 0:
            self._keep(self._snapshot(now))

    def _keep(self, snap: _Snapshot) -> None:
        """Keep ``snap`` as the keyframe of the cursor's point, packed, within the budget."""
        self._keyframes[self.cursor] = _pack(snap, self.settings.seed, self.settings.activation)
        self._fit_budget(keep=self.cursor)

    def _fit_budget(self, keep: int) -> None:
        """Drop keyframes until the history fits in ``history_budget`` bytes, never the one at ``keep`` (just made).

        Each time the dropped keyframe is the one whose loss lengthens the longest replay least: the one whose
        two neighbours (the point 0, the other keyframes, the end of the history) are closest in replay time
        (:func:`_replay_cost`); of equals, the earliest. So the keyframes spread out evenly over the history in
        replay time, and a run's end, which is dear to replay, is among the last to go. A dropped keyframe
        costs time only: the point is reached again by replaying its records, bit for bit, and a jump's
        replay keeps new keyframes on its way (the points a learner is looking at become quick again).
        """
        sizes = {n: s.nbytes() for n, s in self._keyframes.items()}
        total = sum(sizes.values())
        room = self.history_budget - (self.history_bytes() - total)  # what the undo slot and the records leave
        if total <= room:
            return
        prefix = [0.0]  # prefix[i]: the replay cost of the history's first i entries
        for record in self.history:
            prefix.append(prefix[-1] + _replay_cost(record))
        while total > room:
            points = [0, *sorted(self._keyframes), len(self.history)]
            merged = [(prefix[points[i + 1]] - prefix[points[i - 1]], points[i]) for i in range(1, len(points) - 1) if points[i] != keep]
            if not merged:
                return
            _, drop = min(merged)
            del self._keyframes[drop]
            total -= sizes.pop(drop)
        _give_back_freed_memory()

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
        start, snap = self._start_for(step)
        if step < self.cursor or start > self.cursor:
            self._restore(self._start_snapshot() if snap is None else _unpack(snap, self.settings.seed, self.settings.activation))
            self.cursor = start
        for record in self.history[self.cursor : step]:
            if isinstance(record, RunRecord):
                self._replay_run(record)
            else:
                image = torch.frombuffer(bytearray(record.pixels), dtype=torch.uint8).reshape(28, 28)
                self._apply(image, record.label, record.lr)
            self.cursor += 1
            if (self.cursor % self.keyframe_every == 0 or isinstance(record, RunRecord)) and self.cursor not in self._keyframes:
                self._keep(self._snapshot())
        self.optimizer.zero_grad()  # gradients belong to the step that made them, not to this point
        self.last_report = None
        self.version += 1

    def _start_for(self, step: int) -> tuple[int, _Snapshot | _PackedSnapshot | None]:
        """Where a jump to ``step`` starts: the nearest snapshot at or before it, also ahead of the cursor (redo
        over a training run restores its end instead of training it again); the point 0 (None) is the fresh
        net from the seed."""
        if not 0 <= step <= len(self.history):
            raise IndexError(f"step must be 0 to {len(self.history)}")
        snapshots: list[tuple[int, _Snapshot | _PackedSnapshot | None]] = [(0, None)]
        snapshots += [(n, s) for n, s in self._keyframes.items() if n <= step]
        if self._undo_slot and self._undo_slot[0] <= step:
            snapshots.append(self._undo_slot)
        return max(snapshots, key=lambda p: p[0])

    @_locked
    def replay_for(self, step: int) -> list[StepRecord | RunRecord]:
        """The history entries a jump to ``step`` trains again (none when a snapshot or the current point is it)."""
        start, _ = self._start_for(step)
        if step < self.cursor or start > self.cursor:
            return self.history[start:step]
        return self.history[self.cursor : step]

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
        scratch.history_budget = self.history_budget
        scratch.busy = threading.RLock()
        scratch._build(make_net(self.settings.seed, self.settings.activation))
        scratch.history, scratch.cursor, scratch.version = self.history, self.cursor, 0
        scratch._keyframes, scratch._undo_slot = dict(self._keyframes), self._undo_slot
        scratch._restore(self._snapshot())
        scratch.goto(step)
        params = {name: p.detach().clone() for name, p in scratch._named}
        self._at_cache = (self.version, step, params)
        return params

    # --- snapshots ----------------------------------------------------------------------------------
    def _plan(self) -> _OptimizerPlan:
        """Where the optimizer's state goes in a snapshot; made again only when its entries were replaced."""
        state = self.optimizer.state
        key = (self._state_epoch, sum(map(len, state.values())))  # entries are only ever added (or replaced by _restore)
        plan = self._plan_cache
        if plan is not None and plan.key == key:
            return plan
        layout, flat, scalars, buffers = [], [], [], []
        offset = 0
        for p in self._params:
            entries = []
            for k, v in state[p].items() if p in state else ():
                if isinstance(v, torch.Tensor) and v.dim() > 0 and v.dtype == torch.float32 and v.is_contiguous():
                    entries.append((k, "t", offset, v.shape))
                    flat.append(v.view(-1))
                    buffers.append(v)
                    offset += v.numel()
                elif isinstance(v, torch.Tensor) and v.dim() == 0:
                    entries.append((k, "s", len(scalars), v.dtype))
                    scalars.append((v, True))
                    if k != "step":
                        buffers.append(v)
                else:
                    entries.append((k, "o", len(scalars), None))
                    scalars.append((v, False))
                    if isinstance(v, torch.Tensor):
                        buffers.append(v)
            layout.append(tuple(entries))
        plan = _OptimizerPlan(key, tuple(layout), tuple(flat), tuple(scalars), tuple(buffers), offset)
        self._plan_cache = plan
        return plan

    def _snapshot(self, params: dict[str, torch.Tensor] | None = None, into: torch.Tensor | None = None) -> _Snapshot:
        """A copy of every weight (or ``params``, an unchanged copy of them) and every optimizer entry (in
        ``into``, a flat buffer nothing else uses any more, when it has the right size)."""
        if params is None:
            params = {name: p.detach().clone() for name, p in self._named}
        plan = self._plan()
        if not plan.flat:
            buffers = _NO_BUFFERS
        elif into is not None and into.numel() == plan.size:
            buffers = torch.cat(plan.flat, out=into)
        else:
            buffers = torch.cat(plan.flat)
        scalars = tuple(v.item() if plain else (v.clone() if isinstance(v, torch.Tensor) else v) for v, plain in plan.scalars)
        return _Snapshot(params=params, buffers=buffers, layout=plan.layout, scalars=scalars)

    def _start_snapshot(self) -> _Snapshot:
        """The point 0: the fresh net's weights from the seed, no optimizer state (rebuilt, never stored)."""
        names, shapes, start = _start_weights(self.settings.seed, self.settings.activation)
        views = start.split([shape.numel() for shape in shapes])
        params = {n: v.view(shape) for n, v, shape in zip(names, views, shapes, strict=True)}  # read only: restored by copying
        return _Snapshot(params=params, buffers=_NO_BUFFERS, layout=((),) * len(self._params))

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
            torch._foreach_copy_(self._params, [snap.params[name] for name, _ in self._named])
        state = self.optimizer.state
        for i, p in enumerate(self._params):
            # The optimizer updates its buffers in place at the next step: give it copies, so the
            # snapshot stays as it was.
            if snap.layout[i]:
                state[p] = snap.state(i)
            else:
                state.pop(p, None)
        self._state_epoch += 1
        self.optimizer.zero_grad()

    def _finite_after(self, norms: list[float]) -> bool:
        """After a step: the weights (``norms``: the norms of their update) and the optimizer's buffers (not
        its step counts) are finite. A finite sum has no inf or NaN in it; the exact per-entry check runs
        only when a norm or the sum is not finite (either can overflow while every entry is finite)."""
        if all(map(math.isfinite, norms)):
            plan = self._plan()
            if not plan.buffers:  # SGD without momentum keeps no state
                return True
            if len(plan.flat) == len(plan.buffers) and math.isfinite(torch.cat(plan.flat).sum().item()):
                return True
        return self._weights_finite()

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
        pixels = sum(len(p) for p in self._pixels.values())
        return sum(s.nbytes() for s in snaps) + pixels + 420 * len(self.history)  # a record: ~413 bytes (tracemalloc)


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


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None


def _give_back_freed_memory() -> None:
    """Hand the memory of dropped keyframes back to the system. glibc keeps freed blocks of this size in its
    heap (its mmap threshold rises after the first ones are freed), so without this a learner's memory grew
    as if nothing had been dropped (measured: 12 MB per learner against 6.9 MB, bench/memory_bench.py)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _replay_cost(record: StepRecord | RunRecord) -> float:
    """What replaying one history entry costs, in single steps (measured here: a step ~2.4 ms, a batch of 64
    ~2.8 ms, of 1,024 ~6.7 ms, one thread)."""
    if isinstance(record, RunRecord):
        return record.batches * (1 + record.batch_size / 256)
    return 1.0


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


MAX_RUN_BATCHES = 20 * 938  # 20 epochs of batch 64: ~20-90 s here (the machine's speed varies); more belongs in a script


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
            # A server runs every learner's session in one process: between batches, hand the interpreter to
            # any other session's thread that is waiting for it, so bulk training does not delay their steps.
            time.sleep(0)
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
        learner._keep(learner._snapshot())  # so moving through the history never replays a run
        learner.last_report = None
        learner.version += 1
        return self.record
