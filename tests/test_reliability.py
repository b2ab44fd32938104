"""Reliability and security (issue 9): nothing a learner does, types into a link or uploads breaks the app,
loses progress or runs code.

Each test injects one kind of fault and checks the protection itself: the exact notice or message, and that
the state is the safe value or exactly what it was before (bit for bit), so that removing a protection fails
a test. ``docs/reliability.md`` lists every case with the test that checks it.

The browser tests at the end (marker ``browser``) drive real servers: concurrent learners, a dropped
websocket, a restarted server, and a hostile link in Chromium.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import pickle
import re
import threading
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import test_browser
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from streamlit.testing.v1 import AppTest
from test_browser import open_sidebar_section, printouts, sidebar_steps, train_step

from browser_support import StreamlitServer, rerun_and_wait, wait_for_app
from conftest import ROOT, learner_state, same_state, write_idx
from fashionnet import progress
from fashionnet.data import CLASSES, FashionData
from fashionnet.learner import ImageRef, Learner, RunSpec, StepRefused
from fashionnet.lesson import CELLS
from fashionnet.links import (
    KNOWN_PARAMS,
    MAX_LINK_STEPS,
    parse_extras,
    parse_lesson_step,
    parse_presenter,
    parse_selection,
    parse_settings,
    parse_steps,
)
from fashionnet.settings import LESSON, LR_RANGE, MODERN, Settings
from plain_reference import PlainRun

SIZES = {"train": 60000, "test": 10000}
LESSON_CELLS = len(CELLS)
# Every page the router registers, as (file, title), read from the router so that a new page is covered too.
PAGES = list(dict.fromkeys(re.findall(r'st\.Page\(\s*"(pages/\w+\.py)",\s*title="([^"]+)"', (ROOT / "ui" / "router.py").read_text())))
LINK_ICON = ":material/link:"
pages = test_browser.pages  # the browser tests' fixture (`browser` and `cache_dir` are conftest's, one per session)


# --- helpers ------------------------------------------------------------------------------------------------


def open_app(page: str | None = None, params: dict | None = None) -> AppTest:
    """A new session, opened first at ``page`` (a file under pages/) with these URL parameters."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if page:
        at.switch_page(page)  # before the first run: the page a shared link opens at
    at.query_params.update(params or {})
    return at.run()


def link_notices(at: AppTest) -> list[str]:
    return [i.value for i in at.info if i.proto.icon == LINK_ICON]


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not any("Traceback" in e.value for e in at.error)


def flat_query(at: AppTest) -> dict[str, str]:
    return {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()}


def assert_one_safe_line(notice: str) -> None:
    """A notice is short and one line, and anything from the link in it sits inside one code span."""
    assert len(notice) < 220, notice
    assert notice.isprintable(), f"control characters or a line break in the notice: {notice!r}"
    assert notice.count("`") % 2 == 0, notice


# --- URL parameters -----------------------------------------------------------------------------------------


def _each(value: str, **special: str) -> dict[str, str]:
    return {name: special.get(name, value) for name in KNOWN_PARAMS}


# One bad value of every parameter the app reads, per class of bad value.
BAD_VALUES = {
    "negative": _each("-1", lr="-0.005", steps="t-1", pin="-1,0"),
    "huge": _each("9" * 30, index="999999999", seed="99999999999", lr="1e308", steps="t999999", lesson="999", pin="64,63"),
    "non-numeric": _each(
        "abc", split="training", seed="1e3", act="tanh", scale="true", opt="rmsprop", lr="fast", steps="tabc", present="yes", pin="a,b"
    ),
    "unicode digits": _each("١٢", seed="５", lr="½", steps="t١", lesson="²", present="１", pin="١,٢", scale="١"),
    "NaN": _each("nan", steps="tnan", pin="nan,nan"),
    "infinite": _each("inf", seed="-inf", lr="1e999", steps="tinf", pin="inf,0"),
    "markup and script": _each("<script>alert(1)</script>", steps="t<img src=x onerror=alert(1)>", pin="<b>1</b>,2"),
    "markdown after a line break": _each("0\n\n[Click me](https://evil.example) # Heading"),
    "path tricks": _each("../../../etc/passwd", steps="t../../etc/passwd", pin="../0,0"),
    "control characters": _each("1\x00\u202e\r"),
    "empty": _each(""),
    "very long": _each("9" * 5000, lr="0." + "0" * 4990 + "1", steps=".".join(["t0"] * (MAX_LINK_STEPS + 1)), pin="9" * 5000 + ",0"),
}
# What the notice about each parameter starts with.
NOTICE_OF = {
    "split": ("The link's image set",),
    "index": ("The link's image index", "The link asks for"),
    **{name: (f"The link's {name} ",) for name in ("seed", "act", "scale", "opt", "lr")},
    "steps": ("The link's steps", "The link carries"),
    "lesson": ("The link's lesson step",),
    "present": ("The link's present",),
    "pin": ("The link's pin",),
}


def test_every_parameter_the_app_reads_is_covered():
    assert (
        set(NOTICE_OF) == set(KNOWN_PARAMS) == {"split", "index", "seed", "act", "scale", "opt", "lr", "steps", "lesson", "present", "pin"}
    )
    assert all(set(values) == set(KNOWN_PARAMS) for values in BAD_VALUES.values())
    assert len(PAGES) >= 6, PAGES


def parse_all(params: dict) -> tuple[dict, list[str]]:
    """Everything the router reads from a link, as the router reads it, and all the notices."""
    selection, n1 = parse_selection(params, SIZES)
    settings_, n2 = parse_settings(params)
    steps, n3 = parse_steps(params, SIZES)
    lesson, n4 = parse_lesson_step(params, LESSON_CELLS)
    present, pin, n5 = parse_presenter(params)
    state = {"selection": selection, "settings": settings_, "steps": steps, "lesson": lesson, "present": present, "pin": pin}
    return state, n1 + n2 + n3 + n4 + n5 + parse_extras(params)


SAFE = {"selection": ImageRef("train", 0), "settings": LESSON, "steps": [], "lesson": 0, "present": False, "pin": None}


@pytest.mark.parametrize("kind", BAD_VALUES)
@pytest.mark.parametrize("name", KNOWN_PARAMS)
def test_each_bad_value_of_each_parameter_falls_back_with_one_notice(name, kind):
    value = BAD_VALUES[kind][name]
    state, notices = parse_all({name: value})
    assert state == SAFE
    if name == "steps" and value == "":
        assert notices == []  # an empty steps= is no steps, as a link with none
        return
    assert len(notices) == 1, notices
    assert notices[0].startswith(NOTICE_OF[name]), notices
    assert_one_safe_line(notices[0])


