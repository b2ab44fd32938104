"""The Lesson page: every cell's live output against the lesson's printed output, Next/Back, both lrs."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from fashionnet import lesson
from fashionnet.learner import Learner
from fashionnet.settings import LESSON

pytestmark = pytest.mark.realdata


def test_every_cell_matches_the_lesson_with_the_lesson_preset(real_data):
    learner = Learner(LESSON)
    image, label = real_data.image("train", 0)
    for k, cell in enumerate(lesson.CELLS):
        if cell.runs_step:
            learner.train_step(image, label)
            continue
        live = lesson.live_output(k, learner, image, label)
        assert lesson.matches(k, live) is (True if cell.printed else None), cell.title
    assert learner.steps_taken == 1


def test_cells_differ_when_the_model_is_not_the_lessons(real_data):
    learner = Learner(LESSON)
    learner.train_step(*real_data.image("train", 5))
    image, label = real_data.image("train", 0)
    assert lesson.matches(2, lesson.live_output(2, learner, image, label)) is False
    assert lesson.matches(4, lesson.live_output(4, learner, image, label)) is False


def test_walk_the_lesson_page(real_data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/lesson.py").run()
    assert not at.exception
    at.button(key="lesson_fresh").click().run()
    seen = []
    for _ in range(len(lesson.CELLS) - 1):
        at.button(key="lesson_next").click().run()
        assert not at.exception
        step = at.session_state.lesson_step
        seen.append(step)
        if lesson.CELLS[step].runs_step:
            at.button(key="lesson_run").click().run()
            assert "loss 2.2632 →" in at.success[0].value
        elif lesson.CELLS[step].printed:
            assert any("Matches the lesson's printed output" in s.value for s in at.success), lesson.CELLS[step].title
        assert at.query_params["lesson"] in (str(step), [str(step)])
    assert seen == list(range(1, len(lesson.CELLS)))
    assert any("from 0.0259 to 0.0309" in i.value for i in at.info)
    at.button(key="lesson_back").click().run()
    assert at.session_state.lesson_step == len(lesson.CELLS) - 2


def test_run_the_code_cells_lr_as_written(real_data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["lesson"] = "3"
    at.run()
    at.switch_page("pages/lesson.py").run()
    assert at.session_state.lesson_step == 3
    at.button(key="lesson_lr_code").click().run()
    assert at.session_state.learner.settings.lr == 0.0005
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_run").click().run()
    step = at.session_state.learner.last_report
    assert abs(float(step.w3_delta[0, 0])) == pytest.approx(0.0005, rel=2e-4)  # the code's lr moves entries by 0.0005


def lesson_app(step: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["lesson"] = str(step)
    at.run()
    at.switch_page("pages/lesson.py").run()
    assert at.session_state.lesson_step == step and not at.exception
    return at


def test_a_difference_is_explained_by_what_is_not_as_in_the_lesson(real_data):
    last = len(lesson.CELLS) - 1
    at = lesson_app(last)  # Next past the step cell without running it
    (warning,) = at.warning
    assert "the step has not been taken yet: go Back to step 6 and press **Run this cell**" in warning.value
    assert "settings are not" not in warning.value and "selected image" not in warning.value  # the lesson's fresh model
    assert not [m for m in at.markdown if "Why every entry moved by the same amount" in m.value]
    at.button(key="lesson_back").click().run()
    at.button(key="lesson_run").click().run()
    at.button(key="lesson_run").click().run()  # twice: the second is Adam's second step
    at.button(key="lesson_next").click().run()
    (warning,) = at.warning
    assert "2 steps have been taken, and the lesson printed this after exactly one" in warning.value
    # The lesson's explanation of its first step is not claimed for a second step.
    assert not [m for m in at.markdown if "Why every entry moved by the same amount" in m.value]
    assert any("This was step 2 of your model" in m.value for m in at.markdown)
    at.button(key="lesson_back").click().run()
    at.button(key="lesson_back").click().run()
    assert "2 steps" in at.warning[0].value and "before any" in at.warning[0].value  # step 5: the loss, before any step


def test_the_first_steps_explanation_shows_for_the_lessons_step(real_data):
    at = lesson_app(len(lesson.CELLS) - 2)
    at.button(key="lesson_run").click().run()
    at.button(key="lesson_next").click().run()
    assert not at.warning
    assert any("Why every entry moved by the same amount" in m.value for m in at.markdown)
    learner = Learner(LESSON)
    assert not lesson.first_step_explained(learner)  # no step yet


def test_a_fresh_lesson_model_asks_first_when_there_is_a_history_to_lose(real_data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["steps"] = "t0.t0"
    at.run()
    at.switch_page("pages/lesson.py").run()
    assert len(at.session_state.learner.history) == 2
    # The button that discards sits in a popover that says what it discards; the popover alone changes nothing.
    popover = next(b for b in at.get("popover") if b.proto.popover.label == "Start from a fresh Lesson model on training image 0")
    assert "discards your **2 history entries** for good" in popover.markdown[0].value
    confirm = at.button(key="lesson_fresh")
    assert confirm.label == "Discard 2 entries and start fresh"
    at.run()
    assert len(at.session_state.learner.history) == 2
    confirm.click().run()
    assert not at.exception
    assert len(at.session_state.learner.history) == 0 and at.session_state.learner.settings == LESSON
    # With nothing to lose it is a plain button again.
    assert at.button(key="lesson_fresh").label == "Start from a fresh Lesson model on training image 0"
