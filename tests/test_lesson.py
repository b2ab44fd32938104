"""The Lesson preset reproduces every number ``extra-on-training.md`` prints, to the last printed digit."""

from __future__ import annotations

import pytest
import torch

from fashionnet import report
from fashionnet.learner import Learner
from fashionnet.model import Net, make_net
from fashionnet.settings import LESSON

pytestmark = pytest.mark.realdata

LESSON_NET = """Net(
  (W1): Linear(in_features=784, out_features=64, bias=True)
  (W2): Linear(in_features=64, out_features=64, bias=True)
  (W3): Linear(in_features=64, out_features=64, bias=True)
  (W4): Linear(in_features=64, out_features=10, bias=True)
)"""

# W3's weight as the lesson prints it, before and after one Adam step (In [95] and In [100]).
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
