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
    where = f"{data.source} ({data.size('test'):,} test images); {platform.machine()}"
    print(f"data: {where}; n = 500 test images, seed {claims.EXPERIMENT_SEED}")
    print()
    fifths = "median update, least → most confident fifth"
    print(f"| preset | copy trained first | P(true) range | SGD ρ | SGD {fifths} | Adam ρ | Adam {fifths} |")
    print("|---|---|---|---|---|---|---|")
    for name, settings in PRESETS.items():
        for steps in (0, 300, 1000):
            t0 = time.perf_counter()
            learner = Learner(settings)
            net = claims.pretrained_copy(learner, data, steps)
            frame = claims.run_experiment(net, settings.scale_inputs, data, 500, {"sgd": 0.1, "adam": settings.lr})
            found = {f.optimizer: f for f in claims.findings(frame)}
            sgd, adam = found["sgd"], found["adam"]
            cells = [f"{name}", f"{steps} steps of 64", f"{frame.p_true.min():.1%} – {frame.p_true.max():.1%}"]
            for f in (sgd, adam):
                verdict = "holds" if f.holds else "does not hold"
                cells += [f"{f.rho:+.2f}", f"{f.small_p_update:.4g} → {f.large_p_update:.4g} ({verdict})"]
            print("| " + " | ".join(cells) + " |")
            print(f"<!-- {name}, {steps} steps: {time.perf_counter() - t0:.1f} s -->", file=sys.stderr)


if __name__ == "__main__":
    main()
