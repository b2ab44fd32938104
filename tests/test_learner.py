"""The learner's step report against an independent plain-PyTorch step; undo, redo, reset and rollback bit for bit."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from conftest import learner_state
from fashionnet.learner import ImageRef, Learner, NothingToUndo, StepRefused
from fashionnet.settings import LESSON, MODERN, Settings
from plain_reference import PlainRun

SETTINGS = {
    "lesson": LESSON,
    "modern": MODERN,
    "sgd-sigmoid": replace(LESSON, optimizer="sgd", lr=0.1),
    "relu-raw-adam": Settings(seed=3, activation="relu", scale_inputs=False, optimizer="adam", lr=0.01),
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", list(SETTINGS))
def test_step_report_matches_plain_pytorch(real_data, name):
    settings = SETTINGS[name]
    learner = Learner(settings)
    run = PlainRun(learner, settings)
    # A few steps first, so Adam's moments are not at their first-step values.
    for i in (5, 6, 7):
        learner.train_step(*real_data.image("train", i))
        run.step(*real_data.image("train", i))
    image, label = real_data.image("test", 3)
    plain = run.step(image, label)
    step = learner.train_step(image, label, ImageRef("test", 3))

    w_before, w_after = plain["before"]["4.weight"], plain["after"]["4.weight"]
    assert torch.equal(step.w3_before, w_before)
    assert torch.equal(step.w3_after, w_after)
    assert torch.equal(step.w3_delta, w_after - w_before)
    assert torch.equal(step.b3_delta, plain["after"]["4.bias"] - plain["before"]["4.bias"])
    assert torch.equal(step.w3_grad, plain["grad"])
    assert step.record.loss_before == pytest.approx(plain["loss_before"], abs=0, rel=1e-7)
    assert step.record.loss_after == pytest.approx(plain["loss_after"], rel=1e-6)
    assert step.record.p_true_before == pytest.approx(plain["p_before"], rel=1e-6)
    assert step.record.p_true_after == pytest.approx(plain["p_after"], rel=1e-6)
    assert torch.allclose(step.after.probs, plain["probs_after"], rtol=1e-6, atol=0)
    assert step.moved_share == float((w_after != w_before).sum()) / 4096
    # Every layer's update size, against the plain model's parameter changes.
    for layer, idx in zip(("W1", "W2", "W3", "W4"), (0, 2, 4, 6), strict=True):
        dw = plain["after"][f"{idx}.weight"] - plain["before"][f"{idx}.weight"]
        db = plain["after"][f"{idx}.bias"] - plain["before"][f"{idx}.bias"]
        assert step.layers[layer].weight_norm == pytest.approx(float(dw.norm()), rel=1e-6)
        assert step.layers[layer].bias_norm == pytest.approx(float(db.norm()), rel=1e-6)
        assert step.layers[layer].max_abs == pytest.approx(float(max(dw.abs().max(), db.abs().max())), rel=1e-6)
    # The ranking: absolute change, largest first.
    ranked = step.ranked()
    changes = (w_after - w_before).abs().flatten()
    assert torch.equal(changes[ranked], torch.sort(changes, descending=True).values)
    assert step.record.ref == ImageRef("test", 3) and step.record.number == 4


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["lesson", "modern", "sgd-sigmoid"])
def test_undo_redo_and_goto_are_exact(real_data, name):
    learner = Learner(SETTINGS[name], keyframe_every=8)  # small keyframe gap: replay paths get exercised
    states = [learner_state(learner)]
    for i in range(30):
        learner.train_step(*real_data.image("train", i), ImageRef("train", i))
        states.append(learner_state(learner))
    learner.undo()
    assert learner.steps_taken == 29
    assert_same_state(learner_state(learner), states[29])
    learner.undo()
    assert_same_state(learner_state(learner), states[28])
    learner.redo()
    assert_same_state(learner_state(learner), states[29])
    for target in (0, 17, 3, 30, 8, 16, 1, 25):
        learner.goto(target)
        assert learner.steps_taken == target
        assert_same_state(learner_state(learner), states[target])
    # Going back and training the same image again continues exactly as the first time.
    learner.goto(12)
    learner.train_step(*real_data.image("train", 12))
    assert_same_state(learner_state(learner), states[13])
    assert len(learner.history) == 13  # the new step ended the undone future
    with pytest.raises(NothingToUndo):
        learner.redo()


@pytest.mark.realdata
def test_undo_at_start_and_reset(real_data):
    learner = Learner(MODERN)
    with pytest.raises(NothingToUndo):
        learner.undo()
    fresh = learner_state(learner)
    for i in range(3):
        learner.train_step(*real_data.image("train", i))
    learner.reset()
    assert_same_state(learner_state(learner), fresh)
    assert learner.history == [] and learner.steps_taken == 0 and learner.last_report is None
    learner.reset(replace(MODERN, seed=5))
    assert learner.settings.seed == 5
    assert not torch.equal(learner.net.W3.weight, fresh["w.W3.weight"])


@pytest.mark.realdata
def test_a_step_that_blows_up_is_refused_and_rolled_back(real_data):
    learner = Learner(replace(MODERN, optimizer="sgd", lr=1e6))
    refused = None
    for i in range(10):
        before = learner_state(learner)
        steps = list(learner.history)
        try:
            learner.train_step(*real_data.image("train", i))
        except StepRefused as err:
            refused = err
            break
    assert refused is not None, "lr 1e6 with SGD should blow up within a few steps"
    assert "smaller learning rate" in str(refused)
    assert_same_state(learner_state(learner), before)  # weights and optimizer exactly as before the bad step
    assert learner.history == steps
    assert all(torch.isfinite(p).all() for p in learner.net.parameters())


def test_settings_are_validated():
    bad_ones = [Settings(lr=0), Settings(lr=float("nan")), Settings(lr=float("inf")), Settings(lr=1e7), Settings(seed=-1)]
    for bad in [*bad_ones, Settings(activation="tanh"), Settings(optimizer="rmsprop")]:
        with pytest.raises(ValueError):
            Learner(bad)


@pytest.mark.realdata
def test_history_memory_for_200_steps_is_within_budget(real_data):
    learner = Learner(LESSON)
    for i in range(200):
        learner.train_step(*real_data.image("train", i))
    assert learner.history_bytes() < 5_000_000


# --- the history's economies: none of them may change a number -------------------------------------------------

IMAGES = torch.randint(0, 256, (12, 28, 28), generator=torch.Generator().manual_seed(2), dtype=torch.uint8)


def report_tensors(report) -> dict:
    """Every tensor a StepReport holds, cloned."""
    out = {f"params_before.{k}": v.clone() for k, v in report.params_before.items()}
    out |= {f"params_after.{k}": v.clone() for k, v in report.params_after.items()}
    out |= {f"w3_state_before.{k}": v.clone() for k, v in report.w3_state_before.items()}
    out |= {f"w3_state_after.{k}": v.clone() for k, v in report.w3_state_after.items()}
    for name in ("w3_before", "w3_after", "b3_before", "b3_after", "w3_grad", "image"):
        out[name] = getattr(report, name).clone()
    return out | {"before.logits": report.before.logits.clone(), "after.logits": report.after.logits.clone()}


@pytest.mark.parametrize("name", ["modern", "sgd-sigmoid"])
def test_a_report_never_changes_after_it_was_made(name):
    """Steps reuse the previous step's weights copy and the replaced undo slot's buffer: a report handed out
    earlier must keep its numbers through more steps, undo, redo and jumps."""
    learner = Learner(SETTINGS[name], keyframe_every=3)
    reports = []
    for i in range(7):
        report = learner.train_step(IMAGES[i], i % 10)
        reports.append((report, report_tensors(report)))
    learner.undo()
    learner.goto(2)
    learner.train_step(IMAGES[8], 8)
    learner.train_step(IMAGES[9], 9)
    for report, kept in reports:
        now = report_tensors(report)
        assert now.keys() == kept.keys()
        assert all(torch.equal(now[k], kept[k]) for k in kept), report.record.number


def test_a_refused_step_keeps_undo_and_redo_exact():
    """A refused step wrote the state before it into the undo slot's buffer: undo must still be exact."""
    learner = Learner(MODERN, keyframe_every=50)
    states = [learner_state(learner)]
    for i in range(3):
        learner.train_step(IMAGES[i], i)
        states.append(learner_state(learner))
    learner.settings = replace(MODERN, lr=1e6)  # Adam's second moments overflow within a few steps
    refused = False
    for i in range(3, 12):
        try:
            learner.train_step(IMAGES[i], i % 10)
        except StepRefused:
            refused = True
            break
        states.append(learner_state(learner))
    assert refused, "lr 1e6 with Adam should blow up within a few steps"
    n = learner.cursor
    assert n >= 4 and len(learner.history) == n == len(states) - 1
    assert_same_state(learner_state(learner), states[n])
    learner.undo()
    assert_same_state(learner_state(learner), states[n - 1])
    learner.redo()
    assert_same_state(learner_state(learner), states[n])
    learner.goto(2)
    assert_same_state(learner_state(learner), states[2])


