"""Links: every state the app can be in survives a round trip through URL parameters; odd values never raise."""

from __future__ import annotations

import pytest
import torch

from fashionnet.learner import ImageRef, RunRecord, RunSpec, StepRecord
from fashionnet.links import MAX_LINK_BATCHES, MAX_LINK_STEPS, link_params, parse_selection, parse_settings, parse_steps
from fashionnet.settings import LESSON, MODERN, Settings

SIZES = {"train": 60000, "test": 10000}


def step(ref: ImageRef | None) -> StepRecord:
    return StepRecord(1, ref, bytes(784), 0, "adam", 0.005, 1.0, 0.5, 0.1, 0.2, 0.01)


def run(batch_size: int, batches: int, seed: int) -> RunRecord:
    return RunRecord(1, batch_size, batches, batches, seed, "adam", 0.001, "full:60000", 2.3, 0.4, 1.0, torch.zeros(batches), (), "done")


@pytest.mark.parametrize(
    "settings",
    [LESSON, MODERN, Settings(seed=2**31 - 1, activation="relu", scale_inputs=False, optimizer="sgd", lr=0.1 + 0.2), Settings(lr=1e-6)],
)
def test_round_trip(settings):
    refs = [ImageRef("train", 0), ImageRef("test", 9999), ImageRef("train", 59999)]
    runs = [run(64, 938, 7), run(1, 1, 0), run(1024, 18_760, 2**40)]
    history = [step(refs[0]), runs[0], step(refs[1]), runs[1], step(refs[2]), runs[2]]
    params, notice = link_params(ImageRef("test", 42), settings, history)
    assert notice is None
    assert parse_settings(params) == (settings, [])
    specs = [RunSpec(64, 938, 7), RunSpec(1, 1, 0), RunSpec(1024, 18_760, 2**40)]
    assert parse_steps(params, SIZES) == ([refs[0], specs[0], refs[1], specs[1], refs[2], specs[2]], [])
    assert parse_selection(params, SIZES) == (ImageRef("test", 42), [])
    if settings == LESSON:
        assert set(params) == {"split", "index", "steps"}  # the Lesson preset needs no settings in the link


def test_long_histories_do_not_go_into_links():
    refs = [step(ImageRef("train", i)) for i in range(MAX_LINK_STEPS + 1)]
    params, notice = link_params(ImageRef("train", 0), LESSON, refs)
    assert "steps" not in params and "progress file" in notice
    steps, notices = parse_steps({"steps": ".".join(["t1"] * (MAX_LINK_STEPS + 1))}, SIZES)
    assert steps == [] and "at most" in notices[0]
    params, notice = link_params(ImageRef("train", 0), LESSON, [run(64, MAX_LINK_BATCHES // 2, 0), run(64, MAX_LINK_BATCHES // 2 + 1, 1)])
    assert "steps" not in params and "too many" in notice
    steps, notices = parse_steps({"steps": f"r64x{MAX_LINK_BATCHES // 2}x0.r64x{MAX_LINK_BATCHES // 2}x1.r1x1x0"}, SIZES)
    assert steps == [] and "more than" in notices[0]


def test_steps_on_own_photos_do_not_go_into_links():
    params, notice = link_params(ImageRef("photo", 0), LESSON, [step(ImageRef("train", 3)), step(None)])
    assert "steps" not in params and "split" not in params and "own photo" in notice


@pytest.mark.parametrize("steps", ["t", "x1", "t-1", "t60000", "e10000", "t1..t2", "t1e5", "t" + "9" * 40, "t١", "<script>", "t1.t2.", " ",
     "r", "r64", "r64x10", "r0x10x1", "r64x0x1", "r2000x1x1", "r64x99999999x1", "r64x-1x1", "r64x1x1x1", "r6.4x1x1", "rxx"])  # fmt: skip
def test_bad_steps_are_dropped_with_a_notice(steps):
    refs, notices = parse_steps({"steps": steps}, SIZES)
    assert refs == [] and len(notices) == 1 and len(notices[0]) < 200


@pytest.mark.parametrize(
    ("name", "value"),
    [("seed", "-1"), ("seed", "1e3"), ("seed", "99999999999"), ("act", "tanh"), ("scale", "yes"), ("opt", "rmsprop"), ("lr", "nan"),
     ("lr", "inf"), ("lr", "-0.1"), ("lr", "0"), ("lr", "1e9"), ("lr", "x" * 1000)],
)  # fmt: skip
def test_bad_settings_fall_back_with_a_notice(name, value):
    settings, notices = parse_settings({name: value})
    assert settings == LESSON
    assert len(notices) == 1 and f"link's {name}" in notices[0] and len(notices[0]) < 200


def test_notices_say_values_as_the_app_shows_them():
    """A notice names what the link asked for and what is used instead in the app's own words (not Python's)."""
    _, notices = parse_selection({"index": "-1"}, SIZES)
    assert notices == [f"The link's image index `-1` is below 0: train images are 0 to {SIZES['train'] - 1:,}; showing image 0."]
    # A whole number too large is out of range, however many digits it has; only text that is no number is "not a whole number".
    last = f"{SIZES['test'] - 1:,}"
    for index, asked in (("10000", "10,000"), ("999999999", "999,999,999"), ("99999999999999999999", "`99999999999999999999`")):
        ref, notices = parse_selection({"split": "test", "index": index}, SIZES)
        assert ref.index == 0
        assert notices == [f"The link asks for test image {asked}, but that set has images 0 to {last}; showing image 0."]
    for index in ("1.5", "1e3", "seven", "٣"):
        _, notices = parse_selection({"index": index}, SIZES)
        assert notices == [f"The link's image index `{index}` is not a whole number; showing image 0."]
    for name, value, used in (("scale", "2", "inputs 0–255 (raw)"), ("opt", "rmsprop", "Adam"), ("lr", "1e9", "0.005")):
        _, notices = parse_settings({name: value})
        assert notices == [f"The link's {name} `{value}` is not valid; using {used}."]
        assert "False" not in notices[0] and "adam" not in notices[0]
