"""Benchmark: issue 10's anchors measured again today, side by side with the app's own figures, in one run.

The issue's targets (Train page click-to-paint median <= 80 ms, its AppTest click <= 25 ms) were set
next to "anchors" its author measured on throwaway pages of this machine on a faster day. This bench
measures those anchors again and the app's figures in the same run, in rounds (each round measures
every figure once, so a machine that slows down mid-run slows all of them alike), and prints the
medians, today/issue for each anchor, and the machine factor: how much longer things take today.

Each round measures:

- Chromium click-to-paint (Playwright, /usr/bin/chromium), each click timed in the page the same way,
  from the click to the frame painted after the rerun finished with the new content in the DOM: a
  throwaway bare page (a button and a line of text with the click count, ``runner.postScriptGC =
  false``), the same page plus ``import torch`` with Streamlit's default post-run ``gc.collect(2)``
  (not with --quick), and the app's Train page (``paint_bench.session``, its own server each round).
- The throwaway page's click on a real server, without a browser: a websocket client speaking
  Streamlit's protocol (``classroom.StreamlitSession``) times the click to the run's
  ``script_finished`` message, on four servers that stay up all run: the bare page and the page with
  ``import torch``, each with the post-run GC and without. The issue's server figures (15–30, 95 and
  12 ms) are compared with these: the issue does not say how it timed them, but its GC cost shows they
  came from a real server (AppTest runs no post-run GC).
- AppTest click + rerun (``rerun_bench``'s measure), in processes that stay up all run: the two
  throwaway pages and the Train page. AppTest's runner skips the server's ``gc.collect(2)``: for "GC
  on" the bench runs it after each rerun, as a server's script thread does, and counts it.
- Plain PyTorch: ``import torch`` and ``import torch`` + ``import torchvision`` in fresh interpreters;
  one lesson step of the issue's model (784-64-64-64-10, ReLU, cross-entropy, Adam lr 1e-3, one image;
  ``tests/plain_reference.py``); a plain training loop at batch 64, one thread (``training_bench.py``).

The throwaway pages are written into a temporary folder, each with its own ``.streamlit/config.toml``.
Run from the project root (FASHIONNET_DATA_DIR as for the other benchmarks)::

    python bench/anchor_bench.py           # 4 rounds, about 4 minutes
    python bench/anchor_bench.py --quick   # one short round, about 1 minute
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from benchenv import ROOT
from classroom import StreamlitSession, elements, machine_line
from paint_bench import INIT_SCRIPT, MEASURE_CLICK, breakdown, summary_lines
from paint_bench import TARGET_MS as PAINT_TARGET_MS
from paint_bench import session as train_page_session
from rerun_bench import TARGET_MS as RERUN_TARGET_MS

from browser_support import StreamlitServer, chromium, wait_for_app


@dataclass(frozen=True)
class Anchor:
    """One figure of issue 10, as its author measured it; a range when the issue gives one."""

    low: float
    high: float
    unit: str  # "ms", "s" or "samples/s" (a rate: higher is faster)

    def text(self) -> str:
        if self.low == self.high:
            return figure(self.low, self.unit)
        return f"{number(self.low, self.unit)}–{figure(self.high, self.unit)}"

    def slowdown(self, today: float) -> tuple[float, float, float]:
        """today/issue as a ratio of times (a rate is inverted): the smallest, against the range's middle, the largest."""
        middle = (self.low + self.high) / 2
        if self.unit == "samples/s":
            return self.low / today, middle / today, self.high / today
        return today / self.high, today / middle, today / self.low


