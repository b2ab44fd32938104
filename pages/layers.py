"""Inside the layers: why the lesson's network learns slowly (saturated sigmoids), Lesson beside Modern."""

import streamlit as st

from fashionnet import charts, explain
from fashionnet.data import CLASSES
from ui.router import ensure_routed, shared_data
from ui.widgets import image_of

ensure_routed()
learner = st.session_state.learner
data = shared_data()
sel = st.session_state.selection
image, label = image_of(data, sel)
seed = learner.settings.seed
batch = data.test_images[:256]

st.title("Inside the layers")
st.markdown(
    "The lesson feeds raw pixel values (0–255) to sigmoid units. Each first-layer unit adds up 784 of them, so its "
    "input is huge and its sigmoid is pinned at 0 or 1, where the curve is flat: such a unit passes back almost no "
    "gradient, and nudging its weights changes nothing it outputs. The few units that are not pinned get very large "
    "W1 gradients instead, because each is multiplied by pixel values up to 255 (the last table). "
    "Below: fresh networks of both presets, from your seed "
    f"({seed}), on the selected image ({CLASSES[label]}, {sel.split} #{sel.index}) and on the first 256 test images."
)
stuck = explain.saturation_frame({"256 test images": batch, "selected image": image}, seed)
st.markdown(f"**What the data show:** {explain.saturation_sentence(stuck, '256 test images')}")
st.dataframe(
    stuck,
    hide_index=True,
    key="saturation_table",
    height=35 * (len(stuck) + 1) + 3,
    column_config={"share stuck": st.column_config.NumberColumn(format="percent")},
)
st.subheader("Every hidden layer's outputs")
probe = st.radio("Images", ["256 test images", "selected image"], horizontal=True, key="hist_probe")
hist = explain.activation_histograms(batch if probe == "256 test images" else image, seed)
for column, preset in zip(st.columns(2), ("Lesson", "Modern"), strict=True):
    column.altair_chart(
        charts.histograms(hist[hist.preset == preset]),
        key=f"histograms_{preset}",
        alt=f"Histograms of each hidden layer's outputs, {preset} preset; the table above has the shares.",
    )
st.subheader("Gradient size per layer, selected image")
st.dataframe(explain.gradient_sizes(image, label, seed), hide_index=True, key="gradient_table")
