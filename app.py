"""FashionNet Lab: see one real training step of the lesson's network on Fashion-MNIST.

Entry point for ``streamlit run app.py``. The router (page config, the learner's state, navigation,
sidebar) lives in ``ui/router.py`` so that a page opened first from a shared link can run it too.
"""

from ui.router import run

run()
