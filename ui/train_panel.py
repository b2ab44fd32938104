"""The Train page's panel: Train one step, Undo and Redo, and everything a step changes (keyed fragments).

``pages/train.py`` draws the title and the image picker, then :func:`top` and :func:`panel`. The panel's code lives in
this module rather than in the page file because it is the hot path of the app: a module is compiled
once per process, while Streamlit's AppTest parses and compiles a page file again on every run (~6.5 ms
for this code; a real server keeps the page's bytecode). Nothing here does torch maths: it reads
``st.session_state``, calls ``fashionnet`` and draws.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import NamedTuple

import streamlit as st

from fashionnet import charts, explain, export, layerviews, quiz, report, ripple, timeline
from fashionnet.data import CLASSES, FashionData
from fashionnet.learner import NothingToUndo, StepRefused
from ui.router import rerun_live, shared_data, shared_probe
from ui.widgets import image_of, png_url, show_image

# Speed (docs/performance.md): what a step changes is in keyed fragments: "train_actions" (the sentence and
# the buttons beside the image), "train_panel" (the numbers, W3's picture, the most-moved table),
# "train_story" (the chosen entry's story) and the open sections' bodies (SECTIONS, at the end). Train, Undo
# and Redo rerun them and the sidebar's live parts: not the whole app, not the image, and not what a step
# leaves as it was (the toggles, the entry's inputs, the sections' headers: full runs draw those), so a click
# sends 35 messages, not 44. W3's change is a picture (a chart of 4,096 marks costs the browser ~130 ms a
# step; the interactive chart is one switch away). Pictures that are the same for every learner are drawn
# once per process, and W3's printouts are kept for the two states they show, so a click does not redo what
# it did before.
FRAGMENTS = ("train_actions", "train_panel")  # and, while there is a step to show, "train_story" and the open sections


@st.cache_resource(show_spinner=False)
def probe_gallery_png() -> bytes:
    return ripple.gallery_png(shared_probe().images)


@st.cache_resource(show_spinner=False)
def probe_thumbnail_url(k: int) -> str:
    return png_url(report.image_png(shared_probe().images[k], 56))


def printout(weight, bias) -> str:
    """``report.torch_printout``, remembered in this session for the last few W3 states it printed."""
    return report.remembered_printout(weight, bias, st.session_state.setdefault("w3_printouts", {}))


def rerun_step(had_step: bool) -> None:
    """After Train, Undo or Redo: rerun what a step changes, or the whole app when the panel's layout changes.

    The parts drawn by full runs only (the entry's inputs, the sections' headers) are there while the learner
    has a step to show; taking the first one, or going back to a point with none, adds or removes them.
    """
    ss = st.session_state
    if (ss.learner.last_report is not None) != had_step:
        st.rerun()
    if not had_step:  # no story and no sections on the page (a fragment no full run has drawn cannot be rerun)
        rerun_live(*FRAGMENTS)
    sections = [section.fragment for section in SECTIONS if ss.get(section.key)]
    if not set(sections) <= ss.get("train_sections_drawn", set()):
        st.rerun()
    rerun_live(*FRAGMENTS, "train_story", *sections)


def train() -> None:
    learner = st.session_state.learner
    had_step = learner.last_report is not None
    ref = st.session_state.selection
    image, label = image_of(shared_data(), ref)
    try:
        step = learner.train_step(image, label, ref)
    except StepRefused as err:
        st.session_state.step_message = str(err)
        rerun_step(had_step)
    if st.session_state.get("guess_first"):
        answers = {q.key: st.session_state.pop(f"guess_{q.key}", None) for q in quiz.questions(learner.settings)}
        marks = quiz.mark(step, answers, learner.settings)
        right, asked = st.session_state.get("quiz_score", (0, 0))
        st.session_state.quiz_score = (right + sum(m.right for m in marks), asked + len(marks))
        st.session_state.quiz_marks = marks
    rerun_step(had_step)


def move(name: str) -> None:
    learner = st.session_state.learner
    had_step = learner.last_report is not None
    try:
        getattr(learner, name)()
        where = "Back at" if name == "undo" else "Forward again to"
        st.session_state.step_message = f"{where} step {learner.steps_taken}: weights and optimizer state restored exactly."
    except NothingToUndo as err:
        st.session_state.step_message = str(err)
    rerun_step(had_step)


ENTRY_FRAGMENTS = ("train_panel", "train_entry", "train_story")  # what choosing the entry to explain changes


def pick_entry() -> None:
    chosen = st.session_state.w3_heatmap.selection.get("entry") or []
    if chosen:
        st.session_state.explain_row, st.session_state.explain_col = int(chosen[0]["row"]), int(chosen[0]["column"])
    st.rerun(list(ENTRY_FRAGMENTS))


def pick_row(key: str, top) -> None:
    rows = st.session_state[key].selection.rows
    if rows:
        st.session_state.explain_row, st.session_state.explain_col = int(top.row[rows[0]]), int(top.column[rows[0]])
    st.rerun(list(ENTRY_FRAGMENTS))


def chosen_entry() -> tuple[int, int]:
    """The W3 entry to explain (row, column): the entry's inputs hold it; W3[0, 0] until one is chosen."""
    return int(st.session_state.get("explain_row", 0)), int(st.session_state.get("explain_col", 0))


