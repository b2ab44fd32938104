"""Benchmark: one Learner.train_step (with its full report) against the same step in plain PyTorch.

Run from the project root: ``python bench/step_bench.py``. Both run side by side in one process, on the
same images, interleaved, one torch thread; prints medians and their ratio, and the history's memory
and undo/jump times after 200 steps.

``python bench/step_bench.py --profile`` shows where train_step's extra time goes: each part it adds to
the bare step, timed on its own (median of 300, interleaved with a plain step), and torch.profiler's
per-operator CPU time for 100 train_steps next to 100 plain steps.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fashionnet import ripple
from fashionnet.data import load_fashion_mnist
from fashionnet.learner import Learner
from fashionnet.settings import LESSON

ROUNDS = 300


def plain_setup():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(784, 64), nn.Sigmoid(), nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 10)
    )
    return model, torch.optim.Adam(model.parameters(), lr=0.005), nn.CrossEntropyLoss()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true", help="where train_step's extra time goes")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as documented above: the comparison is per thread
    data = load_fashion_mnist()
    if args.profile:
        profile(data)
        return
    learner = Learner(LESSON)
    model, opt, loss_fn = plain_setup()
    ours, plain = [], []
    for i in range(ROUNDS):
        image, label = data.image("train", i)
        t0 = time.perf_counter()
        learner.train_step(image, label)
        t1 = time.perf_counter()
        x = image.float().reshape(1, 784)
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(x), torch.tensor([label]))
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        ours.append(t1 - t0)
        plain.append(t2 - t1)
    m_ours, m_plain = statistics.median(ours[20:]), statistics.median(plain[20:])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"data: {data.source} ({data.size('train'):,} train images)")
    print(f"train_step with report: median {1000 * m_ours:.3f} ms")
    print(f"plain PyTorch step:     median {1000 * m_plain:.3f} ms")
    print(f"ratio: {m_ours / m_plain:.2f}x (the report adds a snapshot, a second forward pass and the statistics)")

    probe = ripple.probe_set(data)
    last = learner.last_report
    ripple_times = []
    for _ in range(100):
        t0 = time.perf_counter()
        ripple.ripple(last, learner, probe)
        ripple_times.append(time.perf_counter() - t0)
    m_ripple = statistics.median(ripple_times)
    print(f"ripple (score 200 probe images before and after the step): median {1000 * m_ripple:.3f} ms, {m_ripple / m_ours:.2f}x a step")

    fresh = Learner(LESSON)
    for i in range(200):
        fresh.train_step(*data.image("train", i))
    print(f"history after 200 steps: {fresh.history_bytes() / 1e6:.2f} MB")
    undo, jumps = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        fresh.undo()
        undo.append(time.perf_counter() - t0)
        fresh.redo()
    gap = fresh.keyframe_every  # the points just before each keyframe, from the end: the most replayed steps
    for target in (1, 63, 100, 150, 199, 0, 127, *(t for k in range(gap, 201, gap) for t in (k - 1, 199))):
        t0 = time.perf_counter()
        fresh.goto(target)
        jumps.append(time.perf_counter() - t0)
    print(f"undo (replaying from the nearest snapshot): median {1000 * statistics.median(undo):.1f} ms")
    print(f"jump to any step of 200: median {1000 * statistics.median(jumps):.1f} ms, max {1000 * max(jumps):.1f} ms")


def profile(data) -> None:
    """Each part train_step adds to the bare step, timed on its own, and torch.profiler's operator table."""
    from fashionnet.model import to_input

    learner = Learner(LESSON)
    for i in range(50):
        learner.train_step(*data.image("train", i))
    scratch = Learner(LESSON)  # the parts that change weights run on a learner nobody reads
    model, opt, loss_fn = plain_setup()
    image, label = data.image("train", 7)
    y = torch.tensor([label])

    def plain_step() -> None:
        model.train()
        opt.zero_grad()
        loss_fn(model(image.float().reshape(1, 784)), torch.tensor([label])).backward()
        opt.step()

    x = to_input(image, LESSON.scale_inputs)

    def after_copy() -> None:
        now = {n: p.detach().clone() for n, p in learner._named}
        torch.stack(torch._foreach_norm(torch._foreach_sub(list(now.values()), [p.detach() for p in learner._params]))).tolist()

    def after_forward() -> None:
        with torch.no_grad():
            logits = learner.net(x)[0]
        float(learner.loss_fn(logits.unsqueeze(0), y))
        torch.softmax(logits, dim=0)

    params = {n: p.detach().clone() for n, p in learner._named}
    norms = [1.0] * len(params)
    parts = {
        "plain PyTorch step (nn.Sequential, the same Adam)": plain_step,
        "whole train_step": lambda: learner.train_step(image, label),
        "  the step itself (learner._step: forward, loss, backward, Adam)": lambda: scratch._step(x, y, LESSON.lr),
        "  snapshot before the step (learner._snapshot: the optimizer's state; the weights are the last step's copy)": lambda: (
            learner._snapshot(params)
        ),
        "  second forward pass + loss after + softmax (no_grad)": after_forward,
        "  finiteness check of the optimizer's buffers (learner._finite_after)": lambda: learner._finite_after(norms),
        "  copy of the weights after + update norms (clone, _foreach_sub/_norm)": after_copy,
        "  W3 gradient + W3 optimizer state + image copies for the report": lambda: (
            learner.net.W3.weight.detach().clone(),
            {k: v.clone() for k, v in learner.optimizer.state[learner.net.W3.weight].items()},
            image.clone(),
        ),
        "  input conversion alone (to_input)": lambda: to_input(image, False),
    }
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(300):
        for name, part in parts.items():
            t0 = time.perf_counter()
            part()
            times[name].append(time.perf_counter() - t0)
    med = {name: 1000 * statistics.median(v[20:]) for name, v in times.items()}
    plain = med["plain PyTorch step (nn.Sequential, the same Adam)"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("== where train_step's time goes (each part timed alone, median of 280, ms; x = times the plain step) ==")
    for name, ms in med.items():
        print(f"{ms:8.3f} ms  {ms / plain:5.2f}x  {name}")
    parts_sum = sum(ms for name, ms in med.items() if name.startswith("  ") and "to_input" not in name)
    print(f"{parts_sum:8.3f} ms  {parts_sum / plain:5.2f}x  sum of the parts (the rest: records, history, Python glue)")

    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for title, action in (("train_step", lambda: learner.train_step(image, label)), ("plain step", plain_step)):
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(100):
                action()
        print(f"== torch.profiler: 100 x {title}, top operators by self CPU time ==")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14, max_name_column_width=38))


if __name__ == "__main__":
    main()
