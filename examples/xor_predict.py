"""Seed 004: load weights saved by xor_train.py and print one line per XOR input, in the
seed's format:

    in: [0. 0.]  ->  out: 0 (0.00486784050737)

    python examples/xor_predict.py runs/xor/xor_weights.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from xor_train import build_model

import graphgrad as gg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path, help="file written by xor_train.py")
    args = parser.parse_args(argv)
    try:
        saved = gg.load(args.weights)
        model = build_model(**saved["config"])
        model.load_state_dict(saved["state"])
    except (gg.CheckpointError, gg.StateDictError, KeyError, TypeError) as exc:
        print(f"error: {args.weights} is not an xor_train.py checkpoint: {exc}", file=sys.stderr)
        return 1
    X, _ = gg.data.xor()
    with gg.no_grad():
        y = model(X).data[:, 0]
    for x, p in zip(X, y):
        print(f"in: {x}  ->  out: {int(p > 0.5)} ({np.format_float_positional(p, precision=12)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