def entry_typed() -> None:
    """A row or column typed into the inputs: the picture's outline and the story follow (the inputs show it already)."""
    st.rerun(["train_panel", "train_story"])


def show_ripple(step, learner) -> None:
    """The ripple of the newest step on the 200 probe images: accuracy, flipped predictions, per-class change."""
    probe = shared_probe()
    rip = ripple.ripple(step, learner, probe)
    acc, moved = st.columns([1, 2], gap="large")
    with acc:
        change = f"{100 * (rip.accuracy_after - rip.accuracy_before):+.1f}"
        st.metric("Probe accuracy", report.percent(rip.accuracy_after), f"{change} points", **report.metric_arrow(change))
        flipped = ripple.flips(rip, probe)
        st.markdown(
            f":small[:gray[was {report.percent(rip.accuracy_before)}; 20 test images of each class, the same for everyone.]]\n\n"
            f"**{len(flipped)} predictions flipped**" + (":" if len(flipped) else ".")
        )
        for direction in ("wrong → right", "right → wrong"):
            group = flipped[flipped.direction == direction].head(8)
            if len(group):
                st.caption(direction)
                st.image(  # one element for the row of pictures: fewer messages for the browser to apply
                    [probe_thumbnail_url(int(k)) for k in group["probe position"]],
                    width=56,
                    caption=[f"{b} → {a}" for b, a in zip(group["before"], group["after"], strict=True)],
                )
    with moved:
        st.vega_lite_chart(
            spec=charts.class_changes_spec(ripple.class_changes(rip)),
            key="ripple_chart",
            alt="Bars: how each class's mean probability of its true class changed in this step.",
        )
    if st.toggle("Show the probe set", key="probe_set_open"):
        st.image(probe_gallery_png(), output_format="PNG", alt="The 200 probe images, 20 per class, one class per row.")


def top(data: FashionData) -> None:
    """The chosen image (redrawn only by a full run: a step does not change it) beside the step's buttons."""
    left, right = st.columns([1, 3], gap="medium", vertical_alignment="center")
    with left:
        show_image(data, st.session_state.selection, width=168)
    with right:
        actions(data)


def taken_line(learner) -> str:
    """'Steps taken: 3 (history: 5)'; with a training run among them, what they trained in words (a run is not a step)."""
    done = learner.history[: learner.cursor]
    if any(r.kind == "run" for r in done):
        return f"Trained so far: {timeline.taken(done)}; history point {learner.cursor} of {len(learner.history)}"
    return f"Steps taken: {learner.steps_taken} (history: {len(learner.history)})"


@st.fragment(key="train_actions")
def actions(data: FashionData) -> None:
    """What the network thinks of the image now, the step count, and Train one step, Undo and Redo."""
    learner = st.session_state.learner
    image, label = image_of(data, st.session_state.selection)
    # One element for the sentence and the count (each element costs every click ~0.5 ms on the server
    # and more in the browser: docs/performance.md).
    st.markdown(f"**Now:** {report.prediction_sentence(learner.predict(image), label)}\n\n:small[:gray[{taken_line(learner)}]]")
    with st.container(horizontal=True, gap="small"):
        st.button("Train one step", key="train_step", type="primary", on_click=train, icon=":material/play_arrow:")
        st.button("Undo", key="undo_step", on_click=move, args=("undo",), disabled=learner.steps_taken == 0, icon=":material/undo:")
        st.button(
            "Redo",
            key="redo_step",
            on_click=move,
            args=("redo",),
            disabled=learner.steps_taken >= len(learner.history),
            icon=":material/redo:",
        )


