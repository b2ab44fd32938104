"""Benchmark: one Learner.train_step (with its full report) against the same step in plain PyTorch.

Run from the project root: ``python bench/step_bench.py``. Both run side by side in one process, on the
same images, interleaved, one torch thread; prints medians and their ratio, and the history's memory
and undo/jump times after 200 steps.
"""

from __future__ import annotations

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
    data = load_fashion_mnist()
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
    for target in (1, 63, 100, 150, 199, 0, 127):
        t0 = time.perf_counter()
        fresh.goto(target)
        jumps.append(time.perf_counter() - t0)
    print(f"undo (replaying from the nearest snapshot): median {1000 * statistics.median(undo):.1f} ms")
    print(f"jump to any step of 200: median {1000 * statistics.median(jumps):.1f} ms, max {1000 * max(jumps):.1f} ms")


if __name__ == "__main__":
    main()
