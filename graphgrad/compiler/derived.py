"""Values computed from traced tensors without a recorded op: comparisons (``x > 0``),
casts to an integer or bool dtype, and the indices of ``t.max(dim=)`` / ``t.min(dim=)``;
and random draws made in Python (dropout's mask: ``RANDOM``).

Eagerly they leave the graph (no gradient, nothing recorded, so they cost nothing). While
gg.compile traces, the tensor methods that make them report them here, so the trace
holds them as values computed from their operands — never as constants fixed at trace
time — and the generated code computes them again at every call. Each is a Function
subclass only so that code generation treats it like an op (its forward, called on the
generated code's symbols, writes the NumPy expression); none has a backward rule, as none
is differentiable. A random draw is made again at every call, from the generator the
function names (``None``: the default one at that call), in the trace's order — so the
compiled function consumes the random stream as the eager one does, draw for draw.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphgrad.core.function import Function


def _derived(name: str, fn: Callable[..., Any], impure: bool = False) -> type[Function]:
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    body: dict[str, Any] = {"forward": staticmethod(forward), "__module__": __name__}
    if impure:  # a draw: kept even if unused, and the generated code calls ``fn`` itself
        body.update(impure=True, draw=staticmethod(fn))
    return type(name, (Function,), body)


KINDS: dict[str, type[Function]] = {
    "less": _derived("Less", np.less),
    "less_equal": _derived("LessEqual", np.less_equal),
    "greater": _derived("Greater", np.greater),
    "greater_equal": _derived("GreaterEqual", np.greater_equal),
    "equal": _derived("Equal", np.equal),
    "not_equal": _derived("NotEqual", np.not_equal),
    "astype": _derived("AsType", lambda a, dtype: a.astype(dtype)),
    "argmax": _derived("ArgMax", lambda a, axis: a.argmax(axis=axis)),
    "argmin": _derived("ArgMin", lambda a, axis: a.argmin(axis=axis)),
    "reshape": _derived("ReshapeIndex", lambda a, shape: a.reshape(shape)),
    "expand_dims": _derived("ExpandDims", lambda a, axis: np.expand_dims(a, axis)),
    # a result that is a detached alias of a value that requires grad (``t.detach()``,
    # ``with no_grad(): return t``): its own value, needing no gradient
    "detach": _derived("Detach", lambda a: a.view()),
}


def dropout_mask(*args: Any) -> Any:
    """graphgrad.nn.functional.dropout_mask (imported when first drawn: nn imports this)."""
    from graphgrad.nn.functional import dropout_mask as draw

    return draw(*args)


RANDOM: dict[str, type[Function]] = {
    "dropout_mask": _derived("DropoutMask", dropout_mask, impure=True)
}
KINDS.update(RANDOM)
