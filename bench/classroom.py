"""Benchmark: a classroom of learners on ONE `streamlit run app.py` server, over real Streamlit sessions.

Each learner is a websocket client that speaks Streamlit's own protocol (the BackMsg / ForwardMsg
protobufs of the installed Streamlit): it opens ``/_stcore/stream`` with a ``rerun_script`` BackMsg
that asks for the Train page with ``?index=N`` (its own image), reads the page's deltas to learn the
widget id of the "Train one step" button (key ``train_step``), then clicks it once a second: a
``rerun_script`` BackMsg whose widget states hold a trigger value for that id, as the browser sends.
Response time is from sending the click to the ``script_finished`` ForwardMsg of that run.

At the end every learner's W3, as the page sent it (the 12 entries of the most-moved table; all 4,096
with the interactive chart on), is checked against a plain PyTorch recomputation of that learner's own
steps on its own image, so a session that saw another's weights would fail the check.

Run from the project root::

    python bench/classroom.py                      # 30 learners x 60 s on a fresh server
    python bench/classroom.py --learners 10 --duration 20
    python bench/classroom.py --bulk               # plus one learner bulk-training on pages/training.py
    python bench/classroom.py --replicas 2         # two replicas behind HAProxy (scripts/balancer.py), sticky by cookie
    python bench/classroom.py --url ws://127.0.0.1:8501/_stcore/stream --pid 1234   # an existing server

Differences from a browser: this client does not fetch the page's images over HTTP (the server only
registers them), sends only the clicked button's trigger (a browser also sends its other widgets'
values), and never reports cached messages, so the server sends every delta in full.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from benchenv import ROOT
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

RUN_TIMEOUT_S = 60.0
FINISHED_OK = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)


# --- a minimal Streamlit websocket client ----------------------------------------------------------


class RunError(Exception):
    """A script run ended with an exception element, a bad status, a closed socket or a timeout."""


@dataclass
class Run:
    """One script run as the client saw it."""

    seconds: float  # from sending the BackMsg to the script_finished ForwardMsg
    status: int
    messages: list[ForwardMsg]
    received_bytes: int
    first_delta_s: float | None  # from sending to the first delta of the run


@dataclass
class StreamlitSession:
    """One browser tab's worth of Streamlit session: a websocket on ``/_stcore/stream``.

    ``page`` is the page's url path (``train``), ``query`` the query string without ``?``.
    ``headers`` go into the websocket handshake (e.g. a balancer's stickiness cookie).
    """

    ws_url: str
    page: str = "train"
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    keep_messages: bool = True
    widget_ids: dict[str, str] = field(default_factory=dict)  # user key -> widget id
    widget_fragments: dict[str, str] = field(default_factory=dict)  # user key -> the fragment it is drawn in
    page_hash: str = ""
    ws: object = None
    last: Run | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    http_base: str | None = None  # behind a sticky balancer: fetch this page first and keep its SERVERID cookie
    replica: str | None = None
    # The websockets client pings every 20 s and closes the socket when a pong is 20 s late. A caller that
    # leaves its event loop stopped between clicks (bench/anchor_bench.py runs Chromium and AppTest rounds in
    # between) cannot answer: it turns the keepalive off.
    keepalive: bool = True

    async def open(self) -> Run:
        if self.http_base:
            self.replica = await asyncio.to_thread(self._sticky_cookie)
        self.ws = await websockets.connect(
            self.ws_url,
            subprotocols=["streamlit"],
            max_size=None,
            additional_headers=self.headers or None,
            open_timeout=30,
            ping_interval=20 if self.keepalive else None,
        )
        with contextlib.suppress(Exception):
            self.response_headers = dict(self.ws.response.headers)
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_name = self.page
        return await self._run(msg)

    async def click(self, key: str) -> Run:
        """Press the button with this user key (its widget id comes from the page's deltas)."""
        if key not in self.widget_ids:
            raise RunError(f"no widget with key {key!r} on the page (saw {sorted(self.widget_ids)})")
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_script_hash = self.page_hash
        widget = state.widget_states.widgets.add()
        widget.id = self.widget_ids[key]
        widget.trigger_value = True
        state.fragment_id = self.widget_fragments.get(key, "")  # as the browser does for a widget inside a fragment
        return await self._run(msg)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
            self.ws = None

    async def _run(self, msg: BackMsg) -> Run:
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        messages: list[ForwardMsg] = []
        received, first_delta, error = 0, None, None
        try:
            async with asyncio.timeout(RUN_TIMEOUT_S):
                while True:
                    raw = await self.ws.recv()
                    received += len(raw)
                    fwd = ForwardMsg()
                    fwd.ParseFromString(raw)
                    kind = fwd.WhichOneof("type")
                    if kind == "delta":
                        first_delta = first_delta or time.perf_counter() - t0
                        self._learn(fwd)
                        if fwd.delta.WhichOneof("type") == "new_element" and fwd.delta.new_element.WhichOneof("type") == "exception":
                            error = error or f"exception in the script: {fwd.delta.new_element.exception.message[:200]}"
                    elif kind == "navigation":
                        self.page_hash = fwd.navigation.page_script_hash
                    elif kind == "page_info_changed":
                        self.query = fwd.page_info_changed.query_string
                    if self.keep_messages or kind == "script_finished":
                        messages.append(fwd)
                    if kind == "script_finished" and fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                        break  # (a script that calls st.rerun() finishes "early for rerun", then runs again)
        except TimeoutError as err:
            raise RunError(f"no script_finished within {RUN_TIMEOUT_S:.0f} s") from err
        except websockets.ConnectionClosed as err:
            raise RunError(f"websocket closed: {err}") from err
        run = Run(time.perf_counter() - t0, fwd.script_finished, messages, received, first_delta)
        self.last = run
        if error:
            raise RunError(error)
        if run.status not in FINISHED_OK:
            raise RunError(f"script_finished status {run.status}")
        return run

    def _sticky_cookie(self) -> str | None:
        """As a browser does: the first page load gets the balancer's SERVERID cookie, later requests carry it."""
        import urllib.request

        with urllib.request.urlopen(self.http_base, timeout=30) as resp:
            cookies = [c.split(";", 1)[0] for c in resp.headers.get_all("Set-Cookie") or []]
        sticky = [c for c in cookies if c.startswith("SERVERID=")]
        if sticky:
            self.headers["Cookie"] = sticky[0]
            return sticky[0].split("=", 1)[1]
        return None

    def _learn(self, fwd: ForwardMsg) -> None:
        if fwd.delta.WhichOneof("type") != "new_element":
            return
        element = fwd.delta.new_element
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        widget_id = getattr(proto, "id", "") if kind not in ("markdown", "heading", "code", "alert", "imgs") else ""
        if widget_id.startswith("$$ID-") and widget_id.count("-") >= 2:
            key = widget_id.split("-", 2)[2]
            self.widget_ids[key] = widget_id
            self.widget_fragments[key] = fwd.delta.fragment_id


# --- what the page showed ------------------------------------------------------------------------------


def elements(run: Run, kind: str) -> list:
    out = []
    for fwd in run.messages:
        if fwd.WhichOneof("type") == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            if element.WhichOneof("type") == kind:
                out.append(getattr(element, kind))
    return out


def heatmap_after(run: Run):
    """W3 after the step as the page showed it: a (64, 64) float64 numpy array, NaN where the page showed no value.

    The Train page shows W3's change as a picture and the 12 most-moved entries as a table (row, column,
    before, after, change), so those 12 entries are read from the table; with the interactive chart switched
    on, its data carries all 4,096. None when neither is on the page."""
    import numpy as np
    import pyarrow as pa

    tables = [pa.ipc.open_stream(t.arrow_data.data).read_all() for t in elements(run, "dataframe") if t.arrow_data.data]
    for chart in elements(run, "vega_lite_chart"):
        tables += [pa.ipc.open_stream(d.data.data).read_all() for d in chart.datasets]
        if chart.data.data:
            tables.append(pa.ipc.open_stream(chart.data.data).read_all())
    w3 = np.full((64, 64), np.nan)
    found = False
    for table in tables:
        if {"row", "column", "after"} <= set(table.column_names):
            w3[table["row"].to_numpy(), table["column"].to_numpy()] = table["after"].to_numpy()
            found = True
    return w3 if found else None


def metric_value(run: Run, label: str) -> str | None:
    for metric in elements(run, "metric"):
        if metric.label == label:
            return metric.body
    return None


def plain_w3_after(image, label: int, steps: int):
    """W3 after ``steps`` steps on one image, written from scratch in plain PyTorch (the Lesson settings)."""
    import torch
    from torch import nn

    from fashionnet.settings import LESSON

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(LESSON.seed)
        model = nn.Sequential(
            nn.Linear(784, 64), nn.Sigmoid(), nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 10)
        )
    opt = torch.optim.Adam(model.parameters(), lr=LESSON.lr)
    x, y = image.float().reshape(1, 784), torch.tensor([label])
    loss = None
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        loss_after = float(nn.functional.cross_entropy(model(x), y)) if steps else None
    return model[4].weight.detach().double().numpy(), loss_after


# --- the server's CPU and memory -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine_line() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import streamlit
    import torch

    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, torch {torch.__version__}, "
        f"Streamlit {streamlit.__version__}, load average before: {os.getloadavg()[0]:.2f}"
    )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


