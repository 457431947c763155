"""Process-wide settings with PyTorch's names: the default floating dtype, the number of
BLAS threads, and ``device`` (graphgrad computes on the CPU, with NumPy).

The default dtype is float64 — NumPy's, and the precision gradient checks need — where
PyTorch's is float32; ``gg.set_default_dtype(gg.float32)`` gives PyTorch's. It is the
dtype of new layers' parameters and of tensors made from Python floats (``gg.tensor([0.5])``,
``gg.zeros(3)``); an ndarray keeps its own dtype (``gg.tensor(np.float32 array)`` is
float32), as ``torch.tensor`` keeps a NumPy array's.
"""

from __future__ import annotations

import ctypes
import glob
import os
from typing import Any

import numpy as np

_default_dtype: np.dtype = np.dtype(np.float64)


def get_default_dtype() -> np.dtype:
    """The floating dtype of new parameters and of tensors made from Python floats."""
    return _default_dtype


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating dtype (float16, float32 or float64; PyTorch refuses the
    others too)."""
    global _default_dtype
    d = np.dtype(dtype)
    if d.kind != "f":
        raise TypeError(
            f"set_default_dtype: only floating-point dtypes can be the default, got {d}"
        )
    _default_dtype = d


def resolve_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy dtype, the default one for None."""
    return _default_dtype if dtype is None else np.dtype(dtype)


# ---------------------------------------------------------------------- threads
_BLAS_SETTERS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)
_blas: tuple[Any, Any] | None = None


def _find_blas() -> tuple[Any, Any]:
    """NumPy's OpenBLAS thread setter and getter (the library NumPy's wheel loaded)."""
    global _blas
    if _blas is not None:
        return _blas
    here = os.path.dirname(np.__file__)
    libs = glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*"))
    libs += glob.glob(os.path.join(here, ".dylibs", "*openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in _BLAS_SETTERS:
            if hasattr(lib, setter) and hasattr(lib, getter):
                set_fn, get_fn = getattr(lib, setter), getattr(lib, getter)
                set_fn.argtypes, set_fn.restype = [ctypes.c_int], None
                get_fn.argtypes, get_fn.restype = [], ctypes.c_int
                _blas = (set_fn, get_fn)
                return _blas
    raise RuntimeError(
        "set_num_threads: this NumPy's BLAS is not OpenBLAS (or could not be found), so its "
        "thread count cannot be changed at run time; set OMP_NUM_THREADS / "
        "OPENBLAS_NUM_THREADS / MKL_NUM_THREADS before NumPy is imported"
    )


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for NumPy's BLAS (matrix products); PyTorch's intra-op thread
    count. Elementwise NumPy ops run on one thread either way."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _find_blas()[0](int(n))


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS uses."""
    return int(_find_blas()[1]())


# ---------------------------------------------------------------------- device
class device:  # noqa: N801  (PyTorch's name)
    """PyTorch's ``torch.device`` for the one device graphgrad has: ``gg.device("cpu")``.
    Any other device type raises (graphgrad computes with NumPy, on the CPU)."""

    __slots__ = ("index", "type")
    index: int | None
    type: str

    def __init__(self, spec: Any = "cpu", index: int | None = None) -> None:
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        kind, _, num = str(spec).partition(":")
        if kind != "cpu":
            raise RuntimeError(
                f"graphgrad computes on the CPU with NumPy; device {str(spec)!r} is not "
                "available (use 'cpu')"
            )
        self.type = "cpu"
        self.index = int(num) if num else index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"

    def __str__(self) -> str:
        return self.type


CPU = device("cpu")


def check_device(spec: Any, who: str) -> None:
    """Raise unless ``spec`` names the CPU (``.to(device)`` calls)."""
    try:
        device(spec)
    except RuntimeError as exc:
        raise RuntimeError(f"{who}: {exc}") from None
