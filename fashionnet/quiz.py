"""Guess first: two or three quick questions before a step, marked from the step's real numbers.

The questions adapt to the settings: with ReLU many entries of W3 cannot move, so that becomes an answer
to choose from; the explanations name what Adam's first step or a dead unit does.
"""

from __future__ import annotations

from dataclasses import dataclass

from fashionnet.learner import StepReport
from fashionnet.settings import Settings

SAME = "all by about the same amount"
UNEVEN = "some much more than others"
STILL = "many will not move at all"


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Mark:
    question: str
    answer: str
    right: bool
    why: str


def questions(settings: Settings) -> list[Question]:
    moves = (SAME, UNEVEN, STILL) if settings.activation == "relu" else (SAME, UNEVEN)
    return [
        Question("loss", "Will the loss on this image go down?", ("yes", "no")),
        Question("prob", "Will the probability of the true class go up?", ("yes", "no")),
        Question("moves", "How will W3's 4,096 entries move?", moves),
    ]


def how_w3_moved(report: StepReport) -> str:
    """The true answer to the 'moves' question, from the step's numbers."""
    delta = report.w3_delta.abs()
    moved = delta[delta > 0]
    if float((delta == 0).float().mean()) > 0.2:
        return STILL
    if moved.numel() and float(moved.min()) >= 0.9 * float(moved.max()):
        return SAME
    return UNEVEN


def mark(report: StepReport, answers: dict[str, str | None], settings: Settings) -> list[Mark]:
    """Each answered question marked right or wrong, with one line of why from the step's numbers."""
    r = report.record
    delta = report.w3_delta.abs()
    moved = delta[delta > 0]
    truth = {
        "loss": "yes" if r.loss_after < r.loss_before else "no",
        "prob": "yes" if r.p_true_after > r.p_true_before else "no",
        "moves": how_w3_moved(report),
    }
    still = float((delta == 0).float().mean())
    span = f"from {float(moved.min()):.2e} to {float(moved.max()):.2e}" if moved.numel() else "not at all"
    why = {
        "loss": f"The loss went from {r.loss_before:.4f} to {r.loss_after:.4f}.",
        "prob": f"P(true class) went from {100 * r.p_true_before:.1f} % to {100 * r.p_true_after:.1f} %.",
        "moves": (f"Every entry moved, {span}. " if still == 0 else f"{still:.0%} of the entries did not move; the others moved {span}. ")
        + (
            "Adam's first step moves every entry with a gradient by about lr, whatever its size."
            if r.optimizer == "adam" and int(report.w3_state_after["step"]) == 1
            else "SGD moves each entry by lr times its gradient."
            if r.optimizer == "sgd"
            else "Adam scales each entry by its own gradient history."
        )
        + (" Off ReLU units pass no gradient, so their rows and columns stay put." if settings.activation == "relu" else ""),
    }
    asked = {q.key: q for q in questions(settings)}
    return [Mark(asked[k].text, answer, answer == truth[k], why[k]) for k, answer in answers.items() if answer is not None and k in asked]