def panel() -> None:
    """Everything below the buttons. A step reruns the fragments; the rest is drawn by full runs only."""
    learner = st.session_state.learner
    # One container that is always there: the fragments below keep their places on the page whether the note
    # is shown or not (Streamlit finds a keyed fragment by its key and its place; a shifted one would run twice).
    with st.container():
        if note := report.lr_discrepancy(learner.settings):
            st.info(note, icon=":material/menu_book:")
        st.toggle("Guess first", key="guess_first", help="Answer a few questions about the step before you take it.")
    numbers()
    if learner.last_report is None:
        return
    entry()
    story()
    # The sections start closed; each one's body is built only while it is open, and a step reruns the open ones.
    # The ripple's 200-image forward passes, tables and chart cost a click ~10 ms on the server and ~12 elements
    # in the browser; the lesson's subject is W3, which the default view shows in full.
    drawn = set()
    for section in SECTIONS:
        box = st.expander(section.label, key=section.key, on_change="rerun")
        if box.open:
            with box:
                section.body()
            drawn.add(section.fragment)
    # The open sections' bodies this full run drew: a step reruns them by their keys (an open section whose body
    # no full run has drawn yet, e.g. opened from the session's state, makes the step rerun the whole app).
    st.session_state.train_sections_drawn = drawn


@st.fragment(key="train_panel")
def numbers() -> None:
    """What a step changes first: the quiz's marks, the numbers, W3's picture and the most-moved table."""
    learner = st.session_state.learner
    step = learner.last_report
    # Everything the panel shows is computed first, then drawn: the browser gets the panel's messages in
    # one burst rather than spread over the computations, and applies them in fewer passes.
    if step is not None:
        row, col = chosen_entry()
        texts = report.first_entry_callout(step), report.moved_summary(step), report.why_it_moved(step)
        top = report.top_moves(step, 12)
        picture = None if st.session_state.get("w3_interactive") else png_url(layerviews.heatmap_png(step.w3_delta, (row, col)))
    if st.session_state.get("guess_first"):
        with st.container(border=True):
            st.markdown("**Before you press Train one step, guess:**")
            for q in quiz.questions(learner.settings):
                st.radio(q.text, q.options, index=None, horizontal=True, key=f"guess_{q.key}")
            right, asked = st.session_state.get("quiz_score", (0, 0))
            st.caption(f"Your score this session: {right} of {asked}.")
    for m in st.session_state.pop("quiz_marks", []):
        (st.success if m.right else st.error)(f"{m.question} You said **{m.answer}**: {'right' if m.right else 'wrong'}. {m.why}")
    if message := st.session_state.pop("step_message", None):
        st.warning(message, icon=":material/info:")

    if step is None:
        st.subheader("W3 now")
        st.code(printout(learner.net.W3.weight.detach(), learner.net.W3.bias.detach()), language=None, wrap_lines=True)
        return
    r = step.record
    if st.session_state.get("pin_on"):
        i, j = int(st.session_state.pin_row), int(st.session_state.pin_col)
        value, change, exact = report.pinned_entry(step, i, j)
        st.metric(
            f"Pinned: W3[{i}, {j}] after step {r.number}",
            value,
            change,
            help=f"Exactly {exact}. Pin another entry in the sidebar's Presenter mode.",
        )
    st.subheader(f"Step {r.number}: what changed")
    if r.ref != st.session_state.selection:  # another image was chosen since: say which one this step trained on
        _, where, label = timeline.describe(r)
        st.caption(f"Step {r.number} trained on {where} ({label}), not on the image above; the next step trains on the one above.")
    numbers = st.container(horizontal=True, gap="medium")  # one block for the three numbers: fewer elements per step
    loss_change = f"{r.loss_after - r.loss_before:+.4f}"
    numbers.metric("Loss", f"{r.loss_after:.4f}", f"{loss_change} (was {r.loss_before:.4f})", **report.metric_arrow(loss_change, "inverse"))
    p_change = f"{100 * (r.p_true_after - r.p_true_before):+.2f}"
    numbers.metric(
        f"P({CLASSES[r.label]})",
        report.percent(r.p_true_after),
        f"{p_change} points (was {report.percent(r.p_true_before)})",
        **report.metric_arrow(p_change),
    )
    numbers.metric("W3 entries moved", f"{step.moved_share:.1%}")
    callout, summary, why = texts
    st.info(callout, icon=":material/arrow_forward:")
    st.markdown(f":small[:gray[{summary}]]\n\n**Why:** {why}")

    # Projected (larger type), the table's five columns need more than half the width: its "change" was cut off.
    heat, table = st.columns([2, 3] if st.session_state.get("presenter") else 2, gap="medium")
    with heat:
        st.markdown("**Change of every W3 entry**")
        if st.toggle(
            "Hover and click every entry",
            key="w3_interactive",
            help="An interactive chart instead of the picture: hover any entry for its numbers, click one to explain it. "
            "It takes the browser about ten times longer to redraw after each step.",
        ):
            st.vega_lite_chart(
                spec=charts.w3_heatmap_spec(report.w3_change_frame(step), selectable=True),
                key="w3_heatmap",
                on_select=pick_entry,
                selection_mode="entry",
                alt="Heatmap of the change of all 4,096 entries of W3; the table beside it lists the largest.",
            )
        else:
            st.image(
                picture,
                caption=report.heatmap_caption(step, row, col),
                alt=f"Picture of the change of all 4,096 entries of W3, with W3[{row}, {col}] outlined.",
            )
    with table:
        st.markdown("**Most-moved entries** (click a row to explain it)")
        fmt = st.column_config.NumberColumn(format="%.6f")
        # One key for every step: the browser updates the grid it has instead of building a new one, which
        # halved what the grid costs a click (docs/performance.md). A new step starts with no row selected.
        key = "moved_table"
        if (shown := st.session_state.get("moved_table_of")) is None or shown() is not step:
            if (st.session_state.get(key) or {}).get("selection", {}).get("rows"):  # only then: setting it costs a click ~2 ms
                st.session_state[key] = {"selection": {"rows": [], "columns": [], "cells": []}}
            st.session_state.moved_table_of = weakref.ref(step)  # holds no report: a dead reference is no step
        st.dataframe(
            top,
            height=35 * 13 + 3,  # all 12 rows and the header, no inner scrolling
            hide_index=True,
            key=key,
            on_select=functools.partial(pick_row, key, top),
            selection_mode="single-row",
            column_config={"before": fmt, "after": fmt, "change": st.column_config.NumberColumn(format="%+.7f")},
        )