def page_cases() -> list[tuple[str, str, str]]:
    """Every class of bad value on the Predict page (where "/" opens), and every page with two classes in turn.

    Every class leads to the same safe state (the test above), so what differs between pages is only how each page
    draws that state; the notices come from the router, the same on every page.
    """
    kinds = list(BAD_VALUES)
    cases = [("pages/predict.py", "Predict", kind) for kind in kinds]
    for i, (page, title) in enumerate(PAGES):
        cases += [(page, title, kinds[(2 * i + j) % len(kinds)]) for j in (0, 1) if page != "pages/predict.py"]
    return cases


@pytest.mark.parametrize(("page", "title", "kind"), page_cases())
def test_every_page_opens_with_safe_values_and_a_notice_per_bad_parameter(page, title, kind):
    """All eleven parameters bad at once, as the first visit of a session on a page."""
    at = open_app(page, BAD_VALUES[kind])
    assert_no_exception(at)
    assert at.title[0].value == title
    ss = at.session_state
    assert ss.selection == ImageRef("train", 0)
    assert ss.learner.settings == LESSON and ss.learner.steps_taken == 0 and ss.learner.history == []
    assert (ss.lesson_step, ss.presenter, ss.pin_on) == (0, False, False)
    notices = link_notices(at)
    expected = [n for n in KNOWN_PARAMS if not (n == "steps" and BAD_VALUES[kind][n] == "")]
    for name in expected:
        assert sum(n.startswith(NOTICE_OF[name]) for n in notices) == 1, (name, notices)
    assert len(notices) == len(expected), notices
    for notice in notices:
        assert_one_safe_line(notice)
    # The address bar is rewritten to the safe values: nothing of the bad link stays in it.
    wanted = {"split": "train", "index": "0"} | ({"lesson": "0"} if page == "pages/lesson.py" else {})
    assert flat_query(at) == wanted


def test_a_line_break_cannot_smuggle_markdown_into_a_notice():
    _, notices = parse_all({"index": "x\n\n[Click me](https://evil.example)"})
    assert notices == ["The link's image index `x\ufffd\ufffd[Click me](https://evil.example)` is not a whole number; showing image 0."]


def test_repeated_keys_use_the_last_value_and_say_so():
    at = open_app("pages/train.py", {"index": ["7", "oops", "5"], "split": ["train", "test"]})
    assert_no_exception(at)
    assert at.session_state.selection == ImageRef("test", 5)
    notices = link_notices(at)
    assert "The link gives `index` 3 times; using the last one, `5`." in notices
    assert "The link gives `split` 2 times; using the last one, `test`." in notices
    assert len(notices) == 2
    assert flat_query(at) == {"split": "test", "index": "5"}


def test_unknown_keys_are_ignored_with_a_notice_and_leave_the_address():
    params = {"foo": "bar", "__proto__": "x", "Index": "5", "<script>": "1", "utm_source": "mail", "fbclid": "abc"}
    at = open_app(None, params)
    assert_no_exception(at)
    assert at.session_state.selection == ImageRef("train", 0)
    assert link_notices(at) == ["The link's `foo`, `__proto__`, `Index` and 1 more are not parameters of this app; ignored."]
    assert flat_query(at) == {"split": "train", "index": "0"}  # unknown keys, tracking ones too, leave the address bar


def test_one_unknown_key():
    assert parse_extras({"idx": "5"}) == ["The link's `idx` is not a parameter of this app; ignored."]
    assert parse_extras({"utm_campaign": "x", "gclid": "y", "index": "1"}) == []


link_text = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"[te]?-?[0-9١５]{0,7}(\.[ter]?[0-9x]{0,7}){0,4}", fullmatch=True),
    st.from_regex(r"-?[0-9]{0,3},-?[0-9]{0,3}", fullmatch=True),
    st.from_regex(r"[-+]?([0-9]*\.?[0-9]*(e[-+]?[0-9]{1,3})?|nan|inf)", fullmatch=True),
    st.sampled_from(["train", "test", "relu", "sigmoid", "adam", "sgd", "0", "1", "63,63"]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(KNOWN_PARAMS), st.text(max_size=6)), st.one_of(link_text, st.lists(link_text, min_size=1, max_size=3))
    )
)
def test_any_link_parses_to_valid_values_and_short_one_line_notices(params):
    state, notices = parse_all(params)
    sel = state["selection"]
    assert sel.split in SIZES and 0 <= sel.index < SIZES[sel.split]
    assert state["settings"].validated() == state["settings"]
    assert len(state["steps"]) <= MAX_LINK_STEPS
    assert all(isinstance(s, RunSpec) or (s.split in SIZES and 0 <= s.index < SIZES[s.split]) for s in state["steps"])
    assert 0 <= state["lesson"] < LESSON_CELLS
    assert state["pin"] is None or all(0 <= v < 64 for v in state["pin"])
    for notice in notices:
        assert_one_safe_line(notice)


# --- learning rates that blow up ----------------------------------------------------------------------------


def take_until_refused(learner: Learner, data: FashionData, limit: int = 8):
    """Steps on training images 0, 1, ... until one is refused: (what the learner had just before, the refusal, i)."""
    for i in range(limit):
        before = (learner_state(learner), list(learner.history), learner.cursor, learner.last_report)
        try:
            learner.train_step(*data.image("train", i), ImageRef("train", i))
        except StepRefused as err:
            return before, err, i
    return None, None, None


BLOW_UPS = [
    Settings(activation="relu", scale_inputs=True, optimizer="sgd", lr=10.0),
    Settings(activation="relu", scale_inputs=False, optimizer="sgd", lr=1e3),
    Settings(seed=5, activation="relu", scale_inputs=True, optimizer="sgd", lr=1e6),
]


@pytest.mark.realdata
@pytest.mark.parametrize("blowing", BLOW_UPS, ids=lambda s: f"{s.optimizer}-lr{s.lr:g}-{'scaled' if s.scale_inputs else 'raw'}")
def test_a_step_that_would_blow_up_is_refused_and_rolled_back_exactly(real_data, blowing):
    learner = Learner(blowing)
    before, err, i = take_until_refused(learner, real_data)
    assert err is not None, "no step blew up: the case tests nothing"
    state, history, cursor, report = before
    assert str(err) == (
        f"This step (lr {blowing.lr:g}) would have made the loss, some weights or the optimizer's state infinite or NaN, "
        "so it was undone: "
        "your weights and optimizer are exactly as before. Try a smaller learning rate."
    )
    assert same_state(learner_state(learner), state)  # every weight and every optimizer buffer
    assert learner.history == history and learner.cursor == cursor and learner.last_report is report
    # Without the protection: the same step in plain PyTorch, from the same weights, is not finite.
    run = PlainRun(Learner(blowing), blowing)
    for k in range(i):
        run.step(*real_data.image("train", k))
    out = run.step(*real_data.image("train", i))
    finite = math.isfinite(out["loss_before"]) and math.isfinite(out["loss_after"])
    assert not (finite and all(torch.isfinite(v).all() for v in out["after"].values()))
    # The learner carries on: undo is exact, and a step with a sane lr works.
    learner.undo()
    assert learner.cursor == cursor - 1
    learner.reset(Settings(**{**blowing.__dict__, "lr": 0.01}))
    learner.train_step(*real_data.image("train", i))
    assert learner.steps_taken == 1


