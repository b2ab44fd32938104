"""Benchmark: the Train page's rerun on the server, through Streamlit's AppTest (no browser, no websocket).

Times ``at.button(key="train_step").click().run()`` on the Train page (a step and the whole page after
it) and a plain ``at.run()`` (the same page, no step), interleaved, and also the script's own run time
(the ScriptRunner's ``_run_script``, without AppTest's harness: its polling and its element tree).

AppTest builds a new ScriptCache for every run, so it parses app.py and the page, applies Streamlit's
"magic" and compiles them again each time; a real server compiles them once and keeps the bytecode.
Both are measured, interleaved: "as AppTest runs it" and "with the server's bytecode cache" (one
ScriptCache kept across runs, as the Runtime does). ``--profile`` adds a cProfile of the script thread
(with the bytecode cache) over 20 clicks: the functions that take the time.

Run from the project root::

    python bench/rerun_bench.py                # 40 rounds, the summary block
    python bench/rerun_bench.py --profile 25   # plus the top 25 functions of the script thread
    python bench/rerun_bench.py --rounds 60 --baseline 1f9040b  # an older commit side by side, alternating
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import statistics
import time

from benchenv import ROOT

TARGET_MS = 25.0


class SharedScriptCache:
    """Lets AppTest keep one ScriptCache across runs (as a server's Runtime does) while ``on`` is true."""

    def __init__(self) -> None:
        import streamlit.testing.v1.app_test as app_test
        import streamlit.testing.v1.local_script_runner as local_runner
        from streamlit.runtime.scriptrunner.script_cache import ScriptCache

        self.on = False
        shared = ScriptCache()

        def factory() -> ScriptCache:
            return shared if self.on else ScriptCache()

        app_test.ScriptCache = factory
        local_runner.ScriptCache = factory


class ScriptClock:
    """Wraps ScriptRunner._run_script: the wall time of each script run, optionally under cProfile."""

    def __init__(self) -> None:
        from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

        self.runs: list[float] = []
        self.profile: cProfile.Profile | None = None
        self._cls = ScriptRunner
        self._orig = ScriptRunner._run_script
        clock = self

        def timed(runner, *args, **kwargs):
            prof = clock.profile
            t0 = time.perf_counter()
            if prof is not None:
                prof.enable()
            try:
                return clock._orig(runner, *args, **kwargs)
            finally:
                if prof is not None:
                    prof.disable()
                clock.runs.append(time.perf_counter() - t0)

        ScriptRunner._run_script = timed

    def last(self) -> float:
        return self.runs[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N functions of the script thread")
    parser.add_argument("--target-ms", type=float, default=TARGET_MS)
    parser.add_argument("--baseline", action="append", default=[], metavar="REV", help="also run REV's bench on REV's app, alternating")
    parser.add_argument("--blocks", type=int, default=4, help="with --baseline: alternating runs per tree (--rounds is split over them)")
    args = parser.parse_args(argv)
    if args.baseline:
        return side_by_side(args)

    from classroom import machine_line
    from streamlit.testing.v1 import AppTest

    print(f"machine: {machine_line()}", flush=True)
    clock = ScriptClock()
    cache = SharedScriptCache()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    for _ in range(5):
        at.button(key="train_step").click().run()
    assert not at.exception, at.exception
    times: dict[str, list[float]] = {}

    def timed(name: str, action) -> None:
        t0 = time.perf_counter()
        action()
        times.setdefault(name, []).append(time.perf_counter() - t0)
        times.setdefault(f"{name} script", []).append(clock.last())

    for _ in range(args.rounds):
        for cached in (False, True):
            cache.on = cached
            mode = "cached" if cached else "apptest"
            timed(f"click {mode}", lambda: at.button(key="train_step").click().run())
            timed(f"rerun {mode}", at.run)
    assert not at.exception, at.exception
    steps = at.session_state.learner.steps_taken
    assert steps == 5 + 2 * args.rounds, steps

    med = {name: 1000 * statistics.median(v) for name, v in times.items()}
    met = "MET" if med["click apptest"] <= args.target_ms else "NOT MET"
    lines = [f"== Train page rerun on the server (AppTest), {args.rounds} rounds of each, interleaved, medians =="]
    rows = [
        ("click Train one step + rerun, as AppTest runs it", "click apptest", f" (target <= {args.target_ms:.0f} ms: {met})"),
        ("click Train one step + rerun, with the server's bytecode cache", "click cached", ""),
        ("plain rerun, no step, as AppTest runs it", "rerun apptest", ""),
        ("plain rerun, no step, with the server's bytecode cache", "rerun cached", ""),
    ]
    for label, name, note in rows:
        lines.append(f"{label:<64} {med[name]:6.1f} ms (script {med[name + ' script']:.1f} ms){note}")
    lines.append(
        f"recompiling app.py and the page costs AppTest ~{med['click apptest script'] - med['click cached script']:.1f} ms per run; "
        f"the step and what only a step changes ~{med['click cached script'] - med['rerun cached script']:.1f} ms"
    )
    if args.profile:
        cache.on = True
        clock.profile = cProfile.Profile()
        for _ in range(20):
            at.button(key="train_step").click().run()
        clock.profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(clock.profile, stream=out)
        stats.sort_stats("cumulative").print_stats(args.profile)
        lines.append("cProfile of the script thread over 20 clicks (cumulative; per click divide by 20; cProfile slows Python code down):")
        lines.append(out.getvalue())
    print("\n".join(lines), flush=True)
    return 0


LINE = re.compile(
    r"^(click Train one step \+ rerun, (?:as AppTest runs it|with the server's bytecode cache))\s+([\d.]+) ms \(script ([\d.]+) ms\)"
)


def side_by_side(args) -> int:
    """``--baseline REV``: this bench as it was at REV, on REV's app, and this tree's, in alternating processes
    (AppTest imports the app's modules: two trees cannot share one process). Medians over all blocks' medians."""
    import subprocess
    import sys

    from classroom import machine_line
    from startup_bench import baseline_tree

    print(f"machine: {machine_line()}", flush=True)
    trees = {rev: baseline_tree(rev) for rev in args.baseline} | {"this tree": ROOT}
    got: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    per_block = max(5, args.rounds // args.blocks)
    for _ in range(args.blocks):
        for name, root in trees.items():
            out = subprocess.run(
                [sys.executable, str(root / "bench" / "rerun_bench.py"), "--rounds", str(per_block)],
                cwd=root, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            for line in out.splitlines():
                if m := LINE.match(line):
                    got[name].setdefault(m.group(1), []).append(float(m.group(2)))
                    got[name].setdefault(m.group(1) + " (script)", []).append(float(m.group(3)))
    print(f"== Train page rerun after a click (AppTest), side by side: {args.blocks} alternating blocks of {per_block} rounds, medians ==")
    for label in got["this tree"]:
        cells = "; ".join(f"{name} {statistics.median(got[name][label]):.1f} ms" for name in trees if label in got[name])
        print(f"{label:<70} {cells}")
    main_label = "click Train one step + rerun, as AppTest runs it"
    now = statistics.median(got["this tree"][main_label])
    for rev in args.baseline:
        before = statistics.median(got[rev][main_label])
        print(f"{main_label}: {rev} {before:.1f} ms -> this tree {now:.1f} ms, ratio {now / before:.2f}")
    print(f"target <= {args.target_ms:.0f} ms: {'MET' if now <= args.target_ms else 'NOT MET'} ({now:.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
