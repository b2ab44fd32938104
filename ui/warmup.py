"""Server start-up: import what the first page needs and read the dataset while the browser loads Streamlit.

Streamlit runs ``app.py`` only when the first browser connects (after it has loaded Streamlit's
JavaScript, ~1 s after the page was asked for), so without this the first visitor waits for every
import (torch alone ~1 s) and the dataset. ``streamlit run app.py`` serves the ``st.App`` of app.py,
whose :func:`lifespan` runs once, when the server starts: it starts one daemon thread that imports
torch and the modules of the Predict page, reads the dataset (:func:`fashionnet.data.start_early_load`,
in a thread of its own) and builds a learner and takes one step with it (the lazy parts of torch),
and returns at once, so the server answers as soon as before. The first session's ``shared_data()``
(``ui/router.py``) takes that dataset, waiting for the read if it is still going on: the dataset is
read once per process. Imports the thread has started are shared through Python's import locks, so
a session that arrives early simply waits for them.

Without a server start (AppTest, ``python -c 'import ui.router'``) nothing here runs and the first
run imports and reads as it always did.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
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
SWITCH_INTERVAL_S = 0.001  # while the warm-up imports (Python's default: 0.005)
_LOG = get_logger(__name__)
_lock = threading.Lock()
_started = False
_thread: threading.Thread | None = None
timings: dict[str, float] = {}  # seconds since the warm-up started, for the log (bench/startup_bench.py reads it)


def warm_up() -> None:
    """Import torch, start reading the dataset, import the first page, build a learner and step it once.

    Never raises: on any error the first session imports and reads by itself and shows the error there.
    """
    t0 = time.perf_counter()
    # While this thread imports (pure Python, holding the GIL), the server's event loop serves Streamlit's
    # JavaScript and the data thread reads and hashes files: both give the GIL up at every I/O and wait
    # for it again, by default up to 5 ms each time. A shorter switch interval lets them back in sooner.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL_S))
    try:
        import torch

        from fashionnet import data

        timings["torch imported"] = time.perf_counter() - t0
        early = data.start_early_load()
        for name in FIRST_PAGE_MODULES:
            importlib.import_module(name)
        for name in STREAMLIT_LAZY_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        timings["first page imported"] = time.perf_counter() - t0
        from fashionnet.learner import Learner
        from fashionnet.settings import LESSON

        image = torch.zeros(28, 28, dtype=torch.uint8)
        learner = Learner(LESSON)  # the process's first Learner, forward pass and step: lazy parts of torch
        prediction = learner.predict(image)
        learner.train_step(image, 0)
        timings["first learner stepped"] = time.perf_counter() - t0
        _first_draws(image, prediction)
        timings["first page's draws made once"] = time.perf_counter() - t0
        early.result()  # only to log when the read was done (not start_early_load() again: once taken, it would read again)
        timings["data read"] = time.perf_counter() - t0
        _LOG.info("warm-up: %s", ", ".join(f"{k} at {v:.2f} s" for k, v in timings.items()))
    except Exception:
        _LOG.exception("warm-up failed; the first session will import and read the data itself")
    finally:
        sys.setswitchinterval(interval)


def _first_draws(image: Any, prediction: Any) -> None:
    """What the Predict page computes to draw, once, with throwaway inputs: the first use of PIL's PNG encoder
    (~0.14 s here), of Altair's schema (~0.03 s), of the probabilities table and of its Arrow form would
    otherwise fall on the first visitor's run."""
    from streamlit import dataframe_util

    from fashionnet import charts, report

    frame = report.probabilities_frame(prediction, 0)
    charts.probabilities(frame).to_dict()
    dataframe_util.convert_pandas_df_to_arrow_bytes(frame)
    report.image_png(image)


def start() -> bool:
    """Start the warm-up thread, once per process; False if it was started before."""
    global _started, _thread
    with _lock:
        if _started:
            return False
        _started = True
        _thread = threading.Thread(target=warm_up, name="fashionnet-warm-up", daemon=True)
    _thread.start()
    return True


def wait() -> None:
    """Wait until the warm-up (imports and the dataset read) is over; at once when none was started.

    Every session's script run calls this before it imports or draws anything. Python's import locks keep
    two threads from importing the same module twice, but not every library is safe to use while another
    thread is still importing: a first visit that ran during the warm-up once found ``isinstance((), Mapping)``
    true inside ``st.selectbox`` ("'tuple' object has no attribute 'keys'", CI, a fresh cache folder, so
    torchvision was being imported meanwhile). The first visitor waits for the imports either way."""
    thread = _thread
    if thread is not None and thread.is_alive() and thread is not threading.current_thread():
        thread.join()


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """The ``st.App`` lifespan of app.py: start the warm-up and serve at once."""
    start()
    yield
