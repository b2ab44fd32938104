"""The lesson's claim, tested: does a confidently right prediction change the network less than a wrong one?"""

import streamlit as st

from fashionnet import charts, claims
from fashionnet.settings import LR_RANGE
from ui.router import ensure_routed, shared_data

ensure_routed()
learner = st.session_state.learner
data = shared_data()

st.title("Test the lesson's claim")
st.markdown(
    "> *If the neural network said there was a .05 percent chance of the picture being a hat, but the picture was in "
    "fact a hat, the neural network will be updated a lot, and if it predicted a .95 percent chance … we would not "
    "update our neural network so much.*\n\n"
    "(The lesson means 5 % and 95 %.) Here we check it on real images: for each one, from the same weights, the "
    "probability of its true class before the step and how much one step on it would change the network, with SGD "
    "and with Adam. A fresh network gives every class about 10 %, so by default a **copy** of your model is trained "
    "300 mini-batch steps first. Your own model is not changed."
)
c1, c2, c3, c4 = st.columns(4)
n = c1.number_input("Test images", 50, min(2000, data.size("test")), value=500, step=50, key="claim_n")
pre = c2.number_input("Train the copy first (steps of 64)", 0, 3000, value=300, step=100, key="claim_pretrain")
sgd_lr = c3.number_input("SGD lr", *LR_RANGE, value=0.1, format="%g", key="claim_sgd_lr")
adam_lr = c4.number_input("Adam lr", *LR_RANGE, value=learner.settings.lr, step=0.0005, format="%g", key="claim_adam_lr")
if st.button("Run the experiment", key="run_claim", type="primary", icon=":material/science:"):
    with st.spinner(f"Training a copy {pre} steps, then {2 * n} one-image steps…"):
        net = claims.pretrained_copy(learner, data, int(pre))
        frame = claims.run_experiment(net, learner.settings.scale_inputs, data, int(n), {"sgd": sgd_lr, "adam": adam_lr})
    st.session_state.claim_result = (frame, claims.summary(frame), learner.settings, int(pre))

if result := st.session_state.get("claim_result"):
    frame, sentence, settings, steps = result
    inputs = "0–1" if settings.scale_inputs else "0–255"
    st.markdown(f"**What the data show** ({settings.activation}, inputs {inputs}, copy trained {steps} steps): {sentence}")
    st.altair_chart(
        charts.claim_scatter(frame),
        key="claim_scatter",
        alt="Scatter of true-class probability against update size; the sentence above sums it up.",
    )
    st.caption(
        "Why, from the maths: with cross-entropy the gradient at the logits is p − onehot, so SGD's step shrinks as the "
        "true class's probability nears 1. Adam's first step divides each gradient by its own size, so every weight "
        "with a non-zero gradient moves by about lr whatever the error."
    )
