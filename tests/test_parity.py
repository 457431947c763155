"""The parity table: PyTorch programs (``tests/fixtures/parity_cases.py``, source text run
unchanged with graphgrad's modules in PyTorch's names) give PyTorch's values, gradients,
defaults, parameter names and shapes, and optimizer and schedule trajectories — stored from
torch 2.13 by ``tests/fixtures/make_pytorch_parity.py``, so no torch is needed here. A
second test enumerates graphgrad's public names so that a new PyTorch name cannot skip the
table."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.nn import functional as F
from graphgrad.optim import lr_scheduler

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))

import parity_cases as C  # noqa: E402
import parity_runner as R  # noqa: E402

_missing_type = type(vars(gg.Tensor)["clamp"])  # the descriptor of a name that raises

STORED = json.loads((FIXTURES / "pytorch_parity.json").read_text())

GG = R.Library(
    {"torch": gg, "nn": nn, "F": F, "optim": optim, "lr_scheduler": lr_scheduler},
    lambda a, rg: gg.tensor(a, requires_grad=rg),
    lambda t: np.array(t.data, copy=True),
    gg.is_tensor,
    lambda t: None if t.grad is None else np.array(t.grad, copy=True),
)


def _array(v: Any) -> np.ndarray:
    return np.asarray(v["data"], dtype=v["dtype"]).reshape(v["shape"])


def _close(got: Any, want: Any, what: str, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    if isinstance(want, dict) and "dtype" in want:
        want = _array(want)
        got = np.asarray(got)
        assert got.shape == want.shape, f"{what}: shape {got.shape}, PyTorch's {want.shape}"
        assert (got.dtype.kind, got.dtype.itemsize) == (want.dtype.kind, want.dtype.itemsize), (
            f"{what}: dtype {got.dtype}, PyTorch's {want.dtype}"
        )
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)
    elif isinstance(want, dict):
        assert set(got) == set(want), f"{what}: keys {sorted(got)}, PyTorch's {sorted(want)}"
        for k in want:
            _close(got[k], want[k], f"{what}[{k}]", rtol, atol)
    elif isinstance(want, list):
        assert len(got) == len(want), f"{what}: {len(got)} items, PyTorch's {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            _close(g, w, f"{what}[{i}]", rtol, atol)
    else:
        assert got == want, f"{what}: {got!r}, PyTorch's {want!r}"


@pytest.mark.parametrize("name", list(C.FUNCTIONS))
def test_functions_and_tensor_methods(name: str) -> None:
    stored = STORED["functions"][name]
    got = R.run_function(GG, name)
    _close(got["outputs"], stored["outputs"], name)
    assert ("grads" in got) == ("grads" in stored), name
    if "grads" in stored:
        _close(got["grads"], stored["grads"], name + " gradient", C.ROW_RTOL.get(name, 1e-10))


@pytest.mark.parametrize("name", list(C.REFUSED))
def test_calls_with_two_readings_raise_naming_both(name: str) -> None:
    """PyTorch runs each of these (its output shape is stored); NumPy, or the (N, T, C)
    sequence layout, reads the same call another way, so graphgrad raises rather than
    pick one silently, and the message names the spelling of each reading."""
    assert isinstance(STORED["refused"][name], list), name
    with pytest.raises((ValueError, TypeError), match=C.REFUSED[name][2]):
        R.refused_call(GG, name)


@pytest.mark.parametrize("name", list(C.MODULES))
def test_modules_load_pytorchs_state_dict_and_compute_the_same(name: str) -> None:
    stored = STORED["modules"][name]
    state = {k: _array(v) for k, v in stored["state"].items()}
    got = R.run_module(GG, name, state)
    assert got["state_shapes"] == stored["state_shapes"], f"{name}: state dict names/shapes"
    _close(got["outputs"], stored["outputs"], name)
    if "grads" in stored:
        _close(got["grads"], stored["grads"], name + " gradient")


@pytest.mark.parametrize("name", [*C.OPTIMIZERS, *C.LBFGS_ROSENBROCK])
def test_optimizers_follow_pytorchs_iterates(name: str) -> None:
    got, want = R.run_optimizer(GG, name), STORED["optimizers"][name]
    if "LBFGS" not in name:
        _close(got, want, name, rtol=1e-9)
        return
    # Near the minimum, L-BFGS's curvature pairs are differences of nearly equal gradients,
    # which amplify the last-bit differences between NumPy's and torch's reductions about
    # a hundredfold per step (measured: 1e-16 after step 1, 1e-8 after step 5). A wrong
    # rule differs at the first step already, so that one is held to rounding (1e-11: the
    # strong-Wolfe line search inside step 1 already amplifies it, 1.5e-12 with NumPy 2.4).
    first = _array(want["trajectory"])[0]
    np.testing.assert_allclose(got["trajectory"][0], first, rtol=1e-11, err_msg=name + " step 1")
    _close(got, want, name, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(C.SCHEDULES))
def test_schedules_follow_pytorchs_lr_and_momentum(name: str) -> None:
    _close(R.run_schedule(GG, name), STORED["schedules"][name], name)


@pytest.mark.parametrize("name", list(C.DEFAULTS))
def test_module_defaults(name: str) -> None:
    _close(R.run_defaults(GG, name), STORED["defaults"][name], name)


@pytest.mark.parametrize("expr", C.OPTIMIZER_DEFAULTS)
def test_optimizer_defaults_are_pytorchs(expr: str) -> None:
    """Every hyperparameter graphgrad has is PyTorch's, with PyTorch's default; PyTorch's
    others (foreach, maximize, fused, ...) are refused by name, not ignored."""
    ours, theirs = R.run_optimizer_defaults(GG, expr), STORED["optimizer_defaults"][expr]
    assert set(ours) <= set(theirs), (
        f"{expr}: graphgrad-only hyperparameters {set(ours) - set(theirs)}"
    )
    for k, v in ours.items():
        assert v == pytest.approx(theirs[k]) if isinstance(v, float) else v == theirs[k], (expr, k)
    missing = sorted(k for k in theirs if k not in ours and theirs[k] not in (None, False))
    env = {**GG.namespace, "w": gg.tensor(np.ones(2), requires_grad=True)}
    for k in missing:  # set to a non-default: refused, never silently dropped
        with pytest.raises(TypeError):
            eval(expr[:-1] + f", {k}=True)", env)


def test_calculate_gain() -> None:
    np.testing.assert_allclose(R.run_gains(GG), STORED["gains"], rtol=1e-15)


@pytest.mark.parametrize("name", list(C.INIT))
def test_init_functions_take_pytorchs_arguments(name: str) -> None:
    gg.manual_seed(0)
    got, want = R.run_init(GG, name), STORED["init"][name]
    # 1,200 draws: the largest |w| is within 1% of the bound PyTorch draws within
    assert got["max_abs"] == pytest.approx(want["max_abs"], rel=0.02), name
    assert got["std"] == pytest.approx(want["std"], rel=0.1), name


@pytest.mark.parametrize("name", list(C.INIT_LAYERS))
def test_layers_initialise_as_pytorch(name: str) -> None:
    gg.manual_seed(1)
    got, want = R.run_init_layer(GG, name), STORED["init_layers"][name]
    assert got["max_abs"] == pytest.approx(want["max_abs"], rel=0.05), name
    assert got["std"] == pytest.approx(want["std"], rel=0.1), name


# Tensor's public methods and attributes, less the names that only raise with a hint
_TENSOR_METHODS = [
    n
    for n in dir(gg.Tensor)
    if not n.startswith("_") and not isinstance(gg.Tensor.__dict__.get(n), _missing_type)
]

# graphgrad's own names (not PyTorch's), and PyTorch names whose parity is shown elsewhere
OWN_NAMES = {
    "nn": {"ElmanCell", "ElmanRNN", "SquaredErrorLoss", "convert", "functional", "init", "utils"},
    "nn.functional": {"squared_error"},
    "optim": {"AdaGrad", "ParamsOrGroups", "lr_scheduler"},
    "optim.lr_scheduler": set(),
    # graphgrad's errors, tools and modules; softplus is F.softplus at the top level too
    "graphgrad": {"AnomalyError", "CheckpointError", "CompileError", "CompileWarning",
                  "Compiled", "GradcheckError", "GraphReleasedError",
                  "GraphgradError", "ShapeError", "StateDictError", "Function", "data",
                  "gradcheck", "gradgradcheck", "nn", "optim", "softplus"},
    # NumPy's names (NumPy's meaning), and the engine's attributes
    "Tensor": {"astype", "data", "dtype", "grad", "grad_fn"},
}  # fmt: skip
ELSEWHERE = {
    "Tensor": "test_tensor: construction, copies, from_numpy, requires_grad",
    "backward": "test_pytorch_names: gg.backward(roots, grads) is torch.autograd.backward",
    "grad": "test_engine: gg.grad is torch.autograd.grad (allow_unused, create_graph)",
    "detect_anomaly": "test_tools: anomaly mode names the op that produced a NaN",
    "register_hook": "test_engine: hooks see and may replace the gradient",
    "retain_grad": "test_in_place: retain_grad / retains_grad on non-leaves",
    "retains_grad": "test_in_place: retain_grad / retains_grad on non-leaves",
    "device": "test_pytorch_names: gg.device('cpu'), .to(device), other devices raise",
    "load": "test_io: gg.save / gg.load, paths and open files",
    "save": "test_io: gg.save / gg.load, paths and open files",
    "compile": "test_compile: gg.compile(fn) gives fn's values and gradients, and runs fn "
    "eagerly where it cannot compile (as torch.compile at a graph break; fullgraph=True raises)",
    "manual_seed": "test_pytorch_names: seeds initialisation and sampling",
    "randint": "test_pytorch_names: shapes, dtypes, range (NumPy's stream)",
    "multinomial": "test_pytorch_names: frequencies, replacement (NumPy's stream)",
    **dict.fromkeys(
        ["no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled"],
        "test_engine: grad modes",
    ),
    **dict.fromkeys(
        ["get_default_dtype", "set_default_dtype", "get_num_threads", "set_num_threads"],
        "test_pytorch_names: runtime settings",
    ),
    "Module": "test_nn_module: state_dict, train/eval, hooks, named_parameters",
    "Dropout": "test_nn_layers: masks are random, their scale 1/(1-p) is PyTorch's",
    "Optimizer": "test_optimizers: param_groups, state_dict, zero_grad",
    "LRScheduler": "test_lr_scheduler: the base of the rows above",
    "ReduceLROnPlateau": "test_lr_scheduler: it steps on a metric",
}


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("nn", nn.__all__),
        ("nn.functional", F.__all__),
        ("optim", optim.__all__),
        ("optim.lr_scheduler", lr_scheduler.__all__),
        ("graphgrad", gg.__all__),
        ("Tensor", _TENSOR_METHODS),
    ],
)
def test_every_public_pytorch_name_has_a_parity_row(module: str, names: list[str]) -> None:
    rows = [*C.FUNCTIONS, *C.MODULES, *C.OPTIMIZERS, *C.SCHEDULES, *C.DEFAULTS, *C.INIT]
    rows += [e for e, _, _ in C.MODULES.values()] + [e for e, _ in C.FUNCTIONS.values()]
    rows += [e for e, _, _ in C.REFUSED.values()]
    table = " ".join(rows)
    prefix = {"nn": "nn.", "nn.functional": "F.", "optim": "optim.",
              "optim.lr_scheduler": "lr_scheduler.", "graphgrad": "torch.",
              "Tensor": "."}[module]  # fmt: skip
    missing = []
    for name in names:
        if name in OWN_NAMES[module] or name in ELSEWHERE:
            continue
        if not re.search(re.escape(prefix + name) + r"\b", table):
            missing.append(name)
    assert not missing, f"{module}: {missing} have no row in the parity table"