ANCHORS = {
    "paint bare": Anchor(40, 40, "ms"),
    "server bare gc": Anchor(15, 30, "ms"),
    "server torch gc": Anchor(95, 95, "ms"),
    "server torch": Anchor(12, 12, "ms"),
    "prototype": Anchor(63, 79, "ms"),
    "step": Anchor(0.4, 0.4, "ms"),
    "training": Anchor(100_000, 114_000, "samples/s"),
    "import torch": Anchor(0.9, 0.9, "s"),
    "import torchvision": Anchor(1.8, 1.8, "s"),
}
# The table's rows: what was measured, the issue's anchor it is compared with (None: no ratio), and whether it
# counts in the machine factor (measured as the issue measured it) or is shown beside it (another method).
ROWS: list[tuple[str, str | None, bool, str]] = [
    ("paint bare", "paint bare", True, "bare page click-to-paint, Chromium, GC off"),
    ("paint torch gc", None, False, "bare page + import torch, click-to-paint, Chromium, GC on"),
    ("server bare gc", "server bare gc", True, "bare page click -> run finished, server, GC on"),
    ("apptest bare gc", "server bare gc", False, "  the same in AppTest (its harness, + the GC)"),
    ("server torch gc", "server torch gc", True, "bare page + import torch, server, GC on"),
    ("apptest torch gc", "server torch gc", False, "  the same in AppTest (its harness, + the GC)"),
    ("server torch", "server torch", True, "bare page + import torch, server, GC off"),
    ("apptest torch", "server torch", False, "  the same in AppTest (its harness)"),
    ("prototype", "prototype", False, "prototype Train page, no heatmap, Chromium, GC off"),
    ("step", "step", True, "plain lesson step (784-64-64-64-10 ReLU, Adam, 1 image)"),
    ("training", "training", True, "plain training, batch 64, one thread"),
    ("import torch", "import torch", True, "import torch (fresh interpreter)"),
    ("import torchvision", "import torchvision", True, "import torch + import torchvision (fresh interpreter)"),
]
COMPUTE = ("step", "training", "import torch", "import torchvision")  # Python and PyTorch alone; the rest is Streamlit (+ Chromium)

# The throwaway page: a button and a line of text. Four variants, each a folder with its own config.
PAGES = {"bare": ("", "false"), "bare gc": ("", "true"), "torch": ("torch", "false"), "torch gc": ("torch", "true")}
BARE_PAGE = """\
import streamlit as st
{extra_import}
st.session_state.setdefault("clicks", 0)
if st.button("Click me", key="train_step"):  # the Train page's key: paint_bench's probe clicks it
    st.session_state.clicks += 1
st.markdown(f"Clicks: {{st.session_state.clicks}}")
"""
CONFIG = """\
[runner]
postScriptGC = {gc}

[server]
headless = true
# As the app's own config: no file watcher polling in the background of the measurement.
fileWatcherType = "none"

[browser]
gatherUsageStats = false
"""

# One click on the throwaway page, timed in the page as paint_bench times the Train page's: its probe's own code
# (its MEASURE_CLICK from the websocket stamps to the click on the button keyed train_step, and the promise that
# resolves with the marks), then a rAF callback that sees the run finished, the new count in the DOM and nothing
# stale, and a setTimeout(0) that runs once that frame has been painted.
BARE_CLICK_HEAD = """
async ({n}) => {
  const q = s => document.querySelector(s);
  const app = q('[data-testid=stApp]');
  const textShown = () => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stMarkdownContainer]')]
    .some(c => c.textContent.trim() === `Clicks: ${n}`);
"""
BARE_CLICK_FRAME = """\
    const frame = () => {
      const now = performance.now();
      if (marks.text === undefined && textShown()) marks.text = now;
      if (marks.notRunning === undefined && marks.text !== undefined && app.getAttribute('data-test-script-state') === 'notRunning') {
        marks.notRunning = now;
        marks.running = marks.running ?? marks.click;
      }
      const stale = q('[data-stale=true]');
      if (marks.notRunning !== undefined && marks.text !== undefined && !stale) {
        marks.frame = now;
        setTimeout(() => { marks.paint = performance.now(); finish({}); }, 0);
        return;
      }
      if (now - marks.click > 20000) { finish({timeout: true}); return; }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}
"""
SHARED_PROBE = MEASURE_CLICK[MEASURE_CLICK.index("  const nSent = ") : MEASURE_CLICK.index("    const frame = () => {")]
BARE_CLICK = BARE_CLICK_HEAD + SHARED_PROBE + BARE_CLICK_FRAME

IMPORTS = {"import torch": "torch", "import torchvision": "torch, torchvision"}
REPLY = "@@anchor "  # marks a worker's answer among whatever else the libraries print


