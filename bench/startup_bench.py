"""Benchmark: start-up, from `streamlit run app.py` to the first page drawn with the data loaded.

Chromium is launched first (its own start-up is not the app's). Then, per round: start the server
(the data already decompressed in FASHIONNET_CACHE_DIR, as on any start after the first), open "/" as
soon as the port answers, and wait until the Predict page shows its prediction sentence and the
probability chart has its ten bars. Reports when the server answered its health check, when the page
arrived, and when the prediction was drawn, all from the moment the process was started.

Also the server's RSS once the page is drawn, and whether it imported torchvision; with ``app.py``'s
warm-up (``ui/warmup.py``) the times its thread logged (torch imported, first page imported, first
learner built, the first page's draws made once, data read; seconds from the server's start-up hook).

``--baseline REF`` (repeatable) runs the code of a git commit (``git archive REF`` into ``.cache/startup-baseline/``,
with its own cache folder) in the same run, its rounds interleaved with this tree's, so both see the
same load: the before/after figures of record come from one run. ``--python NAME=PATH`` (repeatable) runs this
tree with another interpreter in the same way, e.g. a virtual environment with PyTorch's CPU-only wheel (the
Dockerfile's) against the CUDA build that PyPI's Linux ``torch`` is; that interpreter needs the app's packages
but not torchvision (the data come from the cache folder this tree's interpreter fills).

Then ``python -X importtime`` of what the first script run imports (``ui.router``: streamlit, torch,
altair, pandas...), summed per top-level package, and the data load on its own.

Run from the project root::

    python bench/startup_bench.py                        # 3 rounds
    python bench/startup_bench.py --rounds 5 --baseline main
    python bench/startup_bench.py --rounds 5 --python cpu-wheel=/tmp/cpuvenv/bin/python
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchenv import ROOT
from classroom import machine_line, rss_mb

from browser_support import chromium, free_port

TARGET_S = 3.0
SENTENCE = "The network thinks this is"


WARM_UP_LINE = re.compile(r"warm-up: (.*)$")


def baseline_tree(ref: str) -> Path:
    """The files of commit ``ref`` in ``.cache/startup-baseline/<sha>`` (made once)."""
    sha = subprocess.run(["git", "rev-parse", ref], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    folder = ROOT / ".cache" / "startup-baseline" / sha[:12]
    if not (folder / "app.py").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with tempfile.TemporaryFile() as tar:
            subprocess.run(["git", "archive", "--format=tar", sha], cwd=ROOT, stdout=tar, check=True)
            tar.seek(0)
            with tarfile.open(fileobj=tar) as archive:
                archive.extractall(folder, filter="data")
    return folder


def one_round(browser, tree: Path, cache_dir: str, python: str = sys.executable) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONUNBUFFERED": "1", "FASHIONNET_CACHE_DIR": cache_dir}
    cmd = [python, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true"]  # fmt: skip
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
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
        marks["server RSS, MB"] = rss_mb(proc.pid)
        marks["torchvision imported (1 = yes)"] = float("torchvision" in Path(f"/proc/{proc.pid}/maps").read_text())
    finally:
        page.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.seek(0)
        for line in log.read().decode(errors="replace").splitlines():
            if m := WARM_UP_LINE.search(line):  # "torch imported at 0.91 s, first page imported at 1.30 s, ..."
                for part in m.group(1).split(", "):
                    name, _, seconds = part.rpartition(" at ")
                    marks[f"warm-up thread: {name} (s after the hook)"] = float(seconds.rstrip(" s"))
        log.close()
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


def data_load_seconds(tree: Path = ROOT, cache_dir: str | None = None, python: str = sys.executable) -> float:
    code = "import time, fashionnet.data as d; t = time.perf_counter(); d.load_fashion_mnist(); print(time.perf_counter() - t)"
    env = {**os.environ, **({"FASHIONNET_CACHE_DIR": cache_dir} if cache_dir else {})}
    out = subprocess.run([python, "-c", code], cwd=tree, capture_output=True, text=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    keys = list(dict.fromkeys(k for r in rounds for k in r))
    return {k: statistics.median(r[k] for r in rounds if k in r) for k in keys}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--target-s", type=float, default=TARGET_S)
    parser.add_argument(
        "--baseline",
        metavar="REF",
        action="append",
        default=[],
        help="also run the code of this git commit, rounds interleaved (e.g. main); repeatable",
    )
    parser.add_argument(
        "--python",
        metavar="NAME=PATH",
        action="append",
        default=[],
        help="also run this tree with another Python interpreter (e.g. a venv with the CPU-only torch wheel), interleaved; repeatable",
    )
    args = parser.parse_args(argv)
    print(f"machine: {machine_line()}", flush=True)
    cache = os.environ["FASHIONNET_CACHE_DIR"]
    trees = {}
    for ref in args.baseline:  # each its own cache folder: the trees' caches may differ in format
        tree = baseline_tree(ref)
        trees[ref] = (tree, f"{cache}-{tree.name}", sys.executable)
    trees["this tree"] = (ROOT, cache, sys.executable)
    for spec in args.python:  # this tree's cache: filled by this interpreter's first load just below
        name, _, path = spec.partition("=")
        trees[name] = (ROOT, cache, path)  # this tree, that interpreter
    data_s = {name: [data_load_seconds(tree, c, py)] for name, (tree, c, py) in trees.items()}  # the first also fills the cache
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    with chromium() as browser:
        for i in range(args.rounds):
            for name, (tree, c, py) in trees.items():
                results[name].append(one_round(browser, tree, c, py))
                print(f"  round {i + 1} {name}: prediction shown at {results[name][-1]['prediction shown']:.2f} s", flush=True)
    for name, (tree, c, py) in trees.items():
        data_s[name] += [data_load_seconds(tree, c, py) for _ in range(2)]
    med = {name: medians(rounds) for name, rounds in results.items()}
    names = list(trees)
    lines = [
        f"== start-up: `streamlit run app.py` to the Predict page drawn, data already on disk, {args.rounds} rounds"
        f"{' each, interleaved' if len(names) > 1 else ''}, medians (s from process start) =="
    ]
    keys = list(dict.fromkeys(k for n in names for k in med[n]))
    lines.append("  " + "".join(f" {n[:15]:>15}" for n in names) + "  ")
    for k in keys:
        lines.append("  " + "".join(f"{med[n].get(k, float('nan')):16.2f}" for n in names) + f"  {k}")
    for n in names:
        shown = med[n]["prediction shown"]
        met = "MET" if shown <= args.target_s else "NOT MET"
        lines.append(f"{n}: process start -> prediction shown {shown:.2f} s (target <= {args.target_s:.0f} s: {met})")
    for n in names:
        load_s = statistics.median(data_s[n][1:])  # the first load may have filled the cache
        lines.append(f"{n}: loading the dataset on disk (load_fashion_mnist, imports excluded), median of 2: {load_s:.2f} s")
    total, packages, nested = import_times()
    lines.append(
        f"python -X importtime of ui.router (what the first run imports), this tree: {total:.2f} s in all; by package our code imports:"
    )
    for name, seconds in packages:
        lines.append(f"  {seconds:5.2f} s  {name}")
    lines.append("  of which, imported by those packages in turn: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in nested))
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
