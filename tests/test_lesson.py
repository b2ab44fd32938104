"""The Lesson preset reproduces every number ``extra-on-training.md`` prints, to the last printed digit."""

from __future__ import annotations

import pytest
import torch

from conftest import ROOT
from fashionnet import report
from fashionnet.learner import Learner
from fashionnet.lesson import B3_AFTER_24, B3_BEFORE_24, LESSON_NET, W3_AFTER, W3_BEFORE
from fashionnet.model import Net, make_net
from fashionnet.settings import LESSON

pytestmark = pytest.mark.realdata

LESSON_FILE = ROOT.parent / "shared" / "lesson" / "extra-on-training.md"


def test_the_pinned_outputs_are_the_lessons_own():
    """Every printed output the app compares against is copied from the lesson file, line by line."""
    if not LESSON_FILE.is_file():
        pytest.skip(f"the lesson is not at {LESSON_FILE}")
    text = " ".join(LESSON_FILE.read_text().split())  # the same tokens in the same order, whatever the indentation
    for block in (LESSON_NET, W3_BEFORE, W3_AFTER, B3_BEFORE_24, B3_AFTER_24, "tensor(2.2632, grad_fn=<NllLossBackward>)"):
        assert " ".join(block.split()) in text, block[:60]


def test_print_net_reads_like_the_lesson():
    assert repr(Net()) == LESSON_NET


def test_initial_weights_are_bit_for_bit_reproducible_and_seed_dependent():
    a, b, c = make_net(0, "sigmoid"), make_net(0, "sigmoid"), make_net(1, "sigmoid")
    for (name, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
        assert not torch.equal(pa, pc), name


def test_make_net_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_net(7, "relu")
    assert torch.equal(torch.rand(3), expected)


def test_lesson_numbers(real_data):
    learner = Learner(LESSON)
    printed = report.torch_printout(learner.net.W3.weight.detach(), learner.net.W3.bias.detach())
    assert W3_BEFORE in printed and B3_BEFORE_24 in printed
    image, label = real_data.image("train", 0)
    assert label == 9  # an Ankle boot
    pred = learner.predict(image)
    assert pred.predicted == 4  # "Coat"
    sentence = report.prediction_sentence(pred, label)
    assert sentence == "The network thinks this is a Coat (15.2\u00a0%); it is an Ankle boot (10.4\u00a0%)."
    step = learner.train_step(image, label)
    assert f"{step.record.loss_before:.4f}" == "2.2632"
    after = report.torch_printout(step.w3_after, step.b3_after)
    assert W3_AFTER in after
    assert B3_AFTER_24 in after
    assert report.first_entry_callout(step).startswith("The first number, W3[0, 0], was updated from 0.0259 to 0.0309")


def test_code_cell_lr_moves_each_entry_by_a_tenth(real_data):
    """With lr=0.0005, as the lesson's code says, Adam's first step moves each entry by 0.0005 instead."""
    from dataclasses import replace

    image, label = real_data.image("train", 0)
    step = Learner(replace(LESSON, lr=0.0005)).train_step(image, label)
    assert torch.allclose(step.w3_delta.abs(), torch.full((64, 64), 0.0005), rtol=2e-4)