def number(value: float, unit: str) -> str:
    if unit == "samples/s":
        return f"{value:,.0f}"
    digits = 2 if unit == "s" or value < 1 else 1 if value < 10 else 0
    return f"{value:.{digits}f}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def figure(value: float, unit: str) -> str:
    return f"{number(value, unit)} {unit}"


# --- the workers: processes that set up once, then measure one block per request ---------------------------


def apptest_worker(script: str, key: str, page: str, gc_modes: list[str]) -> Callable[..., dict]:
    """AppTest of ``script`` (switched to ``page`` when given), clicking the button ``key``; per block and GC
    mode, ``clicks`` click+rerun times (ms) and the script's own run times (ms)."""
    from rerun_bench import ScriptClock
    from streamlit.testing.v1 import AppTest

    clock = ScriptClock()
    at = AppTest.from_file(script, default_timeout=120)
    at.run()
    if page:
        at.switch_page(page).run()

    def click(gc_on: bool) -> float:
        t0 = time.perf_counter()
        at.button(key=key).click().run()
        if gc_on:  # what Streamlit's ScriptRunner does after each run with runner.postScriptGC (AppTest's runner skips it)
            gc.collect(2)
        return 1000 * (time.perf_counter() - t0)

    for _ in range(5):
        click(False)
    assert not at.exception, at.exception

    def block(clicks: int) -> dict:
        got: dict[str, list[float]] = {}
        for _ in range(clicks):
            for mode in gc_modes:
                got.setdefault(mode, []).append(click(mode == "on"))
                got.setdefault(f"{mode} script", []).append(1000 * clock.last())
        assert not at.exception, at.exception
        return got | {"shown": shown(at)}

    return block


def shown(at) -> int:
    """How many clicks the page says it has seen: the bare page's count, or the Train page's steps."""
    if "clicks" in at.session_state:
        return int(at.markdown[0].value.removeprefix("Clicks: "))
    return at.session_state.learner.steps_taken


def plain_worker() -> Callable[..., dict]:
    """Plain PyTorch on the real data, one thread: per block, ``steps`` lesson steps (ms each) and one
    training loop of ``samples`` samples at batch 64 (samples/s)."""
    import torch
    from training_bench import plain_loop

    from fashionnet.data import load_fashion_mnist
    from fashionnet.learner import Learner
    from fashionnet.settings import MODERN  # the issue's model: ReLU, inputs in [0, 1], Adam lr 1e-3
    from plain_reference import PlainRun

    data = load_fashion_mnist()
    run = PlainRun(Learner(MODERN), MODERN)
    images, labels = data.train_images, data.train_labels
    for i in range(20):
        run.batch(images[i : i + 1], labels[i : i + 1])

    def block(steps: int, samples: int) -> dict:
        times = []
        for i in range(steps):
            image, label = images[i : i + 1], labels[i : i + 1]  # (1, 28, 28), (1,)
            t0 = time.perf_counter()
            run.batch(image, label)
            times.append(1000 * (time.perf_counter() - t0))
        rate = plain_loop(data, 64, samples // 64)
        return {"step": times, "training": [rate], "threads": torch.get_num_threads(), "data": data.source}

    return block


def serve(kind: str, argv: list[str]) -> int:
    """A worker's main loop: set up, say ready, then answer each request line (JSON keyword arguments)."""
    block = apptest_worker(argv[0], argv[1], argv[2], argv[3].split(",")) if kind == "apptest" else plain_worker()
    print(REPLY + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(REPLY + json.dumps(block(**json.loads(line))), flush=True)
    return 0


class Worker:
    """A worker process of this file, kept up between rounds so that each block measures, not starts."""

    def __init__(self, name: str, kind: str, *argv: str) -> None:
        self.name = name
        self.err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, *argv]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)

    def wait_ready(self) -> None:
        """Wait for its set-up (several workers set up at once: the set-up is not measured)."""
        self._answer()

    def block(self, **request: int) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def _answer(self) -> dict:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY) :])
        self.err.seek(0)
        raise RuntimeError(f"the {self.name} worker stopped (exit code {self.proc.wait()}):\n{self.err.read().decode()[-3000:]}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.err.close()


# --- the measurements the coordinator runs itself ------------------------------------------------------------


def import_seconds(modules: str, cwd: str) -> float:
    """Seconds of ``import <modules>`` in a fresh interpreter, timed inside it."""
    code = f"import time; t0 = time.perf_counter(); import {modules}; print(time.perf_counter() - t0)"
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def bare_page_session(args, server: StreamlitServer, clicks: int) -> list[dict]:
    """A Chromium page of a throwaway server, set up as paint_bench sets up the Train page's: warm up, then time
    ``clicks`` clicks (paint_bench's breakdown of each)."""
    results = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": args.width, "height": args.height})
        context.add_init_script(INIT_SCRIPT)
        page = context.new_page()
        page.goto(server.url("/"))
        wait_for_app(page)
        for n in range(1, args.warmup + clicks + 1):  # a new session: its count starts at 0
            m = page.evaluate(BARE_CLICK, {"n": n})
            if m.get("timeout"):
                raise RuntimeError(f"throwaway page, click {n}: the new count was not painted within 20 s")
            page.wait_for_timeout(150)  # as paint_bench: let the page settle before the next click
            if n > args.warmup:
                # The bare page has no picture and no table: their milestones are its text's.
                results.append(breakdown(m | {"heat": m["text"], "table": m["text"]}))
        context.close()
    return results


class LoopThread:
    """An event loop running in its own thread for the whole bench; ``run(coro)`` waits for a coroutine on it.

    The websocket sessions live on it, so they answer the server's keepalive pings while the Chromium and
    AppTest rounds run (a round took 49 s on a slower machine: with the loop standing still the server closed
    the sessions after its 20 s ping timeout)."""

    def __enter__(self) -> LoopThread:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="anchor-bench-loop", daemon=True)
        self.thread.start()
        return self

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


