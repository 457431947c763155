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
