"""Benchmark: bulk training (a TrainingRun, as the Train many steps page runs it) against a plain PyTorch
loop with the same batch size, side by side; and the Modern preset's test accuracy per epoch.

Run from the project root: ``FASHIONNET_DATA_DIR=../shared/data/fashion-mnist python bench/training_bench.py``
(``--epochs 15 --seeds 0 1 2`` are the defaults for the accuracy part; ``--quick`` skips it).
Throughput rounds alternate ours / plain, one torch thread, 50,000 samples each (less than an epoch, so no
accuracy measurement falls inside the timing: the plain loop measures none); medians and their ratio.
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

from fashionnet.data import load_fashion_mnist
from fashionnet.learner import Learner, RunSpec
from fashionnet.model import make_net
from fashionnet.settings import MODERN


def plain_loop(data, batch_size: int, batches: int) -> float:
    """Samples per second of the textbook loop: shuffle, slice, scale, forward, loss, backward, step."""
    model = make_net(0, "relu")
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    perm = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    for b in range(batches):
        idx = perm[b * batch_size : (b + 1) * batch_size]
        x = data.train_images[idx].reshape(-1, 784).float() / 255.0
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(x), data.train_labels[idx])
        loss.backward()
        opt.step()
    return batches * batch_size / (time.perf_counter() - t0)


def ours(data, batch_size: int, batches: int) -> float:
    """Samples per second of a TrainingRun advanced in 0.3 s pieces, as the page does (its end-of-run
    accuracy measurement excluded: it is not training)."""
    learner = Learner(MODERN)
    run = learner.start_run(data, batch_size, batches, seed=0)
    t0 = time.perf_counter()
    while not run.finished:
        run.advance(seconds=0.3)
    elapsed = time.perf_counter() - t0
    run.finish()
    return batches * batch_size / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="throughput only")
    args = parser.parse_args()
    data = load_fashion_mnist()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"data: {data.source} ({data.size('train'):,} train / {data.size('test'):,} test images)")
    for batch_size in (64, 256):
        a, b = [], []
        batches = 50_000 // batch_size
        for _ in range(args.rounds):
            a.append(ours(data, batch_size, batches))
            b.append(plain_loop(data, batch_size, batches))
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"batch {batch_size:>3}: TrainingRun {ma:,.0f} samples/s, plain loop {mb:,.0f} samples/s, ratio {ma / mb:.2f}")
    if args.quick:
        return
    for seed in args.seeds:
        learner = Learner(MODERN.__class__(**{**MODERN.__dict__, "seed": seed}))
        t0 = time.perf_counter()
        record = learner.train_run(data, RunSpec(64, args.epochs * -(-data.size("train") // 64), seed))
        took = time.perf_counter() - t0
        accs = [e.test_accuracy for e in record.evals]
        first = next((i + 1 for i, a in enumerate(accs) if a >= 0.88), None)
        print(
            f"Modern seed {seed}, batch 64, {args.epochs} epochs in {took:.0f} s: test accuracy per epoch "
            + " ".join(f"{a:.4f}" for a in accs)
            + f"; best {max(accs):.4f} (epoch {accs.index(max(accs)) + 1}); first >= 0.88: epoch {first}; last {accs[-1]:.4f}"
        )


if __name__ == "__main__":
    main()
