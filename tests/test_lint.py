"""The code base stays ruff-clean (ruff comes with the dev extra)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (pip install 'graphgrad[dev]')")
    return [found]


def test_ruff_check() -> None:
    result = subprocess.run([*_ruff(), "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = subprocess.run(
        [*_ruff(), "format", "--check", str(ROOT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_library_module_switches_the_matplotlib_backend() -> None:
    """A library never calls matplotlib.use: in a notebook it would stop the user's plots
    from showing (scripts in examples/ and benchmarks/ may choose their backend)."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "graphgrad").rglob("*.py")
        if re.search(r"matplotlib\.use\(|\.use\(\s*['\"]Agg", p.read_text())
    ]
    assert not offenders