@pytest.mark.realdata
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_any_learning_rate_a_widget_or_link_can_give_keeps_the_weights_finite(real_data, optimizer, activation):
    for lr in (LR_RANGE[0], 0.5, 10.0, 1e3, LR_RANGE[1]):
        learner = Learner(Settings(activation=activation, scale_inputs=activation == "relu", optimizer=optimizer, lr=lr))
        for i in range(6):
            with contextlib.suppress(StepRefused):  # refused and rolled back, or taken
                learner.train_step(*real_data.image("train", i))
            assert all(torch.isfinite(v).all() for v in learner.net.state_dict().values())
            assert all(math.isfinite(r.loss_after) and math.isfinite(r.loss_before) for r in learner.history)


@pytest.mark.realdata
def test_a_step_that_overflows_adams_buffers_is_refused_too(real_data):
    """ReLU, Adam, lr 1e6: the second step squares gradients of ~1e20, so exp_avg_sq becomes inf; from then on
    those weights never move again (m / sqrt(inf) = 0), and the Train page explains a step with v = inf."""
    learner = Learner(Settings(activation="relu", scale_inputs=True, optimizer="adam", lr=1e6))
    for i in range(2):
        with contextlib.suppress(StepRefused):
            learner.train_step(*real_data.image("train", i))
    assert all(torch.isfinite(v).all() for v in learner_state(learner).values())


BLOWING_LINK = {"act": "relu", "scale": "1", "opt": "sgd", "lr": "1000000.0"}


@pytest.mark.realdata
def test_the_train_page_refuses_a_blow_up_and_keeps_everything(real_data):
    at = open_app("pages/train.py", BLOWING_LINK)
    at.button(key="train_step").click().run()
    assert at.session_state.learner.steps_taken == 1
    learner = at.session_state.learner
    state, history, query = learner_state(learner), list(learner.history), flat_query(at)
    at.run()  # the whole page back in AppTest's tree: the step reran only the Train panel and the live sidebar
    at.number_input(key="pick_index").set_value(1).run()
    at.button(key="train_step").click().run()
    assert_no_exception(at)
    assert [w.value for w in at.warning if "infinite or NaN" in w.value] == [
        "This step (lr 1e+06) would have made the loss, some weights or the optimizer's state infinite or NaN, "
        "so it was undone: your weights and "
        "optimizer are exactly as before. Try a smaller learning rate."
    ]
    assert at.session_state.learner is learner and same_state(learner_state(learner), state)
    assert learner.history == history
    assert flat_query(at) == {**query, "index": "1"}  # only the selection moved; the link's steps are the same


@pytest.mark.realdata
def test_the_lesson_page_refuses_a_blow_up_and_keeps_everything(real_data):
    at = open_app("pages/lesson.py", {**BLOWING_LINK, "steps": "t0", "index": "1", "lesson": "5"})
    assert at.session_state.lesson_step == 5
    learner = at.session_state.learner
    state, history = learner_state(learner), list(learner.history)
    at.button(key="lesson_run").click().run()  # a step on training image 1 after one on image 0 blows up
    assert_no_exception(at)
    assert [e.value for e in at.error if "infinite or NaN" in e.value] == [
        "This step (lr 1e+06) would have made the loss, some weights or the optimizer's state infinite or NaN, "
        "so it was undone: your weights and "
        "optimizer are exactly as before. Try a smaller learning rate."
    ]
    assert at.session_state.learner is learner and same_state(learner_state(learner), state) and learner.history == history


@pytest.mark.realdata
def test_a_link_whose_steps_blow_up_stops_at_the_last_good_step(real_data):
    at = open_app("pages/train.py", {**BLOWING_LINK, "steps": "t0.t1.t2"})
    assert_no_exception(at)
    assert at.session_state.learner.steps_taken == 1
    assert link_notices(at) == [
        "Rebuilt your model from this link: 1 step replayed.",
        "The link's step 2 would blow up the weights with these settings; stopped after step 1.",
    ]
    assert flat_query(at)["steps"] == "t0"


@pytest.mark.realdata
def test_the_why_page_opens_after_a_step_with_a_large_learning_rate(real_data):
    at = open_app("pages/why.py", {"lr": "11", "steps": "t0"})
    assert_no_exception(at)


@pytest.mark.realdata
def test_the_claim_page_opens_with_a_large_learning_rate(real_data):
    at = open_app("pages/claim.py", {"lr": "11"})
    assert_no_exception(at)


# --- uploads: progress files ----------------------------------------------------------------------------------


