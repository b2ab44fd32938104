"""Benchmark: start-up, from `streamlit run app.py` to the first page drawn with the data loaded.

Chromium is launched first (its own start-up is not the app's). Then, per round: start the server
(the data already decompressed in FASHIONNET_CACHE_DIR, as on any start after the first), open "/" as
soon as the port answers, and wait until the Predict page shows its prediction sentence and the
probability chart has its ten bars. Reports when the server answered its health check, when the page
arrived, and when the prediction was drawn, all from the moment the process was started.

Then ``python -X importtime`` of what the first script run imports (``ui.router``: streamlit, torch,
torchvision, altair, pandas...), summed per top-level package, and the data load on its own.

Run from the project root::

    python bench/startup_bench.py              # 3 rounds
    python bench/startup_bench.py --rounds 5
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

from benchenv import ROOT
from classroom import machine_line

from browser_support import chromium, free_port

TARGET_S = 3.0
SENTENCE = "The network thinks this is"


def one_round(browser) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true"]  # fmt: skip
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marks: dict[str, float] = {}
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as resp:
                    if resp.read().strip() == b"ok":
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.02)
            if time.perf_counter() - t0 > 120:
                raise TimeoutError("no health answer in 120 s")
        marks["healthy"] = time.perf_counter() - t0
        page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
        marks["page requested"] = time.perf_counter() - t0
        page.wait_for_selector("[data-testid=stApp]", state="attached", timeout=120_000)
        marks["app shell drawn"] = time.perf_counter() - t0
        page.locator("[data-testid=stMain] h4", has_text=SENTENCE).wait_for(timeout=120_000)
        marks["prediction shown"] = time.perf_counter() - t0
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=stVegaLiteChart] [aria-roledescription=bar]').length >= 10",
            timeout=120_000,
            polling="raf",
        )
        marks["chart drawn"] = time.perf_counter() - t0
    finally:
        page.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return marks


def import_times(module: str = "ui.router") -> tuple[float, list[tuple[str, float]], list[tuple[str, float]]]:
    """``python -X importtime -c 'import <module>'``: the total, and the seconds of each package where another
    package (or our code) imported it, its own imports included, largest first."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True, env=os.environ
    ).stderr
    # importtime prints a tree in post-order: a module's imports come before it, one indent level deeper.
    stack: list[tuple[int, str, int, list]] = []
    for line in out.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if not m:
            continue
        depth, node = len(m.group(3)), (len(m.group(3)), m.group(4), int(m.group(2)), [])
        while stack and stack[-1][0] > depth:
            node[3].insert(0, stack.pop())
        stack.append(node)
    ours = {"ui", "fashionnet", "pages", "app"}
    direct: collections.Counter = collections.Counter()  # third-party packages our code imports, with all they import
    nested: collections.Counter = collections.Counter()  # packages those import in turn (part of the above)

    def walk(node, parent_package: str | None) -> None:
        package = node[1].split(".")[0]
        if package != parent_package and package not in ours:
            if parent_package is None or parent_package in ours:
                direct[package] += node[2]
            else:
                nested[f"{package} (imported by {parent_package})"] += node[2]
        for child in node[3]:
            walk(child, package)

    for root in stack:
        walk(root, None)
    total = sum(node[2] for node in stack)
    return total / 1e6, [(n, us / 1e6) for n, us in direct.most_common(8)], [(n, us / 1e6) for n, us in nested.most_common(6)]


def data_load_seconds() -> float:
    code = "import time, fashionnet.data as d; t = time.perf_counter(); d.load_fashion_mnist(); print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=os.environ)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--target-s", type=float, default=TARGET_S)
    args = parser.parse_args(argv)
    print(f"machine: {machine_line()}", flush=True)
    data_s = data_load_seconds()  # also decompresses into the cache if this is the first time
    rounds = []
    with chromium() as browser:
        for _ in range(args.rounds):
            rounds.append(one_round(browser))
    total, packages, nested = import_times()
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    met = "MET" if med["prediction shown"] <= args.target_s else "NOT MET"
    lines = [f"== start-up: `streamlit run app.py` to the Predict page drawn, data already decompressed, {len(rounds)} rounds, medians =="]
    for k, v in med.items():
        lines.append(f"  {v:5.2f} s  {k}")
    lines.append(f"process start -> prediction shown: {med['prediction shown']:.2f} s (target <= {args.target_s:.0f} s: {met})")
    lines.append(f"python -X importtime of ui.router (what the first run imports): {total:.2f} s in all; by package our code imports:")
    for name, seconds in packages:
        lines.append(f"  {seconds:5.2f} s  {name}")
    lines.append("  of which, imported by those packages in turn: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in nested))
    lines.append(f"loading the decompressed dataset (fashionnet.data.load_fashion_mnist, imports excluded): {data_s:.2f} s")
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
