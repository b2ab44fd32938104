"""Benchmark: the learner of another git revision against this tree's, side by side in one process.

Run from the project root: ``python bench/learner_ab.py [REV]`` (default ``main``). ``fashionnet/learner.py``
of REV is loaded as a second module (the rest of the package is this tree's), then, interleaved in one
process with one torch thread: ``train_step`` of both and the same step in plain PyTorch (medians and
ratios), undo, and the worst-case jump of each (from the end to the point just before each keyframe:
``keyframe_every - 1`` replayed steps), and the history's own size after 200 steps. Memory per learner
needs a process of its own: run ``python bench/memory_bench.py`` in each tree.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchenv  # the project importable, the real data found (before anything of the project)
import torch
from step_bench import plain_setup

from fashionnet import learner as this
from fashionnet.data import load_fashion_mnist
from fashionnet.settings import LESSON

ROUNDS = 300


def load_revision(rev: str):
    source = subprocess.run(["git", "show", f"{rev}:fashionnet/learner.py"], cwd=benchenv.ROOT, capture_output=True, text=True, check=True)
    path = Path(tempfile.mkdtemp()) / "learner_at_rev.py"
    path.write_text(source.stdout)
    spec = importlib.util.spec_from_file_location("learner_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["learner_at_rev"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", nargs="?", default="main", help="the git revision to compare with (default: main)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    other = load_revision(args.rev)
    data = load_fashion_mnist()
    sides = {args.rev: other.Learner(LESSON), "this tree": this.Learner(LESSON)}
    model, opt, loss_fn = plain_setup()
    times: dict[str, list[float]] = {name: [] for name in [*sides, "plain"]}
    for i in range(ROUNDS):
        image, label = data.image("train", i)
        order = list(sides.items()) if i % 2 else list(reversed(sides.items()))
        for name, learner in order:
            t0 = time.perf_counter()
            learner.train_step(image, label)
            times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.train()
        opt.zero_grad()
        loss_fn(model(image.float().reshape(1, 784)), torch.tensor([label])).backward()
        opt.step()
        times["plain"].append(time.perf_counter() - t0)
    a, b = sides.values()
    assert all(torch.equal(p, q) for p, q in zip(a.net.parameters(), b.net.parameters(), strict=True)), "the two learners differ"
    med = {name: 1000 * statistics.median(v[20:]) for name, v in times.items()}
    print(f"== train_step, {ROUNDS} images interleaved (median of the last {ROUNDS - 20}, ms; x = times the plain step) ==")
    for name, ms in med.items():
        print(f"{ms:8.3f} ms  {ms / med['plain']:5.2f}x  {name}")

    jumpers = {name: type(learner)(LESSON) for name, learner in sides.items()}
    for i in range(200):
        for learner in jumpers.values():
            learner.train_step(*data.image("train", i))
    undo = {name: [] for name in jumpers}
    worst = {name: [] for name in jumpers}
    for _ in range(20):
        for name, learner in jumpers.items():
            t0 = time.perf_counter()
            learner.undo()
            undo[name].append(time.perf_counter() - t0)
            learner.redo()
    plans = {name: [k - 1 for k in range(learner.keyframe_every, 201, learner.keyframe_every)] for name, learner in jumpers.items()}
    for _ in range(5):  # the two sides' jumps interleaved, one by one
        for i in range(max(map(len, plans.values()))):
            for name, learner in jumpers.items():
                target = plans[name][i % len(plans[name])]
                learner.goto(199)
                t0 = time.perf_counter()
                learner.goto(target)
                worst[name].append(time.perf_counter() - t0)
    print("== 200 single steps: undo (median, max) and worst-case jumps (median, max), ms; the history's own estimate ==")
    for name, learner in jumpers.items():
        print(
            f"{name}: undo {1000 * statistics.median(undo[name]):.2f} / {1000 * max(undo[name]):.2f}; "
            f"keyframes every {learner.keyframe_every}: jumps over {learner.keyframe_every - 1} steps "
            f"{1000 * statistics.median(worst[name]):.1f} / {1000 * max(worst[name]):.1f}; history {learner.history_bytes() / 1e6:.2f} MB"
        )


if __name__ == "__main__":
    main()
