"""Predict: pick an image, see what the network thinks of it."""

import streamlit as st

from fashionnet import charts, report, timeline
from ui.router import ensure_routed, shared_data
from ui.widgets import image_of, pick_image, show_image

ensure_routed()
learner = st.session_state.learner
data = shared_data()

st.title("Predict")
st.caption("Pick an image and see the probability the network gives each of the ten classes.")
ref = pick_image(data)
image, label = image_of(data, ref)
prediction = learner.predict(image)
frame = report.probabilities_frame(prediction, label)

left, right = st.columns([1, 2], gap="large")
with left:
    show_image(data, ref)
with right:
    st.markdown(f"#### {report.prediction_sentence(prediction, label)}")
    st.altair_chart(
        charts.probabilities(frame, dark=st.context.theme.type == "dark"),
        key="probs",
        width="stretch",
        alt="Bar chart of the ten class probabilities; the table under 'Raw numbers' has the same values.",
    )
with st.expander("Raw numbers: logits and probabilities"):
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "probability": st.column_config.NumberColumn(format="%.6f"),
            "logit": st.column_config.NumberColumn(format="%.6f"),
        },
        key="logits_table",
    )
done = timeline.taken(learner.history[: learner.cursor], "training step")
st.caption(f"After {done}. Go to **Train one step** to change the weights with this image.")
