"""``gg.compile``: trace a function once, then run it as generated NumPy source for its
forward and backward passes (see docs/compile.md)."""

from graphgrad.compiler.program import Compiled, compile
from graphgrad.errors import CompileError, CompileWarning

__all__ = ["CompileError", "CompileWarning", "Compiled", "compile"]
