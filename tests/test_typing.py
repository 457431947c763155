"""graphgrad type-checks under `mypy --strict` (less warn_return_any, see pyproject.toml),
and a user's script sees the types it should: Tensor ops give Tensors, parameters() an
iterator of Parameters, item() a Python number, .grad an optional array."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# line of tests/typing/user_script.py -> the parts its revealed type must name (spelled
# without "builtins."; the exact text varies with mypy's and NumPy's versions)
EXPECTED = {
    10: {"graphgrad.core.tensor.Tensor"},
    13: {"Any"},  # Module.__call__ returns what forward returns (Any, as torch.nn.Module's)
    14: {"typing.Iterator[graphgrad.nn.module.Parameter]"},
    15: {"float", "int"},  # item(): a Python number (mypy folds bool into int)
    16: {"numpy.ndarray", "graphgrad.core.tensor.Tensor", "None"},  # .grad
    18: {"Any"},
}


def _mypy() -> list[str]:
    exe = Path(sys.executable).with_name("mypy")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("mypy")
    if found is None:
        pytest.skip("mypy is not installed (pip install 'graphgrad[dev]')")
    return [found]


def test_the_package_is_strict_clean(tmp_path: Path) -> None:
    result = subprocess.run(
        [*_mypy(), "--cache-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_users_script_sees_graphgrads_types(tmp_path: Path) -> None:
    script = ROOT / "tests" / "typing" / "user_script.py"
    result = subprocess.run(
        [*_mypy(), "--cache-dir", str(tmp_path), str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    revealed = {
        int(m.group(1)): m.group(2).replace("builtins.", "")
        for m in re.finditer(r'user_script\.py:(\d+): note: Revealed type is "(.*)"', result.stdout)
    }
    assert set(revealed) == set(EXPECTED), revealed
    for line, parts in EXPECTED.items():
        names = {
            p.split("[")[0] if p.startswith("numpy") else p for p in revealed[line].split(" | ")
        }
        assert parts == names, (line, revealed[line])


def test_the_package_ships_its_types() -> None:
    assert (ROOT / "graphgrad" / "py.typed").exists()
