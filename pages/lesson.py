"""The lesson, cell by cell: its code beside the live output of the learner's own model, with Next and Back."""

import streamlit as st

from fashionnet import lesson, report, timeline
from fashionnet.data import CLASSES
from fashionnet.learner import ImageRef, StepRefused
from fashionnet.settings import LESSON, Settings
from ui.router import ensure_routed, shared_data
from ui.widgets import image_of

ensure_routed()
learner = st.session_state.learner
data = shared_data()
last = len(lesson.CELLS) - 1
step = min(max(int(st.session_state.get("lesson_step", 0)), 0), last)


def go(to: int) -> None:
    st.session_state.lesson_step = min(max(to, 0), last)


def fresh(lr: float) -> None:
    learner.reset(Settings(**{**LESSON.__dict__, "lr": lr}))
    st.session_state.selection = ImageRef("train", 0)
    st.session_state.cfg_lr = lr


def fresh_button(label: str, key: str, lr: float, **kwargs) -> None:
    """Start a fresh Lesson model; with a history to lose, it asks first (as the sidebar's Reset does)."""
    entries = len(learner.history)
    if not entries:
        st.button(label, key=key, on_click=fresh, args=(lr,), **kwargs)
        return
    with st.popover(label, **kwargs):
        st.markdown(report.discard_words(entries))
        st.button(f"Discard {report.count(entries, 'entry')} and start fresh", key=key, type="primary", on_click=fresh, args=(lr,))


def run_step() -> None:
    ref = st.session_state.selection
    try:
        learner.train_step(*image_of(data, ref), ref)
    except StepRefused as err:
        st.session_state.lesson_message = str(err)


st.title("The lesson, step by step")
with st.container(horizontal=True, vertical_alignment="center"):
    st.button("Back", key="lesson_back", on_click=go, args=(step - 1,), disabled=step == 0, icon=":material/arrow_back:")
    st.markdown(f"**Step {step + 1} of {last + 1}: {lesson.CELLS[step].title}**")
    st.button("Next", key="lesson_next", on_click=go, args=(step + 1,), disabled=step == last, icon=":material/arrow_forward:")
cell = lesson.CELLS[step]
st.markdown("> " + cell.words)
sel = st.session_state.selection
image, label = image_of(data, sel)
if step == 0:
    st.caption("The lesson writes “$.05$ percent” and “$.95$ percent”; it means a 5 % and a 95 % chance.")
    now = timeline.taken(learner.history[: learner.cursor])
    st.caption(f"Your model now: {now} taken, on {sel.split} image #{sel.index} ({CLASSES[label]}).")
    fresh_button("Start from a fresh Lesson model on training image 0", "lesson_fresh", LESSON.lr, type="primary")
    st.caption("This replaces your model with the Lesson preset from seed 0; the steps you took are discarded.")
else:
    # Code, then output, each full width: PyTorch's printouts are 80 characters wide.
    st.markdown("**The lesson's code**")
    st.code(cell.code, language="python")
    if cell.printed:
        with st.expander("What the lesson printed"):
            st.code(cell.printed, language=None)
    live = lesson.live_output(step, learner, image, label)
    if live:
        st.markdown(f"**Your model's output** ({sel.split} image #{sel.index}, {CLASSES[label]})")
        st.code(live, language=None, wrap_lines=True)
    verdict = lesson.matches(step, live)
    if verdict is True:
        st.success("Matches the lesson's printed output, to the last printed digit.")
    elif verdict is False:
        st.warning(lesson.why_differs(step, learner, sel))
    if step == 3 and (note := report.lr_discrepancy(learner.settings)):
        st.info(note)
        with st.container(horizontal=True):
            fresh_button("Fresh model with lr 0.0005 (the code)", "lesson_lr_code", report.LESSON_CODE_LR)
            fresh_button("Fresh model with lr 0.005 (the output)", "lesson_lr_output", report.LESSON_OUTPUT_LR)
        st.caption("Either button starts a fresh Lesson model on training image 0; your steps are discarded.")
    if cell.runs_step:
        st.button("Run this cell: loss.backward(); adam.step()", key="lesson_run", on_click=run_step, type="primary")
        if message := st.session_state.pop("lesson_message", None):
            st.error(message)
        if (r := learner.last_report) is not None:
            st.success(f"Step {r.record.number} taken: loss {r.record.loss_before:.4f} → {r.record.loss_after:.4f}. Press Next.")
            if r.record.number == 1:
                st.caption("Running the cell again takes another step; the lesson's next printout is after exactly one.")
    if step == last and (r := learner.last_report) is not None:
        st.info(report.first_entry_callout(r))
        if lesson.first_step_explained(learner):
            st.markdown(
                "**Why every entry moved by the same amount:** Adam's first step moves each weight by the learning rate, "
                "in the direction that lowers the loss, however big or small its gradient. **Why whole rows moved "
                "together:** for one image, the gradient of entry (i, j) is the error of layer-3 unit i times the output "
                "of layer-2 unit j; the sigmoid outputs are all positive, so every entry in a row gets the same sign."
            )
        else:
            st.markdown(
                f"The lesson explains Adam's **first** step (every entry moves by the learning rate). This was step "
                f"{r.record.number} of your model"
                + (" with SGD, which moves each entry by lr × its gradient" if learner.settings.optimizer == "sgd" else "")
                + ": **Why it moved** explains this step's numbers entry by entry."
            )
