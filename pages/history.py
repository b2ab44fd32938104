"""History: every step and training run so far; go back to any point exactly, and forward again."""

import streamlit as st

from fashionnet import charts, report, timeline
from ui.router import ensure_routed

ensure_routed()
learner = st.session_state.learner


def go(point: int) -> None:
    # A callback: the weights move before the script draws anything, the sidebar's point included. A long
    # replay (a run whose snapshot the history's budget dropped) shows what it trains meanwhile.
    with st.spinner(timeline.replay_note(learner, point) or f"Going to point {point}…", show_time=True):
        learner.goto(point)
    st.session_state.history_message = f"Now at point {point}: every weight and the optimizer state are exactly as they were then. " + (
        "Forward is still possible until you take a new step or run." if point < len(learner.history) else ""
    )


st.title("History")
frame = timeline.history_frame(learner)
st.caption(
    "Point N is your model after the first N entries (point 0: fresh from the seed). Going back restores the weights and "
    "Adam's state bit for bit; the entries after it stay (faded) so you can go forward again, until a new step or run "
    "replaces them."
)
if message := st.session_state.pop("history_message", None):
    st.success(message, icon=":material/history:")
if not learner.history:
    st.info("No steps yet. Take one on **Train one step**, or train a run on **Train many steps**.", icon=":material/info:")
    st.stop()

st.markdown(
    f"You are at point **{learner.cursor}** of **{len(learner.history)}** "
    f"({report.count(sum(r.kind == 'step' for r in learner.history), 'single step')}, "
    f"{report.count(sum(r.kind == 'run' for r in learner.history), 'training run')})."
)
with st.container(horizontal=True, gap="small", vertical_alignment="bottom"):
    st.button("Back one", key="history_back", icon=":material/undo:", on_click=go, args=(learner.cursor - 1,), disabled=learner.cursor == 0)
    st.button(
        "Forward one",
        key="history_forward",
        icon=":material/redo:",
        on_click=go,
        args=(learner.cursor + 1,),
        disabled=learner.cursor >= len(learner.history),
    )
    st.number_input("Point", 0, len(learner.history), learner.cursor, key="goto_number")
    st.button(
        "Go to this point",
        key="goto_point",
        type="primary",
        on_click=lambda: go(int(st.session_state.goto_number)),
        icon=":material/move_item:",
    )

st.altair_chart(
    charts.timeline(timeline.history_long(frame)),
    key="history_chart",
    width="stretch",
    alt="The loss before and after each entry, and each entry's update size; the table below has the same numbers.",
)
event = st.dataframe(
    frame,
    hide_index=True,
    key="history_table",
    on_select="rerun",
    selection_mode="single-row",
    column_order=["point", "status", "kind", "image", "class", "loss before", "loss after", "update size", "test accuracy"],
    column_config={
        "loss before": st.column_config.NumberColumn(format="%.6f"),
        "loss after": st.column_config.NumberColumn(format="%.6f"),
        "update size": st.column_config.NumberColumn(format="%.6f", help="L2 norm of the change of all weights and biases"),
        "test accuracy": st.column_config.NumberColumn(format="percent", help="after a training run, on all 10,000 test images"),
        "status": st.column_config.TextColumn(width="medium", help="where your weights are; undone entries can be gone forward to again"),
    },
)
st.caption("*None*: nothing to show there (the start has no loss; a single step does not measure test accuracy).")
if event.selection.rows:
    chosen = int(frame.iloc[event.selection.rows[0]]["point"])
    st.button(f"Go to point {chosen}", key="goto_selected", on_click=go, args=(chosen,), icon=":material/move_item:")
