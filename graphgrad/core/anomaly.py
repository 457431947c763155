"""``gg.detect_anomaly()``: find the first op that turns finite numbers into NaN or inf.

Inside the context manager every op records where in the user's code it was created,
checks its forward output, and the backward engine checks every gradient a rule returns.
The first op that produces NaN or inf from finite inputs (or from a finite upstream
gradient, in backward) raises ``AnomalyError`` naming the op, the shapes involved and the
source line that created it. This costs time, so it is a debugging tool: the normal path
is untouched when the context manager is not active.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from graphgrad.core.grad_mode import anomaly_on, refresh_watching
from graphgrad.core.tensor import Tensor
from graphgrad.errors import GraphgradError

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # graphgrad/


class AnomalyError(GraphgradError, FloatingPointError):
    """An op produced NaN or inf from finite values (raised under detect_anomaly)."""


def _user_frame() -> str:
    """``file:line in function`` of the innermost caller outside graphgrad."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        # (``<graphgrad.ops: exp>``: a method generated from an op's spellings)
        if not name.startswith("<graphgrad") and not os.path.abspath(name).startswith(_ROOT):
            return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<unknown>"


def _bad(a: Any) -> str | None:
    """'nan' or 'inf' if the floating array holds one, else None."""
    a = np.asarray(a.data if isinstance(a, Tensor) else a)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return None
    return "nan" if np.isnan(a).any() else "inf"


def _shapes(args: tuple[Any, ...]) -> str:
    return ", ".join(
        str(np.shape(a.data if isinstance(a, Tensor) else a))
        for a in args
        if isinstance(a, (Tensor, np.ndarray))
    )


def where(node: Any) -> str:
    return getattr(node, "_trace", None) or "<created outside detect_anomaly>"


def check_forward(cls: type, args: tuple[Any, ...], out: Tensor) -> None:
    """Record where the op was created; raise if it made NaN/inf from finite inputs."""
    site = _user_frame()
    if out._node is not None:
        out._node._trace = site
    kind = _bad(out.data)
    if kind and not any(
        _bad(a.data if isinstance(a, Tensor) else a)
        for a in args
        if isinstance(a, (Tensor, np.ndarray))
    ):
        raise AnomalyError(
            f"{cls.__name__} produced {kind} in its forward pass from finite inputs of shapes "
            f"{_shapes(args)}; the op was called at {site}"
        )


def check_backward(node: Any, g: Any, grads: tuple[Any, ...]) -> None:
    """Raise if the rule of ``node`` returned NaN/inf from a finite upstream gradient."""
    if _bad(g):
        return
    for i, gi in enumerate(grads):
        if gi is None:
            continue
        values = getattr(gi, "values", gi)  # an IndexedGrad's nonzero part
        kind = _bad(values.data if isinstance(values, Tensor) else values)
        if kind:
            raise AnomalyError(
                f"{type(node).__name__} produced {kind} in its backward pass (the gradient "
                f"for its input {i}, of shape {np.shape(getattr(values, 'data', values))}) from "
                f"a finite upstream gradient of shape {np.shape(getattr(g, 'data', g))}; "
                f"the op was created at {where(node)}"
            )


class detect_anomaly:  # noqa: N801 (PyTorch's spelling)
    """``with gg.detect_anomaly(): ...`` — raise at the first op producing NaN or inf.

    Not thread-aware: while active it applies to ops recorded in every thread.
    """

    _depth = 0

    def __enter__(self) -> detect_anomaly:
        if detect_anomaly._depth == 0:
            anomaly_on[0] = True
            refresh_watching()
        detect_anomaly._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        detect_anomaly._depth -= 1
        if detect_anomaly._depth == 0:
            anomaly_on[0] = False
            refresh_watching()
