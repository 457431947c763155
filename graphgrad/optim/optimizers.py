"""Optimizers: SGD (momentum, weight decay), Adam, AdamW, RMSprop, AdaGrad; learning-rate
schedules in ``optim.lr_scheduler``.

Each takes parameters or *parameter groups* — ``[{"params": [...], "lr": 0.001}, ...]``,
each group with its own hyperparameters (seed 002 trains the recurrent weight and bias with
lr 0.001 and the rest with 0.1). Updates are in-place NumPy operations on ``p.data``
(nothing is recorded; a graph recorded before the step that saved ``p`` then refuses to
backpropagate, see ``graphgrad.core.in_place``); parameters whose ``.grad`` is None are skipped.
``state_dict()`` / ``load_state_dict()`` capture everything needed to resume training
bit-identically.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, ClassVar, Iterable, Mapping

import numpy as np

from graphgrad.core.grad_mode import enable_grad
from graphgrad.core.in_place import note_write
from graphgrad.core.tensor import Tensor
from graphgrad.errors import StateDictError
from graphgrad.nn.utils import zero_grads

ParamsOrGroups = Iterable[Tensor] | Iterable[dict[str, Any]]


# hyperparameter -> (test, the range in words)
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "lr": (lambda v: v >= 0, "≥ 0"),
    "momentum": (lambda v: v >= 0, "≥ 0"),
    "dampening": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "lr_decay": (lambda v: v >= 0, "≥ 0"),
    "weight_decay": (lambda v: v >= 0, "≥ 0"),
    "eps": (lambda v: v >= 0, "≥ 0"),
    "betas": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "alpha": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "initial_accumulator_value": (lambda v: v >= 0, "≥ 0"),
}

_FLAGS = {"nesterov", "amsgrad", "centered"}  # hyperparameters that are True or False


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, state dicts."""

    _l2_decay = True  # weight_decay as an L2 term added to g (AdamW decouples it)
    # the per-parameter state a step creates: name -> "array" (of the parameter's shape)
    # or "count", with "?" where only some hyperparameters create it; load_state_dict
    # accepts these and no others
    _state_keys: ClassVar[dict[str, str]] = {}

    def __init__(self, params: ParamsOrGroups, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}  # keyed by id(param)
        # A Tensor is iterable (over its rows): one passed alone is one parameter.
        items = [params] if isinstance(params, Tensor) else list(params)
        if not items:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups: list[Any] = items if isinstance(items[0], dict) else [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group ``{"params": [...], <hyperparameter overrides>}``."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group is a dict with a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__} can only optimize Tensors, got {type(p).__name__}"
                )
            if not p.requires_grad:
                raise ValueError(
                    f"{type(self).__name__}: a parameter of shape {p.shape} does not require "
                    "grad, so it would never move; to leave frozen parameters out, pass "
                    "[p for p in model.parameters() if p.requires_grad]"
                )
            if p._node is not None:
                raise ValueError(
                    f"{type(self).__name__}: a parameter of shape {p.shape} is the output of "
                    f"{type(p._node).__name__}, not a leaf: its .grad is never filled, so it "
                    "would never move (optimize the leaves it is computed from)"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{type(self).__name__}: a parameter appears in more than one group"
                )
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown hyperparameter(s) {sorted(unknown)}")
        full = {**self.defaults, **group, "params": params}
        self._validate(full)
        self.param_groups.append(full)

    def _validate(self, group: dict[str, Any]) -> None:
        """Refuse hyperparameters outside their range (written so that NaN fails too): a
        negative eps or a β ≥ 1 would not fail, it would train to NaN or nowhere."""
        name = type(self).__name__
        for key in _FLAGS & group.keys():  # a flag is a bool, not anything truthy
            if not isinstance(group[key], bool | np.bool_):
                raise ValueError(f"{name}: {key} must be True or False, got {group[key]!r}")
        for key, (ok, what) in _RANGES.items():
            if key not in group:
                continue
            values = group[key] if key == "betas" else (group[key],)
            if key == "betas" and len(values) != 2:
                raise ValueError(f"{name}: betas must be a pair (β1, β2), got {values}")
            for v in values:
                if not ok(v):
                    raise ValueError(f"{name}: {key} must be {what}, got {group[key]}")
        if group.get("nesterov") and not (group["momentum"] > 0 and group["dampening"] == 0):
            raise ValueError(f"{name}: nesterov=True needs a momentum > 0 and zero dampening")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: ``p.grad = None``, or with
        ``set_to_none=False`` zeros in place (PyTorch's two behaviours)."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply one update to every parameter that has a gradient. ``closure`` (PyTorch's
        keyword), if given, is called first with recording on — it clears the gradients,
        computes the loss and calls ``backward()`` — and its loss is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if isinstance(g, Tensor):
                    g = g.data
                if group.get("weight_decay") and self._l2_decay:  # L2 penalty: wd · p into g
                    g = g + group["weight_decay"] * p.data
                self._update(p, g, self.state.setdefault(id(p), {}), group)
                note_write(p.data)  # a graph recorded before this step may have saved p
        return loss

    def _update(
        self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{hyperparameters, "params": [index]}]}``
        with parameters numbered in group order; arrays are copies."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[id(p)] = len(index)
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[k]: copy.deepcopy(v) for k, v in self.state.items() if k in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by ``state_dict()``.

        Everything is checked before anything changes — the groups and their parameter
        counts, each parameter index, each state entry's keys (this optimizer's own:
        ``_state_keys``), shapes and dtypes, the hyperparameters' ranges — so a state dict
        that does not fit raises ``StateDictError`` and leaves the optimizer as it was."""
        name = type(self).__name__
        try:
            groups, params = self._saved_groups(state_dict)
            new_state = self._saved_state(state_dict["state"], params)
            restored = [
                {**group, **{k: _plain(v) for k, v in saved.items() if k != "params"}}
                for saved, group in zip(groups, self.param_groups)
            ]
            for group in restored:
                self._validate(group)
        except StateDictError:
            raise
        except (ValueError, TypeError) as exc:
            raise StateDictError(f"{name}.load_state_dict: {exc}; nothing was loaded") from exc
        for group, new in zip(self.param_groups, restored):
            group.update(new)
        self.state = new_state

    def _saved_groups(self, state_dict: Any) -> tuple[list[Any], dict[int, Tensor]]:
        """The saved groups, checked against this optimizer's, and index -> parameter."""
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(
                "expected a mapping with 'state' and 'param_groups' (from state_dict()), got "
                + (
                    f"keys {sorted(map(str, state_dict))}"
                    if isinstance(state_dict, Mapping)
                    else type(state_dict).__name__
                )
            )
        groups = state_dict["param_groups"]
        if not isinstance(groups, (list, tuple)) or len(groups) != len(self.param_groups):
            n = len(groups) if isinstance(groups, (list, tuple)) else type(groups).__name__
            raise ValueError(
                f"the state dict has {n} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        params: dict[int, Tensor] = {}
        for saved, group in zip(groups, self.param_groups):
            if not isinstance(saved, Mapping) or not isinstance(saved.get("params"), list | tuple):
                raise ValueError("a saved parameter group must be a mapping with a 'params' list")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"a saved group has {len(saved['params'])} parameters, the matching group "
                    f"has {len(group['params'])}"
                )
            unknown = set(saved) - set(self.defaults) - {"params"}
            if unknown:
                raise ValueError(f"unknown hyperparameter(s) {sorted(map(str, unknown))}")
            for i, p in zip(saved["params"], group["params"]):
                if not _is_count(i) or int(i) in params:
                    raise ValueError(f"parameter index {i!r} is not an int ≥ 0 or is repeated")
                params[int(i)] = p
        return list(groups), params

    def _saved_state(self, states: Any, params: dict[int, Tensor]) -> dict[int, dict[str, Any]]:
        """The per-parameter state as this optimizer keeps it (copies, in each parameter's
        dtype), every entry checked."""
        if not isinstance(states, Mapping):
            raise ValueError(f"'state' must be a mapping, got {type(states).__name__}")
        keys = self._state_keys
        new_state: dict[int, dict[str, Any]] = {}
        for i, s in states.items():
            if not _is_count(i) or int(i) not in params:
                raise ValueError(f"there is state for parameter {i!r}, which no group holds")
            p = params[int(i)]
            if not isinstance(s, Mapping):
                raise ValueError(f"the state of parameter {i} is a {type(s).__name__}")
            required = {k for k, kind in keys.items() if not kind.endswith("?")}
            if s and not (required <= set(s) <= set(keys)):  # a step creates it whole
                raise ValueError(
                    f"the state of parameter {i} has {sorted(map(str, s))}, where "
                    f"{type(self).__name__} keeps {sorted(keys)} (a state dict of another "
                    "optimizer?)"
                )
            entry: dict[str, Any] = {}
            for k, v in s.items():
                if keys[k].startswith("count"):
                    if not _is_count(v):
                        raise ValueError(f"state {k!r} of parameter {i} must be an int ≥ 0")
                    entry[k] = int(v)
                    continue
                v = v.data if isinstance(v, Tensor) else v
                if not isinstance(v, np.ndarray) or v.dtype.kind not in "biuf":
                    raise ValueError(f"state {k!r} of parameter {i} must be a real array")
                if v.shape != p.shape:
                    raise ValueError(
                        f"saved state {k!r} of shape {v.shape} does not fit a parameter of "
                        f"shape {p.shape}"
                    )
                entry[k] = v.astype(p.dtype, copy=True)
            new_state[id(p)] = entry
        return new_state


