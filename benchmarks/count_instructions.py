"""Instructions per training step of a benchmark workload, counted by callgrind.

Timings on a shared machine move by several percent between runs; instruction counts do
not, so a change's cost on the per-op path is measured here. The step is run after five
warm-up steps, K times and 0 times, in two valgrind processes; the difference over K is
the count per step. Hash seed, address-space layout and BLAS threads are fixed (a busy
BLAS worker thread, or id-keyed dict layouts, otherwise change the count by ~10%).

    python benchmarks/count_instructions.py op-overhead xor-mlp
    python benchmarks/count_instructions.py rnn-seed --steps 50

Needs valgrind (and setarch, from util-linux) on PATH.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_steps(name: str, backend: str, steps: int) -> None:
    """The child: build the workload and run its step (5 warm-up steps, then ``steps``)."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    import workloads

    matches = [w for w in workloads.workloads() if w.name.startswith(name)]
    if not matches:
        raise SystemExit(f"no workload named {name!r}")
    workload = matches[0]
    step = workload.backends[backend](workload.make(np.random.default_rng(0), np.float64))
    for _ in range(5 + steps):
        step()


def count(name: str, backend: str, steps: int) -> int:
    """Instructions of the whole process, running ``steps`` measured steps."""
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": str(HERE.parent),
    }
    cmd = [
        "setarch", platform.machine(), "-R",
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", name, backend, str(steps),
    ]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", out.stderr)
    if match is None:
        raise SystemExit(f"callgrind printed no count:\n{out.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_steps(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workloads", nargs="+", help="workload names (or prefixes)")
    parser.add_argument("--backend", default="graphgrad", help="graphgrad, numpy, torch ...")
    parser.add_argument("--steps", type=int, default=100, help="measured steps (default 100)")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    for tool in ("valgrind", "setarch"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")
    for name in args.workloads:
        per_step = count(name, args.backend, args.steps) - count(name, args.backend, 0)
        print(f"{name:<16} {args.backend:<10} {per_step // args.steps:>12,} instructions/step")


if __name__ == "__main__":
    main()