async def open_sessions(servers: dict[str, StreamlitServer]) -> dict[str, StreamlitSession]:
    """One websocket session per throwaway server, its first run done (the torch pages import torch in it)."""
    # The client's own pings off (the server's pings are answered: the loop runs in its own thread, LoopThread).
    sessions = {
        name: StreamlitSession(ws_url=f"ws://127.0.0.1:{server.port}/_stcore/stream", page="", keepalive=False)
        for name, server in servers.items()
    }
    await asyncio.gather(*(session.open() for session in sessions.values()))
    return sessions


async def close_sessions(sessions: dict[str, StreamlitSession]) -> None:
    await asyncio.gather(*(session.close() for session in sessions.values()))


async def server_clicks(sessions: dict[str, StreamlitSession], clicks: int) -> dict[str, list[float]]:
    """``clicks`` clicks on each server, taking turns: ms from sending the click to its run's script_finished."""
    got: dict[str, list[float]] = {}
    for _ in range(clicks):
        for name, session in sessions.items():
            run = await session.click("train_step")
            got.setdefault(name, []).append(1000 * run.seconds)
    return got


def session_count(session: StreamlitSession) -> int:
    """The click count the throwaway page last sent to this session."""
    return int(elements(session.last, "markdown")[-1].body.removeprefix("Clicks: "))


def write_pages(folder: Path) -> dict[str, Path]:
    """The throwaway pages, each in its own folder with its own config (a server runs ``app.py`` there)."""
    roots = {}
    for name, (module, gc_on) in PAGES.items():
        root = folder / name.replace(" ", "-")
        (root / ".streamlit").mkdir(parents=True)
        (root / ".streamlit" / "config.toml").write_text(CONFIG.format(gc=gc_on))
        (root / "app.py").write_text(BARE_PAGE.format(extra_import=f"import {module}  # noqa: F401" if module else ""))
        roots[name] = root
    return roots


# --- the run ------------------------------------------------------------------------------------------------


@dataclass
class Sizes:
    """How much one round measures; --quick shrinks it to check that everything runs."""

    paint_clicks: int = 8  # per Chromium page: ~15 s a Train page session (its server starts each round)
    warmup: int = 4  # Chromium clicks before the timed ones, per session (the app's first steps draw more)
    server_clicks: int = 15  # per throwaway server: ~2 s in all (the GC-on torch page ~100 ms a click)
    apptest_clicks: int = 15  # per AppTest page and GC mode: ~3 s in all
    steps: int = 300  # plain lesson steps: ~0.5 s
    samples: int = 40_000  # plain training samples at batch 64: ~1.3 s at today's ~30,000 samples/s
    torch_page: bool = True  # the bare page + torch in Chromium too (the issue measured it on the server only)


