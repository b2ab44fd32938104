"""The learner's history as tables and curves: every single step and training run, and a run's progress."""

from __future__ import annotations

import pandas as pd
import torch

from fashionnet.data import CLASSES
from fashionnet.learner import Learner, RunRecord, StepRecord, TrainingRun
from fashionnet.report import count

_WHERE = {"train": "training", "test": "test"}


def describe(record: StepRecord | RunRecord) -> tuple[str, str, str]:
    """What an entry was: (kind, image, class) in words, as the timeline shows them."""
    if isinstance(record, RunRecord):
        shown = f"{record.batches:,} batches of {record.batch_size}" + ("" if record.ended == "done" else f" ({record.ended})")
        return "training run", shown, "all ten"
    where = f"{_WHERE[record.ref.split]} #{record.ref.index}" if record.ref and record.ref.split in _WHERE else "your photo"
    return "one step", where, CLASSES[record.label]


def taken(records, noun: str = "step") -> str:
    """What these history entries trained, in words: '3 steps' when all are single steps (``noun`` names them then),
    else '6 single steps and 2 training runs (1,801 batches)': a training run is many steps, not one."""
    runs = [r for r in records if isinstance(r, RunRecord)]
    steps = len(records) - len(runs)
    if not runs:
        return count(steps, noun)
    parts = [count(steps, "single step")] if steps else []
    return " and ".join([*parts, f"{count(len(runs), 'training run')} ({sum(r.batches for r in runs):,} batches)"])


def replay_note(learner: Learner, point: int) -> str | None:
    """What going to ``point`` trains again, in words, when it is more than a moment's work (a training run, or
    more than 100 single steps: the history keeps a few snapshots, see ``HISTORY_BUDGET``); else None."""
    records = learner.replay_for(point)
    runs = [r for r in records if isinstance(r, RunRecord)]
    steps = len(records) - len(runs)
    if not runs and steps <= 100:
        return None
    parts = [f"{count(len(runs), 'training run')} ({sum(r.batches for r in runs):,} batches)"] if runs else []
    parts += [count(steps, "single step")] if steps else []
    return f"Training {' and '.join(parts)} again, exactly as before, to reach point {point}…"


def history_frame(learner: Learner) -> pd.DataFrame:
    """One row per history entry, the point 0 (the seed) first; ``now`` marks where the weights are."""
    rows = [
        {"point": 0, "kind": "start", "image": "fresh weights from the seed", "class": "", "loss before": None, "loss after": None,
         "update size": None, "test accuracy": None, "now": learner.cursor == 0, "undone": False,
         "status": "← you are here" if learner.cursor == 0 else ""}
    ]  # fmt: skip
    for record in learner.history:
        kind, image, label = describe(record)
        rows.append(
            {
                "point": record.number,
                "kind": kind,
                "image": image,
                "class": label,
                "loss before": record.loss_before,
                "loss after": record.loss_after,
                "update size": record.update_norm,
                "test accuracy": record.evals[-1].test_accuracy if isinstance(record, RunRecord) else None,
                "now": record.number == learner.cursor,
                "undone": record.number > learner.cursor,
                "status": "← you are here" if record.number == learner.cursor else "undone" if record.number > learner.cursor else "",
            }
        )
    return pd.DataFrame(rows)


def history_long(frame: pd.DataFrame) -> pd.DataFrame:
    """The timeline chart's tidy rows: one per entry and measure (loss before, loss after, update size)."""
    steps = frame[frame["point"] > 0]
    long = steps.melt(
        id_vars=["point", "kind", "image", "class", "undone"],
        value_vars=["loss before", "loss after", "update size"],
        var_name="measure",
        value_name="value",
    )
    long["panel"] = long["measure"].map({"loss before": "loss", "loss after": "loss", "update size": "update size"})
    return long


def loss_frame(losses: torch.Tensor, per_epoch: int, points: int = 300) -> pd.DataFrame:
    """A run's batch losses for a curve: the mean over equal groups of batches, at most ``points`` rows."""
    n = len(losses)
    if n == 0:
        return pd.DataFrame({"batch": [], "epoch": [], "loss": [], "batches averaged": []})
    group = max(1, -(-n // points))
    rows = []
    for start in range(0, n, group):
        chunk = losses[start : start + group]
        end = start + len(chunk)
        rows.append({"batch": end, "epoch": end / per_epoch, "loss": float(chunk.double().mean()), "batches averaged": len(chunk)})
    return pd.DataFrame(rows)


def run_loss_frame(run: TrainingRun | RunRecord) -> pd.DataFrame:
    if isinstance(run, TrainingRun):
        return loss_frame(run.losses[: run.done], run.per_epoch)
    last = run.evals[-1]  # every recorded run has one, at its end: batches / epoch gives the epoch's length
    return loss_frame(run.losses, round(last.batches / last.epoch))


def evals_frame(run: TrainingRun | RunRecord) -> pd.DataFrame:
    """Accuracy after each epoch (and at the end): one row per measurement."""
    evals = run.evals
    return pd.DataFrame(
        [{"epoch": e.epoch, "batches": e.batches, "train accuracy": e.train_accuracy, "test accuracy": e.test_accuracy} for e in evals],
        columns=["epoch", "batches", "train accuracy", "test accuracy"],
    )
