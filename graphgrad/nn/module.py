"""``Module`` (parameter registration, state dicts), ``Parameter``, ``Sequential``,
``ModuleList``."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from graphgrad import runtime
from graphgrad.core.grad_mode import tracer
from graphgrad.core.in_place import note_write
from graphgrad.core.tensor import Tensor
from graphgrad.errors import StateDictError
from graphgrad.nn.utils import zero_grads


class Parameter(Tensor):
    """A leaf tensor that a ``Module`` registers as trainable (``requires_grad=True``).

    ``Parameter(data)`` copies ``data``; it must be floating-point.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, dtype=dtype)
        if self.data.dtype.kind != "f":
            raise TypeError(f"a Parameter needs floating-point data, got dtype {self.data.dtype}")
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__() + ")"


# Counts attribute assignments on every module: gg.compile re-reads the Python values of
# the modules a compiled function reaches only when this moved (one integer per call).
assignments = [0]


class Module:
    """Base class of layers and models.

    Assigning a ``Parameter`` or a ``Module`` to an attribute registers it, so
    ``parameters()`` / ``named_parameters()`` find it (in assignment order, nested
    modules included, dotted names such as ``"cells.0.W"``). Subclasses call
    ``super().__init__()`` first and define ``forward``; calling the module calls it.
    """

    training: bool
    _parameters: dict[str, Any]  # Parameter, or None from register_parameter(name, None)
    _modules: dict[str, Any]  # Module (or None)

    def __init__(self) -> None:
        d = self.__dict__
        d["_parameters"] = {}
        d["_modules"] = {}
        d["training"] = True

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__(): call super().__init__() "
                f"first in {type(self).__name__}.__init__"
            )
        if tracer[0] is not None:  # gg.compile could not replay the assignment
            tracer[0].side_effect(f"an assignment to {type(self).__name__}.{name}")  # type: ignore[attr-defined]
        assignments[0] += 1
        modules = self.__dict__["_modules"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            modules[name] = value
        else:
            params.pop(name, None)
            modules.pop(name, None)
        # Also a plain instance attribute, so reading it in forward costs nothing extra.
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        assignments[0] += 1
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (None registers nothing but sets the attribute)."""
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` under ``name`` (the same as assigning the attribute; for
        names built at run time)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, with dotted names ("" for this one)."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            children = list(mod._modules.items())
            for child_name, child in reversed(children):
                stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self) -> Iterator[Module]:
        """This module and every descendant (each once)."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(attribute name, module)`` of the direct submodules."""
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        """The direct submodules."""
        yield from self._modules.values()

    def named_parameters(
        self, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs; a parameter shared by two modules (tied
        weights) appears once, under its first name, unless ``remove_duplicate=False``
        (PyTorch's keyword)."""
        seen: set[int] = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) not in seen or not remove_duplicate:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter of this module and its descendants (a shared one once)."""
        for _, p in self.named_parameters():
            yield p

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad``: set it to None, or with ``set_to_none=False``
        fill it with zeros in place (PyTorch's two behaviours)."""
        zero_grads(self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter: ``model.encoder.requires_grad_(False)``
        freezes a part of a model (its parameters get no gradient; give the optimizer
        ``[p for p in model.parameters() if p.requires_grad]``)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule, children before parents, then on ``self`` (e.g. a
        custom initialisation: ``model.apply(lambda m: ...)``). Returns ``self``."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and every descendant; returns ``self``."""
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        """``train(False)``."""
        return self.train(False)

    def astype(self, dtype: Any) -> Module:
        """Convert every parameter (and its ``.grad``) to the floating ``dtype``, in place
        (the same Parameter objects, so optimizers built before keep them); ``self``."""
        target = np.dtype(dtype)
        if target.kind != "f":
            raise TypeError(f"{type(self).__name__}: parameters must stay floating, got {target}")
        for p in self.parameters():
            if p.data.dtype != target:
                grad = p.grad
                p.data = p.data.astype(target)
                p.grad = None if grad is None else grad.astype(target)
        return self

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """PyTorch's ``model.to(device)``, ``model.to(dtype)`` or ``model.to(device,
        dtype)``: the CPU is graphgrad's only device; a dtype converts in place
        (``astype``). Returns ``self``."""
        for a in args:
            if isinstance(a, (str, runtime.device)):
                device = a
            elif a is not None:
                dtype = a if dtype is None else dtype
        if device is not None:
            runtime.check_device(device, f"{type(self).__name__}.to")
        return self if dtype is None else self.astype(dtype)

    def double(self) -> Module:
        """Parameters to float64, in place (PyTorch's ``double()``); ``self``."""
        return self.astype(np.float64)

    def float(self) -> Module:
        """Parameters to float32, in place (PyTorch's ``float()``); ``self``."""
        return self.astype(np.float32)

    def half(self) -> Module:
        """Parameters to float16, in place (PyTorch's ``half()``); ``self``."""
        return self.astype(np.float16)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """``{dotted name: copy of the parameter's array}``, every name of a shared (tied)
        parameter included, as in PyTorch (so PyTorch's state dicts and graphgrad's have
        the same keys)."""
        return OrderedDict(
            (name, p.data.copy()) for name, p in self.named_parameters(remove_duplicate=False)
        )

    def load_state_dict(
        self, state: Mapping[str, Any], strict: bool = True
    ) -> tuple[list[str], list[str]]:
        """Copy arrays from ``state`` into the parameters (in place, keeping their dtype).

        Every name, shape and value is checked and converted before anything is copied: a
        shape mismatch, a value that is not an array of real numbers, or with ``strict`` a
        missing or unexpected name, raises ``StateDictError`` listing all of them, and
        leaves the parameters unchanged. Returns ``(missing,
        unexpected)`` names.
        """
        if not isinstance(state, Mapping):
            raise StateDictError(
                f"{type(self).__name__}.load_state_dict expects a mapping of names to arrays, "
                f"got {type(state).__name__}"
            )
        own = dict(self.named_parameters(remove_duplicate=False))
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        staged: dict[str, np.ndarray] = {}  # converted before anything is written
        mismatched, unreadable = [], []
        for k, p in own.items():
            if k not in state:
                continue
            value = state[k]
            try:
                arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            except (TypeError, ValueError) as exc:
                unreadable.append(f"  {k}: {type(value).__name__} ({exc})")
                continue
            if arr.dtype.kind not in "biuf":
                unreadable.append(f"  {k}: dtype {arr.dtype} is not real numbers")
            elif arr.shape != p.shape:
                mismatched.append(f"  {k}: checkpoint {arr.shape}, model {p.shape}")
            else:
                staged[k] = arr.astype(p.dtype, copy=False)
        problems = []
        if mismatched:
            problems.append("shape mismatch:\n" + "\n".join(mismatched))
        if unreadable:
            problems.append("not real-number arrays:\n" + "\n".join(unreadable))
        if strict and missing:
            problems.append("missing from the checkpoint: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("not in the model: " + ", ".join(unexpected))
        if problems:
            raise StateDictError(
                f"cannot load the state dict into {type(self).__name__}:\n" + "\n".join(problems)
            )
        for k, arr in staged.items():
            p = own[k]
            p.data[...] = arr
            note_write(p.data)
        return missing, unexpected

    # ------------------------------------------------------------------ calling, repr
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation, from graph ops; define it in a subclass (``model(x)`` calls it)."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if tracer[0] is not None:  # gg.compile: its training flag and settings join the guard
            tracer[0].module_called(self)  # type: ignore[attr-defined]
        if kwargs:
            return self.forward(*args, **kwargs)
        return self.forward(*args)  # no empty keyword dict to unpack on the usual call

    def extra_repr(self) -> str:
        """The arguments shown inside ``Name(...)`` by ``repr``."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({extra})"
        return (
            f"{type(self).__name__}(\n  " + "\n  ".join(([extra] if extra else []) + lines) + "\n)"
        )


class _Container(Module):
    """Indexing, length and iteration over the registered child modules, in order."""

    def __getitem__(self, i: int | slice) -> Any:
        """The i-th child; a slice gives a new container of the same kind holding those
        children (shared, not copied), as in PyTorch."""
        children = list(self._modules.values())
        if isinstance(i, slice):
            return type(self)._of(children[i])
        return children[i]

    @classmethod
    def _of(cls, modules: list[Module]) -> _Container:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Sequential(_Container):
    """Apply modules in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential argument {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)

    @classmethod
    def _of(cls, modules: list[Module]) -> Sequential:
        return cls(*modules)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_Container):
    """A list of modules whose parameters are registered (names ``"0"``, ``"1"``, ...)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    @classmethod
    def _of(cls, modules: list[Module]) -> ModuleList:
        return cls(modules)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns the list."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds Modules, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each of ``modules``; returns the list."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (names are renumbered, as PyTorch)."""
        if not isinstance(module, Module):  # before anything moves
            raise TypeError(f"ModuleList holds Modules, got {type(module).__name__}")
        children = list(self._modules.values())
        children.insert(index, module)
        for name in list(self._modules):
            delattr(self, name)
        self.extend(children)


class ModuleDict(Module):
    """A dict of modules whose parameters are registered under their keys
    (``"encoder.weight"``), in insertion order, as PyTorch's ``nn.ModuleDict``."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] = ()) -> None:
        super().__init__()
        self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict holds Modules, got {type(module).__name__} for {key!r}")
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict keys are non-empty strings without '.', got {key!r}")
        setattr(self, key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            del self[key]

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) each ``key: module``; all are checked before any is added."""
        pairs = list(modules.items() if isinstance(modules, Mapping) else modules)
        for key, module in pairs:
            if not isinstance(module, Module):
                raise TypeError(
                    f"ModuleDict holds Modules, got {type(module).__name__} for {key!r}"
                )
        for key, module in pairs:
            self[key] = module


class ParameterList(Module):
    """A list of parameters registered as ``"0"``, ``"1"``, ... (PyTorch's
    ``nn.ParameterList``); a plain tensor or array appended becomes a Parameter."""

    def __init__(self, values: Iterable[Any] = ()) -> None:
        super().__init__()
        for v in values:
            self.append(v)

    def _param(self, value: Any) -> Parameter:
        return value if isinstance(value, Parameter) else Parameter(value)

    def __getitem__(self, i: int) -> Parameter:
        return list(self._parameters.values())[i]

    def __setitem__(self, i: int, value: Any) -> None:
        n = len(self._parameters)
        if not -n <= i < n:
            raise IndexError(f"ParameterList index {i} is out of range for length {n}")
        setattr(self, str(i % n), self._param(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._parameters.values()))

    def append(self, value: Any) -> ParameterList:
        """Add a parameter at the end; returns the list."""
        setattr(self, str(len(self._parameters)), self._param(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append each value; returns the list."""
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(
            f"({k}): Parameter of shape {tuple(p.shape)}, dtype {p.dtype}"
            for k, p in self._parameters.items()
        )