QUICK = Sizes(paint_clicks=4, warmup=2, server_clicks=8, apptest_clicks=8, steps=100, samples=10_000, torch_page=False)


@dataclass
class Measured:
    """Everything one run measured: samples per figure, Chromium's per-click breakdowns, seconds per phase."""

    values: dict[str, list[float]] = field(default_factory=dict)
    clicks: dict[str, list[dict]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)

    def add(self, key: str, values: list[float]) -> None:
        self.values.setdefault(key, []).extend(values)

    def medians(self) -> dict[str, float]:
        return {key: statistics.median(v) for key, v in self.values.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round, no torch page in Chromium: about 1 minute")
    parser.add_argument("--rounds", type=int, help="rounds (each measures everything once); default 4, --quick 1")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)  # internal: this file as a measuring process
    args = parser.parse_args(argv)
    if args.worker:
        return serve(args.worker[0], args.worker[1:])
    sizes = QUICK if args.quick else Sizes()
    rounds = args.rounds or (1 if args.quick else 4)
    print(f"machine: {machine_line()}", flush=True)
    m = Measured()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="anchor-bench-") as tmp, LoopThread() as loop, ExitStack() as stack:
        roots = write_pages(Path(tmp))
        workers = {"plain": Worker("plain PyTorch", "plain")}
        for page in ("bare", "torch"):  # AppTest runs no post-run GC: one process per page, both GC modes
            workers[f"apptest {page}"] = Worker(f"{page} page AppTest", "apptest", str(roots[page] / "app.py"), "train_step", "", "on,off")
        workers["apptest train"] = Worker("Train page AppTest", "apptest", str(ROOT / "app.py"), "train_step", "pages/train.py", "off")
        for worker in workers.values():
            stack.callback(worker.close)
        servers = {name: stack.enter_context(StreamlitServer(root=root)) for name, root in roots.items()}
        sessions = loop.run(open_sessions(servers))
        stack.callback(lambda: loop.run(close_sessions(sessions)))
        loop.run(server_clicks(sessions, 5))  # warm-up, as AppTest's 5 clicks
        for worker in workers.values():
            worker.wait_ready()
        import_seconds(IMPORTS["import torchvision"], tmp)  # not counted: the first import may read the files from disk
        m.seconds["set-up"] = time.perf_counter() - started
        for r in range(rounds):
            t0 = time.perf_counter()
            for phase, run in round_phases(m, r, sizes, tmp, workers, loop, sessions, servers):
                t1 = time.perf_counter()
                run()
                m.seconds[phase] = m.seconds.get(phase, 0.0) + time.perf_counter() - t1
            print(f"round {r + 1} of {rounds}: {time.perf_counter() - t0:.0f} s", flush=True)
        check_counts(workers, sessions, rounds, sizes)
    m.seconds["all"] = time.perf_counter() - started
    print("\n".join(report(m, rounds, sizes)), flush=True)
    return 0


def check_counts(workers: dict[str, Worker], sessions: dict[str, StreamlitSession], rounds: int, sizes: Sizes) -> None:
    """Every click reached its page: each page shows the warm-up clicks plus the measured ones (in AppTest the
    throwaway pages were clicked once per GC mode)."""
    shown = {key: worker.block(clicks=0)["shown"] for key, worker in workers.items() if key != "plain"}
    shown |= {name: session_count(session) for name, session in sessions.items()}
    clicks = rounds * sizes.apptest_clicks
    expected = {"apptest bare": 5 + 2 * clicks, "apptest torch": 5 + 2 * clicks, "apptest train": 5 + clicks}
    expected |= {name: 5 + rounds * sizes.server_clicks for name in sessions}
    if shown != expected:
        raise RuntimeError(f"clicks lost: the pages show {shown}, expected {expected}")


