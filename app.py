"""FashionNet Lab: see one real training step of the lesson's network on Fashion-MNIST.

Entry point for ``streamlit run app.py``. The router (page config, the learner's state, navigation,
sidebar) lives in ``ui/router.py`` so that a page opened first from a shared link can run it too.

This file is read twice. ``streamlit run app.py`` finds the ``st.App`` below (Streamlit's ASGI entry
point) and imports this file as the module ``app`` to serve it; that import, when the server starts,
starts the warm-up (``ui/warmup.py``: torch, the first page's modules and the dataset, in a background
thread), so the first visitor does not wait for them. The app's lifespan would start it too (once;
e.g. if another ASGI server builds the app differently). Every session then runs this file as its
script (``__main__``, also under AppTest), which runs the router.
"""

import streamlit as st

if __name__ == "__main__":  # a session's script run
    from ui import warmup

    warmup.wait()  # no session runs while the warm-up imports (see ui/warmup.py)
    from ui.router import run

    run()
else:  # imported by `streamlit run app.py` (or uvicorn) to serve the app
    from ui import warmup

    warmup.start()  # now rather than in the lifespan: ~0.5 s earlier, before Streamlit builds its runtime
    app = st.App(__file__, lifespan=warmup.lifespan)