class Evil:
    """A pickle that creates ``marker`` when unpickled: proof that code in the file ran."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def rewrite(data: bytes, tensors: dict | None = None, meta: dict | None = None) -> bytes:
    """A progress file with some tensors or metadata replaced (a tampered file that is still valid safetensors)."""
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]
    out = dict(st_load(data))
    out.update(tensors or {})
    return st_save(out, metadata={**header, **(meta or {})})


def history_of(data: bytes) -> list[dict]:
    return json.loads(json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]["history"])


def png_bytes() -> bytes:
    from fashionnet.report import image_png

    return image_png(torch.zeros(28, 28, dtype=torch.uint8))


@pytest.fixture(scope="module")
def saved_file(real_data) -> bytes:
    """A real progress file: the Modern preset, three steps on training images 10..12."""
    learner = Learner(MODERN)
    for i in (10, 11, 12):
        learner.train_step(*real_data.image("train", i), ImageRef("train", i))
    return progress.dumps(learner)


def _with_history(good: bytes, change) -> bytes:
    return rewrite(good, meta={"history": json.dumps([change(h) for h in history_of(good)])})


def _pixels(good: bytes) -> torch.Tensor:
    return st_load(good)["history.pixels"]


def _torch_save(obj, folder: Path) -> bytes:
    torch.save(obj, folder / "model.pt")
    return (folder / "model.pt").read_bytes()


# Every bad upload tried: how to make it from a good file (and the pickle's marker file), and how the message starts.
BAD_FILES = {
    "empty file": (lambda good, marker: b"", "The file is empty."),
    "random bytes": (lambda good, marker: os.urandom(4096), "This is not a progress file"),
    "truncated file": (lambda good, marker: good[: len(good) // 2], "This is not a progress file"),
    "first 7 bytes only": (lambda good, marker: good[:7], "This is not a progress file"),
    "pickle that runs code": (lambda good, marker: pickle.dumps(Evil(), protocol=4), "This is a pickle or a zip"),
    "pickle, text protocol 0": (lambda good, marker: pickle.dumps(Evil(), protocol=0), "This is not a progress file"),
    "torch.save file with a pickle inside": (lambda good, marker: _torch_save({"w": Evil()}, marker.parent), "This is a pickle or a zip"),
    "a PNG named .safetensors": (lambda good, marker: png_bytes(), "This is not a progress file"),
    "larger than the limit": (lambda good, marker: good + bytes(progress.MAX_BYTES), "The file is"),
    "another safetensors file": (
        lambda good, marker: st_save({"x": torch.zeros(3)}, metadata={"format": "x"}),
        "This safetensors file is not",
    ),
    "future format version": (lambda good, marker: rewrite(good, meta={"version": "2"}), "This progress file has format version '2'"),
    "different architecture": (
        lambda good, marker: rewrite(good, {"weights.W1.weight": torch.zeros(32, 784)}),
        "The progress file is for a different network",
    ),
    "NaN weights": (
        lambda good, marker: rewrite(good, {"weights.W3.weight": torch.full((64, 64), float("nan"))}),
        "The progress file's W3.weight holds NaN",
    ),
    "infinite bias": (
        lambda good, marker: rewrite(good, {"weights.W4.bias": torch.full((10,), float("inf"))}),
        "The progress file's W4.bias holds NaN",
    ),
    "settings out of range": (
        lambda good, marker: rewrite(good, meta={"settings": json.dumps({**MODERN.__dict__, "lr": 1e9})}),
        "The progress file's settings are not valid",
    ),
    "tampered history: labels": (
        lambda good, marker: _with_history(good, lambda h: {**h, "label": (h["label"] + 1) % 10}),
        "The file's step history does not reproduce its weights",
    ),
    "tampered history: images": (
        lambda good, marker: rewrite(good, {"history.pixels": _pixels(good).flip(0).contiguous()}),
        "The file's step history does not reproduce its weights",
    ),
    "tampered history: a step removed": (
        lambda good, marker: rewrite(
            good, {"history.pixels": _pixels(good)[:2].contiguous()}, {"history": json.dumps(history_of(good)[:2]), "cursor": "2"}
        ),
        "The file's step history does not reproduce its weights",
    ),
    "history nested 100,000 deep": (
        lambda good, marker: rewrite(good, meta={"history": "[" * 100_000}),
        "The progress file's history is not",
    ),
    "settings nested 100,000 deep": (
        lambda good, marker: rewrite(good, meta={"settings": "{" * 100_000}),
        "The progress file's settings are",
    ),
    "history entries that are not objects": (
        lambda good, marker: rewrite(good, meta={"history": "[1, 2, 3]"}),
        "The progress file's history is malformed",
    ),
    "a number that is a list": (
        lambda good, marker: _with_history(good, lambda h: {**h, "loss_after": [1]}),
        "Step 1 of the progress file's history is malformed",
    ),
    "a loss that is NaN": (
        lambda good, marker: _with_history(good, lambda h: {**h, "loss_after": "nan"}),
        "Step 1 of the progress file's history has impossible values",
    ),
    "a probability above 1": (
        lambda good, marker: _with_history(good, lambda h: {**h, "p_true_after": 7.5}),
        "Step 1 of the progress file's history has impossible values",
    ),
    "an image reference with a negative index": (
        lambda good, marker: _with_history(good, lambda h: {**h, "ref": ["train", -5]}),
        "Step 1 of the progress file's history is malformed",
    ),
    "an image reference that is not a pair": (
        lambda good, marker: _with_history(good, lambda h: {**h, "ref": "t1"}),
        "Step 1 of the progress file's history is malformed",
    ),
    "position out of range": (lambda good, marker: rewrite(good, meta={"cursor": "99"}), "The progress file's position"),
}


def bad_file(name: str, good: bytes, marker: Path) -> bytes:
    Evil.marker = str(marker)
    return BAD_FILES[name][0](good, marker)


@pytest.fixture(scope="module")
def marker(tmp_path_factory) -> Path:
    """The file the pickles create when they are unpickled; it must never appear."""
    return tmp_path_factory.mktemp("pickle") / "code-ran"


def session_with_progress() -> AppTest:
    """A learner two steps in, on test image 3 (on the Predict page, the lightest to draw)."""
    at = open_app(None, {"split": "test", "index": "3", "steps": "t0.t1", "opt": "sgd", "lr": "0.1"})
    assert at.session_state.learner.steps_taken == 2
    return open_save_and_resume(at)


def open_save_and_resume(at: AppTest) -> AppTest:
    """Open the sidebar's "Save and resume" (built only while open), as a learner does before uploading."""
    at.session_state["save_open"] = True
    return at.run()


def snapshot(at: AppTest) -> dict:
    learner = at.session_state.learner
    return {
        "learner": learner,
        "state": learner_state(learner),
        "history": list(learner.history),
        "cursor": learner.cursor,
        "settings": learner.settings,
        "selection": at.session_state.selection,
        "query": flat_query(at),
    }


def assert_untouched(at: AppTest, snap: dict) -> None:
    learner = at.session_state.learner
    assert learner is snap["learner"]
    assert same_state(learner_state(learner), snap["state"])
    assert learner.history == snap["history"] and learner.cursor == snap["cursor"] and learner.settings == snap["settings"]
    assert at.session_state.selection == snap["selection"]
    assert flat_query(at) == snap["query"]


@pytest.mark.realdata
@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_progress_file_is_refused_with_a_message_and_the_session_is_untouched(saved_file, marker, case):
    data, message = bad_file(case, saved_file, marker), BAD_FILES[case][1]
    at = session_with_progress()
    snap = snapshot(at)
    at.file_uploader(key="load_progress_0").set_value(("upload.safetensors", data, "application/octet-stream")).run()
    assert_no_exception(at)
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith(f"`upload.safetensors` was not loaded: {message}"), errors
    assert errors[0].endswith("Your model is unchanged.")
    assert len(errors[0]) < 400
    assert_untouched(at, snap)
    assert not marker.exists(), "code inside the uploaded file ran"


@pytest.mark.realdata
def test_the_same_upload_path_loads_a_good_file(saved_file):
    """The control for the refusals above: through the same uploader, a good file does load."""
    at = session_with_progress()
    at.file_uploader(key="load_progress_0").set_value(("good.safetensors", saved_file, "application/octet-stream")).run()
    assert [s.value for s in at.sidebar.success] == ["Loaded `good.safetensors`: step 3 of 3."]
    assert same_state(learner_state(at.session_state.learner), learner_state(progress.loads(saved_file)))
    assert flat_query(at)["steps"] == "t10.t11.t12"


@pytest.mark.realdata
def test_a_pickle_is_never_unpickled_anywhere(tmp_path, saved_file):
    """Belt and braces beside the app test: the code in the pickles does not run in progress.loads either."""
    marker = tmp_path / "code-ran"
    for name in ("pickle that runs code", "pickle, text protocol 0", "torch.save file with a pickle inside"):
        with pytest.raises(progress.ProgressError):
            progress.loads(bad_file(name, saved_file, marker))
    assert not marker.exists()
    pickle.loads(bad_file("pickle that runs code", saved_file, marker))  # the control: unpickled, the payload does run
    assert marker.exists()