def round_phases(m: Measured, r: int, sizes: Sizes, tmp: str, workers, loop, sessions, servers) -> list[tuple[str, Callable[[], None]]]:
    """One round: every figure once; the Chromium pages' order alternates from round to round."""
    pages = ["bare", "torch gc", "train"] if sizes.torch_page else ["bare", "train"]
    return [
        ("imports", lambda: imports_round(m, tmp)),
        ("plain PyTorch", lambda: plain_round(m, workers["plain"], sizes)),
        ("AppTest", lambda: apptest_round(m, workers, sizes.apptest_clicks)),
        ("server", lambda: server_round(m, loop, sessions, sizes.server_clicks)),
        ("Chromium", lambda: chromium_round(m, pages if r % 2 == 0 else pages[::-1], servers, sizes)),
    ]


def imports_round(m: Measured, cwd: str) -> None:
    for name, modules in IMPORTS.items():
        m.add(name, [import_seconds(modules, cwd)])


def plain_round(m: Measured, worker: Worker, sizes: Sizes) -> None:
    answer = worker.block(steps=sizes.steps, samples=sizes.samples)
    m.add("step", answer["step"])
    m.add("training", answer["training"])
    m.notes |= {"threads": answer["threads"], "data": answer["data"]}


def server_round(m: Measured, loop: LoopThread, sessions: dict[str, StreamlitSession], clicks: int) -> None:
    for name, ms in loop.run(server_clicks(sessions, clicks)).items():
        m.add(f"server {name}", ms)


def apptest_round(m: Measured, workers: dict[str, Worker], clicks: int) -> None:
    for prefix in ("apptest bare", "apptest torch", "apptest train"):
        answer = workers[prefix].block(clicks=clicks)
        for mode, suffix in (("on", " gc"), ("off", "")):
            for part in ("", " script"):
                if mode + part in answer:
                    m.add(prefix + suffix + part, answer[mode + part])


def browser_args(sizes: Sizes) -> argparse.Namespace:
    """paint_bench's options for its session and summary: its window, warm-up and target; the ripple closed."""
    return argparse.Namespace(width=1280, height=800, warmup=sizes.warmup, ripple=False, target_ms=PAINT_TARGET_MS)


def chromium_round(m: Measured, pages: list[str], servers: dict[str, StreamlitServer], sizes: Sizes) -> None:
    for page in pages:
        if page == "train":
            rows = train_page_session(browser_args(sizes), "picture", ROOT, sizes.paint_clicks)[0]
        else:
            rows = bare_page_session(browser_args(sizes), servers[page], sizes.paint_clicks)
        m.clicks.setdefault(page, []).extend(rows)
        m.add(f"paint {page}", [row["total"] for row in rows])


# --- the report ---------------------------------------------------------------------------------------------


