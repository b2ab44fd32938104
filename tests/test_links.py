"""Links: every state the app can be in survives a round trip through URL parameters; odd values never raise."""

from __future__ import annotations

import pytest

from fashionnet.learner import ImageRef
from fashionnet.links import MAX_LINK_STEPS, link_params, parse_selection, parse_settings, parse_steps
from fashionnet.settings import LESSON, MODERN, Settings

SIZES = {"train": 60000, "test": 10000}


@pytest.mark.parametrize(
    "settings",
    [LESSON, MODERN, Settings(seed=2**31 - 1, activation="relu", scale_inputs=False, optimizer="sgd", lr=0.1 + 0.2), Settings(lr=1e-6)],
)
def test_round_trip(settings):
    refs = [ImageRef("train", 0), ImageRef("test", 9999), ImageRef("train", 59999)]
    params, notice = link_params(ImageRef("test", 42), settings, refs)
    assert notice is None
    assert parse_settings(params) == (settings, [])
    assert parse_steps(params, SIZES) == (refs, [])
    assert parse_selection(params, SIZES) == (ImageRef("test", 42), [])
    if settings == LESSON:
        assert set(params) == {"split", "index", "steps"}  # the Lesson preset needs no settings in the link


def test_long_histories_do_not_go_into_links():
    refs = [ImageRef("train", i) for i in range(MAX_LINK_STEPS + 1)]
    params, notice = link_params(ImageRef("train", 0), LESSON, refs)
    assert "steps" not in params and "progress file" in notice
    steps, notices = parse_steps({"steps": ".".join(["t1"] * (MAX_LINK_STEPS + 1))}, SIZES)
    assert steps == [] and "at most" in notices[0]


@pytest.mark.parametrize("steps", ["t", "x1", "t-1", "t60000", "e10000", "t1..t2", "t1e5", "t" + "9" * 40, "t١", "<script>", "t1.t2.", " "])
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
