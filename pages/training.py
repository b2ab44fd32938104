"""Train many steps: mini-batch training from the learner's current model, live, with a Stop button."""

import streamlit as st

from fashionnet import charts, evaluate, report, timeline
from fashionnet.data import CLASSES
from fashionnet.learner import MAX_RUN_BATCHES, RunRecord, batches_per_epoch
from ui.router import ensure_routed, shared_data

ensure_routed()
learner = st.session_state.learner
data = shared_data()
s = learner.settings

st.title("Train many steps")
st.caption(
    "Mini-batch training on the whole training set, from your model as it is now, with your optimizer and learning rate. "
    "Each epoch shows every training image once, in a new shuffled order. Stop, or opening another page while it "
    "trains, ends the run and keeps what was trained so far (a reload or a closed tab does not: the address bar gets "
    "the run when it ends); "
    "single steps on the **Train one step** page carry on from the same model, and the **History** page can go back."
)
c1, c2, c3 = st.columns(3, vertical_alignment="bottom")
# Defaults through Session State, not the widgets' own: the router keeps these keys when another page runs
# (ui.router.KEPT_WIDGETS), so a learner who looks at the History page comes back to the same plan.
for key, default in (("run_batch", 64), ("run_unit", "epochs"), ("run_epochs", 1), ("run_batches", 100)):
    st.session_state.setdefault(key, default)
batch_size = c1.selectbox("Batch size", [16, 32, 64, 128, 256, 512], key="run_batch")
per_epoch = batches_per_epoch(data.size("train"), batch_size)
unit = c2.radio("Train for", ["epochs", "batches"], horizontal=True, key="run_unit")
if unit == "epochs":
    amount = c3.number_input("Epochs", 1, MAX_RUN_BATCHES // 938, key="run_epochs")
    batches = min(int(amount) * per_epoch, MAX_RUN_BATCHES)
else:
    batches = int(c3.number_input("Batches", 1, MAX_RUN_BATCHES, key="run_batches"))
opt = "Adam" if s.optimizer == "adam" else "SGD"
st.markdown(
    f"**{batches:,} batches** of {batch_size} ({batches / per_epoch:.2f} epochs of {data.size('train'):,} images) · "
    f"{opt}, lr **{s.lr:g}** (change them under Settings in the sidebar) · starting from history point **{learner.cursor}**"
)
with st.container(horizontal=True, gap="small"):
    start = st.button("Train", key="train_run", type="primary", icon=":material/fitness_center:")
    st.button(
        "Stop",
        key="stop_run",
        icon=":material/stop_circle:",
        help="Stops at once and keeps the batches trained so far. Opening another page while it trains stops it too.",
    )

if start:
    bar = st.progress(0.0, text="Starting…")
    live = st.empty()
    with learner.busy:  # the next script run waits until this one has recorded what it trained
        run = learner.start_run(data, batch_size, batches)
        try:
            while not run.finished:
                run.advance(seconds=0.3)
                bar.progress(run.done / run.planned, text=report.run_progress_text(run))
                live.altair_chart(charts.loss_curve(timeline.run_loss_frame(run)), width="stretch")
        finally:  # also when Stop (or anything else) interrupts this run: the batches trained so far are kept
            run.finish()
    st.session_state.run_message = run.message
    st.rerun()  # so the sidebar and the address bar (a link to this state) include the run

if message := st.session_state.pop("run_message", None):
    st.error(message, icon=":material/warning:")

latest = learner.history[learner.cursor - 1] if learner.cursor else None
if isinstance(latest, RunRecord):
    st.subheader(f"Training run at history point {latest.number}")
    st.markdown(report.run_sentence(latest))
    left, right = st.columns(2)
    left.altair_chart(
        charts.loss_curve(timeline.run_loss_frame(latest)),
        key="run_loss",
        width="stretch",
        alt="Line chart of the training loss over the run's batches; the table beside it has the accuracy figures.",
    )
    evals = timeline.evals_frame(latest)
    with right:
        if len(evals) > 1:
            st.altair_chart(charts.accuracy_lines(evals), key="run_accuracy", width="stretch")
        st.dataframe(
            evals,
            hide_index=True,
            key="run_evals",
            column_config={
                "epoch": st.column_config.NumberColumn(format="%.2f"),
                "batches": st.column_config.NumberColumn(format="localized"),
                "train accuracy": st.column_config.NumberColumn(format="percent"),
                "test accuracy": st.column_config.NumberColumn(format="percent"),
            },
        )
elif learner.cursor:
    st.info("The newest entry of your history is a single step; train a run above to see its curves.", icon=":material/info:")

st.subheader("Confusion matrix, all test images")
conf = evaluate.confusion(learner, data, "test")
st.markdown(report.confusion_sentence(conf))
st.altair_chart(
    charts.confusion_heatmap(conf.frame()),
    key="confusion",
    on_select="rerun",
    selection_mode="cell",
    width="stretch",
    alt="Heatmap of true class against predicted class for the 10,000 test images, counts written in each cell.",
)
chosen = (st.session_state.get("confusion") or {}).get("selection", {}).get("cell") or []
if chosen:
    true, predicted = CLASSES.index(chosen[0]["true"]), CLASSES.index(chosen[0]["predicted"])
else:
    true, predicted, _ = conf.worst()
examples = conf.examples(true, predicted)
verb = "called" if true != predicted else "correctly called"
st.markdown(
    f"**{int(conf.counts[true, predicted]):,} test images of {CLASSES[true]}** {verb} **{CLASSES[predicted]}**"
    + ("" if chosen else " (the most frequent mistake; click any cell to see its images)")
    + (f"; the first {len(examples)}:" if examples else ".")
)
if examples:
    st.image(
        [report.image_png(data.test_images[i], size=84) for i in examples],
        caption=[f"test #{i}" for i in examples],
        output_format="PNG",
    )