def _is_count(v: Any) -> bool:
    return bool(isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0)


def _plain(v: Any) -> Any:
    """NumPy scalars (as loaded from .npz) back to Python numbers; tuples stay tuples."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, list):
        return tuple(_plain(x) for x in v)
    return v


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulation and argument order
    (``SGD(params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False)``):

    d = g + weight_decay · p
    b = momentum · b + (1 − dampening) · d   (b = d at the first step)
    d = b   (or d + momentum · b, Nesterov)
    p ← p − lr · d
    """

    _state_keys: ClassVar[dict[str, str]] = {"momentum_buffer": "array?"}  # (none without momentum)

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
            ),
        )

    def _update(
        self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, mu = group["lr"], group["momentum"]
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= mu
                damp = group["dampening"]
                buf += g if not damp else (1 - damp) * g
            g = g + mu * buf if group["nesterov"] else buf
        p.data -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba):  m = β₁m + (1−β₁)g,  v = β₂v + (1−β₂)g²,
    p ← p − lr · m̂ / (√v̂ + ε),  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ).  ``weight_decay`` adds
    weight_decay · p to g (L2, as torch.optim.Adam); ``amsgrad=True`` uses the running
    maximum of v."""

    _state_keys: ClassVar[dict[str, str]] = {
        "step": "count",
        "exp_avg": "array",
        "exp_avg_sq": "array",
        "max_exp_avg_sq": "array?",  # amsgrad only
    }

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad),
        )

    def _update(
        self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        b1, b2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        step_size = group["lr"] / (1 - b1**t)
        if group["amsgrad"]:  # the largest v so far (Reddi et al.), as torch.optim.Adam
            vmax = state.setdefault("max_exp_avg_sq", np.zeros_like(p.data))
            np.maximum(vmax, v, out=vmax)
            v = vmax
        denom = np.sqrt(v / (1 - b2**t)) + group["eps"]
        p.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW:
    p ← p − lr · weight_decay · p, then the Adam step on g alone (the decay is not scaled
    by 1/√v̂, unlike Adam's L2 term). Default weight_decay 0.01."""

    _l2_decay = False

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )

    def _update(
        self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        if group["weight_decay"]:
            p.data *= 1 - group["lr"] * group["weight_decay"]
        super()._update(p, g, state, group)


class RMSprop(Optimizer):
    """RMSprop, PyTorch's formulation and argument order (``RMSprop(params, lr=0.01,
    alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False)``):
    v = α v + (1−α) g²; with ``centered`` v̄ = v − ḡ², ḡ = α ḡ + (1−α) g, else v̄ = v;
    step = g / (√v̄ + ε); with momentum b = μ b + step, step = b;  p ← p − lr · step."""

    _state_keys: ClassVar[dict[str, str]] = {
        "square_avg": "array",
        "momentum_buffer": "array?",
        "grad_avg": "array?",
    }

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
            ),
        )

    def _update(
        self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        if not state:
            state["square_avg"] = np.zeros_like(p.data)
        a = group["alpha"]
        v = state["square_avg"]
        v *= a
        v += (1 - a) * (g * g)
        if group["centered"]:
            ga = state.setdefault("grad_avg", np.zeros_like(p.data))
            ga *= a
            ga += (1 - a) * g
            step = g / (np.sqrt(v - ga * ga) + group["eps"])
        else:
            step = g / (np.sqrt(v) + group["eps"])
        if group["momentum"]:
            buf = state.setdefault("momentum_buffer", np.zeros_like(p.data))
            buf *= group["momentum"]
            buf += step
            step = buf
        p.data -= group["lr"] * step


class AdaGrad(Optimizer):
    """AdaGrad, PyTorch's formulation and argument order (``Adagrad(params, lr=0.01,
    lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10)``):
    s = s + g²,  p ← p − lr_t · g / (√s + ε),  lr_t = lr / (1 + (t − 1) · lr_decay)."""

    _state_keys: ClassVar[dict[str, str]] = {"step": "count", "sum": "array"}

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
            ),
        )

    def _update(
        self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        s = state["sum"]
        s += g * g
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        p.data -= lr * g / (np.sqrt(s) + group["eps"])


Adagrad = AdaGrad  # PyTorch's spelling
