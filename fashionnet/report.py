"""What a prediction says and what a step moved, as text and tidy DataFrames for the pages.

Every number a page shows comes from here, computed from the learner's own tensors. Text follows the
lesson's words; values are rounded only at the last moment, to the digits shown.
"""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import torch
from PIL import Image
from torch import nn

from fashionnet.data import CLASSES
from fashionnet.layerviews import change_limit
from fashionnet.learner import Prediction, StepReport
from fashionnet.settings import Settings, preset_name

LESSON_CODE_LR = 0.0005  # what the lesson's code cell passes to optim.Adam
LESSON_OUTPUT_LR = 0.005  # what its printed W3 (0.0259 -> 0.0309) shows


def percent(p: float) -> str:
    return f"{100 * p:.1f}\u00a0%"  # a no-break space: "15.2 %" never wraps before its sign


def with_article(label: int) -> str:
    name = CLASSES[label]
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"


def prediction_sentence(pred: Prediction, label: int) -> str:
    """The lesson's sentence: what the network thinks, and what the image is."""
    guess = pred.predicted
    if guess == label:
        return f"The network thinks this is {with_article(guess)} ({percent(pred.probs[guess])}), and it is right."
    thinks = f"The network thinks this is {with_article(guess)} ({percent(pred.probs[guess])})"
    return f"{thinks}; it is {with_article(label)} ({percent(pred.probs[label])})."


def probabilities_frame(pred: Prediction, label: int | None) -> pd.DataFrame:
    """One row per class, in the official order, marked predicted and/or true."""
    guess = pred.predicted
    roles = []
    for k in range(len(CLASSES)):
        role = "predicted and true" if k == guess == label else "predicted" if k == guess else "true class" if k == label else "other"
        roles.append(role)
    return pd.DataFrame(
        {
            "class": list(CLASSES),
            "label": range(len(CLASSES)),
            "probability": pred.probs.double().numpy(),
            "logit": pred.logits.double().numpy(),
            "role": roles,
        }
    )


def w3_frame(before: torch.Tensor, after: torch.Tensor, gradient: torch.Tensor | None = None) -> pd.DataFrame:
    """All 4,096 entries of a W3 step: row (layer-3 unit), column (layer-2 unit), before, after, change[, gradient]."""
    rows, cols = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    columns = {
        "row": rows.flatten().numpy(),
        "column": cols.flatten().numpy(),
        "before": before.flatten().double().numpy(),
        "after": after.flatten().double().numpy(),
        "change": (after - before).flatten().double().numpy(),
    }
    if gradient is not None:
        columns["gradient"] = gradient.flatten().double().numpy()
    return pd.DataFrame(columns)


def w3_change_frame(report: StepReport) -> pd.DataFrame:
    """The newest step's W3: before, after, change and gradient of every entry."""
    return w3_frame(report.w3_before, report.w3_after, report.w3_grad)


