"""Train one step: forward, loss, backward, one optimizer step on the selected image; see W3 move.

The panel (the buttons and everything a step changes) is ``ui/train_panel.py``: one keyed fragment.
"""

import streamlit as st

from ui.router import ensure_routed, shared_data
from ui.train_panel import panel, top
from ui.widgets import pick_image

ensure_routed()
data = shared_data()

st.title("Train one step")
with st.expander("Choose another image"):
    pick_image(data)
top(data)
panel()
