"""Why entries moved: every number of an entry's story, the what-ifs and the saturation figures, checked
against plain PyTorch (autograd's .grad, torch.optim's own state) and independent arithmetic."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from fashionnet import charts, explain
from fashionnet.learner import Learner
from fashionnet.settings import LESSON, MODERN, Settings
from plain_reference import PlainRun

pytestmark = pytest.mark.realdata

SGD = Settings(seed=2, activation="relu", scale_inputs=True, optimizer="sgd", lr=0.05)


def value(story, quantity: str) -> float:
    return float(story.loc[story.quantity == quantity, "value"].iloc[0])


@pytest.mark.parametrize("settings", [LESSON, MODERN, SGD], ids=["lesson", "modern", "sgd"])
def test_entry_story_matches_pytorch(real_data, settings):
    learner = Learner(settings)
    run = PlainRun(learner, settings)
    for i in (3, 4):  # so Adam's m and v have a history
        learner.train_step(*real_data.image("train", i))
        run.step(*real_data.image("train", i))
    image, label = real_data.image("train", 0)
    m_prev = v_prev = None
    if settings.optimizer == "adam":
        state = run.opt.state[run.model[4].weight]
        m_prev, v_prev = state["exp_avg"].clone(), state["exp_avg_sq"].clone()
    # a and δ by plain PyTorch: the input of the Sequential's third Linear, and the gradient at its output
    x = image.float().reshape(1, 784) / (255.0 if settings.scale_inputs else 1.0)
    seen = {}
    hooks = [
        run.model[4].register_forward_hook(lambda m, inp, out: seen.update(a=inp[0].detach().clone())),
        run.model[4].register_full_backward_hook(lambda m, gin, gout: seen.update(delta=gout[0].detach().clone())),
    ]
    nn.functional.cross_entropy(run.model(x), torch.tensor([label])).backward()
    for hook in hooks:
        hook.remove()
    run.opt.zero_grad()
    plain = run.step(image, label)
    step = learner.train_step(image, label)
    sig = explain.signals(step, settings)
    assert torch.equal(sig.activation, seen["a"][0]) and torch.equal(sig.delta, seen["delta"][0])
    assert torch.equal(sig.gradient(), plain["grad"])  # the outer product is exactly autograd's gradient
    for row, col in [(0, 0), (5, 17), (63, 63), *[tuple(divmod(int(k), 64)) for k in step.ranked()[:3]]]:
        story = explain.entry_story(step, sig, row, col)
        g = float(plain["grad"][row, col])
        assert value(story, "g") == g
        assert value(story, "δ_i · a_j") == pytest.approx(g, rel=1e-6, abs=1e-12)
        before = float(plain["before"]["4.weight"][row, col])
        after = float(plain["after"]["4.weight"][row, col])
        assert value(story, "before") == before and value(story, "after") == after
        assert value(story, "change") == float(plain["after"]["4.weight"][row, col] - plain["before"]["4.weight"][row, col])
        if settings.optimizer == "adam":
            state = run.opt.state[run.model[4].weight]
            t = int(state["step"])
            assert value(story, "t") == t == 3
            m, v = float(state["exp_avg"][row, col]), float(state["exp_avg_sq"][row, col])
            assert value(story, "m") == m and value(story, "v") == v
            assert value(story, "m before") == float(m_prev[row, col]) and value(story, "v before") == float(v_prev[row, col])
            # The formulas shown, redone here in double precision from the shown inputs.
            assert m == pytest.approx(0.9 * float(m_prev[row, col]) + 0.1 * g, rel=1e-5, abs=1e-12)
            assert v == pytest.approx(0.999 * float(v_prev[row, col]) + 0.001 * g * g, rel=1e-5, abs=1e-18)
            m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
            assert value(story, "update") == pytest.approx(-settings.lr * m_hat / (math.sqrt(v_hat) + 1e-8), rel=1e-12)
        else:
            assert value(story, "update") == pytest.approx(-settings.lr * g, rel=1e-12)
        # ... and the update ends in the change the heatmap shows, up to float32 rounding of the weight.
        assert value(story, "update") == pytest.approx(after - before, rel=1e-4, abs=1e-8)


def test_first_lesson_step_every_entry_moves_by_lr(real_data):
    learner = Learner(LESSON)
    step = learner.train_step(*real_data.image("train", 0))
    rows, cols = explain.still_lines(step)
    assert rows == [] and cols == []
    assert torch.allclose(step.w3_delta.abs(), torch.full((64, 64), LESSON.lr), rtol=2e-4, atol=0)
    sig = explain.signals(step, LESSON)
    assert bool((sig.activation > 0).all())  # sigmoid outputs are all positive, so each row shares one sign
    signs = torch.sign(step.w3_delta)
    assert bool((signs == signs[:, :1]).all())


def test_modern_first_step_dead_rows_and_columns(real_data):
    learner = Learner(MODERN)
    step = learner.train_step(*real_data.image("train", 0))
    rows, cols = explain.still_lines(step)
    sig = explain.signals(step, MODERN)
    assert rows == torch.nonzero(sig.delta == 0).flatten().tolist()
    assert cols == torch.nonzero(sig.activation == 0).flatten().tolist()
    assert (len(rows), len(cols)) == (36, 26)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_what_if_matches_a_plain_step_and_leaves_the_learner_alone(real_data, optimizer):
    learner = Learner(LESSON)
    learner.train_step(*real_data.image("train", 1))
    weights = {k: v.clone() for k, v in learner.net.state_dict().items()}
    opt_state = copy.deepcopy(learner.optimizer.state_dict())
    image, label = real_data.image("test", 7)
    result = explain.what_if(learner, image, label, optimizer, 0.01)
    settings = Settings(activation="sigmoid", scale_inputs=False, optimizer=optimizer, lr=0.01)
    plain = PlainRun(learner, settings).step(image, label)
    assert torch.equal(result.w3_after, plain["after"]["4.weight"])
    assert result.loss_before == pytest.approx(plain["loss_before"], rel=1e-6)
    assert result.loss_after == pytest.approx(plain["loss_after"], rel=1e-6)
    for k, v in learner.net.state_dict().items():
        assert torch.equal(v, weights[k]), k
    assert learner.optimizer.state_dict()["state"].keys() == opt_state["state"].keys()
    assert learner.steps_taken == 1


def test_saturation_and_histograms_against_a_direct_count(real_data):
    batch = real_data.test_images[:64]
    frame = explain.saturation_frame({"batch": batch}, seed=0)
    # Independent count: the Lesson net's first layer, written out by hand.
    torch.manual_seed(0)
    w1 = nn.Linear(784, 64)
    h1 = torch.sigmoid(w1(batch.reshape(-1, 784).float())).detach()
    expected = float(((h1 < 0.01) | (h1 > 0.99)).double().mean())
    lesson = frame[(frame.preset == "Lesson") & (frame.layer == "layer 1")]["share stuck"].iloc[0]
    assert lesson == pytest.approx(expected, abs=1e-12)
    assert lesson > 0.5  # the lesson's raw pixels saturate most first-layer sigmoids
    assert f"{lesson:.1%}" in explain.saturation_sentence(frame, "batch")
    hist = explain.activation_histograms(batch, seed=0)
    for (_preset, _layer), group in hist.groupby(["preset", "layer"]):
        assert group["share"].sum() == pytest.approx(1.0, abs=1e-9)
    spec = charts.histograms(hist).to_dict()
    assert spec["spec"]["mark"]["type"] == "bar"


def test_gradient_sizes_match_autograd(real_data):
    image, label = real_data.image("train", 0)
    frame = explain.gradient_sizes(image, label, seed=0)
    torch.manual_seed(0)
    layers = [nn.Linear(784, 64), nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 10)]
    h = image.reshape(1, 784).float()
    for layer in layers[:3]:
        h = torch.sigmoid(layer(h))
    nn.functional.cross_entropy(layers[3](h), torch.tensor([label])).backward()
    lesson = frame[frame.preset == "Lesson"]["gradient norm"].tolist()
    assert lesson == pytest.approx([float(layer.weight.grad.norm()) for layer in layers], rel=1e-6)


def test_still_sentence_names_the_lines(real_data):
    learner = Learner(MODERN)
    step = learner.train_step(*real_data.image("train", 0))
    rows, cols = explain.still_lines(step)
    text = explain.still_sentence(step)
    assert text.startswith(f"36 rows ({', '.join(map(str, rows))}) and 26 columns ({', '.join(map(str, cols))})")


def test_looking_at_a_step_again_draws_nothing_and_changes_nothing(real_data):
    """explain.signals and ripple.ripple rebuild the step's "before" net from its weights: no random draws
    (the process-wide generator stays where it was) and the step's recorded weights stay as they were."""
    from fashionnet import ripple

    learner = Learner(MODERN)
    step = learner.train_step(*real_data.image("train", 3))
    kept = {k: v.clone() for k, v in step.params_before.items()}
    rng = torch.get_rng_state()
    sig = explain.signals(step, MODERN)
    rip = ripple.ripple(step, learner, ripple.probe_set(real_data))
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(kept[k], v) for k, v in step.params_before.items())
    # The same numbers from a net that holds copies of those weights, in plain PyTorch.
    act = nn.ReLU() if MODERN.activation == "relu" else nn.Sigmoid()
    plain = nn.Sequential(nn.Linear(784, 64), act, nn.Linear(64, 64), act, nn.Linear(64, 64), act, nn.Linear(64, 10))
    names = {"0": "W1", "2": "W2", "4": "W3", "6": "W4"}
    plain.load_state_dict({k: kept[f"{names[k.split('.')[0]]}.{k.split('.')[1]}"] for k in plain.state_dict()})
    x = step.image.float().reshape(1, 784) / (255.0 if MODERN.scale_inputs else 1.0)
    h2 = plain[:4](x)
    assert torch.equal(sig.activation, h2.detach()[0])
    probe = ripple.probe_set(real_data)
    with torch.no_grad():
        before = torch.softmax(plain(probe.images.float().reshape(-1, 784) / (255.0 if MODERN.scale_inputs else 1.0)), 1)
    assert torch.allclose(rip.before, before, rtol=0, atol=1e-6)


def test_the_story_table_writes_every_32_bit_value_exactly(real_data):
    """The page shows the story as text: 9 significant digits read back to the very same 32-bit float, and
    the names keep their underscores (the table's cells are Markdown)."""
    learner = Learner(MODERN)
    for i in range(3):
        step = learner.train_step(*real_data.image("train", i))
    for row, col in [(0, 0), *[tuple(divmod(int(k), 64)) for k in step.ranked()[:5]]]:
        story = explain.entry_story(step, explain.signals(step, MODERN), row, col)
        table = explain.story_table(story)
        assert len(table) == len(story)
        exact = {"g": step.w3_grad, "before": step.w3_before, "after": step.w3_after, "change": step.w3_delta}
        for name, tensor in exact.items():
            text = table.loc[story.quantity == name, "value"].iloc[0]
            assert torch.equal(torch.tensor(float(text), dtype=torch.float32), tensor[row, col]), (name, text)
        for text, value in zip(table["value"], story["value"], strict=True):
            assert float(text) == pytest.approx(value, rel=5e-9, abs=0)
        assert table["quantity"].iloc[0] == "a\\_j" and table["quantity"].iloc[1] == "δ\\_i"