def top_moves(report: StepReport, k: int = 10) -> pd.DataFrame:
    """The ``k`` entries of W3 that moved most, largest absolute change first (ties keep row-major order).

    The same rows as ``top_moves_of(w3_change_frame(report), k)``, without building all 4,096 rows."""
    order = report.ranked()[:k]
    return pd.DataFrame(
        {
            "row": (order // 64).numpy(),
            "column": (order % 64).numpy(),
            "before": report.w3_before.flatten()[order].double().numpy(),
            "after": report.w3_after.flatten()[order].double().numpy(),
            "change": report.w3_delta.flatten()[order].double().numpy(),
        }
    )


def heatmap_caption(report: StepReport, row: int, col: int) -> str:
    """What the Train page's picture of W3's change shows, with the numbers its colour bar stands for."""
    limit = change_limit(report.w3_delta)  # the picture's colour scale
    if limit == 0:
        return "No entry of W3 changed in this step: every cell is white."
    return (
        f"Row i (layer-3 unit) down, column j (layer-2 unit) across. Orange: the entry grew; blue: it shrank; white: "
        f"unchanged. The darkest cells changed by ±{limit:.3g} (max). The box marks W3[{row}, {col}], explained below."
    )


def top_moves_of(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` rows of a W3 frame with the largest absolute change (ties keep row-major order)."""
    order = frame["change"].abs().sort_values(ascending=False, kind="stable").index[:k]
    return frame.loc[order, ["row", "column", "before", "after", "change"]].reset_index(drop=True)


def bias_change_frame(report: StepReport) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit": range(64),
            "before": report.b3_before.double().numpy(),
            "after": report.b3_after.double().numpy(),
            "change": report.b3_delta.double().numpy(),
        }
    )


def layer_updates_frame(report: StepReport) -> pd.DataFrame:
    """How much each layer moved in this step."""
    return pd.DataFrame(
        [
            {
                "layer": name,
                "weight change (L2 norm)": u.weight_norm,
                "bias change (L2 norm)": u.bias_norm,
                "largest single change": u.max_abs,
                "weight entries moved": u.moved_share,
            }
            for name, u in report.layers.items()
        ]
    )


def torch_printout(weight: torch.Tensor, bias: torch.Tensor) -> str:
    """W3 as ``net.W3._parameters`` prints it, corners and all: PyTorch's own formatting."""
    return repr({"weight": nn.Parameter(weight.clone()), "bias": nn.Parameter(bias.clone())})


def remembered_printout(weight: torch.Tensor, bias: torch.Tensor, memo: dict, keep: int = 4) -> str:
    """``torch_printout`` (~2.5 ms each), remembered in ``memo`` (a learner's own dict) for the last ``keep`` states."""
    key = hashlib.blake2b(weight.numpy().tobytes() + bias.numpy().tobytes(), digest_size=16).digest()
    if key not in memo:
        while len(memo) >= keep:
            memo.pop(next(iter(memo)))
        memo[key] = torch_printout(weight, bias)
    return memo[key]


def first_entry_callout(report: StepReport) -> str:
    """The lesson's remark, with this step's numbers: 'the first number was updated from .0259 to .03'."""
    b, a = float(report.w3_before[0, 0]), float(report.w3_after[0, 0])
    return f"The first number, W3[0, 0], was updated from {b:.4f} to {a:.4f} (a change of {a - b:+.7f})."


def pinned_entry(report: StepReport, row: int, col: int) -> tuple[str, str, str]:
    """A pinned W3 entry after the step, as a metric shows it: value, change, and the exact value."""
    before, after = float(report.w3_before[row, col]), float(report.w3_after[row, col])
    change = float(report.w3_delta[row, col])
    return f"{after:.4f}", f"{change:+.7f} (was {before:.4f})", f"{after:.9g}"


def moved_summary(report: StepReport) -> str:
    share = report.moved_share
    delta = report.w3_delta.abs()
    moved = delta[delta > 0]
    if moved.numel() == 0:
        return "No entry of W3 moved in this step."
    return (
        f"{share:.1%} of W3's 4,096 entries moved ({int(moved.numel()):,}); "
        f"the changes range from {float(moved.min()):.7f} to {float(moved.max()):.7f} in size."
    )


def why_it_moved(report: StepReport) -> str:
    """Why the entries moved as they did, in the lesson's plain words, from this step's own numbers."""
    r = report.record
    delta, grad = report.w3_delta, report.w3_grad
    still_rows = int((delta == 0).all(dim=1).sum())
    still_cols = int((delta == 0).all(dim=0).sum())
    moved_rows = (delta != 0).any(dim=1)
    one_sign_rows = int(((delta[moved_rows] >= 0).all(dim=1) | (delta[moved_rows] <= 0).all(dim=1)).sum())
    parts = [
        "For one image, W3's gradient is an outer product: entry (i, j) gets the error signal of layer-3 unit i "
        "times the activation of layer-2 unit j."
    ]
    if r.optimizer == "adam" and r.number == 1 and report.w3_before.numel():
        ratio = delta[delta != 0].abs() / r.lr
        if ratio.numel():
            parts.append(
                f"Adam's first step moves every entry whose gradient is not zero by lr = {r.lr:g} against the sign of "
                f"its gradient, whatever the gradient's size (here {float(ratio.min()):.4f}×lr to {float(ratio.max()):.4f}×lr)."
            )
    elif r.optimizer == "adam":
        parts.append("Adam divides each entry's step by the root of its running squared gradient, so steps stay near lr in size.")
    else:
        parts.append(f"SGD moves each entry by lr × its gradient (lr = {r.lr:g}), so entries with bigger gradients move more.")
    if int(moved_rows.sum()):
        parts.append(f"{one_sign_rows} of the {int(moved_rows.sum())} rows that moved moved all one way.")
    if still_rows or still_cols:
        zero_rows, zero_cols = int((grad == 0).all(dim=1).sum()), int((grad == 0).all(dim=0).sum())
        parts.append(
            f"{still_rows} rows and {still_cols} columns did not move at all. A row has no gradient when its unit's error signal "
            f"is exactly zero ({zero_rows} rows this step: ReLU units that were off pass no gradient back), and a column has none "
            f"when its layer-2 unit's output is exactly zero ({zero_cols} columns)."
        )
        if r.optimizer == "adam" and r.number > 1:
            parts.append("With Adam, an entry with no gradient now can still move on the momentum of earlier steps.")
    return " ".join(parts)


def lr_discrepancy(settings: Settings) -> str | None:
    """Where the lesson's code and its output disagree, said when it matters for these settings."""
    if settings.optimizer != "adam" or preset_name(settings) == "Modern":
        return None
    return (
        f"The lesson's code cell says `optim.Adam(net.parameters(), lr={LESSON_CODE_LR})`, but its printed W3 moved by "
        f"0.005 per entry (0.0259 → 0.0309), which only lr = {LESSON_OUTPUT_LR} gives: Adam's first step moves every "
        f"entry by about lr. This model uses lr = {settings.lr:g}."
    )


def image_png(image: torch.Tensor, size: int = 280) -> bytes:
    """A (28, 28) uint8 image as a PNG, scaled up with hard pixel edges so a learner sees the real pixels."""
    pil = Image.fromarray(image.to(torch.uint8).numpy(), mode="L").resize((size, size), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def run_progress_text(run) -> str:
    """The progress bar's line while a training run trains."""
    text = f"Batch {run.done:,} of {run.planned:,} · epoch {run.epoch:.2f}"
    if run.done:
        text += f" · last batch loss {float(run.losses[run.done - 1]):.4f}"
    if run.evals:
        text += f" · test accuracy {run.evals[-1].test_accuracy:.2%} after epoch {run.evals[-1].epoch:.0f}"
    return text


def run_sentence(record) -> str:
    """What a recorded training run did, in one sentence with its numbers."""
    first, last = record.evals[0], record.evals[-1]
    how = {
        "done": "all",
        "stopped": f"stopped early, after {record.batches:,} of {record.planned:,}: Stop, or another page opened while it trained",
        "refused": f"stopped at {record.batches:,} of {record.planned:,} because the next batch blew up",
    }[record.ended]
    return (
        f"{record.batches:,} batches of {record.batch_size} ({how}), {'Adam' if record.optimizer == 'adam' else 'SGD'} lr {record.lr:g}: "
        f"loss of the first batch {record.loss_before:.4f}, of the last {record.loss_after:.4f} "
        f"(mean of the last {min(100, record.batches)} batches {float(record.losses[-100:].double().mean()):.4f}); "
        f"test accuracy {last.test_accuracy:.2%} "
        f"(train {last.train_accuracy:.2%}) after epoch {last.epoch:.2f}"
        + (f", {first.test_accuracy:.2%} after the first epoch" if len(record.evals) > 1 else "")
        + "."
    )


def confusion_sentence(conf) -> str:
    t, p, n = conf.worst()
    right = int(conf.counts.diagonal().sum())
    return (
        f"The model as it is now gets **{right:,} of {len(conf.labels):,}** test images right ({conf.accuracy:.2%}). "
        f"Its most frequent mistake: **{CLASSES[t]}** taken for **{CLASSES[p]}** ({n:,} times). Rows are the true class."
    )


def metric_arrow(shown_change: str, color: str = "normal") -> dict[str, str]:
    """A metric's arrow and colour for a change as shown: none for one that rounds to zero ("+0.0000" is no
    change to the reader, and a red arrow up on it said the loss had risen)."""
    if float(shown_change) == 0:
        return {"delta_color": "off", "delta_arrow": "off"}
    return {"delta_color": color}


def discard_words(entries: int) -> str:
    """What a fresh model throws away, asked before it does (the sidebar's Reset, the lesson page's fresh models)."""
    return (
        f"This discards your **{count(entries, 'history entry')}** for good. To keep them, download a progress file under "
        "**Save and resume** in the sidebar first."
    )


def count(n: int, noun: str) -> str:
    """'1 training run', '2 training runs', '1 history entry', '3 history entries'."""
    if n == 1:
        return f"{n:,} {noun}"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return f"{n:,} {noun[:-1]}ies"
    return f"{n:,} {noun}s"
