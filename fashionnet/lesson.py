"""The lesson ``extra-on-training.md``, cell by cell: its code, what it printed, and the learner's live output.

The printed outputs are copied from the lesson; ``matches`` says whether the learner's own model gives
them (it does, to the last printed digit, with the Lesson preset on training image 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fashionnet.learner import ImageRef, Learner
from fashionnet.model import to_input
from fashionnet.report import count, torch_printout
from fashionnet.settings import LESSON

LESSON_NET = """Net(
  (W1): Linear(in_features=784, out_features=64, bias=True)
  (W2): Linear(in_features=64, out_features=64, bias=True)
  (W3): Linear(in_features=64, out_features=64, bias=True)
  (W4): Linear(in_features=64, out_features=10, bias=True)
)"""
W3_BEFORE = """tensor([[ 0.0259, -0.0138, -0.0259,  ..., -0.0757, -0.0621, -0.0298],
        [ 0.1063,  0.0534, -0.0855,  ..., -0.0165, -0.0313, -0.0833],
        [ 0.1078,  0.0445,  0.0239,  ..., -0.0503,  0.0975, -0.0178],
        ...,
        [ 0.1124,  0.0989, -0.0902,  ..., -0.0939, -0.0652,  0.1107],
        [ 0.1120, -0.0405,  0.0659,  ..., -0.0038, -0.0218, -0.0882],
        [ 0.1226,  0.0628, -0.0597,  ..., -0.0875,  0.0712,  0.1169]],"""
W3_AFTER = """tensor([[ 0.0309, -0.0088, -0.0209,  ..., -0.0707, -0.0571, -0.0248],
        [ 0.1013,  0.0484, -0.0905,  ..., -0.0215, -0.0363, -0.0883],
        [ 0.1128,  0.0495,  0.0289,  ..., -0.0453,  0.1025, -0.0128],
        ...,
        [ 0.1174,  0.1039, -0.0852,  ..., -0.0889, -0.0602,  0.1157],
        [ 0.1170, -0.0355,  0.0709,  ...,  0.0012, -0.0168, -0.0832],
        [ 0.1276,  0.0678, -0.0547,  ..., -0.0825,  0.0762,  0.1219]],"""
B3_BEFORE_24 = """-0.0495,  0.0637, -0.1004, -0.0250, -0.0909,  0.1096,  0.0405,  0.0485,
         0.0361, -0.1112,  0.0071,  0.0476,  0.1005,  0.0198, -0.0114,  0.0470,
        -0.0566, -0.0448,  0.0945, -0.0279, -0.0823,  0.1084,  0.1233,  0.1245,"""
B3_AFTER_24 = """-0.0445,  0.0587, -0.0954, -0.0200, -0.0859,  0.1046,  0.0355,  0.0435,
         0.0411, -0.1062,  0.0021,  0.0426,  0.1055,  0.0148, -0.0164,  0.0420,
        -0.0616, -0.0398,  0.0995, -0.0329, -0.0773,  0.1134,  0.1283,  0.1295,"""
LOSS = "tensor(2.2632, grad_fn=<NllLossBackward>)"


@dataclass(frozen=True)
class Cell:
    title: str
    words: str  # the lesson's own words around the cell
    code: str  # the cell's code as the lesson has it
    printed: str  # what the lesson printed ("" for none)
    runs_step: bool = False  # this cell changes the model (loss.backward(); adam.step())


CELLS: tuple[Cell, ...] = (
    Cell(
        "Training, in words",
        "in training we'll … take our set of images, and for each image, we'll input it into our neural network, have "
        "the neural network make a prediction, and then update the neural network based on how off the prediction was. "
        "So if the neural network said there was a $.05$ percent chance of the picture being a hat, but the picture was "
        "in fact a hat -- the neural network will be updated a lot, and if it predicted a $.95$ percent chance of our hat "
        "being a hat, then we would not update our neural network so much.",
        "",
        "",
    ),
    Cell(
        "The network",
        "What does it mean to update a neural network? Well let's take a look at our neural network again.",
        "net",
        LESSON_NET,
    ),
    Cell(
        "One of the W's",
        "Each one of those `W's` represents a grid of numbers. Let's see one.",
        "net.W3._parameters",
        W3_BEFORE + "\n…bias…\n" + B3_BEFORE_24,
    ),
    Cell(
        "Loss and optimizer",
        "We use something called cross entropy loss, and an optimizer -- both of which we'll learn more about later.",
        "x_loss = nn.CrossEntropyLoss()\nx_loss\n# CrossEntropyLoss()\n\n"
        "import torch.optim as optim\nadam = optim.Adam(net.parameters(), lr=0.0005)",
        "CrossEntropyLoss()",
    ),
    Cell(
        "Prediction and loss",
        "And then if we pass through the neural network's *prediction*, and the corresponding label, we can see how far off we were.",
        "pred = net(first_obs)\npred\n\nfirst_label = y_train_tensor[0]\nfirst_label\n\nloss = x_loss(pred, first_label)\nloss",
        LOSS,
    ),
    Cell(
        "The step",
        "Then we can calculate how to update our neural network, and finally, make the update with the `step` function.",
        "loss.backward()\nadam.step()",
        "",
        runs_step=True,
    ),
    Cell(
        "W3 after the step",
        "With that our neural network has been updated, just a little bit, based on its poor prediction of the first image. "
        "Let's see this. Notice that the first number was updated from $.0259$ to $.03$",
        "net.W3._parameters",
        W3_AFTER + "\n…bias…\n" + B3_AFTER_24,
    ),
)


def live_output(cell_index: int, learner: Learner, image: torch.Tensor, label: int) -> str:
    """What the cell prints when run on the learner's own model and the given image."""
    cell = CELLS[cell_index]
    if cell.code == "net":
        return repr(learner.net)
    if cell.code == "net.W3._parameters":
        return torch_printout(learner.net.W3.weight.detach(), learner.net.W3.bias.detach())
    if cell.code.startswith("x_loss"):
        return f"{learner.loss_fn!r}\n\n{learner.optimizer!r}"
    if cell.code.startswith("pred"):
        x = to_input(image, learner.settings.scale_inputs)[0]  # (784,): the lesson's first_obs is one image
        pred = learner.net(x)  # (10,)
        first_label = torch.tensor(label)
        loss = learner.loss_fn(pred, first_label)
        return f"{pred!r}\n\n{first_label!r}\n\n{loss!r}"
    return ""


def matches(cell_index: int, live: str) -> bool | None:
    """Whether the live output shows the lesson's printed numbers (None for a cell that printed nothing)."""
    cell = CELLS[cell_index]
    if not cell.printed:
        return None
    if "…bias…" in cell.printed:
        weight, bias = cell.printed.split("\n…bias…\n")
        return weight in live and bias in live
    if cell.printed == LOSS:
        return "tensor(2.2632, grad_fn=<NllLossBackward" in live  # newer PyTorch names it NllLossBackward0
    return cell.printed in live


def why_differs(cell_index: int, learner: Learner, selection: ImageRef) -> str:
    """Why the learner's live output differs from what the lesson printed: what is not as in the lesson."""
    reasons = []
    s = learner.settings
    stepped = any(c.runs_step for c in CELLS[:cell_index])  # the lesson printed this after its one step
    if (s.seed, s.activation, s.scale_inputs, s.optimizer) != (LESSON.seed, LESSON.activation, LESSON.scale_inputs, LESSON.optimizer):
        reasons.append("your settings are not the Lesson preset's")
    elif s.lr != LESSON.lr and stepped:
        reasons.append(f"your learning rate is {s.lr:g}, and the lesson's printed output comes from lr {LESSON.lr:g} (see step 4)")
    if selection != ImageRef("train", 0):
        reasons.append("the selected image is not training image 0")
    taken = learner.cursor
    if stepped and taken == 0:
        reasons.append("the step has not been taken yet: go Back to step 6 and press **Run this cell**")
    elif stepped and taken > 1:
        reasons.append(f"{taken} steps have been taken, and the lesson printed this after exactly one")
    elif not stepped and taken:
        reasons.append(f"your model has taken {count(taken, 'step')}, and the lesson printed this before any")
    elif stepped and taken == 1 and learner.history[0].ref != selection:
        reasons.append("the step was taken on another image than training image 0")
    if not reasons:
        return "Differs from the lesson's output."
    return "Differs from the lesson's output: " + "; ".join(reasons) + ". Step 1 starts a fresh Lesson model on training image 0."


def first_step_explained(learner: Learner) -> bool:
    """Whether the lesson's explanation of its step holds for the learner's newest step: Adam's very first step."""
    report = learner.last_report
    return report is not None and learner.settings.optimizer == "adam" and report.record.number == 1 and learner.cursor == 1