# --- the classroom ---------------------------------------------------------------------------------------


@dataclass
class Learner:
    number: int
    index: int  # the training image this learner selected through the link
    session: StreamlitSession
    times: list[float] = field(default_factory=list)
    first_delta: list[float] = field(default_factory=list)
    bytes_per_run: list[int] = field(default_factory=list)
    clicks_ok: int = 0
    errors: list[str] = field(default_factory=list)
    late: int = 0  # ticks skipped because the previous click had not finished yet


async def _learner_loop(learner: Learner, start: float, duration: float, phase: float, period: float) -> None:
    k = 0
    while True:
        due = start + phase + k * period
        if due >= start + duration:
            return
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -period:  # more than a whole period late: skip the ticks we missed
            missed = int(-delay // period)
            learner.late += missed
            k += missed
            continue
        try:
            run = await learner.session.click("train_step")
            learner.times.append(run.seconds)
            learner.bytes_per_run.append(run.received_bytes)
            if run.first_delta_s is not None:
                learner.first_delta.append(run.first_delta_s)
            learner.clicks_ok += 1
        except RunError as err:
            learner.errors.append(str(err))
            if learner.session.ws is None or "websocket closed" in str(err):
                return
        k += 1


async def _bulk_loop(session: StreamlitSession, start: float, duration: float, out: dict) -> None:
    out["runs"], out["times"], out["errors"] = 0, [], []
    while time.perf_counter() < start + duration:
        try:
            run = await session.click("train_run")
            out["runs"] += 1
            out["times"].append(run.seconds)
        except RunError as err:
            out["errors"].append(str(err))
            return


async def classroom(
    ws_url: str,
    learners: int,
    duration: float,
    period: float,
    pids: list[int],
    bulk: bool,
    seed: int,
    connect_parallel: int = 4,
    http_base: str | None = None,
) -> dict:
    rng = random.Random(seed)
    indices = rng.sample(range(60_000), learners)
    crowd = [
        Learner(n, idx, StreamlitSession(ws_url, page="train", query=f"index={idx}", keep_messages=False, http_base=http_base))
        for n, idx in enumerate(indices, start=1)
    ]
    gate = asyncio.Semaphore(connect_parallel)
    open_times: list[float] = []

    async def open_one(learner: Learner) -> None:
        async with gate:
            try:
                run = await learner.session.open()
                open_times.append(run.seconds)
            except (RunError, OSError, websockets.InvalidHandshake) as err:
                learner.errors.append(f"open: {err}")

    t_open = time.perf_counter()
    await asyncio.gather(*(open_one(learner) for learner in crowd))
    opened_s = time.perf_counter() - t_open
    missing = [learner.number for learner in crowd if "train_step" not in learner.session.widget_ids]

    bulk_out: dict = {}
    bulk_session = None
    if bulk:
        bulk_session = StreamlitSession(ws_url, page="training", keep_messages=False, http_base=http_base)
        try:
            await bulk_session.open()
            if "train_run" not in bulk_session.widget_ids:
                bulk_out["skipped"] = "the Training page has no button with key train_run"
        except (RunError, OSError) as err:
            bulk_out["skipped"] = f"could not open the Training page: {err}"

    cpu0 = {pid: cpu_seconds(pid) for pid in pids}
    rss0 = {pid: rss_mb(pid) for pid in pids}
    client_cpu0 = time.process_time()
    start = time.perf_counter() + 0.2
    tasks = [_learner_loop(learner, start, duration, rng.uniform(0, period), period) for learner in crowd if learner.number not in missing]
    bulk_task = None
    if bulk_session is not None and "skipped" not in bulk_out:
        bulk_task = asyncio.create_task(_bulk_loop(bulk_session, start, duration, bulk_out))
    await asyncio.gather(*tasks)
    if bulk_task is not None:  # its current run may go on past the end: stop waiting for it
        bulk_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bulk_task
    wall = time.perf_counter() - start
    cpu = {pid: cpu_seconds(pid) - cpu0[pid] for pid in pids}
    rss1 = {pid: rss_mb(pid) for pid in pids}
    client_cpu = time.process_time() - client_cpu0

    # One more click each, with every message kept, to read the page's W3 and check it against plain PyTorch.
    for learner in crowd:
        learner.session.keep_messages = True
    finals: dict[int, Run | None] = {}
    for learner in crowd:
        try:
            finals[learner.number] = await learner.session.click("train_step")
            learner.clicks_ok += 1
        except RunError as err:
            learner.errors.append(f"final: {err}")
            finals[learner.number] = None
    for learner in crowd:
        await learner.session.close()
    if bulk_session is not None:
        await bulk_session.close()
    return {
        "crowd": crowd,
        "finals": finals,
        "wall": wall,
        "cpu": cpu,
        "rss0": rss0,
        "rss1": rss1,
        "client_cpu": client_cpu,
        "open_times": open_times,
        "opened_s": opened_s,
        "missing": missing,
        "bulk": bulk_out,
    }


def check_isolation(result: dict) -> tuple[int, int, list[str]]:
    """How many learners' W3 (as their page showed it) equals plain PyTorch on their own image and steps."""
    import numpy as np

    from fashionnet.data import load_fashion_mnist

    data = load_fashion_mnist()
    ok, problems, seen = 0, [], []
    for learner in result["crowd"]:
        run = result["finals"].get(learner.number)
        if run is None:
            problems.append(f"learner {learner.number}: no final run")
            continue
        shown = heatmap_after(run)
        if shown is None:
            problems.append(f"learner {learner.number}: no W3 values on the page (most-moved table or chart)")
            continue
        image, label = data.image("train", learner.index)
        expected, loss_after = plain_w3_after(image, label, learner.clicks_ok)
        loss_shown = metric_value(run, "Loss")
        shown_at = ~np.isnan(shown)
        err = float(np.max(np.abs(shown[shown_at] - expected[shown_at])))
        if shown_at.sum() < 12 or err > 1e-6 or loss_shown != f"{loss_after:.4f}":
            problems.append(
                f"learner {learner.number} (image {learner.index}, {learner.clicks_ok} steps): {shown_at.sum()} W3 entries shown, "
                f"max |W3 diff| {err:.2e}, "
                f"loss shown {loss_shown} vs plain {loss_after:.4f}"
            )
        else:
            ok += 1
        seen.append(shown)
    distinct = len({a.tobytes() for a in seen})
    if distinct != len(seen):
        problems.append(f"only {distinct} distinct W3 among {len(seen)} learners")
    return ok, len(result["crowd"]), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=30, help="concurrent learners (default 30)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of clicking (default 60)")
    parser.add_argument("--period", type=float, default=1.0, help="seconds between one learner's clicks (default 1)")
    parser.add_argument("--bulk", action="store_true", help="one more learner runs bulk training on the Training page (train_run)")
    parser.add_argument("--replicas", type=int, default=0, help="start this many replicas behind HAProxy (scripts/balancer.py)")
    parser.add_argument("--url", help="websocket URL of a running server (default: start a fresh one)")
    parser.add_argument("--pid", type=int, action="append", default=[], help="with --url: server process ids to measure (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="chooses the learners' images and click phases")
    parser.add_argument("--target-p95-ms", type=float, default=250.0)
    args = parser.parse_args(argv)

    print(f"machine: {machine_line()}", flush=True)
    if args.bulk and not (ROOT / "pages" / "training.py").is_file():
        print("bulk: SKIPPED: pages/training.py does not exist yet (no Training page with a train_run button); running without it")
        args.bulk = False

    server = balancer = None
    http_base = None
    if args.url:
        ws_url, pids = args.url, args.pid
    elif args.replicas:
        sys.path.insert(0, str(ROOT / "scripts"))
        from balancer import Balancer

        balancer = Balancer(args.replicas, env={"FASHIONNET_CACHE_DIR": os.environ["FASHIONNET_CACHE_DIR"]}).start()
        ws_url, pids, http_base = balancer.ws_url(), list(balancer.pids.values()), balancer.url("/")
        print(f"balancer: HAProxy on 127.0.0.1:{balancer.port} in front of {args.replicas} replicas, pids {balancer.pids}")
    else:
        from browser_support import StreamlitServer

        server = StreamlitServer(cache_dir=os.environ["FASHIONNET_CACHE_DIR"]).start()
        ws_url, pids = f"ws://127.0.0.1:{server.port}/_stcore/stream", [server.proc.pid]
        print(f"server: streamlit run app.py on 127.0.0.1:{server.port}, pid {server.proc.pid}, RSS {rss_mb(server.proc.pid):.0f} MB")
    try:
        result = asyncio.run(classroom(ws_url, args.learners, args.duration, args.period, pids, args.bulk, args.seed, http_base=http_base))
    finally:
        if server is not None:
            server.stop()
        if balancer is not None:
            balancer.stop()
    ok, total, problems = check_isolation(result)
    print_summary(args, result, ok, total, problems, pids)
    return 0


def print_summary(args, result: dict, ok: int, total: int, problems: list[str], pids: list[int]) -> None:
    crowd = result["crowd"]
    times = [t for learner in crowd for t in learner.times]
    first = [t for learner in crowd for t in learner.first_delta]
    sizes = [b for learner in crowd for b in learner.bytes_per_run]
    errors = [e for learner in crowd for e in learner.errors]
    late = sum(learner.late for learner in crowd)
    wall = result["wall"]
    lines = [f"== classroom: {args.learners} learners x {args.duration:.0f} s, one click every {args.period:g} s each =="]
    opens = result["open_times"]
    if opens:
        lines.append(
            f"opening the Train page: {len(opens)} sessions in {result['opened_s']:.1f} s, median {1000 * statistics.median(opens):.0f} ms"
        )
    if times:
        p50, p95, p99 = (1000 * percentile(times, q) for q in (50, 95, 99))
        lines.append(f"clicks answered: {len(times)} in {wall:.1f} s ({len(times) / wall:.1f}/s), ticks skipped while busy: {late}")
        lines.append(
            f"click -> script_finished: p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, max {1000 * max(times):.0f} ms "
            f"(target p95 <= {args.target_p95_ms:.0f} ms: {'MET' if p95 <= args.target_p95_ms else 'NOT MET'})"
        )
        later = [t for learner in crowd for t in learner.times[1:]]
        if later:
            q50, q95, q99 = (1000 * percentile(later, q) for q in (50, 95, 99))
            lines.append(f"  without each learner's first click (first-use costs): p50 {q50:.0f} ms, p95 {q95:.0f} ms, p99 {q99:.0f} ms")
        if first:
            kb = statistics.median(sizes) / 1e3
            lines.append(f"click -> first delta: p50 {1000 * percentile(first, 50):.0f} ms; ForwardMsgs per click: {kb:.0f} kB")
    else:
        lines.append("clicks answered: none")
    lines.append(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    for pid in pids:
        cpu = result["cpu"][pid]
        lines.append(
            f"server pid {pid}: CPU {cpu:.1f} s in {wall:.1f} s = {100 * cpu / wall:.0f}% of one core ({os.cpu_count()} cores); "
            f"RSS {result['rss0'][pid]:.0f} -> {result['rss1'][pid]:.0f} MB"
        )
    if pids and times:
        total_cpu = sum(result["cpu"].values())
        lines.append(f"server CPU per answered click: {1000 * total_cpu / len(times):.1f} ms (all server processes, bulk work included)")
    replicas = collections.Counter(learner.session.replica for learner in crowd if learner.session.replica)
    if replicas:
        lines.append("learners per replica (SERVERID cookie): " + ", ".join(f"{name} {n}" for name, n in sorted(replicas.items())))
    lines.append(f"client (this process): CPU {result['client_cpu']:.1f} s = {100 * result['client_cpu'] / wall:.0f}% of one core")
    bulk = result["bulk"]
    if args.bulk:
        if "skipped" in bulk:
            lines.append(f"bulk learner: SKIPPED: {bulk['skipped']}")
        elif bulk.get("times"):
            lines.append(
                f"bulk learner: {bulk['runs']} train_run clicks, median {1000 * statistics.median(bulk['times']):.0f} ms each, "
                f"errors {len(bulk['errors'])}"
            )
        else:
            lines.append(f"bulk learner: no run finished; errors {bulk.get('errors')}")
    lines.append(
        f"isolation: {ok}/{total} learners' W3 and loss, as their page showed them, equal plain PyTorch on their own image and steps"
        + ("" if not problems else "; PROBLEMS: " + " | ".join(problems[:5]))
    )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
