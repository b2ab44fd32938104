"""The ripple of a step, the claim experiment and the guess-first marks, against independent computations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from fashionnet import claims, quiz, ripple
from fashionnet.data import CLASSES
from fashionnet.learner import Learner
from fashionnet.settings import LESSON, MODERN
from plain_reference import PlainRun

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def probe(real_data):
    return ripple.probe_set(real_data)


def plain_probs(run: PlainRun, images: torch.Tensor, scale: bool) -> torch.Tensor:
    x = images.reshape(-1, 784).float()
    with torch.no_grad():
        return torch.softmax(run.model(x / 255.0 if scale else x), dim=1)


def test_probe_set_is_fixed_and_balanced(real_data, probe):
    assert len(probe.indices) == 200
    assert torch.bincount(probe.labels, minlength=10).tolist() == [20] * 10
    assert torch.equal(probe.labels, real_data.test_labels[probe.indices])
    assert torch.equal(ripple.probe_set(real_data).indices, probe.indices)  # chosen once, the same every time
    assert len(set(probe.indices.tolist())) == 200


@pytest.mark.parametrize("settings", [LESSON, MODERN], ids=["lesson", "modern"])
def test_ripple_matches_a_plain_forward_pass(real_data, probe, settings):
    learner = Learner(settings)
    run = PlainRun(learner, settings)
    image, label = real_data.image("train", 0)  # an Ankle boot
    before = plain_probs(run, probe.images, settings.scale_inputs)
    run.step(image, label)
    after = plain_probs(run, probe.images, settings.scale_inputs)
    step = learner.train_step(image, label)
    rip = ripple.ripple(step, learner, probe)
    assert torch.allclose(rip.before, before, atol=1e-6, rtol=0)
    assert torch.allclose(rip.after, after, atol=1e-6, rtol=0)
    assert rip.accuracy_before == float((before.argmax(1) == probe.labels).double().mean())
    assert rip.accuracy_after == float((after.argmax(1) == probe.labels).double().mean())
    changes = ripple.class_changes(rip)
    for k, name in enumerate(CLASSES):
        rows = probe.labels == k
        expected = float(after[rows, k].double().mean() - before[rows, k].double().mean())
        assert changes.loc[changes["class"] == name, "change"].iloc[0] == pytest.approx(expected, abs=1e-6)
    flipped = ripple.flips(rip, probe)
    right_b, right_a = before.argmax(1) == probe.labels, after.argmax(1) == probe.labels
    assert len(flipped) == int((right_b != right_a).sum())
    assert set(flipped["direction"]) <= {"wrong → right", "right → wrong"}


def test_gallery_is_the_probe_images(probe):
    from io import BytesIO

    from PIL import Image

    sheet = np.array(Image.open(BytesIO(ripple.gallery_png(probe.images, columns=20, scale=1))))
    assert sheet.shape == (10 * 28, 20 * 28)
    assert (sheet[28:56, 28 * 3 : 28 * 4] == probe.images[23].numpy()).all()


def test_claim_experiment_against_plain_pytorch(real_data):
    learner = Learner(MODERN)
    net = claims.pretrained_copy(learner, real_data, steps=20)
    assert not torch.equal(net.W1.weight, learner.net.W1.weight)
    assert learner.steps_taken == 0  # the learner's own model is untouched
    frame = claims.run_experiment(net, True, real_data, n=6, lrs={"sgd": 0.1, "adam": 0.001})
    assert len(frame) == 12
    for _, row in frame.iterrows():
        image, label = real_data.image("test", int(row["test index"]))
        model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        with torch.no_grad():
            for dst, src in zip(model[::2], (net.W1, net.W2, net.W3, net.W4), strict=True):
                dst.weight.copy_(src.weight)
                dst.bias.copy_(src.bias)
        x = image.reshape(1, 784).float() / 255.0
        loss = nn.functional.cross_entropy(model(x), torch.tensor([label]))
        assert row["p_true"] == pytest.approx(torch.softmax(model(x), 1)[0, label].item(), rel=1e-5)
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        if row.optimizer == "sgd":
            # SGD's update is lr times the gradient: its size is lr times the gradient's norm.
            assert row["update size"] == pytest.approx(0.1 * float(grads.norm()), rel=1e-4)
        else:
            # Adam's first step: lr * g / (|g| + eps) per entry.
            expected = 0.001 * (grads / (grads.abs() + 1e-8)).norm()
            assert row["update size"] == pytest.approx(float(expected), rel=1e-3)


def test_spearman_and_the_finding():
    x = pd.Series([0.1, 0.5, 0.9, 0.3, 0.7])
    y = pd.Series([5.0, 3.0, 1.0, 4.0, 2.0])
    assert claims.spearman(x, y) == pytest.approx(-1.0)
    ranks_x, ranks_y = np.argsort(np.argsort(x.values)), np.argsort(np.argsort([2.0, 1.0, 4.0, 3.0, 5.0]))
    assert claims.spearman(x, pd.Series([2.0, 1.0, 4.0, 3.0, 5.0])) == pytest.approx(np.corrcoef(ranks_x, ranks_y)[0, 1])
    frame = pd.DataFrame({"optimizer": ["sgd"] * 10, "p_true": np.linspace(0.01, 0.99, 10), "update size": np.linspace(1.0, 0.01, 10)})
    (found,) = claims.findings(frame)
    assert found.rho == pytest.approx(-1.0) and found.holds
    assert "ρ = -1.00" in claims.finding_sentence([found], (0.01, 0.99)) and "claim holds" in claims.finding_sentence([found], (0.01, 0.99))


def test_quiz_marks_follow_the_step(real_data):
    lesson = Learner(LESSON)
    step = lesson.train_step(*real_data.image("train", 0))
    assert quiz.how_w3_moved(step) == quiz.SAME  # Adam's first step: every entry by ±lr
    marks = quiz.mark(step, {"loss": "yes", "prob": "no", "moves": quiz.SAME}, LESSON)
    assert [m.right for m in marks] == [True, False, True]
    assert "2.2632" in marks[0].why and "Adam's first step" in marks[2].why
    assert quiz.STILL not in quiz.questions(LESSON)[2].options

    modern = Learner(MODERN)
    step = modern.train_step(*real_data.image("train", 0))
    assert quiz.how_w3_moved(step) == quiz.STILL  # 74 % of W3 cannot move: dead ReLUs
    assert quiz.STILL in quiz.questions(MODERN)[2].options
    assert "ReLU" in quiz.mark(step, {"moves": quiz.STILL}, MODERN)[0].why

    sgd = Learner(replace(LESSON, optimizer="sgd", lr=0.5))
    step = sgd.train_step(*real_data.image("train", 0))
    assert quiz.how_w3_moved(step) == quiz.UNEVEN
    assert quiz.mark(step, {"loss": None, "prob": None, "moves": quiz.UNEVEN}, sgd.settings)[0].right


def test_claim_experiment_on_a_small_test_set(tiny_folder, tmp_path):
    """More images asked for than the test set has (the bundled sample, or tiny files): all of them, no error."""
    from fashionnet.data import read_gz_folder

    data = read_gz_folder(tiny_folder, tmp_path / "cache")
    learner = Learner(MODERN)
    frame = claims.run_experiment(learner.net, True, data, n=500, lrs={"sgd": 0.1})
    assert sorted(frame["test index"]) == [0, 1]


def test_homework_export_matches_the_step(real_data):
    import csv
    import io
    import json

    from fashionnet import export

    learner = Learner(LESSON)
    learner.train_step(*real_data.image("train", 1))
    step = learner.train_step(*real_data.image("train", 0))
    rows = list(csv.DictReader(io.StringIO(export.step_csv(step))))
    assert len(rows) == 4096
    m = learner.optimizer.state_dict()["state"][4]["exp_avg"]  # W3.weight's Adam state, from torch.optim itself
    for k in (0, 777, 4095):
        i, j = divmod(k, 64)
        row = rows[k]
        assert (int(row["row"]), int(row["column"])) == (i, j)
        # 9 significant digits give back the exact 32-bit values.
        assert torch.tensor(float(row["after"]), dtype=torch.float32) == learner.net.W3.weight[i, j]
        assert torch.tensor(float(row["gradient"]), dtype=torch.float32) == step.w3_grad[i, j]
        assert torch.tensor(float(row["adam_m"]), dtype=torch.float32) == m[i, j]
    data = json.loads(export.step_json(step))
    assert data["class"] == "Ankle boot" and data["step"] == 2 and len(data["image"]) == 28
    assert torch.equal(torch.tensor(data["w3_before"], dtype=torch.float32), step.w3_before)
    assert torch.equal(torch.tensor(data["adam_v"], dtype=torch.float32), learner.optimizer.state_dict()["state"][4]["exp_avg_sq"])
    assert "schema" in data and "4,096 rows" in export.SCHEMA
