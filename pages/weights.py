"""Every layer: W1 as 64 images, W2 and W3 as grids, W4 per class and the biases, now or as the change since any point."""

import streamlit as st

from fashionnet import charts, layerviews
from fashionnet.data import CLASSES
from ui.router import ensure_routed

ensure_routed()
learner = st.session_state.learner

st.title("Every layer")
st.caption(
    "Orange is positive, blue negative, white zero. Pick **change since point N** to see what the steps and runs since "
    "then did to each layer (point 0 is the fresh model; the **History** page lists the points)."
)
c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
view = c1.radio("Show", ["weights now", "change since point N"], horizontal=True, key="layers_view")
since = None
if view != "weights now":
    since = int(c2.number_input(f"N (0–{len(learner.history)})", 0, len(learner.history), 0, key="layers_since"))
now = learner.params_at(learner.cursor)
then = learner.params_at(since) if since is not None else None
shown = layerviews.compare(now, then)
what = "weight" if then is None else f"change since point {since}"

if then is not None:
    st.markdown(f"From point **{since}** to point **{learner.cursor}** (where you are):")
    st.dataframe(
        layerviews.summary_frame(now, then),
        hide_index=True,
        key="layers_summary",
        column_config={
            "mean |weight|": st.column_config.NumberColumn(format="%.5f"),
            "weight change (L2)": st.column_config.NumberColumn(format="%.6f"),
            "largest weight change": st.column_config.NumberColumn(format="%.6f"),
            "weights moved": st.column_config.NumberColumn(format="percent"),
            "bias change (L2)": st.column_config.NumberColumn(format="%.6f"),
        },
    )

st.subheader("W1: what each of the 64 first-layer units looks for")
# One toggle per view: in the change view one shared scale is the honest default (small changes stay small).
per_unit = st.toggle("Each unit on its own colour scale", value=then is None, key=f"w1_per_unit_{then is None}")
st.image(
    layerviews.w1_grid_png(shown["W1.weight"], per_unit=per_unit),
    caption=f"W1 {what}: unit 0 top left, unit 63 bottom right; each tile is one unit's 784 input weights as 28×28 pixels.",
    width=560,
)
left, right = st.columns(2)
for column, layer, rows, cols in ((left, "W2", "layer-2 unit", "layer-1 unit"), (right, "W3", "layer-3 unit", "layer-2 unit")):
    with column:
        st.subheader(layer)
        frame = layerviews.matrix_frame(shown[f"{layer}.weight"])
        st.altair_chart(
            charts.matrix_heatmap(frame, f"{layer} {what}", f"row ({rows})", f"column ({cols})"),
            key=f"heatmap_{layer}",
            width="stretch",
            alt=f"Heatmap of {layer} ({what}), {rows} rows by {cols} columns; hover a cell for its value.",
        )
st.subheader("W4: how each layer-3 unit votes for each class")
st.altair_chart(
    charts.matrix_heatmap(
        layerviews.matrix_frame(shown["W4.weight"], list(CLASSES)), f"W4 {what}", "class", "column (layer-3 unit)", row_field="class:N"
    ),
    key="heatmap_W4",
    width="stretch",
    alt=f"Heatmap of W4 ({what}): one row per class, one column per layer-3 unit; hover a cell for its value.",
)
st.subheader("Biases")
st.caption("One bias per unit; W4's ten units are the classes, 0 T-shirt/top to 9 Ankle boot (hover a bar for its name).")
st.altair_chart(
    charts.bias_bars(layerviews.bias_frame(shown)),
    key="biases",
    alt=f"Bar charts of every layer's biases ({what}); hover a bar for its unit and value.",
)
