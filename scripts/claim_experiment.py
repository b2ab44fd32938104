"""Run the lesson's-claim experiment on real data for both presets and print a Markdown table.

``python scripts/claim_experiment.py`` (reads FASHIONNET_DATA_DIR). The output is recorded in
docs/findings.md. Same code as the app's "Test the lesson's claim" page: fashionnet.claims.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fashionnet import claims
from fashionnet.data import load_fashion_mnist
from fashionnet.learner import Learner
from fashionnet.settings import PRESETS


def main() -> None:
    data = load_fashion_mnist()
    print(f"data: {data.source} ({data.size('test'):,} test images); {platform.machine()}; n = 500 test images, seed {claims.EXPERIMENT_SEED}")
    print()
    print("| preset | copy trained first | P(true) range | SGD ρ | SGD median update, least → most confident fifth | Adam ρ | Adam median update, least → most confident fifth |")
    print("|---|---|---|---|---|---|---|")
    for name, settings in PRESETS.items():
        for steps in (0, 300, 1000):
            t0 = time.perf_counter()
            learner = Learner(settings)
            net = claims.pretrained_copy(learner, data, steps)
            frame = claims.run_experiment(net, settings.scale_inputs, data, 500, {"sgd": 0.1, "adam": settings.lr})
            found = {f.optimizer: f for f in claims.findings(frame)}
            sgd, adam = found["sgd"], found["adam"]
            print(
                f"| {name} | {steps} steps of 64 | {frame.p_true.min():.1%} – {frame.p_true.max():.1%} "
                f"| {sgd.rho:+.2f} | {sgd.small_p_update:.4g} → {sgd.large_p_update:.4g} ({'holds' if sgd.holds else 'does not hold'}) "
                f"| {adam.rho:+.2f} | {adam.small_p_update:.4g} → {adam.large_p_update:.4g} ({'holds' if adam.holds else 'does not hold'}) |"
            )
            print(f"<!-- {name}, {steps} steps: {time.perf_counter() - t0:.1f} s -->", file=sys.stderr)


if __name__ == "__main__":
    main()