def test_the_finiteness_check_is_exact_when_sums_and_norms_overflow():
    learner = Learner(MODERN)
    learner.train_step(IMAGES[0], 0)
    norms = [1.0] * 8
    assert learner._finite_after(norms)
    v = learner.optimizer.state[learner.net.W1.weight]["exp_avg_sq"]
    v.fill_(3e38)  # finite, but their sum (and norm) is not: the exact check must say finite
    assert learner._finite_after(norms)
    assert learner._finite_after([float("inf"), *norms[1:]])  # an update norm can overflow too
    for bad in (float("inf"), float("nan"), -float("inf")):
        v[3, 5] = bad
        assert not learner._finite_after(norms)
        v[3, 5] = 1.0
    learner.net.W2.weight.data[0, 0] = float("nan")
    assert not learner._finite_after([float("nan"), *norms[1:]])


@pytest.mark.parametrize("name", list(SETTINGS))
def test_keyframes_are_packed_exactly_and_the_start_is_not_stored(name):
    from fashionnet.learner import _PackedSnapshot, _unpack

    settings = SETTINGS[name]
    learner = Learner(settings, keyframe_every=4)
    full = {}
    for i in range(9):
        learner.train_step(IMAGES[i], i % 10)
        if learner.cursor % 4 == 0:
            full[learner.cursor] = learner._snapshot()
    assert sorted(learner._keyframes) == [4, 8]  # the point 0 is rebuilt from the seed
    for n, snap in full.items():
        packed = learner._keyframes[n]
        assert isinstance(packed, _PackedSnapshot)
        assert packed.nbytes() < snap.nbytes()
        back = _unpack(packed, settings.seed, settings.activation)
        assert all(torch.equal(back.params[k].view(torch.int32), snap.params[k].view(torch.int32)) for k in snap.params)
        assert torch.equal(back.buffers.view(torch.int32), snap.buffers.view(torch.int32))
        assert back.scalars == snap.scalars and back.layout == snap.layout
