"""The README stays true: its code runs, and CI runs exactly its test command."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = [b.strip() for b in _blocks("bash")]
    test_commands = [c for c in commands if "pytest" in c]
    assert len(commands) == 2 and len(test_commands) == 1
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_commands[0] in ci


def test_readme_demo_command_names_an_existing_script() -> None:
    demo = next(c for c in _blocks("bash") if "pytest" not in c)
    script = re.search(r"\.venv/bin/python (\S+\.py)", demo)
    assert script and (ROOT / script.group(1)).is_file()


def test_readme_python_examples_run() -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in _blocks("python"):
        exec(compile(block, "README.md", "exec"), namespace)
    W = namespace["W"]
    assert W.grad.shape == (3, 2)  # type: ignore[attr-defined]
    assert np.allclose(namespace["x"].data, [0.5, -1.0, 2.0])  # type: ignore[attr-defined]
