"""The package's metadata says what the repository holds: one version, the MIT licence
file, bounded build and lint pins, and an sdist that ships the library only."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

import graphgrad

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None


@pytest.fixture(scope="module")
def pyproject() -> dict:
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_one_version(pyproject: dict) -> None:
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    attr = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "graphgrad.__version__"
    assert importlib.metadata.version("graphgrad") == graphgrad.__version__


def test_licence_file_and_expression(pyproject: dict) -> None:
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_build_and_lint_pins_are_bounded(pyproject: dict) -> None:
    (setuptools,) = pyproject["build-system"]["requires"]
    assert re.fullmatch(r"setuptools>=7[7-9][.\d]*,<\d+", setuptools), setuptools
    ruff = next(r for r in pyproject["project"]["optional-dependencies"]["dev"] if "ruff" in r)
    assert "<" in ruff, ruff
    assert pyproject["project"]["optional-dependencies"]["testing"] == ["hypothesis>=6.80"]


def test_sdist_leaves_out_what_cannot_run_from_it() -> None:
    rules = (ROOT / "MANIFEST.in").read_text().split("\n")
    for folder in ("tests", "benchmarks", "examples", "docs"):
        assert f"prune {folder}" in rules, folder


def test_the_built_wheel_installs_and_trains(tmp_path: Path) -> None:
    """The wheel (not the editable tree) holds a working package: built with pip, installed
    into a folder of its own, imported from there, and one training step taken."""
    import subprocess

    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("graphgrad-*.whl")
    site = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (site / "graphgrad" / "py.typed").exists()
    step = (
        "import sys, numpy as np, graphgrad as gg; from graphgrad import nn, optim\n"
        "assert gg.__file__.startswith(sys.argv[1]), gg.__file__\n"
        "m = nn.Linear(3, 1); opt = optim.SGD(m.parameters(), lr=0.1)\n"
        "x, y = gg.tensor(np.ones((4, 3))), gg.tensor(np.zeros((4, 1)))\n"
        "l0 = ((m(x) - y) ** 2).mean(); l0.backward(); opt.step()\n"
        "l1 = ((m(x) - y) ** 2).mean()\n"
        "assert l1.item() < l0.item(); print('ok', gg.__version__)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", step, str(site)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and run.stdout.startswith("ok " + graphgrad.__version__), (
        run.stdout + run.stderr
    )
