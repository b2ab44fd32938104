"""Benchmark: memory per learner and undo / jump times, in one process and on a real server.

Part 1 (this process, the Learner API): RSS before and after building N learners with 200 single steps
each (per-learner MB, and the history's own estimate), then undo, redo and jumps anywhere in 200 steps.

Part 1b (this process): learners with a long history (1,000 single steps and 5 training runs), with the
history's keyframe budget and without it, side by side: MB per learner, jumps anywhere, undos in a row.

Part 2 (one `streamlit run app.py` server, real websocket sessions, bench/classroom.py's client):
the server's RSS idle, after the first learner (torch, the dataset, the first page), and after S learner
sessions that each opened the Train page with a link of 200 steps (the page replays them: a history of
200 single steps) and clicked "Train one step" twice, all connected at once.

Run from the project root::

    python bench/memory_bench.py                   # 20 in-process learners, 50 server sessions
    python bench/memory_bench.py --sessions 10
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
import time

from classroom import RunError, StreamlitSession, machine_line, rss_mb

STEPS = 200
TARGET_GB = 1.0
TARGET_JUMP_MS = 100.0


def in_process(learners: int) -> list[str]:
    import torch

    from fashionnet.data import load_fashion_mnist
    from fashionnet.learner import Learner
    from fashionnet.settings import LESSON

    data = load_fashion_mnist()
    images = [data.image("train", i) for i in range(STEPS)]
    warm = Learner(LESSON)  # torch's first-use allocations are not the learners'
    for image, label in images[:5]:
        warm.train_step(image, label)
    del warm
    gc.collect()
    rss0 = rss_mb(os.getpid())
    crowd = []
    for _ in range(learners):
        learner = Learner(LESSON)
        for image, label in images:
            learner.train_step(image, label)
        crowd.append(learner)
    gc.collect()
    rss1 = rss_mb(os.getpid())
    per = (rss1 - rss0) / learners
    estimate = statistics.median(learner.history_bytes() for learner in crowd) / 1e6

    learner = crowd[0]
    undo, redo, jumps = [], [], []
    for _ in range(30):
        t0 = time.perf_counter()
        learner.undo()
        undo.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        learner.redo()
        redo.append(time.perf_counter() - t0)
    # The same points as always, then the worst case for this keyframe gap: the point just before each
    # keyframe, from the end (a restore, then keyframe_every - 1 replayed steps).
    gap = learner.keyframe_every
    targets = (199, 1, 63, 100, 150, 0, 127, 190, 64, 128, 37, 199)
    targets += tuple(t for k in range(gap, STEPS + 1, gap) for t in (k - 1, STEPS - 1))
    for target in targets:
        t0 = time.perf_counter()
        learner.goto(target)
        jumps.append((target, time.perf_counter() - t0))
    worst = max(jumps, key=lambda j: j[1])
    med_jump = 1000 * statistics.median(t for _, t in jumps)
    threads = torch.get_num_threads()
    lines = [f"== memory per learner, in one process: {learners} learners x {STEPS} single steps (torch threads {threads}) =="]
    lines.append(f"RSS {rss0:.0f} -> {rss1:.0f} MB: {per:.2f} MB per learner (the history's own estimate: {estimate:.2f} MB)")
    m_undo, max_undo, m_redo = (1000 * f(v) for f, v in ((statistics.median, undo), (max, undo), (statistics.median, redo)))
    lines.append(f"undo: median {m_undo:.1f} ms, max {max_undo:.1f} ms; redo: median {m_redo:.1f} ms")
    met = "MET" if 1000 * worst[1] <= TARGET_JUMP_MS else "NOT MET"
    lines.append(
        f"jump to a point of {STEPS} ({len(targets)} jumps): median {med_jump:.1f} ms, worst {1000 * worst[1]:.1f} ms "
        f"(to {worst[0]}; keyframes every {gap} steps) (target <= {TARGET_JUMP_MS:.0f} ms: {met})"
    )
    return lines


LONG_STEPS, LONG_RUNS = 1_000, 5  # a long lesson: 1,000 single steps, then 5 runs of 100 batches of 64


def long_histories(learners: int) -> list[str]:
    """Learners with a long history (1,000 single steps and 5 training runs), with the keyframe budget and
    with it lifted (every keyframe kept: the history before the budget), side by side, each in a fresh
    process (RSS is only comparable between processes that did the same warm-up)."""
    from fashionnet.learner import HISTORY_BUDGET

    out = {}
    for name, budget in (("budget", HISTORY_BUDGET), ("no budget", 1 << 62)):
        command = [sys.executable, __file__, "--long-worker", str(budget), "--long", str(learners)]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
        out[name] = json.loads(done.stdout.strip().splitlines()[-1])
    lines = [
        f"== long histories: {learners} learners x ({LONG_STEPS:,} single steps + {LONG_RUNS} runs of 100 batches of 64), "
        f"history budget {HISTORY_BUDGET / 1e6:.1f} MB against no budget, side by side (a fresh process each) =="
    ]
    for name, r in out.items():
        lines.append(
            f"{name:>9}: {r['per']:5.2f} MB per learner (the history's own estimate {r['estimate']:5.2f} MB); 30 jumps anywhere: "
            f"median {r['jump']:.0f} ms, worst {r['worst']:.0f} ms; 20 undos in a row: median {r['undo']:.0f} ms, "
            f"worst {r['worst_undo']:.0f} ms"
        )
    ratio = out["budget"]["per"] / out["no budget"]["per"]
    lines.append(f"MB per learner with the budget / without: {ratio:.2f}x (target: each learner <= 5 MB)")
    return lines


def _long_worker(budget: int, learners: int) -> dict:
    import random

    from fashionnet.data import load_fashion_mnist
    from fashionnet.learner import Learner, RunSpec, _give_back_freed_memory
    from fashionnet.settings import LESSON

    data = load_fashion_mnist()
    images = [data.image("train", i) for i in range(LONG_STEPS)]

    def lesson(learner: Learner, steps: int, runs: int) -> Learner:
        for image, label in images[:steps]:
            learner.train_step(image, label)
        for seed in range(runs):
            learner.train_run(data, RunSpec(64, 100, seed))
        return learner

    warm = lesson(Learner(LESSON), 5, 1)  # torch's and the dataset's first-use allocations are not the learners'
    warm.goto(0)
    del warm
    gc.collect()
    _give_back_freed_memory()  # both sides start from a heap with nothing freed left in it
    rss0 = rss_mb(os.getpid())
    crowd = [lesson(Learner(LESSON, history_budget=budget), LONG_STEPS, LONG_RUNS) for _ in range(learners)]
    gc.collect()
    _give_back_freed_memory()
    per = (rss_mb(os.getpid()) - rss0) / learners
    estimate = statistics.median(learner.history_bytes() for learner in crowd) / 1e6
    learner = crowd[0]
    jumps = []
    for point in random.Random(0).sample(range(len(learner.history) + 1), 30):
        t0 = time.perf_counter()
        learner.goto(point)
        jumps.append(1000 * (time.perf_counter() - t0))
    undo = []
    learner.goto(LONG_STEPS)  # the last single step, just before the runs
    for _ in range(20):
        t0 = time.perf_counter()
        learner.undo()
        undo.append(1000 * (time.perf_counter() - t0))
    return {
        "per": per,
        "estimate": estimate,
        "jump": statistics.median(jumps),
        "worst": max(jumps),
        "undo": statistics.median(undo),
        "worst_undo": max(undo),
    }


async def _open_sessions(ws_url: str, sessions: int, first_index: int) -> tuple[list[StreamlitSession], list[str]]:
    opened, errors = [], []
    gate = asyncio.Semaphore(2)

    async def one(n: int) -> None:
        index = first_index + n
        steps = ".".join([f"t{index}"] * STEPS)
        session = StreamlitSession(ws_url, page="train", query=f"index={index}&steps={steps}", keep_messages=False)
        async with gate:
            try:
                await session.open()
                for _ in range(2):
                    await session.click("train_step")
                opened.append(session)
            except (RunError, OSError) as err:
                errors.append(f"session {n}: {err}")
                await session.close()

    await asyncio.gather(*(one(n) for n in range(sessions)))
    return opened, errors


def on_server(sessions: int) -> list[str]:
    from browser_support import StreamlitServer

    async def run(server) -> list[str]:
        pid = server.proc.pid
        ws_url = f"ws://127.0.0.1:{server.port}/_stcore/stream"
        idle = rss_mb(pid)
        first, errors = await _open_sessions(ws_url, 1, 0)
        await asyncio.sleep(1.0)
        after_first = rss_mb(pid)
        t0 = time.perf_counter()
        rest, more = await _open_sessions(ws_url, sessions - 1, 1)
        opened_s = time.perf_counter() - t0
        errors += more
        await asyncio.sleep(1.0)
        after_all = rss_mb(pid)
        for session in first + rest:
            await session.close()
        await asyncio.sleep(3.0)
        after_close = rss_mb(pid)
        n = len(first) + len(rest)
        per = (after_all - after_first) / max(1, n - 1)
        met = "MET" if after_all / 1024 <= TARGET_GB else "NOT MET"
        return [
            f"== memory on one server: {n} learner sessions, each {STEPS} single steps (replayed from a link) + 2 clicks, all connected ==",
            f"server RSS: idle {idle:.0f} MB, after the first learner {after_first:.0f} MB, after {n} learners {after_all:.0f} MB "
            f"(target <= {TARGET_GB:.0f} GB: {met})",
            f"per additional learner session: {per:.1f} MB; opening the other {n - 1} took {opened_s:.1f} s; "
            f"RSS 3 s after they all disconnected: {after_close:.0f} MB",
            f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""),
        ]

    with StreamlitServer(cache_dir=os.environ["FASHIONNET_CACHE_DIR"]) as server:
        return asyncio.run(run(server))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=20, help="in-process learners (part 1)")
    parser.add_argument("--sessions", type=int, default=50, help="server sessions (part 2; 0 skips it)")
    parser.add_argument("--long", type=int, default=5, help="in-process learners with long histories (part 1b; 0 skips it)")
    parser.add_argument("--long-worker", type=int, default=None, help=argparse.SUPPRESS)  # one side of part 1b
    args = parser.parse_args(argv)
    if args.long_worker is not None:
        print(json.dumps(_long_worker(args.long_worker, args.long)), flush=True)
        return 0
    print(f"machine: {machine_line()}", flush=True)
    lines = in_process(args.learners)
    if args.long:
        lines += long_histories(args.long)
    if args.sessions:
        lines += on_server(args.sessions)
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