def report(m: Measured, rounds: int, sizes: Sizes) -> list[str]:
    med = m.medians()
    lines = [
        f"== the issue's anchors, measured again today, side by side ({plural(rounds, 'round')} measuring everything once; medians) ==",
        f"{'anchor':<58} {'issue':>26} {'today':>18}   today/issue (times)",
    ]
    factors: dict[str, float] = {}
    for key, anchor_key, counts, label in ROWS:
        anchor = ANCHORS[anchor_key] if anchor_key else None
        # An indented row measures the row above's anchor another way: its issue figure is the one above.
        issue = "(none)" if anchor is None else "" if anchor_key != key else anchor.text()
        if key not in med:
            why = "(the prototype page is not in the repo)" if key == "prototype" else "(not with --quick)"
            lines.append(f"{label:<58} {issue:>26} {'not measured':>18}   {why}")
            continue
        cells = f"{label:<58} {issue:>26} {figure(med[key], anchor.unit if anchor else 'ms'):>18}"
        if anchor:
            low, mid, high = anchor.slowdown(med[key])
            cells += f"   {mid:.2f}x" if anchor.low == anchor.high else f"   {low:.2f}–{high:.2f}x (middle {mid:.2f}x)"
            if counts:
                factors[key] = mid
        lines.append(cells)
    issue_gc = ANCHORS["server torch gc"].low - ANCHORS["server torch"].low
    gc_today = med["server torch gc"] - med["server torch"]
    label = "the post-run gc.collect(2) with torch loaded (difference)"
    lines.append(f"{label:<58} {figure(issue_gc, 'ms'):>26} {figure(gc_today, 'ms'):>18}   {gc_today / issue_gc:.2f}x")
    compute = [f for k, f in factors.items() if k in COMPUTE]
    streamlit = [f for k, f in factors.items() if k not in COMPUTE]
    every = list(factors.values())
    lines.append(
        f"machine factor: today takes {statistics.median(every):.2f}x the issue's times (median of the {len(every)} anchors measured "
        f"as the issue measured them, {min(every):.2f}–{max(every):.2f}x): Python and PyTorch alone {statistics.median(compute):.2f}x, "
        f"Streamlit and Chromium {statistics.median(streamlit):.2f}x"
    )
    lines += ["", "== the app in the same run ==", *app_lines(med, factors, statistics.median(every)), "", "details:"]
    for key, label in (("apptest bare", "bare page"), ("apptest torch", "bare page + torch"), ("apptest train", "Train page")):
        for gc_key, gc_label in ((f"{key} gc", "GC on"), (key, "GC off")):
            if gc_key in med:
                lines.append(
                    f"  AppTest {label}, {gc_label}: click + rerun {med[gc_key]:.1f} ms "
                    f"(the script alone {med[gc_key + ' script']:.1f} ms), {len(m.values[gc_key])} clicks"
                )
    servers = ", ".join(f"{page} {med[f'server {page}']:.1f} ms" for page in PAGES)
    lines.append(f"  server, click -> script_finished over the websocket: {servers}; {len(m.values['server bare'])} clicks each")
    for page, label in (("bare", "bare page, GC off"), ("torch gc", "bare page + torch, GC on")):
        if page in m.clicks:
            lines.append(f"  Chromium {label}: " + phases_text(m.clicks[page]))
    lines += ["  " + line for line in summary_lines(browser_args(sizes), "picture", m.clicks["train"])]
    lines.append(
        f"  plain PyTorch: {plural(m.notes['threads'], 'thread')}, data {m.notes['data']}; {len(m.values['step'])} lesson steps, "
        f"{plural(len(m.values['training']), 'training loop')} of {sizes.samples // 64 * 64:,} samples; "
        f"imports: {plural(len(m.values['import torch']), 'fresh interpreter')} each"
    )
    spent = ", ".join(f"{phase} {s:.0f} s" for phase, s in m.seconds.items() if phase != "all")
    lines.append(f"took {m.seconds['all']:.0f} s ({spent}); load average after: {os.getloadavg()[0]:.2f}")
    return lines


def app_lines(med: dict[str, float], factors: dict[str, float], machine: float) -> list[str]:
    """Each target beside today's throwaway page measured the same way, and the target scaled to today's speed:
    by how much slower that page's anchor is today, and by the machine factor."""
    lines = []
    for label, key, target, anchor_key, same_way, same_label in (
        ("Train page click-to-paint (Chromium)", "paint train", PAINT_TARGET_MS, "paint bare", "paint bare", "bare page"),
        (
            "Train page AppTest click + rerun",
            "apptest train",
            RERUN_TARGET_MS,
            "server torch",
            "apptest torch",
            "bare page + torch in AppTest",
        ),
    ):
        issue = ANCHORS[anchor_key].low
        verdicts = "; ".join(
            f"x{factor:.2f} ({why}) {figure(target * factor, 'ms')}: {'MET' if med[key] <= target * factor else 'NOT MET'}"
            for factor, why in ((factors[anchor_key], f"its {issue:.0f} ms anchor today"), (machine, "the machine factor"))
        )
        lines += [
            f"{label:<38} target {target:.0f} ms {figure(med[key], 'ms'):>8} = {med[key] / med[same_way]:.1f}x today's {same_label} "
            f"(issue: target = {target / issue:.1f}x its {issue:.0f} ms anchor)",
            f"{'':<38} the target at today's speed: {verdicts}",
        ]
    return lines


def phases_text(rows: list[dict]) -> str:
    """A Chromium page's clicks in one line: median, max and the median of each of paint_bench's phases."""
    totals = [row["total"] for row in rows]
    phases = ", ".join(f"{k} {statistics.median(row[k] for row in rows):.1f}" for k in list(rows[0])[1:6])
    return f"{len(rows)} clicks, median {statistics.median(totals):.0f} ms, max {max(totals):.0f} ms; phases (ms): {phases}"


if __name__ == "__main__":
    raise SystemExit(main())