@st.fragment(key="train_entry")
def entry() -> None:
    """The entry to explain: its row and column (a table row or a chart cell sets them too). A step leaves them as they are."""
    st.markdown("**Explain one entry**: click a row of the table (or a cell of the interactive chart), or choose its row and column.")
    inputs = st.container(horizontal=True, gap="small")
    inputs.number_input("Row i (layer-3 unit)", 0, 63, step=1, key="explain_row", width=220, on_change=entry_typed)
    inputs.number_input("Column j (layer-2 unit)", 0, 63, step=1, key="explain_col", width=220, on_change=entry_typed)


@st.fragment(key="train_story")
def story() -> None:
    """How the chosen entry moved in the newest step, from its gradient to its change (a static table: read, not sorted)."""
    learner = st.session_state.learner
    step = learner.last_report
    if step is None:  # (only a full run can remove this part; until then it waits for the next step)
        return
    row, col = chosen_entry()
    table = explain.story_table(explain.entry_story(step, explain.signals(step, learner.settings), row, col))
    st.table(table, alt=f"How W3[{row}, {col}] moved in this step, from its gradient to its change.")


def printouts_body(step, _learner) -> None:
    st.markdown("**Before the step**")
    st.code(printout(step.w3_before, step.b3_before), language=None, wrap_lines=True)
    st.markdown("**After the step**")
    st.code(printout(step.w3_after, step.b3_after), language=None, wrap_lines=True)


def export_body(step, _learner) -> None:
    st.code(export.SCHEMA, language=None)
    formats = (("csv", "text/csv", export.step_csv), ("json", "application/json", export.step_json))
    for column, (ext, mime, write) in zip(st.columns(2), formats, strict=True):
        column.download_button(
            f"Download {ext.upper()}",
            data=lambda write=write: write(step),  # built when clicked, not on every rerun
            file_name=f"fashionnet-step{step.record.number}.{ext}",
            mime=mime,
            on_click="ignore",
            key=f"export_{ext}",
        )


def layers_body(step, _learner) -> None:
    fmt, fmt7 = st.column_config.NumberColumn(format="%.6f"), st.column_config.NumberColumn(format="%+.7f")
    st.dataframe(
        report.bias_change_frame(step),
        hide_index=True,
        key="bias_table",
        column_config={"before": fmt, "after": fmt, "change": fmt7},
    )
    st.dataframe(report.layer_updates_frame(step), hide_index=True, key="layers_table")


class Section(NamedTuple):
    """A section below the story, closed at first: its expander's key and label, and its body's fragment."""

    key: str
    label: str
    fragment: str
    body: Callable[[], None]


def section(key: str, label: str, fragment: str, draw: Callable) -> Section:
    """The section whose body, a keyed fragment, draws ``draw(step, learner)`` for the newest step."""

    @st.fragment(key=fragment)
    def body() -> None:
        learner = st.session_state.learner
        if learner.last_report is not None:  # (only a full run can remove the section; until then it waits)
            draw(learner.last_report, learner)

    return Section(key, label, fragment, body)


SECTIONS = (
    section("ripple_open", "What this step did to 200 other images", "train_ripple", show_ripple),
    section("printouts_open", "`net.W3._parameters` before and after the step, as PyTorch prints them", "train_printouts", printouts_body),
    section("export_open", "Homework export: this step's numbers as CSV and JSON", "train_export", export_body),
    section("layers_open", "Bias of W3, and how much every layer moved", "train_layers", layers_body),
)
