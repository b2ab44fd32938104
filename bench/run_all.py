"""Every performance benchmark of issue 10, one after the other, and one summary block to paste.

Run from the project root on a quiet machine (nothing else running: the machine has 2 cores)::

    python bench/run_all.py            # the full set, about 20-30 minutes
    python bench/run_all.py --quick    # small sizes, to check that everything runs (about 4 minutes)

Each benchmark runs in its own process; its output goes to ``.artifacts/bench/<name>.txt`` and its
summary lines (from its first "==" heading on) into the block printed at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

BEFORE = "bbf0d4c"  # the end of the fifth session (before the sixth session's changes): the side-by-side baseline
FULL = [
    ("step", ["bench/step_bench.py"]),
    ("step-profile", ["bench/step_bench.py", "--profile"]),
    ("learner-ab", ["bench/learner_ab.py", BEFORE]),
    ("rerun", ["bench/rerun_bench.py", "--rounds", "60", "--baseline", BEFORE]),
    ("paint", ["bench/paint_bench.py", "--clicks", "60", "--rounds", "4", "--baseline", BEFORE]),
    ("paint-ripple", ["bench/paint_bench.py", "--clicks", "20", "--ripple"]),
    ("paint-chart", ["bench/paint_bench.py", "--clicks", "20", "--chart"]),
    ("paint-profile", ["bench/paint_bench.py", "--clicks", "5", "--profile", "--trace"]),
    ("startup", ["bench/startup_bench.py", "--rounds", "3", "--baseline", BEFORE]),
    ("memory", ["bench/memory_bench.py", "--learners", "20", "--sessions", "50"]),
    ("classroom", ["bench/classroom.py", "--learners", "30", "--duration", "60"]),
    ("classroom-bulk", ["bench/classroom.py", "--learners", "30", "--duration", "60", "--bulk"]),
    ("classroom-2-replicas", ["bench/classroom.py", "--learners", "30", "--duration", "60", "--replicas", "2"]),
    ("classroom-2-replicas-bulk", ["bench/classroom.py", "--learners", "30", "--duration", "60", "--replicas", "2", "--bulk"]),
    ("training", ["bench/training_bench.py", "--quick", "--rounds", "7"]),
    ("anchors", ["bench/anchor_bench.py"]),
    ("elements", ["bench/element_bench.py"]),
    ("variants", ["bench/variant_bench.py"]),
]
QUICK = [
    ("step", ["bench/step_bench.py"]),
    ("rerun", ["bench/rerun_bench.py", "--rounds", "10"]),
    ("paint", ["bench/paint_bench.py", "--clicks", "8", "--warmup", "2"]),
    ("startup", ["bench/startup_bench.py", "--rounds", "1"]),
    ("memory", ["bench/memory_bench.py", "--learners", "5", "--sessions", "5"]),
    ("classroom", ["bench/classroom.py", "--learners", "5", "--duration", "10"]),
    ("classroom-bulk", ["bench/classroom.py", "--learners", "5", "--duration", "10", "--bulk"]),
    ("classroom-2-replicas", ["bench/classroom.py", "--learners", "5", "--duration", "10", "--replicas", "2"]),
    ("anchors", ["bench/anchor_bench.py", "--quick"]),
    ("elements", ["bench/element_bench.py", "--quick"]),
    ("variants", ["bench/variant_bench.py", "--rounds", "1", "--clicks", "3"]),
]


def summary(name: str, output: str) -> list[str]:
    """The benchmark's summary: everything from its first '==' heading (step_bench prints no heading: all of it)."""
    lines = [line for line in output.splitlines() if not line.startswith(("USDT:", "ERROR:", "WARNING")) and "ScriptRunContext" not in line]
    heads = [i for i, line in enumerate(lines) if line.startswith("==")]
    body = lines[heads[0] :] if heads else [line for line in lines if not line.startswith("machine:")]
    if name == "step-profile":  # the operator tables are long: keep the ablation only
        body = body[: next((i for i, line in enumerate(body) if "torch.profiler" in line), len(body))]
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a check that every benchmark runs")
    parser.add_argument("--only", nargs="*", help="run only these (names as listed in the block)")
    args = parser.parse_args(argv)
    from classroom import machine_line

    out_dir = ROOT / ".artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    block = [f"machine: {machine_line()}", f"date: {time.strftime('%Y-%m-%d %H:%M')}"]
    failed = []
    for name, cmd in QUICK if args.quick else FULL:
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        print(f"-- {name}: {' '.join(cmd)}", flush=True)
        proc = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True, env=os.environ)
        text = proc.stdout + ("\n" + proc.stderr if proc.returncode else "")
        (out_dir / f"{name}.txt").write_text(text)
        took = time.perf_counter() - t0
        block.append("")
        block.append(f"[{name}] python {' '.join(cmd)}  ({took:.0f} s)")
        if proc.returncode:
            failed.append(name)
            block.append(f"FAILED with exit code {proc.returncode}; last lines:")
            block += text.strip().splitlines()[-8:]
        else:
            block += summary(name, proc.stdout)
    print("\n".join(["", "=" * 100, *block, "=" * 100]), flush=True)
    if failed:
        print(f"failed: {', '.join(failed)} (full output in {out_dir})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
