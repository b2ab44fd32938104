"""Server start-up: import what the first page needs and read the dataset while the browser loads Streamlit.

Streamlit runs ``app.py`` only when the first browser connects (after it has loaded Streamlit's
JavaScript, ~1 s after the page was asked for), so without this the first visitor waits for every
import (torch alone ~1 s) and the dataset. ``streamlit run app.py`` serves the ``st.App`` of app.py,
whose :func:`lifespan` runs once, when the server starts: it starts one daemon thread that imports
torch and the modules of the Predict page, reads the dataset (:func:`fashionnet.data.start_early_load`)
and builds a learner once, and returns at once, so the server answers as soon as before. The first
session's ``shared_data()`` (``ui/router.py``) takes that dataset, waiting for the thread if it is
still reading: the dataset is read once per process. Imports the thread has started are shared
through Python's import locks, so a session that arrives early simply waits for them.

Once the first page has been drawn (:func:`first_page_drawn`, called by the router), or after
:data:`LATER_AFTER_S` without a visitor, the thread takes one throwaway optimizer step: torch's first
step imports ``torch._dynamo`` (~1 s; see ``fashionnet/__init__.py``), which the first click on
*Train one step* would otherwise wait for. It waits so as not to compete for the GIL with the first page.

Without a server start (AppTest, ``python -c 'import ui.router'``) nothing here runs and the first
run imports and reads as it always did.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from streamlit.logger import get_logger

# What the first page (Predict) imports, beyond Streamlit itself: ui.router pulls in torch and the learner.
FIRST_PAGE_MODULES = ("ui.router", "ui.widgets", "fashionnet.charts", "fashionnet.report")
# Streamlit's own modules that its first script run imports lazily: st.set_page_config's emoji icon loads the
# emoji catalogue (~0.15 s), st.Page's material icons their names. Skipped if a Streamlit version lacks them.
STREAMLIT_LAZY_MODULES = ("streamlit.emojis", "streamlit.material_icon_names")
LATER_AFTER_S = 30.0
_LOG = get_logger(__name__)
_lock = threading.Lock()
_started = False
_first_page = threading.Event()
timings: dict[str, float] = {}  # seconds since the warm-up started, for the log (bench/startup_bench.py reads it)


def warm_up(later_after_s: float = LATER_AFTER_S) -> None:
    """Import torch, start reading the dataset, import the first page, build a learner; later, one step.

    Never raises: on any error the first session imports and reads by itself and shows the error there.
    """
    t0 = time.perf_counter()
    try:
        import torch

        from fashionnet import data

        timings["torch imported"] = time.perf_counter() - t0
        data.start_early_load()
        for name in FIRST_PAGE_MODULES:
            importlib.import_module(name)
        for name in STREAMLIT_LAZY_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        timings["first page imported"] = time.perf_counter() - t0
        from fashionnet.learner import Learner
        from fashionnet.settings import LESSON

        image = torch.zeros(28, 28, dtype=torch.uint8)
        Learner(LESSON).predict(image)  # the process's first Learner and forward pass (lazy parts of torch)
        timings["first learner built"] = time.perf_counter() - t0
        data.start_early_load().result()  # the same future: wait for the read, only to log when it was done
        timings["data read"] = time.perf_counter() - t0
        _LOG.info("warm-up: %s", _timeline())
        _first_page.wait(later_after_s)
        Learner(LESSON).train_step(image, 0)  # imports torch._dynamo, for the first click
        timings["first step taken"] = time.perf_counter() - t0
        _LOG.info("warm-up, after the first page: %s", _timeline())
    except Exception:
        _LOG.exception("warm-up failed; the first session will import and read the data itself")


def _timeline() -> str:
    return ", ".join(f"{k} at {v:.2f} s" for k, v in timings.items())


def first_page_drawn() -> None:
    """Called by the router after each run: lets the warm-up go on to the parts no first page needs."""
    _first_page.set()


def start() -> bool:
    """Start the warm-up thread, once per process; False if it was started before."""
    global _started
    with _lock:
        if _started:
            return False
        _started = True
    threading.Thread(target=warm_up, name="fashionnet-warm-up", daemon=True).start()
    return True


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """The ``st.App`` lifespan of app.py: start the warm-up and serve at once."""
    start()
    yield
