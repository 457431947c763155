"""Names users reach for that Tensor does not have, and what to write instead.

PyTorch's names for operations graphgrad spells differently (one name per operation), and
ndarray methods that are not graph ops: reading one raises ``AttributeError`` saying what
to use, instead of the bare "has no attribute". ``install`` puts one descriptor per name on
the class (a class-level ``__getattr__`` would slow every attribute access of every Tensor,
~5% of a small graph's step).
"""

from __future__ import annotations

from typing import Any


class _Missing:
    """The descriptor of one missing name: reading it raises AttributeError with the hint."""

    def __init__(self, name: str, hint: str | None) -> None:
        self.name = name
        self.hint = hint or (
            f"ndarray.{name} is not a graph op: t.data.{name}(...) computes it on the array, "
            "outside the graph (no gradient)"
        )

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        raise AttributeError(f"'Tensor' object has no attribute {self.name!r}; {self.hint}")


_COPY = "use t * 1 (a recorded copy) or t.detach() (cut from the graph)"
# PyTorch's names for operations graphgrad spells differently (one name per operation),
# then ndarray methods that are not graph ops (None: the generic hint).
MISSING = {
    "clamp": "use t.clip(low, high)",
    "permute": "use t.transpose(*axes)",
    "expand": "use t.broadcast_to(shape)",
    "copy": _COPY,
    "pow": "use t ** p",
    "norm": "use (t * t).sum() ** 0.5",
    **dict.fromkeys(["argmax", "argmin", "prod", "cumsum", "round"]),
    # PyTorch's in-place methods: graphgrad's in-place arithmetic is the operators
    **{
        f"{op}_": f"in-place arithmetic is the operator: t {sym}= x (on a parameter, inside "
        f"`with gg.no_grad():`)" + (" — add_(x, alpha=a) is t += a * x" if op == "add" else "")
        for op, sym in (("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/"))
    },
    "zero_": "use t.fill_(0)",
    "copy_": "write the values with `with gg.no_grad(): t.data[...] = src` (outside the graph)",
    "clamp_": "use t = t.clip(low, high)",
    "uniform_": "use nn.init.uniform_(t, a, b)",
    "normal_": "use nn.init.normal_(t, mean, std)",
    "cuda": "graphgrad computes on the CPU only (NumPy); t.to('cpu') and t.cpu() are accepted",
}


def install(cls: type) -> None:
    """Give ``cls`` a descriptor for every missing name (never hiding a real attribute)."""
    for name, hint in MISSING.items():
        if any(name in vars(k) for k in cls.__mro__):
            raise AssertionError(f"a hint would hide {cls.__name__}.{name}")
        setattr(cls, name, _Missing(name, hint))
