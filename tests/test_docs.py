"""The docs stay true: their code runs, and the API reference matches the docstrings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("page", ["tutorial.md", "bptt.md", "pytorch.md", "compile.md"])
def test_code_blocks_run_in_order(page: str) -> None:
    text = (ROOT / "docs" / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)


def test_compile_page_shows_the_source_gg_compile_generates() -> None:
    """docs/compile.md's generated code is what its program prints now."""
    import contextlib
    import io

    text = (ROOT / "docs" / "compile.md").read_text()
    program = re.findall(r"```python\n(.*?)```", text, flags=re.S)[-1]
    (shown,) = re.findall(r"```text\n(.*?)```", text, flags=re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(program, "compile.md", "exec"), {"__name__": "docs_compile"})
    assert out.getvalue().rstrip("\n") == shown.rstrip("\n")


def test_api_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "gen_api.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "(no docstring)" not in (ROOT / "docs" / "api.md").read_text()


def test_every_cited_seed_equation_is_stated_in_seeds_md() -> None:
    """The docs stand alone: each "eq. N" / "eqs. (N)–(M)" cited in the code, docs and
    examples is one of the numbered equations written out in docs/seeds.md."""
    stated = set(
        re.findall(r"\((\d+)\)\s*(?:\(|$)", (ROOT / "docs" / "seeds.md").read_text(), re.M)
    )
    stated |= set(re.findall(r"  \((\d+)\)", (ROOT / "docs" / "seeds.md").read_text()))
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "graphgrad").rglob("*.py")]
    files += list((ROOT / "examples").glob("*.py"))
    cited: dict[str, str] = {}
    for f in files:
        for m in re.finditer(r"\beqs?\.\s*\(?(\d+)\)?(?:\s*[–-]\s*\(?(\d+)\)?)?", f.read_text()):
            for n in m.groups():
                if n:
                    cited.setdefault(n, f.name)
    missing = {n: f for n, f in cited.items() if n not in stated}
    assert not missing, f"equations cited but not stated in docs/seeds.md: {missing}"
    for seed in ("000", "001", "002", "003", "004"):
        assert f"## Seed {seed}" in (ROOT / "docs" / "seeds.md").read_text()


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    """mkdocs.yml's site (every page in docs/, the API reference included) builds with
    --strict: a broken link inside the site or a page missing from disk fails it."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("index.html", "tutorial/index.html", "seeds/index.html", "api/index.html"):
        assert (tmp_path / "site" / page).exists(), page
    assert not (tmp_path / "site" / "gen_api.py").exists()
