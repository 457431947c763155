"""Helpers shared by the example scripts: progress bars, plots, results tables.

tqdm and matplotlib are optional extras (``pip install 'graphgrad[progress,plot]'``): without
tqdm, progress is printed as plain lines; without matplotlib, the plot is skipped with a
message and everything else still runs.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np


def progress(iterable: Iterable[Any], total: int | None = None, desc: str = "") -> Iterator[Any]:
    """A tqdm progress bar when tqdm is installed and stderr is a terminal or a Jupyter
    kernel runs the code (tqdm.auto picks the notebook widget there), else a plain line
    on stderr every ~10% (readable in logs)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _plain_progress(iterable, total, desc)
    if not (sys.stderr.isatty() or "ipykernel" in sys.modules):
        return _plain_progress(iterable, total, desc)
    return iter(tqdm(iterable, total=total, desc=desc, leave=False, mininterval=1.0))


def _plain_progress(iterable: Iterable[Any], total: int | None, desc: str) -> Iterator[Any]:
    total = (
        total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    )  # type: ignore[arg-type]
    start = time.perf_counter()
    step = max(1, (total or 10) // 10)
    for i, item in enumerate(iterable, 1):
        yield item
        if total and (i % step == 0 or i == total):
            # stderr, as tqdm's bar: the results on stdout stay clean to pipe or parse
            print(f"  {desc} {i}/{total} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            small_or_huge = (abs(v) < 1e-3 and v != 0) or abs(v) >= 1e5
            return f"{v:.4g}" if small_or_huge else f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def write_results(out_dir: Path, name: str, results: dict[str, Any]) -> Path:
    """Write ``results`` (plus the machine and the command line) to ``out_dir/name.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    payload = {"command": " ".join(["python", *sys.argv]), "machine": machine(), **results}
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def pyplot() -> Any:
    """matplotlib.pyplot with a file-only backend, or None (with a note) if not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed, so no plot: pip install 'graphgrad[plot]')")
        return None
    return plt
