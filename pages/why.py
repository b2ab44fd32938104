"""Why it moved: the two vectors behind W3's gradient, gradient beside update, and Adam versus SGD."""

import streamlit as st

from fashionnet import charts, explain, report
from fashionnet.data import CLASSES
from fashionnet.settings import LR_RANGE
from ui.router import ensure_routed, shared_data

ensure_routed()
learner = st.session_state.learner
data = shared_data()
step = learner.last_report

st.title("Why it moved")
if step is None:
    undone = " (after Undo or Redo there is no fresh step to explain)" if learner.steps_taken else ""
    st.info(f"Take a step on the **Train one step** page first: this page explains the newest step{undone}.")
    st.page_link("pages/train.py", label="Go to Train one step", icon=":material/model_training:")
else:
    r = step.record
    where = f"{r.ref.split} #{r.ref.index}" if r.ref else "own image"
    st.caption(f"Step {r.number}: {CLASSES[r.label]} ({where}), {'Adam' if r.optimizer == 'adam' else 'SGD'}, lr {r.lr:g}.")
    sig = explain.signals(step, learner.settings)
    st.markdown(
        "For one image, W3's gradient is the **outer product** of two vectors: the error signal δ of the 64 "
        "layer-3 units (one per row) and the output a of the 64 layer-2 units (one per column): g[i, j] = δ_i · a_j."
    )
    d_col, a_col = st.columns(2, gap="medium")
    d_col.altair_chart(charts.vector_bars(explain.vector_frame(sig.delta), "δ_i (rows)"), key="delta", alt="Bars of δ, one per unit.")
    a_col.altair_chart(charts.vector_bars(explain.vector_frame(sig.activation), "a_j (columns)"), key="act", alt="Bars of a, one per unit.")
    frame = report.w3_change_frame(step)
    grad_col, change_col = st.columns(2, gap="medium")
    with grad_col:
        st.markdown("**Gradient of W3** (δ_i · a_j)")
        st.altair_chart(charts.w3_heatmap(frame, "gradient", "gradient"), key="grad_heatmap", alt="Heatmap of W3's gradient.")
    with change_col:
        st.markdown("**Change of W3** (what the optimizer made of it)")
        st.altair_chart(charts.w3_heatmap(frame), key="change_heatmap", alt="Heatmap of the change of W3.")
    st.markdown(f"**{explain.still_sentence(step)}** {report.why_it_moved(step)}")

    st.subheader("Adam versus SGD on the same step")
    st.caption("Both start fresh (no history) from the weights before this step, on the same image. Your model is not changed.")
    a_lr, s_lr, _ = st.columns([1, 1, 2])
    # The inputs allow any lr the settings allow: they start at the step's own lr, which may be large.
    adam_lr = a_lr.number_input("Adam lr", *LR_RANGE, value=r.lr if r.optimizer == "adam" else 0.005, format="%g", key="whatif_adam_lr")
    sgd_lr = s_lr.number_input("SGD lr", *LR_RANGE, value=r.lr if r.optimizer == "sgd" else 0.1, format="%g", key="whatif_sgd_lr")
    image = step.image
    for column, (name, lr) in zip(st.columns(2, gap="medium"), (("adam", adam_lr), ("sgd", sgd_lr)), strict=True):
        result = explain.what_if(learner, image, r.label, name, lr, start=step.params_before)
        changes = explain.what_if_frame(result)
        with column:
            st.markdown(f"**{'Adam' if name == 'adam' else 'SGD'}**, lr {lr:g}: loss {result.loss_before:.4f} → {result.loss_after:.4f}")
            st.altair_chart(charts.w3_heatmap(changes), key=f"whatif_{name}", alt=f"Heatmap of the change {name} makes.")
            st.dataframe(
                report.top_moves_of(changes, 5),
                hide_index=True,
                key=f"whatif_top_{name}",
                column_config={
                    k: st.column_config.NumberColumn(format="%+.7f" if k == "change" else "%.6f") for k in ("before", "after", "change")
                },
            )
