"""What the pages show: frames, sentences and charts, checked against the learner's tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fashionnet import charts, report
from fashionnet.data import CLASSES
from fashionnet.learner import Learner, Prediction
from fashionnet.links import parse_selection
from fashionnet.settings import LESSON, MODERN

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def lesson_step(real_data):
    learner = Learner(LESSON)
    return learner.train_step(*real_data.image("train", 0))


def test_probabilities_frame_and_chart(real_data):
    learner = Learner(LESSON)
    image, label = real_data.image("train", 0)
    pred = learner.predict(image)
    frame = report.probabilities_frame(pred, label)
    assert list(frame["class"]) == list(CLASSES)
    assert torch.allclose(torch.tensor(frame["probability"].values), torch.softmax(pred.logits.double(), 0), atol=1e-7)
    assert frame.loc[4, "role"] == "predicted" and frame.loc[9, "role"] == "true class"
    assert (frame.drop(index=[4, 9])["role"] == "other").all()
    spec = charts.probabilities(frame).to_dict()
    bars, labels = spec["layer"]
    assert bars["mark"]["type"] == "bar" and labels["mark"]["type"] == "text"
    assert len(spec["datasets"][spec["data"]["name"]]) == 10
    assert bars["encoding"]["y"]["sort"] == list(CLASSES)
    assert bars["encoding"]["color"]["scale"]["domain"] == ["predicted", "true class", "other"]


def test_sentence_when_right():
    pred = Prediction(logits=torch.zeros(10), probs=torch.tensor([0.05] * 9 + [0.55]))
    assert report.prediction_sentence(pred, 9) == "The network thinks this is an Ankle boot (55.0\u00a0%), and it is right."
    assert (
        report.prediction_sentence(pred, 0) == "The network thinks this is an Ankle boot (55.0\u00a0%); it is a T-shirt/top (5.0\u00a0%)."
    )


def test_w3_frames_and_heatmap(lesson_step):
    frame = report.w3_change_frame(lesson_step)
    assert len(frame) == 4096
    row = frame[(frame.row == 7) & (frame.column == 2)].iloc[0]
    assert row.before == float(lesson_step.w3_before[7, 2]) and row.after == float(lesson_step.w3_after[7, 2])
    assert row.change == float(lesson_step.w3_after[7, 2] - lesson_step.w3_before[7, 2])
    top = report.top_moves(lesson_step, 12)
    expected = torch.sort(lesson_step.w3_delta.abs().flatten(), descending=True, stable=True).indices[:12]
    assert list(top.row * 64 + top.column) == expected.tolist()
    spec = charts.w3_heatmap(frame).to_dict()
    assert spec["mark"]["type"] == "rect"
    color = spec["encoding"]["color"]
    assert color["field"] == "change" and color["scale"]["scheme"] == "blueorange"
    lo, hi = color["scale"]["domain"]
    assert lo == -hi == -float(lesson_step.w3_delta.abs().max())  # symmetric around zero
    assert color["legend"]["title"] == "change in W3"
    assert {t["field"] for t in spec["encoding"]["tooltip"]} == {"row", "column", "before", "after", "change", "gradient"}


def test_lesson_step_texts(lesson_step):
    assert report.moved_summary(lesson_step).startswith("100.0% of W3's 4,096 entries moved (4,096)")
    assert "lr=0.0005" in report.lr_discrepancy(LESSON)
    assert report.lr_discrepancy(MODERN) is None
    layers = report.layer_updates_frame(lesson_step)
    assert list(layers.layer) == ["W1", "W2", "W3", "W4"]
    assert layers.loc[2, "weight entries moved"] == 1.0


def test_image_png_is_the_image(real_data):
    from io import BytesIO

    from PIL import Image

    image, _ = real_data.image("train", 0)
    png = Image.open(BytesIO(report.image_png(image, size=280)))
    assert png.size == (280, 280)
    small = torch.from_numpy(np.array(png.resize((28, 28), Image.Resampling.NEAREST)))
    assert torch.equal(small, image)


@pytest.mark.parametrize(
    ("params", "expected", "notices"),
    [
        ({}, ("train", 0), 0),
        ({"split": "test", "index": "42"}, ("test", 42), 0),
        ({"split": "test", "index": "10000"}, ("test", 0), 1),
        ({"split": "../etc", "index": "3"}, ("train", 3), 1),
        ({"index": "-1"}, ("train", 0), 1),
        ({"index": "nan"}, ("train", 0), 1),
        ({"index": "1e3"}, ("train", 0), 1),
        ({"index": "<script>alert(1)</script>"}, ("train", 0), 1),
        ({"index": "9" * 500}, ("train", 0), 1),
        ({"index": ""}, ("train", 0), 1),
        ({"index": ["1", "2"]}, ("train", 2), 0),
        ({"unknown": "x"}, ("train", 0), 0),
    ],
)
def test_link_parameters(params, expected, notices):
    ref, said = parse_selection(params, {"train": 60000, "test": 10000})
    assert (ref.split, ref.index) == expected
    assert len(said) == notices
    assert all(len(n) < 200 for n in said)


@pytest.mark.parametrize("settings", [LESSON, MODERN], ids=["lesson", "modern"])
def test_why_it_moved_counts_match_plain_pytorch(real_data, settings):
    from plain_reference import PlainRun

    learner = Learner(settings)
    plain = PlainRun(learner, settings).step(*real_data.image("train", 0))
    step = learner.train_step(*real_data.image("train", 0))
    grad = plain["grad"]
    delta = plain["after"]["4.weight"] - plain["before"]["4.weight"]
    still_rows, still_cols = int((delta == 0).all(1).sum()), int((delta == 0).all(0).sum())
    text = report.why_it_moved(step)
    if settings == MODERN:
        # The measured facts: only 26 % of W3 moves, 36 rows and 26 columns not at all.
        assert (still_rows, still_cols) == (36, 26)
        assert round(100 * float((delta != 0).float().mean())) == 26
        assert f"{still_rows} rows and {still_cols} columns did not move at all" in text
        assert f"({int((grad == 0).all(1).sum())} rows this step" in text
    else:
        assert still_rows == still_cols == 0 and "did not move" not in text
        # Adam's first step: every entry moves by lr to within 0.02 %.
        assert torch.allclose(delta.abs(), torch.full_like(delta, settings.lr), rtol=2e-4, atol=0)
        assert "64 of the 64 rows that moved moved all one way" in text


@pytest.mark.parametrize("lr", [0.005, 1e6])
def test_history_chart_labels_the_range_of_its_values(real_data, lr):
    """The history's two log-like axes label values around every loss and update size a learner can reach
    (lr up to 1e6): a symlog scale's own ticks (0, 1, 2) would leave a loss of 0.016 nothing to be read against."""
    import contextlib
    import dataclasses

    from fashionnet import timeline
    from fashionnet.learner import StepRefused

    learner = Learner(dataclasses.replace(LESSON, lr=lr))
    for index in range(3):
        with contextlib.suppress(StepRefused):  # a step that blows up is refused and not kept
            learner.train_step(*real_data.image("train", index))
    assert learner.history, "no step was kept"
    long = timeline.history_long(timeline.history_frame(learner))
    loss, size = charts.timeline(long).to_dict()["vconcat"]
    for panel, chart in (("loss", loss), ("update size", size)):
        values = long[long["panel"] == panel]["value"]
        axis = chart["encoding"]["y"]["axis"]
        ticks, scale = axis["values"], chart["encoding"]["y"]["scale"]
        assert axis["format"] == ".6~g" and scale["type"] == "symlog"  # a precision: Vega would derive one from the tick step (10 as 1e+1)
        # the axis runs from a label at or under the smallest value to one at or over the largest (a loss can be
        # exactly 0 after a huge step), and labels only what is inside it
        assert scale["domain"] == [min(ticks), max(ticks)]
        assert min(ticks) <= values.min() and max(ticks) >= values.max(), (panel, values.min(), values.max())
        assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks) and len(ticks) >= 2
        # both panels run over the same points, from the start to the last entry
        assert chart["encoding"]["x"]["scale"]["domain"] == [-0.5, len(learner.history) + 0.5]


def test_a_change_that_rounds_to_zero_gets_no_arrow():
    assert report.metric_arrow("+0.0000", "inverse") == {"delta_color": "off", "delta_arrow": "off"}
    assert report.metric_arrow("-0.0") == {"delta_color": "off", "delta_arrow": "off"}
    assert report.metric_arrow("+0.0001", "inverse") == {"delta_color": "inverse"}
    assert report.metric_arrow("-2.5") == {"delta_color": "normal"}


def test_counts_read_as_english():
    assert [report.count(n, "history entry") for n in (0, 1, 2)] == ["0 history entries", "1 history entry", "2 history entries"]
    assert [report.count(n, "training run") for n in (1, 3)] == ["1 training run", "3 training runs"]
    assert report.count(1_000, "day") == "1,000 days"
