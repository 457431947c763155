"""The benchmark harness: the quick run passes, its gradient agreement check is real, and
the memory of one deep-graph step grows linearly in T."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import run  # noqa: E402
from workloads import Workload, _xor_graphgrad, _xor_make, _xor_numpy  # noqa: E402


def test_quick_run_passes_and_writes_results(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| op-overhead | float64 |" in result.stdout and "threads pinned to 1" in result.stdout
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    names = {r["workload"] for r in rows}
    assert {"op-overhead", "mlp", "rnn-batch", "lstm-batch", "gru-batch", "xor-mlp"} <= names
    for r in rows:
        assert (
            r["backends"]["graphgrad"]["status"] == "ok" and r["backends"]["graphgrad"]["ratio"] > 0
        )
        assert all(r["backends"][k]["page_faults"] >= 0 for k in ("numpy", "graphgrad"))
    assert "page faults / step (NumPy, graphgrad)" in result.stdout
    assert "--quick: toy sizes" in result.stdout  # the targets are not judged silently
    assert all(r["sizes"] for r in rows) and rows[0]["sizes"]["a"] == [8, 8]
    info = json.loads((tmp_path / "results.json").read_text())["info"]
    assert info["quick"] is True and info["units"]["median, q1, q3"] == "s per step"
    assert "allocator " + info["allocator"] in result.stdout  # the setting is reported
    deep = next(
        r for r in rows if r["workload"].startswith("deep-graph") and r["dtype"] == "float64"
    )
    assert deep["backends"]["graphgrad"]["peak_mib"] is not None


def _args() -> argparse.Namespace:
    return argparse.Namespace(
        seed=0, min_time=0.0, min_repeats=2, max_repeats=2, memory=False, quick=True, threads=1
    )


def test_a_backend_with_wrong_gradients_is_reported_failed_and_not_timed() -> None:
    def wrong(problem):  # type: ignore[no-untyped-def]
        step = _xor_graphgrad(problem)

        def bad_step():  # type: ignore[no-untyped-def]
            loss, grads = step()
            return loss, {k: g * (1 + 1e-6) if k == "W2" else g for k, g in grads.items()}

        return bad_step

    w = Workload(
        "xor-mlp", _xor_make, {"numpy": _xor_numpy, "graphgrad": _xor_graphgrad, "bad": wrong}
    )
    row = run.evaluate(w, "float64", _args(), {"numpy", "graphgrad", "bad"})
    assert row["backends"]["bad"]["status"].startswith("failed: gradient W2: relative error")
    assert "median" not in row["backends"]["bad"]
    assert (
        row["backends"]["graphgrad"]["status"] == "ok" and "median" in row["backends"]["graphgrad"]
    )


def test_a_wrong_numpy_reference_is_caught_before_anything_is_timed() -> None:
    def broken_reference(problem):  # type: ignore[no-untyped-def]
        step = _xor_numpy(problem)
        return lambda: (step()[0], {k: g * 2 for k, g in step()[1].items()})

    w = Workload("xor-mlp", _xor_make, {"numpy": broken_reference, "graphgrad": _xor_graphgrad})
    row = run.evaluate(w, "float64", _args(), {"numpy", "graphgrad"})
    assert row["error"].startswith("NumPy reference gradient of")


def test_disagreement_measures_relative_error() -> None:
    ref = (1.0, {"w": np.array([1.0, -2.0])})
    assert run.disagreement(ref, (1.0, {"w": np.array([1.0, -2.0 + 1e-12])}), 1e-8) is None
    assert "relative error" in run.disagreement(ref, (1.0, {"w": np.array([1.0, -2.1])}), 1e-8)
    assert "loss" in run.disagreement(ref, (1.5, {"w": ref[1]["w"]}), 1e-8)


def test_deep_graph_memory_grows_linearly_in_T() -> None:
    # RSS high-water marks of fresh processes: free heap memory left by the imports absorbs
    # a varying part of a small step (T=1000 read 1.4-1.7 MiB, which once put the ratio to
    # T=4000 above 5), so the sizes are large enough for that slack to matter little
    # (T=2000 reads about 3.4 MiB, T=8000 about 15.7), and each is the median of three
    small = float(np.median([run.graph_memory(2000) for _ in range(3)]))
    large = float(np.median([run.graph_memory(8000) for _ in range(3)]))
    assert 3.0 <= large / small <= 5.0, (small, large)


_FAULTS_AFTER_FREE = r"""
import resource, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import run
how = run._pin_allocator() if sys.argv[2] == "pinned" else "default"
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():  # 32 arrays of 1 MiB, all freed at the end: the heap's top shrinks
    arrays = [np.empty(1 << 17) for _ in range(32)]
    for a in arrays:
        a[:] = 1.0
for _ in range(2):
    step()
f0 = faults()
for _ in range(5):
    step()
print(how, "|", faults() - f0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_pinned_allocator_reuses_freed_memory_without_page_faults() -> None:
    """--malloc pinned: memory freed at the end of a step is reused by the next step, not
    handed back to the OS and faulted in again."""
    out = {}
    for mode in ("pinned", "default"):
        r = subprocess.run(
            [sys.executable, "-c", _FAULTS_AFTER_FREE, str(ROOT / "benchmarks"), mode],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        how, faults = r.stdout.rsplit("|", 1)
        out[mode] = (how.strip(), int(faults))
    if not out["pinned"][0].startswith("pinned"):
        pytest.skip(f"no glibc mallopt here: {out['pinned'][0]}")
    assert out["pinned"][1] < 100, out  # 5 x 32 MiB written, the pages kept
    assert out["default"][1] > out["pinned"][1], out  # the setting is what made the difference


def test_instruction_counter_runs_a_step_and_refuses_bad_arguments() -> None:
    script = ROOT / "benchmarks" / "count_instructions.py"
    bad = subprocess.run([sys.executable, str(script), "xor-mlp", "--steps", "0"],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "--steps must be at least 1" in bad.stderr
    # the child part (what valgrind runs) builds the workload and steps it
    child = subprocess.run([sys.executable, str(script), "--child", "xor-mlp", "graphgrad", "2"],
                           capture_output=True, text=True)  # fmt: skip
    assert child.returncode == 0, child.stderr
    unknown = subprocess.run([sys.executable, str(script), "--child", "nosuch", "graphgrad", "1"],
                             capture_output=True, text=True)  # fmt: skip
    assert unknown.returncode != 0 and "no workload named 'nosuch'" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "nosuch"], "no workload starts so"),
        (["--threads", "abc"], "invalid positive integer value: 'abc'"),
        (["--threads", "0"], "must be ≥ 1"),
    ],
)
def test_bad_arguments_stop_before_anything_runs(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