@pytest.mark.realdata
def test_a_history_with_edited_loss_numbers_is_refused(saved_file):
    hist = history_of(saved_file)
    with pytest.raises(progress.ProgressError):
        progress.loads(rewrite(saved_file, meta={"history": json.dumps([{**h, "loss_after": 0.0001} for h in hist])}))


@pytest.mark.realdata
def test_image_references_that_are_not_this_servers_images_do_not_go_into_links(saved_file, real_data):
    """A file from another copy of the data (or with edited references) loads, but its link cannot replay other images."""
    hist = history_of(saved_file)
    moved = rewrite(saved_file, meta={"history": json.dumps([{**h, "ref": ["train", h["ref"][1] + 1]} for h in hist])})
    learner = progress.loads(moved, real_data)
    assert [r.ref for r in learner.history] == [None, None, None]
    assert [r.ref for r in progress.loads(saved_file, real_data).history] == [ImageRef("train", i) for i in (10, 11, 12)]
    beyond = rewrite(saved_file, meta={"history": json.dumps([{**h, "ref": ["test", 10_000 + h["ref"][1]]} for h in hist])})
    assert [r.ref for r in progress.loads(beyond, real_data).history] == [None, None, None]


@pytest.mark.realdata
def test_the_upload_limit_is_small_and_a_full_progress_file_fits_it(real_data):
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == 5  # MB
    assert open_save_and_resume(open_app(None)).file_uploader(key="load_progress_0").proto.max_upload_size_mb == 5
    assert progress.MAX_BYTES <= 5 * 1024 * 1024
    # The largest history a file may hold, with the longest numbers a step can record, still fits.
    learner = Learner(MODERN)
    learner.train_step(torch.full((28, 28), 255, dtype=torch.uint8), 9, ImageRef("train", 59999))
    record = learner.history[0]
    worst = {f: 1.2345678901234567e-05 for f in ("loss_before", "loss_after", "p_true_before", "p_true_after", "update_norm", "lr")}
    learner.history = [replace(record, **worst, number=n) for n in range(1, progress.MAX_STEPS + 1)]
    learner.cursor = len(learner.history)
    assert len(progress.dumps(learner)) <= progress.MAX_BYTES


@pytest.fixture(scope="module")
def small_file() -> tuple[bytes, Learner]:
    images = torch.randint(0, 256, (2, 28, 28), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    learner = Learner(MODERN)
    learner.train_step(images[0], 3, ImageRef("train", 1))
    learner.train_step(images[1], 7, ImageRef("test", 2))
    return progress.dumps(learner), learner


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_corruption_of_a_progress_file_is_refused_or_changes_nothing(small_file, data):
    good, learner = small_file
    raw = bytearray(good)
    mode = data.draw(st.sampled_from(["flip", "cut", "splice"]))
    if mode == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    elif mode == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:  # bytes inserted into the JSON header
        at = data.draw(st.integers(8, 8 + int.from_bytes(good[:8], "little")))
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        loaded = progress.loads(bytes(raw))
    except progress.ProgressError as err:
        assert str(err) and len(str(err)) < 300
        return
    assert same_state(learner_state(loaded), learner_state(learner))  # accepted only when it is the same learner


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
RECORD_KEYS = ["ref", "label", "optimizer", "lr", "loss_before", "loss_after", "p_true_before", "p_true_after", "update_norm", "kind"]
SETTINGS_KEYS = ["seed", "activation", "scale_inputs", "optimizer", "lr"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_json_in_a_progress_files_header_is_refused_with_a_message(small_file, data):
    """One value of the header's JSON replaced by any JSON value: refused with a ProgressError, never anything else."""
    good, learner = small_file
    header = json.loads(good[8 : 8 + int.from_bytes(good[:8], "little")])["__metadata__"]
    part = data.draw(st.sampled_from(["a step's field", "a setting", "a whole entry", "the cursor"]))
    if part == "a step's field":
        history = json.loads(header["history"])
        history[data.draw(st.integers(0, 1))][data.draw(st.sampled_from(RECORD_KEYS))] = data.draw(json_value)
        meta = {"history": json.dumps(history)}
    elif part == "a setting":
        key = data.draw(st.sampled_from(SETTINGS_KEYS))
        meta = {"settings": json.dumps({**json.loads(header["settings"]), key: data.draw(json_value)})}
    elif part == "a whole entry":
        meta = {"history": json.dumps([data.draw(json_value), json.loads(header["history"])[1]])}
    else:
        meta = {"cursor": data.draw(st.text(max_size=6))}
    try:
        loaded = progress.loads(rewrite(good, meta=meta))
    except progress.ProgressError as err:
        assert str(err) and len(str(err)) < 300
        return
    # Accepted: only when the change is one the replay cannot see (a display number, an image reference) or none.
    assert same_state(learner_state(loaded), learner_state(learner)) and loaded.settings == learner.settings


# --- uploads: photos (tests/test_photo.py checks each conversion; here, that the session stays as it was) ------------


def _photos() -> dict[str, tuple[str, bytes, str]]:
    """Hostile or unusual photos: (file name, bytes, what the page must say)."""
    from PIL import Image
    from test_photo import encode, picture, png_declaring

    frames = [picture().convert("RGB"), picture(box=(250, 40, 350, 440)).convert("RGB")]
    sixteen = Image.frombytes("I;16", (400, 300), (bytes(2 * 400 * 100) + b"\xff\xf0" * (400 * 100) + bytes(2 * 400 * 100)))
    return {
        "decompression bomb": ("bomb.png", png_declaring(20_000, 20_000), "megapixel limit"),
        "pickle named .jpg": ("cat.jpg", pickle.dumps(Evil(), protocol=4), "Python pickle"),
        "progress file named .png": ("shoe.png", st_save({"x": torch.zeros(3)}), "cannot be used"),
        "RGBA": ("rgba.png", encode(picture("RGBA", background=(0, 0, 0, 0), item=(40, 40, 40, 255)), "PNG"), "transparent"),
        "16-bit greyscale": ("deep.png", encode(sixteen, "PNG"), "16-bit greyscale scaled to 8 bits"),
        "CMYK JPEG": (
            "print.jpg",
            encode(picture("CMYK", background=(0, 0, 0, 0), item=(0, 0, 0, 215)), "JPEG"),
            "CMYK (print colours) converted to RGB",
        ),
        "animated GIF": (
            "anim.gif",
            encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
            "animated GIF: the first of 2 frames was used",
        ),
        "JPEG named .png": ("liar.png", encode(picture().convert("RGB"), "JPEG"), "named .png but it is a JPEG"),
    }


PHOTO_CASES = ["decompression bomb", "pickle named .jpg", "progress file named .png", "RGBA", "16-bit greyscale", "CMYK JPEG",
               "animated GIF", "JPEG named .png"]  # fmt: skip


@pytest.mark.realdata
@pytest.mark.parametrize("case", PHOTO_CASES)
def test_a_photo_upload_never_touches_the_learner(marker, case):
    name, data, says = _photos()[case]
    Evil.marker = str(marker)
    at = open_app("pages/photo.py", {"split": "test", "index": "3", "steps": "t0.t1"})
    snap = snapshot(at)
    at.file_uploader(key="photo_file").set_value((name, data, "application/octet-stream")).run()
    assert_no_exception(at)
    shown = " ".join(e.value for e in [*at.error, *at.markdown, *at.caption])
    assert says in shown, shown[:500]
    if case in ("decompression bomb", "pickle named .jpg", "progress file named .png"):
        assert at.error[0].value.startswith(f"`{name}` cannot be used:")
    assert_untouched(at, snap)  # a photo changes nothing until the learner chooses to use it
    assert not marker.exists()


# --- data problems -------------------------------------------------------------------------------------------


def _cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _make_a_file(folder: Path) -> None:
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    folder.write_text("not a folder")


DATA_FAULTS = {
    # name: (how to break a good tiny folder, the file the notice names, what it says)
    "missing folder": (lambda f: f.rename(f.with_name("gone")), "tiny", "no such folder"),
    "folder is a file": (_make_a_file, "tiny", "no such folder"),
    "train images missing": (lambda f: (f / "train-images-idx3-ubyte.gz").unlink(), "train-images-idx3-ubyte.gz", "file is missing"),
    "train labels missing": (lambda f: (f / "train-labels-idx1-ubyte.gz").unlink(), "train-labels-idx1-ubyte.gz", "file is missing"),
    "test images missing": (lambda f: (f / "t10k-images-idx3-ubyte.gz").unlink(), "t10k-images-idx3-ubyte.gz", "file is missing"),
    "test labels missing": (lambda f: (f / "t10k-labels-idx1-ubyte.gz").unlink(), "t10k-labels-idx1-ubyte.gz", "file is missing"),
    "truncated .gz": (lambda f: _cut(f / "train-images-idx3-ubyte.gz", 200), "train-images-idx3-ubyte.gz", "truncated or not a gzip"),
    "not gzip": (lambda f: (f / "t10k-images-idx3-ubyte.gz").write_bytes(b"<html>404</html>"), "t10k-images-idx3-ubyte.gz", "not a gzip"),
    "empty file": (lambda f: (f / "train-labels-idx1-ubyte.gz").write_bytes(b""), "train-labels-idx1-ubyte.gz", "not a valid IDX label"),
    "wrong magic number": (
        lambda f: write_idx(f / "train-labels-idx1-ubyte.gz", [1, 2, 3], (3,), magic=0x12345678),
        "train-labels-idx1-ubyte.gz",
        "not a valid IDX label file",
    ),
    "truncated inside the gzip": (
        lambda f: (f / "t10k-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(gzip.decompress((f / "t10k-images-idx3-ubyte.gz").read_bytes())[:-99])
        ),
        "t10k-images-idx3-ubyte.gz",
        "not a valid IDX image file",
    ),
    "labels do not match the images": (
        lambda f: write_idx(f / "t10k-labels-idx1-ubyte.gz", [1, 2, 3], (3,)),
        "t10k-labels-idx1-ubyte.gz",
        "has 3 labels for 2 images",
    ),
    "a label out of range": (
        lambda f: write_idx(f / "train-labels-idx1-ubyte.gz", [1, 12, 3], (3,)),
        "train-labels-idx1-ubyte.gz",
        "label 12",
    ),
    "images not 28x28": (
        lambda f: write_idx(f / "train-images-idx3-ubyte.gz", [[1] * 196] * 3, (3, 14, 14)),
        "train-images-idx3-ubyte.gz",
        "images are (14, 14), not 28x28",
    ),
}


@pytest.fixture
def broken_data(monkeypatch, tmp_path, tiny_folder):
    """FASHIONNET_DATA_DIR at a folder the test breaks, an empty cache, offline, and no dataset kept from before."""
    from ui.router import shared_data, shared_probe

    monkeypatch.setenv("FASHIONNET_DATA_DIR", str(tiny_folder))
    monkeypatch.setenv("FASHIONNET_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("FASHIONNET_OFFLINE", "1")
    shared_data.clear()
    shared_probe.clear()
    yield tiny_folder
    shared_data.clear()  # the next test reads the real data again
    shared_probe.clear()


@pytest.mark.parametrize("fault", DATA_FAULTS)
def test_broken_data_is_named_in_the_page_and_the_app_runs_on_the_sample(broken_data, fault):
    breaker, named, problem = DATA_FAULTS[fault]
    breaker(broken_data)
    page, title = PAGES[list(DATA_FAULTS).index(fault) % len(PAGES)]  # the faults take turns over the pages
    at = open_app(page)
    assert_no_exception(at)
    assert at.title[0].value == title
    (notice,) = [w.value for w in at.warning if "bundled sample" in w.value]
    assert notice.startswith("Running on the bundled sample (2,000 training and 1,000 test images), not the full Fashion-MNIST.")
    assert named in notice and problem in notice and "Fix:" in notice
    assert str(broken_data.parent) in notice  # it really read the broken folder
    assert any("bundled sample (2,000 train / 1,000 test)" in c.value for c in at.sidebar.caption)


def test_no_data_anywhere_runs_on_the_sample_with_the_fix(broken_data, monkeypatch):
    monkeypatch.delenv("FASHIONNET_DATA_DIR")
    at = open_app("pages/train.py")
    assert_no_exception(at)
    (notice,) = [w.value for w in at.warning if "bundled sample" in w.value]
    assert "The full dataset is not on this machine" in notice and "FASHIONNET_DATA_DIR=" in notice
    at.button(key="train_step").click().run()  # the sample is a working dataset
    assert_no_exception(at)
    assert at.session_state.learner.steps_taken == 1


def test_an_unwritable_cache_folder_falls_back_to_a_temporary_one(broken_data, monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("FASHIONNET_CACHE_DIR", str(tmp_path / "a-file" / "cache"))  # cannot be created
    at = open_app(None)
    assert_no_exception(at)
    assert not [w.value for w in at.warning if "bundled sample" in w.value]
    assert any("full Fashion-MNIST (3 train / 2 test)" in c.value for c in at.sidebar.caption)


# --- isolation: learners in concurrent threads --------------------------------------------------------------------

WORKERS = [
    (LESSON, [("train", i) for i in range(0, 12)]),
    (MODERN, [("test", i) for i in range(30, 42)]),
    (Settings(seed=7, activation="relu", scale_inputs=True, optimizer="sgd", lr=0.05), [("train", i) for i in range(500, 512)]),
    (Settings(seed=3, activation="sigmoid", scale_inputs=True, optimizer="adam", lr=0.02), [("test", i) for i in range(900, 912)]),
]


def work(settings_: Settings, refs: list[tuple[str, int]], data: FashionData, start: threading.Barrier | None) -> tuple[dict, list]:
    """Build a learner, take its steps with an undo and a redo between, and return its final state and losses."""
    if start is not None:
        start.wait()  # every thread builds its net at the same moment
    learner = Learner(settings_, keyframe_every=4)
    for k, (split, index) in enumerate(refs):
        learner.train_step(*data.image(split, index), ImageRef(split, index))
        if k % 3 == 2:
            learner.undo()
            learner.redo()
    learner.goto(5)
    learner.goto(len(learner.history))
    return learner_state(learner), [r.loss_after for r in learner.history]


@pytest.mark.realdata
def test_learners_in_concurrent_threads_match_their_sequential_runs_and_plain_pytorch(real_data):
    rounds = 3
    start = threading.Barrier(len(WORKERS) * rounds)
    with ThreadPoolExecutor(len(WORKERS) * rounds) as pool:
        futures = [pool.submit(work, s, refs, real_data, start) for _ in range(rounds) for s, refs in WORKERS]
        results = [f.result(timeout=120) for f in futures]
    for k, (settings_, refs) in enumerate(WORKERS):
        alone = work(settings_, refs, real_data, None)
        plain_learner = Learner(settings_)
        plain = PlainRun(plain_learner, settings_)
        plain_losses = [plain.step(*real_data.image(s, i))["loss_after"] for s, i in refs]
        for r in range(rounds):
            state, losses = results[r * len(WORKERS) + k]
            assert same_state(state, alone[0]), f"worker {k}, round {r}: weights differ from the same steps taken alone"
            assert losses == alone[1]
            assert losses == pytest.approx(plain_losses, rel=1e-5, abs=1e-6)


def test_nets_built_in_concurrent_threads_depend_only_on_their_seed():
    seeds = [s % 5 for s in range(40)]
    start = threading.Barrier(len(seeds))

    def build(seed: int) -> dict:
        start.wait()
        return learner_state(Learner(Settings(seed=seed)))

    with ThreadPoolExecutor(len(seeds)) as pool:
        built = list(pool.map(build, seeds))
    alone = {s: learner_state(Learner(Settings(seed=s))) for s in set(seeds)}
    assert all(same_state(state, alone[s]) for state, s in zip(built, seeds, strict=True))


# --- lifecycle ----------------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_a_session_started_from_a_link_with_steps_says_it_was_rebuilt(real_data):
    at = open_app("pages/train.py", {"split": "test", "index": "3", "steps": "t0.t5.e3"})
    assert at.session_state.learner.steps_taken == 3
    assert link_notices(at) == ["Rebuilt your model from this link: 3 steps replayed."]
    at.button(key="train_step").click().run()
    assert link_notices(at) == []  # said once, when the session started
    assert not link_notices(open_app("pages/train.py", {"split": "test", "index": "3"}))


@pytest.mark.realdata
def test_the_app_says_how_to_keep_progress_before_closing(real_data):
    at = open_save_and_resume(open_app(None))
    caption = " ".join(c.value for c in at.sidebar.caption)
    assert not at.toast
    assert "kept in this tab's address" in caption and "rebuilds them, even after the server restarts" in caption
    assert "download it before you close the tab" in caption
    assert not [w.value for w in at.sidebar.warning if "address cannot hold" in w.value]
    # A history a link cannot carry: the Save section says so.
    long = open_app(None, {"steps": ".".join(["t0"] * MAX_LINK_STEPS)})
    assert long.session_state.learner.steps_taken == MAX_LINK_STEPS
    long.session_state.learner.train_step(*real_data.image("train", 1))  # one more than a link holds
    long.run()
    toasts = [t.value for t in long.toast]
    assert any("a reload would lose it" in t for t in toasts), toasts  # said once, when the step made it so
    (save,) = [e for e in long.sidebar.expander if e.label == "Save and resume"]
    assert save.proto.icon == ":material/warning:"  # said on the closed section too
    open_save_and_resume(long)
    assert [w.value for w in long.sidebar.warning if "address cannot hold" in w.value] == [
        "This tab's address cannot hold your history: a reload or the link under **Share this state** would start "
        "again from a fresh model. Download your progress to keep everything."
    ]
    assert not [c.value for c in long.sidebar.caption if "kept in this tab's address" in c.value]  # no contradiction
    assert not [t.value for t in long.toast if "a reload would lose it" in t.value]


# --- real servers, real browsers (marker: browser) ----------------------------------------------------------------

# Keeps every WebSocket the page opens in window.__sockets, so a test can drop the connection as a network would.
KEEP_SOCKETS = """window.__sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (...args) { const s = new NativeWebSocket(...args); window.__sockets.push(s); return s; };
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});"""
CONNECTED = "[data-testid=stApp][data-test-connection-state=CONNECTED]"


# Other engineers edit this working tree while tests run; Streamlit's file watcher then unloads the edited modules
# and a concurrent rerun can fail mid-import (seen: AttributeError in dataclasses during `from fashionnet.data
# import`). That is hot reloading, not isolation: these servers do not watch files.
NO_WATCHER = {"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}


@pytest.fixture(scope="module")
def reliability_server(browser, cache_dir):
    with StreamlitServer(cache_dir=cache_dir, extra_env=NO_WATCHER) as s:
        yield s


def open_with_sockets(pages, url: str):
    """A page in its own context (its own learner) whose WebSockets the test can close."""
    page, log = pages.open(url)
    page.context.add_init_script(KEEP_SOCKETS)  # for the next load on
    page.reload()
    wait_for_app(page)
    return page, log


def wait_for_steps(page, n: int) -> None:
    page.wait_for_function(
        "n => /history point:\\s*(\\d+)/.exec(document.querySelector('[data-testid=stSidebarUserContent]').innerText)?.[1] == n",
        arg=str(n),
        timeout=60_000,
    )
    wait_for_app(page)


def link_infos(page) -> list[str]:
    texts = page.locator("[data-testid=stMain] [data-testid=stAlertContentInfo]").all_inner_texts()
    return [t.split("\n\n", 1)[-1].strip() for t in texts if "link" in t.split("\n\n", 1)[0]]  # the icon's name comes first


@pytest.mark.browser
def test_a_hostile_link_renders_nothing_it_carries(reliability_server, pages):
    from urllib.parse import urlencode

    params = {
        "index": "0\n\n[Click me](https://evil.example)",
        "lr": "<script>alert(1)</script>",
        "pin": "<img src=x onerror=alert(1)>,0",
        "seed": "\u202e7",
        "foo": "<b>bold</b>",
    }
    page, log = pages.open(reliability_server.url("/train?" + urlencode(params)))
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    test_browser.assert_no_exception(page, "hostile link")
    notices = link_infos(page)
    assert len(notices) == 5, notices
    assert page.locator("a[href*='evil.example']").count() == 0, "a link from the URL was rendered"
    assert page.locator("[data-testid=stMain] img[src='x'], [data-testid=stMain] b:text('bold')").count() == 0
    assert page.get_by_text("[Click me](https://evil.example)", exact=False).count() == 1  # shown literally, in its notice
    assert page.url.endswith("/train?split=train&index=0"), page.url
    page.wait_for_timeout(300)
    assert dialogs == []
    log.assert_clean("hostile link")


@pytest.mark.browser
def test_an_upload_over_the_limit_is_refused_by_the_browser(reliability_server, pages, tmp_path):
    page, _log = pages.open(reliability_server.url("/train?split=test&index=2&steps=e2"))
    shown = printouts(page)
    big = tmp_path / "big.safetensors"
    big.write_bytes(b"\0" * (6 * 1024 * 1024))
    open_sidebar_section(page, "Save and resume")
    page.locator("[data-testid=stSidebar] input[type=file]").set_input_files(str(big))
    page.get_by_text("File must be 5.0MB or smaller.", exact=False).wait_for()
    wait_for_app(page)
    assert sidebar_steps(page) == "1" and printouts(page) == shown
    test_browser.assert_no_exception(page, "upload over the limit")


@pytest.mark.browser
@pytest.mark.realdata
def test_concurrent_learners_on_one_server_never_share_anything(reliability_server, pages, real_data):
    from fashionnet import report

    plan = {  # link, settings, image, steps taken (two each, at the same time); C then undoes one
        "A": ("split=train&index=0", LESSON, ("train", 0), 2),
        "B": ("split=test&index=3&seed=7&act=relu&scale=1&lr=0.001", Settings(7, "relu", True, "adam", 0.001), ("test", 3), 2),
        "C": ("split=train&index=5&seed=3&opt=sgd&lr=0.1", Settings(3, "sigmoid", False, "sgd", 0.1), ("train", 5), 2),
    }
    opened = {k: pages.open(reliability_server.url(f"/train?{query}"))[0] for k, (query, *_rest) in plan.items()}
    for steps in (1, 2):
        for page in opened.values():  # every click is sent before any rerun is waited for: the server runs them at once
            page.locator(".st-key-train_step button").click()
        for page in opened.values():
            wait_for_steps(page, steps)
    rerun_and_wait(opened["C"], lambda: opened["C"].locator(".st-key-undo_step button").click())
    wait_for_steps(opened["C"], 1)
    for k, (_query, settings_, (split, index), n) in plan.items():
        learner = Learner(settings_)
        for _ in range(n):
            step = learner.train_step(*real_data.image(split, index))
        if k == "C":
            learner.undo()
            expected = [report.torch_printout(learner.net.W3.weight.detach(), learner.net.W3.bias.detach())]
        else:
            expected = [report.torch_printout(step.w3_before, step.b3_before), report.torch_printout(step.w3_after, step.b3_after)]
        page = opened[k]
        assert printouts(page) == [e.strip() for e in expected], f"learner {k} does not show its own weights"
        code = "t" if split == "train" else "e"
        assert f"steps={'.'.join([f'{code}{index}'] * (n - 1 if k == 'C' else n))}" in page.url, page.url
        label = CLASSES[real_data.image(split, index)[1]]
        assert test_browser.caption(page) == f"{'Training' if split == 'train' else 'Test'} image #{index}: {label}"


@pytest.mark.browser
def test_a_dropped_websocket_keeps_the_session_and_its_numbers(reliability_server, pages):
    page, _log = open_with_sockets(pages, reliability_server.url("/train?split=test&index=8"))
    train_step(page)
    train_step(page)
    shown, url = printouts(page), page.url
    # 1. The connection drops and comes straight back.
    page.evaluate("window.__sockets.forEach(s => s.close())")
    page.wait_for_function("window.__sockets.length > 1 && window.__sockets.at(-1).readyState === 1")
    wait_for_app(page)
    assert (sidebar_steps(page), printouts(page), page.url) == ("2", shown, url)
    train_step(page)  # the server kept this session: its callbacks still work, nothing was rebuilt
    assert link_infos(page) == []
    shown, url = printouts(page), page.url
    # 2. The network goes away for a while (reconnecting fails), then comes back.
    page.context.set_offline(True)
    page.evaluate("window.__sockets.forEach(s => s.close())")
    page.wait_for_selector("[data-testid=stApp]:not([data-test-connection-state=CONNECTED])", state="attached")
    page.wait_for_timeout(2_000)
    page.context.set_offline(False)
    page.wait_for_selector(CONNECTED, state="attached", timeout=60_000)
    wait_for_app(page)
    assert (sidebar_steps(page), printouts(page), page.url) == ("3", shown, url)
    train_step(page)
    assert sidebar_steps(page) == "4" and link_infos(page) == []
    test_browser.assert_no_exception(page, "after the network came back")


def restart(server: StreamlitServer) -> None:
    """Stop the server (every session in it is gone) and start it again on the same port."""
    server.stop()
    Path(server.log_path).parent.mkdir(parents=True, exist_ok=True)  # stop() removed its temporary folder
    server.start()


@pytest.mark.browser
def test_a_server_restart_rebuilds_the_learner_from_the_address_bar_and_says_so(reliability_server, pages):
    """The last browser test here: it restarts the module's server."""
    page, _log = open_with_sockets(pages, reliability_server.url("/train?split=test&index=8&act=relu&scale=1"))
    train_step(page)
    train_step(page)
    shown = printouts(page)  # opening the printouts' section is a full run: the tab's last run is not a fragment's
    # On reconnecting, Streamlit's frontend reruns the whole app only if its last run was a fragment's or the page
    # has an auto-rerunning fragment (the router's reconnect_guard); without that, the new session dropped the
    # click below (its fragment was unknown there) and the tab did nothing until a reload.
    restart(reliability_server)
    page.wait_for_selector(CONNECTED, state="attached", timeout=60_000)  # the open tab reconnects by itself
    # The first thing the learner does in the new server's session rebuilds the model from the address bar.
    rerun_and_wait(page, lambda: page.locator(".st-key-train_step button").click())
    page.get_by_text("Rebuilt your model from this link: 2 steps replayed.").wait_for()
    assert sidebar_steps(page) in ("2", "3")
    if sidebar_steps(page) == "2":  # the click only rebuilt the session
        assert printouts(page) == shown
    shown, url = printouts(page), page.url
    page.reload()  # a reload is a new session too
    wait_for_app(page)
    assert link_infos(page) == [f"Rebuilt your model from this link: {sidebar_steps(page)} steps replayed."]
    assert (printouts(page), page.url) == (shown, url)
    steps = int(sidebar_steps(page))
    train_step(page)  # and the learner goes on: the next step is taken (train_step waits for the count to grow)
    assert int(sidebar_steps(page)) == steps + 1
    test_browser.assert_no_exception(page, "after a restart")
    assert "Traceback" not in reliability_server.log()
