"""gg.compile: the generated code gives the eager values and gradients bitwise — on every
benchmark workload, every nn layer and loss — and every way a function can do what the
generated code could not repeat either runs it eagerly with a CompileWarning (the
default, as torch.compile falls back at a graph break) or raises CompileError
(``fullgraph=True``). Places the function reads tensors and Python values from (closure
cells, globals, module attributes) are read or guarded at every call."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads as W


def _grads(tensors: list[gg.Tensor]) -> list[np.ndarray | None]:
    out = []
    for t in tensors:
        out.append(None if t.grad is None else np.array(t.grad, copy=True, order="K"))
        t.grad = None
    return out


def _flat(x: Any) -> list[np.ndarray]:
    if isinstance(x, gg.Tensor):
        return [x.data]
    if isinstance(x, (tuple, list)):
        return [a for v in x for a in _flat(v)]
    return []


def _tensors(x: Any) -> list[gg.Tensor]:
    if isinstance(x, gg.Tensor):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for v in x for t in _tensors(v)]
    return []


def _seed(x: Any, rng: np.random.Generator) -> list[tuple[gg.Tensor, np.ndarray]]:
    """Each result that requires grad, with a fixed upstream gradient for it."""
    if isinstance(x, gg.Tensor):
        return [(x, rng.standard_normal(x.shape).astype(x.dtype))] if x.requires_grad else []
    if isinstance(x, (tuple, list)):
        return [p for v in x for p in _seed(v, rng)]
    return []


def assert_same(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    wrt: list[gg.Tensor],
    calls: int = 5,
    **compile_kw: Any,
) -> gg.Compiled:
    """``gg.compile(fn)`` called ``calls`` times gives eager ``fn``'s results and the
    gradients of ``wrt`` bitwise, and the requires-grad flags of the results; it runs
    generated code from the third call on (from the fourth through its entry, see
    graphgrad/compiler/entry.py)."""
    fast = gg.compile(fn, **compile_kw)

    def once(f: Callable[..., Any]) -> tuple[list[np.ndarray], list[Any], list[Any]]:
        out = f(*args)
        flags = [(t.requires_grad, t.grad_fn is None) for t in _tensors(out)]
        pairs = _seed(out, np.random.default_rng(7))
        if pairs:
            gg.backward([t for t, _ in pairs], [g for _, g in pairs])
        return [np.array(a, copy=True) for a in _flat(out)], _grads(wrt), flags

    want_out, want_grads, want_flags = once(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error", gg.CompileWarning)
        for k in range(calls):
            got_out, got_grads, got_flags = once(fast)
            assert got_flags == want_flags, f"call {k}: requires_grad / grad_fn of the results"
            assert len(got_out) == len(want_out)
            for a, b in zip(got_out, want_out):
                assert a.dtype == b.dtype and a.shape == b.shape, f"call {k}"
                np.testing.assert_array_equal(a, b, err_msg=f"call {k}: output")
            for j, (a, b) in enumerate(zip(got_grads, want_grads)):
                assert (a is None) == (b is None), f"call {k}: gradient {j}"
                if a is not None:
                    assert a.dtype == b.dtype, f"call {k}: gradient {j}"
                    # the same layout too: a reduction over .grad (a gradient norm) rounds
                    # in memory order, so a C and an F copy of one gradient sum differently
                    assert a.strides == b.strides, f"call {k}: gradient {j}'s layout"
                    np.testing.assert_array_equal(a, b, err_msg=f"call {k}: gradient {j}")
    (entry,) = fast.stats
    assert entry["eager"] is None and entry["ops"] > 0
    return fast


# ---------------------------------------------------------------------- benchmark workloads
@pytest.mark.parametrize("w", W.workloads(quick=True), ids=lambda w: w.name)
def test_every_benchmark_workload_compiled_equals_eager(w: W.Workload) -> None:
    dtype = np.dtype(np.float64)
    problem = w.make(np.random.default_rng(0), dtype)
    eager = w.backends["graphgrad"](problem)
    fast = w.backends["graphgrad compiled"](problem)  # ran twice already: trace, generate
    assert fast.compile_seconds > 0  # type: ignore[attr-defined]
    want_loss, want = eager()
    for _ in range(2):
        loss, grads = fast()
        assert loss == want_loss
        assert grads.keys() == want.keys()
        for k in want:
            np.testing.assert_array_equal(grads[k], want[k], err_msg=k)


# ---------------------------------------------------------------------- nn layers and losses
def _params(m: nn.Module) -> list[gg.Tensor]:
    return list(m.parameters())


def _x(rng: np.random.Generator, *shape: int, dtype: Any = np.float64) -> gg.Tensor:
    return gg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear(bias: bool, dtype: Any) -> None:
    rng = np.random.default_rng(0)
    lin = nn.Linear(5, 3, bias=bias, rng=rng)
    if dtype is np.float32:
        lin = lin.float()
    x = _x(rng, 4, 5, dtype=dtype)
    assert_same(lambda x: lin(x), (x,), [x, *_params(lin)])


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU, nn.ElmanRNN])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_layers(cls: type, layers: int, bidirectional: bool, batch_first: bool) -> None:
    rng = np.random.default_rng(1)
    layer = cls(
        3, 4, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, rng=rng
    )
    x = _x(rng, 5, 2, 3)
    D, N = (2 if bidirectional else 1), (5 if batch_first else 2)
    h0 = _x(rng, D * layers, N, 4)
    c0 = _x(rng, D * layers, N, 4)

    def run(x: gg.Tensor, h0: gg.Tensor, c0: gg.Tensor) -> Any:
        out, final = layer(x, (h0, c0) if cls is nn.LSTM else h0)
        return (out, *final) if cls is nn.LSTM else (out, final)

    assert_same(run, (x, h0, c0), [x, h0, c0, *_params(layer)])


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU, nn.ElmanRNN])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True), (2, False)])
def test_batch_first_layers_reshape_no_transposed_view(
    cls: type, layers: int, bidirectional: bool
) -> None:
    """A reshape of a transposed view copies it, once per reshape: a batch-first layer
    copies its input's time-major view once (``contiguous()``) and stacks its last layer's
    outputs batch-first, so that no reshape in the generated forward or backward — the
    input projection's product, its weight gradient, a readout's product and its weight
    gradient — reads a ``.transpose(...)`` result. (Before, a GRU step made four copies of
    its input and two of its outputs.)"""
    import ast

    rng = np.random.default_rng(2)
    layer = cls(3, 4, num_layers=layers, bidirectional=bidirectional, batch_first=True, rng=rng)
    readout = nn.Linear(8 if bidirectional else 4, 1)

    def loss(x: gg.Tensor) -> gg.Tensor:
        out, _ = layer(x)
        return F.squared_error(readout(out), np.zeros((2, 5, 1)))

    fast = gg.compile(loss)
    for _ in range(2):
        fast(rng.standard_normal((2, 5, 3))).backward()
    defined: dict[str, ast.expr] = {}
    reshaped = []
    for node in ast.walk(ast.parse(fast.source)):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            defined[node.targets[0].id] = node.value
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "reshape"
            and isinstance(node.func.value, ast.Name)
        ):
            reshaped.append(node.func.value.id)
    assert reshaped
    for name in reshaped:
        src = defined.get(name)
        transposed = (
            isinstance(src, ast.Call)
            and isinstance(src.func, ast.Attribute)
            and src.func.attr == "transpose"
        )
        assert not transposed, f"{name} = {ast.unparse(src)} is reshaped (a copy)"


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.ElmanCell])
def test_cells_unrolled(cls: type) -> None:
    rng = np.random.default_rng(2)
    cell = cls(3, 4, rng=rng)
    xs = [_x(rng, 2, 3) for _ in range(4)]

    def run(*xs: gg.Tensor) -> gg.Tensor:
        state = None
        for x in xs:
            state = cell(x, state)
        h = state[0] if isinstance(state, tuple) else state
        return (h * h).sum()

    assert_same(run, tuple(xs), [*xs, *_params(cell)])


def test_embedding_layernorm_and_mlp_blocks() -> None:
    rng = np.random.default_rng(3)
    emb = nn.Embedding(10, 6, padding_idx=0, rng=rng)
    norm = nn.LayerNorm(6)
    mlp = nn.Sequential(nn.Linear(6, 8, rng=rng), nn.Tanh(), nn.Linear(8, 6, rng=rng), nn.ReLU())
    idx = np.array([[1, 0, 3], [3, 3, 9]])

    def run(idx: np.ndarray) -> gg.Tensor:
        return nn.Sigmoid()(mlp(norm(emb(idx))))

    assert_same(run, (idx,), [*_params(emb), *_params(norm), *_params(mlp)])


@pytest.mark.parametrize(
    "loss",
    [
        nn.CrossEntropyLoss(),
        nn.CrossEntropyLoss(reduction="sum"),
        nn.NLLLoss(),
        nn.MSELoss(),
        nn.SquaredErrorLoss(),
        nn.BCELoss(),
        nn.BCEWithLogitsLoss(),
    ],
    ids=lambda m: repr(m),
)
def test_losses(loss: nn.Module) -> None:
    rng = np.random.default_rng(4)
    if isinstance(loss, (nn.CrossEntropyLoss, nn.NLLLoss)):
        x = _x(rng, 5, 4)
        target: Any = np.array([0, 3, 1, 1, 2])
        inp = (lambda x: F.log_softmax(x, dim=-1)) if isinstance(loss, nn.NLLLoss) else None
    else:
        x = _x(rng, 5, 4)
        target = rng.uniform(0.1, 0.9, (5, 4))
        inp = (lambda x: x.sigmoid()) if isinstance(loss, nn.BCELoss) else None

    def run(x: gg.Tensor, target: Any) -> gg.Tensor:
        return loss(inp(x) if inp else x, target)

    assert_same(run, (x, target), [x])


def test_dropout_compiles_in_train_and_eval_mode_with_the_eager_draws() -> None:
    """Dropout's mask is drawn again at every call, in the trace's order, from the
    generator the layer names (the default one at that call): the compiled function
    consumes the random stream draw for draw as the eager one, gradients included."""
    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.Linear(4, 8, rng=rng), nn.Dropout(0.5), nn.Linear(8, 1, rng=rng))
    own = nn.Dropout(0.3, rng=np.random.default_rng(9))
    x = _x(rng, 6, 4)

    def f(x: gg.Tensor) -> gg.Tensor:
        unused = F.dropout(x, 0.2)  # a draw whose result is not used is still made
        del unused
        return own(model(x))

    model.eval()
    own.eval()
    assert_same(lambda x: own(model(x)), (x,), [x, *_params(model)])
    model.train()
    own.train()
    fast = gg.compile(f, fullgraph=True)
    runs = []
    for g in (f, fast):
        gg.manual_seed(0)
        own.rng = np.random.default_rng(9)
        out = []
        for _ in range(4):
            y = g(x)
            y.sum().backward()
            out.append((y.data.copy(), x.grad.copy()))
            x.grad = None
        out.append((gg.randint(0, 1000, (3,)).data, own.rng.random(2)))  # streams continue
        runs.append(out)
    for (a, ga), (b, gb) in zip(*runs):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ga, gb)
    assert fast.stats[-1]["eager"] is None and fast.stats[-1]["fallback"] == []


def test_a_constant_drawn_in_python_runs_eagerly() -> None:
    """A random array drawn with NumPy inside the function is a constant of each trace;
    the two traces differ, so the function runs eagerly (fullgraph=True: CompileError)."""
    draws = np.random.default_rng(0)

    def f(x: gg.Tensor) -> gg.Tensor:
        return x * draws.random(x.shape)

    x = gg.tensor(np.ones(3), requires_grad=True)
    with pytest.warns(gg.CompileWarning, match="constant operand"):
        fast = gg.compile(f)
        for _ in range(3):
            fast(x)
    with pytest.raises(gg.CompileError, match="constant operand"):
        strict = gg.compile(f, fullgraph=True)
        strict(x)
        strict(x)


def test_train_and_eval_are_separate_programs() -> None:
    rng = np.random.default_rng(6)
    model = nn.Sequential(nn.Linear(3, 3, rng=rng), nn.Dropout(0.0))
    fast = gg.compile(model)
    x = _x(rng, 2, 3)
    for _ in range(3):
        fast(x)
    model.eval()
    for _ in range(3):
        np.testing.assert_array_equal(fast(x).data, model(x).data)
    assert len(fast.stats) == 2  # one per training flag


# ---------------------------------------------------------------------- guards and retracing
def test_retraces_on_shape_dtype_and_requires_grad_change() -> None:
    rng = np.random.default_rng(7)
    w = gg.tensor(rng.standard_normal((3, 2)), requires_grad=True)

    def f(x: gg.Tensor) -> gg.Tensor:
        return (x @ w).tanh().sum()

    fast = gg.compile(f)
    for shape, dtype, rg in [
        ((4, 3), np.float64, True),
        ((5, 3), np.float64, True),
        ((5, 3), np.float32, True),
        ((5, 3), np.float64, False),
        ((4, 3), np.float64, True),  # back to the first: its program is reused
    ]:
        x = gg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=rg)
        for _ in range(3):
            got = fast(x)
            got.backward()
            gw, gx = w.grad, x.grad
            w.grad = None
            x.grad = None
            want = f(x)
            want.backward()
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got.data, want.data)
            np.testing.assert_array_equal(gw, w.grad)
            assert (gx is None) == (not rg)
            if rg:
                np.testing.assert_array_equal(gx, x.grad)
            w.grad = None
            x.grad = None
    assert len(fast.stats) == 4
    assert all(s["eager"] is None for s in fast.stats)


def test_a_parameter_swapped_for_another_shape_retraces() -> None:
    rng = np.random.default_rng(8)
    lin = nn.Linear(3, 2, rng=rng)
    fast = gg.compile(lin)
    x = _x(rng, 4, 3)
    for _ in range(3):
        fast(x)
    lin.weight = nn.Parameter(rng.standard_normal((5, 3)))
    lin.bias = nn.Parameter(rng.standard_normal(5))
    out = fast(x)
    np.testing.assert_array_equal(out.data, lin(x).data)
    assert out.shape == (4, 5)


def test_training_with_an_optimizer_matches_eager() -> None:
    """Parameters updated in place by an optimizer between calls are read at every call."""

    def train(compiled: bool) -> tuple[list[float], list[np.ndarray]]:
        rng = np.random.default_rng(9)
        model = nn.Sequential(nn.Linear(2, 8, rng=rng), nn.Tanh(), nn.Linear(8, 1, rng=rng))
        opt = optim.Adam(model.parameters(), lr=0.05)
        x = rng.standard_normal((16, 2))
        y = (x[:, :1] * x[:, 1:] > 0).astype(float)

        def loss_fn(x: np.ndarray, y: np.ndarray) -> gg.Tensor:
            return F.binary_cross_entropy_with_logits(model(x), y)

        step = gg.compile(loss_fn) if compiled else loss_fn
        losses = []
        for _ in range(6):
            opt.zero_grad()
            loss = step(x, y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        return losses, [p.data.copy() for p in model.parameters()]

    (la, pa), (lb, pb) = train(False), train(True)
    assert la == lb
    for a, b in zip(pa, pb):
        np.testing.assert_array_equal(a, b)


def test_places_the_function_reads_are_read_at_every_call() -> None:
    """A closure tensor or Python number rebound, a module's parameter or submodule
    replaced, a module's tensor attribute updated: the next call uses the new one."""
    rng = np.random.default_rng(10)
    w = gg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    scale = 2.0
    model = nn.Linear(3, 3, rng=rng)

    def f(x: gg.Tensor) -> gg.Tensor:
        return model(x @ w) * scale

    fast = gg.compile(f)
    x = _x(rng, 2, 3)

    def check() -> None:
        for _ in range(3):
            got = fast(x)
            got.sum().backward()
            gw, gm = w.grad, model.weight.grad
            w.grad = model.weight.grad = None
            want = f(x)
            want.sum().backward()
            np.testing.assert_array_equal(got.data, want.data)
            np.testing.assert_array_equal(gw, w.grad)
            np.testing.assert_array_equal(gm, model.weight.grad)
            w.grad = model.weight.grad = None

    check()
    w = gg.tensor(rng.standard_normal((3, 3)), requires_grad=True)  # the closure cell
    check()
    scale = -0.5  # a Python number in the closure
    check()
    model.weight = nn.Parameter(rng.standard_normal((3, 3)))  # a parameter replaced
    check()
    model = nn.Linear(3, 3, rng=rng)  # the module replaced
    check()


def test_a_module_assigning_its_state_runs_eagerly() -> None:
    """Compiled code replays tensor ops, not Python assignments: a module that stores its
    state on itself in forward runs eagerly (with fullgraph=True: CompileError)."""

    class Stateful(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.RNNCell(2, 3, rng=np.random.default_rng(11))
            self.h = gg.zeros(1, 3)

        def forward(self, x: gg.Tensor) -> gg.Tensor:
            h = self.cell(x, self.h)
            self.h = h.detach()  # truncated BPTT: the state carries over, the graph does not
            return h

    a, b = Stateful(), Stateful()
    fast = gg.compile(b)
    rng = np.random.default_rng(12)
    with pytest.warns(gg.CompileWarning, match=r"assignment to Stateful.h"):
        for _ in range(6):
            x = gg.tensor(rng.standard_normal((1, 2)))
            np.testing.assert_array_equal(fast(x).data, a(x).data)
    with pytest.raises(gg.CompileError, match=r"assignment to Stateful.h"):
        gg.compile(Stateful(), fullgraph=True)(x)


def test_state_carried_as_argument_and_result_compiles() -> None:
    cell = nn.RNNCell(2, 3, rng=np.random.default_rng(11))
    step = gg.compile(lambda x, h: cell(x, h), fullgraph=True)
    rng = np.random.default_rng(12)
    h_eager = h = gg.zeros(1, 3)
    for _ in range(6):
        x = gg.tensor(rng.standard_normal((1, 2)))
        h = step(x, h).detach()
        h_eager = cell(x, h_eager).detach()
        np.testing.assert_array_equal(h.data, h_eager.data)
    assert step.stats[0]["eager"] is None


def test_tied_weights_get_both_gradients() -> None:
    rng = np.random.default_rng(13)
    emb = nn.Embedding(5, 4, rng=rng)
    out = nn.Linear(4, 5, bias=False, rng=rng)
    out.weight = emb.weight

    def f(idx: np.ndarray) -> gg.Tensor:
        return out(emb(idx)).sum()

    assert_same(f, (np.array([1, 2, 2]),), [emb.weight])


# ---------------------------------------------------------------------- what is not compiled
def _branchy(x: gg.Tensor) -> gg.Tensor:
    if x.sum().item() > 0:  # a Python branch on a traced value
        return x * 2.0
    return -x


@pytest.mark.parametrize(
    ("fn", "cause"),
    [
        (_branchy, r"item\(\)"),
        (lambda x: x * 2 if bool(x.sum() > 0) else x, r"bool\(\)"),
        (lambda x: x * float(x.max()), r"float\(\)"),
        (lambda x: x * np.asarray(x.detach()).max(), r"np.asarray\(\)"),
        (lambda x: (y := x * 2, y.register_hook(lambda g: g), y)[2], "register_hook"),
        (lambda x: (y := x.exp(), y.retain_grad(), y)[2], "retain_grad"),
        (lambda x: (y := (x * x).sum(), y.backward(retain_graph=True), y)[2], r"backward\(\)"),
        (lambda x: (y := (x * x).sum(), gg.grad(y, x, retain_graph=True), y)[2], r"gg.grad"),
        (lambda x: (gg.manual_seed(0), F.dropout(x, 0.5))[1], r"gg.manual_seed"),
    ],
    ids=["item", "bool", "float", "asarray", "hook", "retain_grad", "backward", "grad", "seed"],
)
def test_what_compiled_code_cannot_repeat_runs_eagerly_or_raises(
    fn: Callable[..., Any], cause: str
) -> None:
    rng = np.random.default_rng(14)
    fast = gg.compile(fn)
    for sign in (1.0, -1.0, 1.0, -1.0):
        x = gg.tensor(sign * np.abs(rng.standard_normal(3)), requires_grad=True)
        xe = gg.tensor(x.data.copy(), requires_grad=True)
        if sign == 1.0 and fast.stats == []:
            with pytest.warns(gg.CompileWarning, match=cause):
                got = fast(x)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # warned once, then quietly eager
                got = fast(x)
        want = fn(xe)
        np.testing.assert_array_equal(got.data, want.data)
        got.sum().backward()
        want.sum().backward()
        np.testing.assert_array_equal(x.grad, xe.grad)
    assert fast.stats[0]["eager"]
    with pytest.raises(gg.CompileError, match=cause):
        gg.compile(fn, fullgraph=True)(gg.tensor(np.ones(3), requires_grad=True))


def test_an_optimizer_step_inside_the_function_is_not_compiled() -> None:
    w = nn.Parameter(np.ones(3))
    opt = optim.SGD([w], lr=0.1)

    def step(x: np.ndarray) -> gg.Tensor:
        opt.zero_grad()
        loss = (w * x).sum()
        loss.backward()
        opt.step()
        return loss

    with pytest.raises(gg.CompileError, match="backward"):
        gg.compile(step, fullgraph=True)(np.ones(3))
    fast = gg.compile(step)
    with pytest.warns(gg.CompileWarning):
        fast(np.ones(3))
    for _ in range(3):
        fast(np.ones(3))
    np.testing.assert_allclose(w.data, 1 - 0.4 * np.ones(3))  # four real steps


def test_a_branch_on_data_that_flips_between_the_first_two_calls_is_caught() -> None:
    """``.data`` is the documented way round the graph, so a branch on it is a Python
    decision the tracer cannot see; it is caught when the first two calls disagree."""

    def f(x: gg.Tensor) -> gg.Tensor:
        return x * 2.0 if x.data.sum() > 0 else x * 3.0

    fast = gg.compile(f, fullgraph=True)
    fast(gg.tensor(np.ones(2), requires_grad=True))
    with pytest.raises(gg.CompileError, match="different computations"):
        fast(gg.tensor(-np.ones(2), requires_grad=True))


def test_higher_order_gradients_through_compiled_code_are_refused() -> None:
    w = gg.tensor(np.arange(3.0), requires_grad=True)
    fast = gg.compile(lambda w: (w * w * w).sum())
    for _ in range(3):
        loss = fast(w)
    (g,) = gg.grad(loss, w)
    np.testing.assert_array_equal(g, 3 * w.data**2)
    with pytest.raises(gg.CompileError, match="create_graph"):
        gg.grad(fast(w), w, create_graph=True)


def test_leaf_hooks_clipping_and_grad_work_around_compiled_code() -> None:
    w = gg.tensor(np.arange(1.0, 4.0), requires_grad=True)
    seen = []
    w.register_hook(lambda g: seen.append(g.copy()) or g * 10)
    fast = gg.compile(lambda w: (w * w).sum())
    for _ in range(3):
        fast(w).backward()
    np.testing.assert_array_equal(w.grad, 3 * 10 * 2 * w.data)
    assert len(seen) == 3


def test_no_grad_calls_return_plain_tensors() -> None:
    w = gg.tensor(np.arange(3.0), requires_grad=True)
    fast = gg.compile(lambda w: (w * 2).sum())
    with gg.no_grad():
        for _ in range(3):
            out = fast(w)
    assert not out.requires_grad and out.grad_fn is None
    assert out.item() == 6.0


def test_results_that_need_no_gradient_have_no_node() -> None:
    """A result computed under no_grad, detached, or of integers, beside or without one
    that requires grad: compiled, it needs no gradient either (it is not the call's node)."""
    w = gg.tensor(np.arange(1.0, 4.0), requires_grad=True)

    def no_grad_inside(w: gg.Tensor) -> gg.Tensor:
        with gg.no_grad():
            return w * 2

    cases: list[Callable[..., Any]] = [
        no_grad_inside,
        lambda w: (w * 2).detach(),
        lambda w: ((w * 2).detach(), (w * w).sum()),
        lambda w: ((w > 1.5).astype(np.int64) * 3, (w * 3).sum(), w.tanh()),
        lambda w: [w.sum().detach() + 1.0],
    ]
    for fn in cases:
        assert_same(fn, (w,), [w])


# ---------------------------------------------------------------------- the generated source
def test_source_of_the_seed_rnn_reads_as_bptt() -> None:
    problem = W._seed_make(np.random.default_rng(0), np.dtype(np.float64), T=3, H=5)
    loss_fn, args, _, _ = W._seed_model(problem)
    fast = gg.compile(loss_fn)
    with pytest.raises(RuntimeError, match="no code generated yet"):
        _ = fast.source
    fast(*args)
    fast(*args)
    src = fast.source
    assert "def forward_" in src and "def backward_" in src
    assert "np.tanh" in src and " @ " in src
    # names come from the parameters' places and the ops; gradients are d_<value>
    for name in ["rnn_cells_0_W", "rnn_cells_0_V", "out_weight", "tanh3"]:
        assert f"{name}" in src and f"d_{name}" in src, name
    assert "return (None, None, d_rnn_cells_0_W," in src  # x and y need no gradient
    compile(src, "<source>", "exec")  # it is Python


def test_compile_is_a_decorator_with_and_without_arguments() -> None:
    @gg.compile
    def f(x: gg.Tensor) -> gg.Tensor:
        return x * 2

    @gg.compile(fullgraph=True)
    def g(x: gg.Tensor) -> gg.Tensor:
        return x * 3

    x = gg.tensor([1.0, 2.0])
    assert f(x).tolist() == [2.0, 4.0] and g(x).tolist() == [3.0, 6.0]
    assert f.__name__ == "f" and isinstance(g, gg.Compiled)
    with pytest.raises(TypeError, match="expected a function"):
        gg.compile(3)  # type: ignore[arg-type]
    h = gg.compile(model=lambda x: x + 1)  # torch.compile's keyword
    assert h(x).tolist() == [2.0, 3.0]
    with pytest.raises(TypeError):
        gg.compile(f, backend="inductor")  # type: ignore[call-arg]  # no other backend


def test_a_module_python_setting_changed_traces_again() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2, rng=np.random.default_rng(15))
            self.scale = 2.0

        def forward(self, x: gg.Tensor) -> gg.Tensor:
            return self.lin(x) * self.scale

    m = Scaled()
    fast = gg.compile(m)
    x = _x(np.random.default_rng(16), 3, 2)
    for scale in (2.0, 2.0, 2.0, -1.0, -1.0, -1.0, 0.5):
        m.scale = scale
        np.testing.assert_array_equal(fast(x).data, m(x).data)


def test_retrace_after_a_change_no_guard_sees() -> None:
    """A Python value read from a mutable container is fixed by the trace (documented):
    retrace() makes the next call trace again."""
    config = {"scale": 2.0}
    fast = gg.compile(lambda x: x * config["scale"])
    x = gg.tensor([1.0, 2.0])
    for _ in range(3):
        fast(x)
    config["scale"] = 3.0
    assert fast(x).tolist() == [2.0, 4.0]  # the trace's constant
    fast.retrace()
    assert fast(x).tolist() == [3.0, 6.0]


def test_modules_reached_through_nested_functions_and_arguments_are_guarded() -> None:
    """A module reached through a nested function's closure, or only through an argument
    object, still has its training flag in the guard (Dropout on, then off)."""
    rng = np.random.default_rng(17)
    model = nn.Sequential(nn.Linear(3, 3, rng=rng), nn.Dropout(0.5))

    def forward(x: gg.Tensor) -> gg.Tensor:
        return model(x)

    def via_closure(x: gg.Tensor) -> gg.Tensor:
        return forward(x).sum()

    class Holder:
        def __init__(self, m: nn.Module) -> None:
            self.m = m

    def via_argument(holder: Holder, x: gg.Tensor) -> gg.Tensor:
        return holder.m(x).sum()

    x = _x(rng, 4, 3)
    holder = Holder(model)
    for fast, call in [
        (gg.compile(via_closure), lambda f: f(x)),
        (gg.compile(via_argument), lambda f: f(holder, x)),
    ]:
        model.eval()
        for _ in range(3):
            call(fast)
        model.train()  # another program: the mask is drawn
        gg.manual_seed(3)
        got = [call(fast).item() for _ in range(4)]
        gg.manual_seed(3)
        want = [call(lambda *a: via_closure(a[-1])).item() for _ in range(4)]
        assert got == want  # the same draws
        model.eval()
        assert call(fast).item() == via_closure(x).item()


# ---------------------------------------------------------------------- random programs
_UNARY: list[Callable[[gg.Tensor], gg.Tensor]] = [
    lambda t: t.tanh(),
    lambda t: t.sigmoid(),
    lambda t: (t * 0.3).exp(),
    lambda t: t.relu(),
    lambda t: -t,
    lambda t: t * t,
    lambda t: t.sum(axis=0, keepdims=True),
    lambda t: t.mean(axis=-1, keepdims=True),
    lambda t: t[::-1],
    lambda t: t.T.T,
    lambda t: gg.where(t > 0, t, t * 0.1),
    lambda t: F.log_softmax(t, dim=-1),
    lambda t: t.T.contiguous(),  # a copy in C order (k > 1), or the view itself (k = 1)
]
_BINARY: list[Callable[[gg.Tensor, gg.Tensor], gg.Tensor]] = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1.0),
    lambda a, b: gg.maximum(a, b),
    lambda a, b: a @ b if a.shape[-1] == b.shape[0] else a + b,
]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([np.float64, np.float32]))
def test_random_programs_compile_to_the_eager_values_and_gradients(seed: int, dtype: Any) -> None:
    """Random graphs of shared subexpressions (fan-out), broadcasting, reductions, slices and
    matmuls: the generated code's results and gradients equal the eager engine's bitwise,
    over calls with other values of the same shapes."""
    rng = np.random.default_rng(seed)
    n_ops = int(rng.integers(2, 9))
    plan = [
        (
            int(rng.integers(2)),
            int(rng.integers(len(_UNARY))),
            int(rng.integers(99)),
            int(rng.integers(99)),
        )
        for _ in range(n_ops)
    ]
    k = int(rng.integers(1, 4))
    shape = (k, k)  # square: every value stays broadcastable with every other

    def program(a: gg.Tensor, b: gg.Tensor) -> gg.Tensor:
        vals = [a, b]
        for binary, op, i, j in plan:
            x, y = vals[i % len(vals)], vals[j % len(vals)]
            vals.append(_BINARY[op % len(_BINARY)](x, y) if binary else _UNARY[op](x))
        return sum((v.sum() for v in vals[-3:]), gg.tensor(np.zeros((), dtype)))

    fast = gg.compile(program, fullgraph=True)
    for k in range(4):
        arrays = [rng.standard_normal(shape).astype(dtype) for _ in range(2)]
        mine = [gg.tensor(a, requires_grad=True) for a in arrays]
        ref = [gg.tensor(a, requires_grad=True) for a in arrays]
        got, want = fast(*mine), program(*ref)
        np.testing.assert_array_equal(got.data, want.data, err_msg=f"call {k}")
        got.backward()
        want.backward()
        for m, r in zip(mine, ref):
            if r.grad is None:
                assert m.grad is None
            else:
                np.testing.assert_array_equal(m.grad, r.grad, err_msg=f"call {k}")
        # each .grad is an array of its own (Function.fresh_grads: kept without a copy
        # only where nothing else holds it): no two share memory, nor one with a value
        held = [m.grad for m in mine if m.grad is not None] + [got.data] + arrays
        for i, g in enumerate(held[:2]):
            for other in held[i + 1 :]:
                assert not np.shares_memory(g, other), f"call {k}"
    assert fast.stats[0]["eager"] is None


def test_gradients_kept_without_a_copy_are_the_backward_own_arrays() -> None:
    """Gradients the rules return as the upstream gradient itself (an add's), a view of
    it, or as each other: the leaves still get arrays of their own."""
    rng = np.random.default_rng(35)
    cases: list[Callable[..., Any]] = [
        lambda a, b: (a + b).sum(),
        lambda a, b: (a - b).sum() + (a + b).sum(),
        lambda a, b: (a.T + b).sum(),
        lambda a, b: (a.reshape(-1) + b.reshape(-1)).sum(),
        lambda a, b: (a * 1.0 + b[::-1]).sum(),
    ]
    for fn in cases:
        fast = gg.compile(fn, fullgraph=True)
        for _ in range(5):
            a, b = (gg.tensor(rng.standard_normal((3, 3)), requires_grad=True) for _ in "ab")
            fast(a, b).backward()
            assert not np.shares_memory(a.grad, b.grad)
            before = b.grad.copy()
            a.grad += 1.0
            np.testing.assert_array_equal(b.grad, before)


def test_a_compiled_function_called_inside_another_is_inlined() -> None:
    rng = np.random.default_rng(18)
    lin = nn.Linear(3, 3, rng=rng)
    inner = gg.compile(lambda x: lin(x).tanh())

    def outer_fn(x: gg.Tensor, *, scale: float) -> gg.Tensor:
        return (inner(x) * scale).sum()

    x = _x(rng, 2, 3)
    fast = assert_same(lambda x: outer_fn(x, scale=2.0), (x,), [x, *_params(lin)])
    outer = gg.compile(outer_fn)
    for scale in (2.0, 2.0, 2.0, 3.0, 3.0, 3.0):  # a keyword constant is part of the key
        assert outer(x, scale=scale).item() == outer_fn(x, scale=scale).item()
    assert len(outer.stats) == 2 and all(s["eager"] is None for s in outer.stats)
    lin.weight = nn.Parameter(np.ones((3, 3)))  # read at its place through the inner one
    assert outer(x, scale=3.0).item() == outer_fn(x, scale=3.0).item()
    assert "lin_weight" in fast.source


def test_default_dtype_joins_the_guard_and_anomaly_mode_runs_eagerly() -> None:
    fast = gg.compile(lambda x: x + gg.ones(2))  # ones(2) takes the default dtype
    x = gg.tensor(np.zeros(2, dtype=np.float32))
    for _ in range(3):
        assert fast(x).dtype == (x + gg.ones(2)).dtype == np.float64
    old = gg.get_default_dtype()
    gg.set_default_dtype(gg.float32)
    try:
        for _ in range(3):
            assert fast(x).dtype == (x + gg.ones(2)).dtype == np.float32
    finally:
        gg.set_default_dtype(old)
    logs = gg.compile(lambda x: x.log())
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    for _ in range(3):
        logs(w)
    with gg.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(gg.AnomalyError, match="Log"):
            logs(gg.tensor(np.array([-1.0, 2.0]), requires_grad=True))


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_dropout_between_layers_compiles_with_the_eager_draws(cls: type) -> None:
    layer = cls(3, 4, num_layers=2, dropout=0.5, rng=np.random.default_rng(19))
    x = _x(np.random.default_rng(20), 5, 2, 3)

    def f(x: gg.Tensor) -> gg.Tensor:
        out, _ = layer(x)
        return (out * out).sum()

    fast = gg.compile(f, fullgraph=True)
    runs = []
    for g in (f, fast):
        gg.manual_seed(1)
        layer._rng = np.random.default_rng(21) if layer._rng is not None else None
        vals = []
        for _ in range(4):
            loss = g(x)
            loss.backward()
            vals.append((loss.item(), x.grad.copy()))
            x.grad = None
        runs.append(vals)
    for (a, ga), (b, gb) in zip(*runs):
        assert a == b
        np.testing.assert_array_equal(ga, gb)
    assert fast.stats[0]["eager"] is None


def test_a_compiled_function_keeps_no_array_of_its_traced_calls() -> None:
    """After generating, the traces' intermediates (and the eager nodes' saved arrays) are
    released: the program keeps places, shapes and dtypes, not a step's activations."""
    import gc
    import tracemalloc

    rng = np.random.default_rng(22)
    w = gg.tensor(rng.standard_normal((400, 400)), requires_grad=True)  # 1.2 MiB per array
    x = gg.tensor(rng.standard_normal((400, 400)))
    fast = gg.compile(lambda x: ((x @ w).tanh() @ w).sigmoid().sum())
    tracemalloc.start()
    try:
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            fast(x).backward()
            w.grad = None
        fast(x[:300]).backward()  # a shape called once: its trace holds no arrays either
        w.grad = None
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert held < 400 * 400 * 8, f"{held} bytes held"


def test_a_compiled_method_binds_to_each_instance() -> None:
    class Block(nn.Module):
        def __init__(self, seed: int) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3, rng=np.random.default_rng(seed))

        @gg.compile
        def forward(self, x: gg.Tensor) -> gg.Tensor:
            return self.lin(x).tanh()

    a, b = Block(1), Block(2)
    x = _x(np.random.default_rng(23), 2, 3)
    for _ in range(3):
        for m in (a, b):
            got = m(x)
            want = type(m).forward.fn(m, x)  # the method itself, uncompiled
            np.testing.assert_array_equal(got.data, want.data)
    assert a.forward is a.forward and a.forward is not b.forward
    assert a.forward.stats[0]["eager"] is None


# ---------------------------------------------------------------------- the entry
_GLOBAL_BIAS = gg.tensor(np.linspace(-0.5, 0.5, 3), requires_grad=True)


class _Scaled(nn.Module):
    """Different in train and eval mode, and with a Python setting the trace fixes."""

    def __init__(self) -> None:
        super().__init__()
        self.k = 2.0

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return x * self.k if self.training else x.tanh()


class _Setup:
    def __init__(self) -> None:
        rng = np.random.default_rng(31)
        self.params = {"w": gg.tensor(rng.standard_normal((3, 3)), requires_grad=True)}
        self.lin1 = nn.Linear(3, 3, rng=rng)
        self.lin2 = nn.Linear(3, 3, rng=rng)
        self.lin2.weight = self.lin1.weight  # tied
        self.scaled = _Scaled()
        self.x = rng.standard_normal((2, 3))
        self.y = gg.tensor(rng.standard_normal((2, 3)), requires_grad=True)

        params, lin1, lin2, scaled = self.params, self.lin1, self.lin2, self.scaled

        def loss(x: Any, y: gg.Tensor) -> gg.Tensor:
            h = scaled(lin2(lin1(x @ params["w"]))) + _GLOBAL_BIAS
            return ((h - y) ** 2).sum() + gg.ones(1).sum()

        self.fn = loss

    def leaves(self) -> list[gg.Tensor]:
        found = [self.params.get("w"), self.y, _GLOBAL_BIAS]
        found += list(self.lin1.parameters()) + list(self.lin2.parameters())
        out: list[gg.Tensor] = []
        for t in found:
            if isinstance(t, gg.Tensor) and t.requires_grad and all(t is not o for o in out):
                out.append(t)
        return out


def _mutations() -> dict[str, Callable[[_Setup], None]]:
    rng = np.random.default_rng(32)

    def new(shape: tuple[int, ...], dtype: Any = np.float64, rg: bool = True) -> gg.Tensor:
        return gg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=rg)

    def untie(s: _Setup) -> None:
        s.lin2.weight = nn.Parameter(rng.standard_normal((3, 3)))

    def setattr_(obj_of: Callable[[_Setup], Any], name: str, v: Any) -> Callable[[_Setup], None]:
        return lambda s: setattr(obj_of(s), name, v)

    return {
        "nothing": lambda s: None,
        "argument shape": lambda s: (
            setattr(s, "x", rng.standard_normal((4, 3))),
            setattr(s, "y", new((4, 3))),
        ),
        "argument dtype": lambda s: setattr(s, "x", rng.standard_normal((2, 3)).astype("f4")),
        "argument array to tensor": lambda s: setattr(s, "x", new((2, 3), rg=False)),
        "argument requires grad": lambda s: setattr(s, "y", new((2, 3), rg=False)),
        "module to eval": lambda s: s.scaled.eval(),
        "module setting": setattr_(lambda s: s.scaled, "k", -3.0),
        "dict entry same shape": lambda s: s.params.__setitem__("w", new((3, 3))),
        "dict entry float32": lambda s: s.params.__setitem__("w", new((3, 3), np.float32)),
        "dict entry no grad": lambda s: s.params.__setitem__("w", new((3, 3), rg=False)),
        "parameter replaced": setattr_(
            lambda s: s.lin1, "bias", nn.Parameter(rng.standard_normal(3))
        ),
        "parameter reshaped": lambda s: setattr(
            s.lin1, "bias", nn.Parameter(rng.standard_normal((1, 3)))
        ),
        "tied weight untied": untie,
        "global rebound": lambda s: globals().__setitem__("_GLOBAL_BIAS", new((3,))),
        "data replaced": lambda s: setattr(s.lin1.weight, "data", rng.standard_normal((3, 3))),
        "updated in place": lambda s: s.lin1.weight.data.__imul__(0.5),
    }


@pytest.mark.parametrize("name", list(_mutations()))
def test_the_entry_takes_only_calls_the_traced_program_fits(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever changes between calls — an argument's shape, dtype, kind or flag, grad mode,
    a module's mode or Python setting, a tensor at a place the function reads, tied
    weights untied, a global rebound — the compiled function gives the eager results:
    the entry (graphgrad/compiler/entry.py) takes the call only where the traced program
    fits, and otherwise hands it to the general path."""
    from graphgrad.compiler import program

    monkeypatch.setitem(globals(), "_GLOBAL_BIAS", _GLOBAL_BIAS)  # restored after the test
    s = _Setup()
    fast = gg.compile(s.fn)

    def compare() -> None:
        for f in (s.fn, fast):
            out = f(s.x, s.y)
            out.backward()
            got = (out.data.copy(), [None if t.grad is None else t.grad.copy() for t in s.leaves()])
            for t in s.leaves():
                t.grad = None
            if f is s.fn:
                want = got
        np.testing.assert_array_equal(got[0], want[0])
        for a, b in zip(got[1], want[1]):
            assert (a is None) == (b is None)
            if a is not None:
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a, b)

    for _ in range(4):
        compare()
    runs = []
    monkeypatch.setattr(program, "_run", lambda *a: runs.append(a) or None)
    fast(s.x, s.y)  # through the entry: the general path's _run is not reached
    assert runs == [] and fast._hot is not None
    monkeypatch.undo()
    monkeypatch.setitem(globals(), "_GLOBAL_BIAS", _GLOBAL_BIAS)
    for t in s.leaves():
        t.grad = None
    _mutations()[name](s)
    for _ in range(3):
        compare()


def test_the_entry_misses_under_no_grad_and_a_new_default_dtype() -> None:
    rng = np.random.default_rng(33)
    w = gg.tensor(rng.standard_normal(3), requires_grad=True)
    fast = gg.compile(lambda x: (x * w + gg.ones(3)).sum())
    x = rng.standard_normal(3)
    for _ in range(5):
        fast(x).backward()
    assert fast._hot is not None
    with gg.no_grad():
        out = fast(x)
    assert not out.requires_grad and out.grad_fn is None
    old = gg.get_default_dtype()
    gg.set_default_dtype(gg.float32)
    try:
        x32 = x.astype(np.float32)
        w.data = w.data.astype(np.float32)
        for _ in range(5):
            got = fast(x32)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got.data, (x32 * w.data + np.float32(1)).sum())
    finally:
        gg.set_default_dtype(old)


def test_the_entry_makes_the_node_function_apply_makes() -> None:
    """The entry builds the call's node and result itself (no Function.apply): the same
    slots, with the same values, as the general path's."""
    from graphgrad.compiler import program
    from graphgrad.core.function import Function
    from graphgrad.core.tensor import Tensor

    rng = np.random.default_rng(34)
    lin = nn.Linear(3, 2, rng=rng)
    y = gg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    fast = gg.compile(lambda x, y: (lin(x) * y).tanh().sum())
    x = rng.standard_normal((4, 3))
    for _ in range(4):
        fast(x, y)
    assert fast._hot is not None
    via_entry = fast._hot((x, y))
    prog = fast._latest
    free = [v.tensor for v in prog.free]
    via_apply = program._run(prog, (x, y), {}, free)
    for slots, a, b in [
        (Tensor.__slots__, via_entry, via_apply),
        (Function.__slots__, via_entry._node, via_apply._node),
    ]:
        for slot in slots:
            if slot in ("__weakref__", "_seq", "_out_id", "data", "_node", "saved_tensors"):
                continue
            assert getattr(a, slot, None) == getattr(b, slot, None), slot  # (unset: None)
    assert via_apply._node._seq == via_entry._node._seq + 1  # consecutive ticks of one clock
    assert via_entry._node._out_id == id(via_entry.data)
    assert len(via_entry._node.saved_tensors) == len(via_apply._node.saved_tensors)
    np.testing.assert_array_equal(via_entry.data, via_apply.data)
    via_entry.backward()
    g_entry = [p.grad.copy() for p in (lin.weight, lin.bias, y)]
    for p in (lin.weight, lin.bias, y):
        p.grad = None
    via_apply.backward()
    for p, g in zip((lin.weight, lin.bias, y), g_entry):
        np.testing.assert_array_equal(p.grad, g)


class _ConstantGrad(gg.Function):
    """A rule whose gradient does not depend on g (right for a summed output): in
    generated code it is a constant of the trace."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.shape, ctx.dtype = x.shape, x.dtype
        return x * 2.0

    @staticmethod
    def backward(ctx: Any, g: np.ndarray) -> np.ndarray:
        return np.full(ctx.shape, 2.0, dtype=ctx.dtype)


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: _ConstantGrad.apply(a).sum(),  # a leaf's only gradient
        lambda a: _ConstantGrad.apply(a).sum() + _ConstantGrad.apply(a).sum(),  # summed
        lambda a: _ConstantGrad.apply(a * 1.5).sum(),  # into a non-leaf, then on
        lambda a: (_ConstantGrad.apply(a).sum(), (a * a).sum()),  # beside another result
    ],
    ids=["leaf", "two contributions", "non-leaf", "two results"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_constant_gradient_is_a_new_array_at_every_call(fn: Any, dtype: Any) -> None:
    """A gradient the rule computes without the upstream gradient is a constant of the
    trace; the generated code copies it at every call, so a .grad changed in place (by an
    optimizer, or by the next backward's accumulation) never changes later calls."""
    fast = gg.compile(fn, fullgraph=True)
    mine = gg.tensor(np.arange(3.0, dtype=dtype), requires_grad=True)
    ref = gg.tensor(np.arange(3.0, dtype=dtype), requires_grad=True)
    for k in range(6):
        grads = []
        for f, a in ((fast, mine), (fn, ref)):
            a.grad = None
            out = f(a)
            gg.backward(list(out) if isinstance(out, tuple) else out)
            grads.append(a.grad.copy())
            a.grad += 1.0  # in place, as an optimizer or a user may
        np.testing.assert_array_equal(grads[0], grads[1], err_msg=f"call {k}")


# ---------------------------------------------------------------------- inputs as results
_W = gg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
_C = gg.tensor(np.array([3.0, 1.0, -2.0]))

_AS_RESULTS: dict[str, Callable[[gg.Tensor], Any]] = {
    "the argument": lambda x: x,
    "the argument beside a result": lambda x: (x * 2.0, x),
    "a parameter": lambda x: (x * _W, _W),
    "a parameter alone": lambda x: _W,
    "made inside and used": lambda x: (lambda z: (x + z, z))(gg.zeros(3)),
    "made inside from values": lambda x: (x * 2.0, gg.tensor([1.0, 2.0, 3.0])),
    "made inside, in a dict": lambda x: {"y": (x * _W).sum(), "z": gg.ones(3), "x": x},
}


@pytest.mark.parametrize("rg", [True, False], ids=["x requires grad", "x does not"])
@pytest.mark.parametrize("name", list(_AS_RESULTS))
def test_a_result_that_is_an_input_is_returned_as_eager_returns_it(name: str, rg: bool) -> None:
    """A result no op computed is the object the eager function returns: the argument or
    the parameter itself; a tensor made inside the function a new one at every call, which
    shares memory with nothing the compiled function keeps — changing it in place changes
    no later call (it did: the program computed with, and returned, the traced object)."""
    fn = _AS_RESULTS[name]
    fast = gg.compile(fn, fullgraph=True)
    x = gg.tensor(np.array([1.0, 2.0, 4.0]), requires_grad=rg)
    inputs = {"x": x, "W": _W}
    seen: list[gg.Tensor] = []
    for k in range(6):
        got, want = fast(x), fn(x)
        got_t, want_t = _tensors(_as_list(got)), _tensors(_as_list(want))
        assert len(got_t) == len(want_t)
        for j, (g, w) in enumerate(zip(got_t, want_t)):
            for label, t in inputs.items():
                assert (g is t) == (w is t), f"call {k}, result {j}: is {label}"
            assert (g.requires_grad, g.grad_fn is None) == (w.requires_grad, w.grad_fn is None)
            np.testing.assert_array_equal(g.data, w.data, err_msg=f"call {k}, result {j}")
            if all(w is not t for t in inputs.values()):
                others = [t.data for t in (*inputs.values(), *seen)]
                assert not any(np.shares_memory(g.data, o) for o in others), f"result {j}"
                seen.append(g)
        for t in got_t + want_t:
            if all(t is not i for i in inputs.values()):
                t.data += 10.0  # in place, as a caller may
        if _W.grad is not None:
            _W.grad = None
    (entry,) = fast.stats
    assert entry["eager"] is None and entry["traces"] == 2


def _as_list(x: Any) -> Any:
    return list(x.values()) if isinstance(x, dict) else x


# ---------------------------------------------------------------------- aliased arguments
def _aliased(a: Any, b: Any) -> gg.Tensor:
    return (a * _W + b * _C).sum()


def _patterns() -> dict[str, Callable[[], tuple[Any, Any]]]:
    rng = np.random.default_rng(41)
    x, y = gg.tensor(rng.standard_normal(3)), gg.tensor(rng.standard_normal(3))
    u, v = rng.standard_normal(3), rng.standard_normal(3)
    return {
        "distinct tensors": lambda: (x, y),
        "one tensor twice": lambda: (x, x),
        "a reached tensor first": lambda: (_C, y),
        "a reached tensor second": lambda: (x, _C),
        "one array in two tensors": lambda: (x, gg.from_numpy(x.data)),
        "distinct arrays": lambda: (u, v),
        "one array twice": lambda: (u, u),
        "a reached tensor's array": lambda: (u, _C.data),
    }


_PATTERNS = _patterns()
_TENSOR_PATTERNS = [k for k in _PATTERNS if "tensor" in k]
_ARRAY_PATTERNS = [k for k in _PATTERNS if "tensor" not in k]


@pytest.mark.parametrize(
    "first, then",
    [(a, b) for group in (_TENSOR_PATTERNS, _ARRAY_PATTERNS) for a in group for b in group],
)
def test_arguments_that_share_an_array_get_a_program_of_their_own(first: str, then: str) -> None:
    """A trace sees one value where two arguments (or an argument and a tensor the
    function reads itself) hold one array; calls that pair them otherwise must not run
    that program (they did: traced as f(x, x), f(x, y) computed with x twice). Every
    order of every pairing gives the eager values and gradients."""
    fast = gg.compile(_aliased)
    with warnings.catch_warnings():
        warnings.simplefilter("error", gg.CompileWarning)
        for k, pattern in enumerate([first] * 4 + [then] * 4 + [first] * 2):
            grads = []
            for f in (fast, _aliased):
                out = f(*_PATTERNS[pattern]())
                out.backward()
                grads.append((out.item(), _W.grad.copy()))
                _W.grad = None
            assert grads[0][0] == grads[1][0], f"call {k}: {pattern}"
            np.testing.assert_array_equal(grads[0][1], grads[1][1], err_msg=f"call {k}")


def test_arguments_sharing_an_array_in_keywords_and_containers() -> None:
    """The aliasing part of the guard key walks keyword arguments and nested tuples, lists
    and dicts as the trace does."""
    x, y = gg.tensor(np.array([0.5, 1.0, 2.0])), gg.tensor(np.array([4.0, 5.0, 6.0]))
    cases: list[tuple[Callable[..., gg.Tensor], list[Callable[[Any], gg.Tensor]]]] = [
        (lambda a, b: _aliased(a, b), [lambda f: f(a=x, b=x), lambda f: f(a=x, b=y)]),
        (lambda pair: _aliased(*pair), [lambda f: f((x, x)), lambda f: f([x, _C])]),
        (lambda d: _aliased(d["a"], d["b"]), [lambda f: f({"a": x, "b": x}),
                                             lambda f: f({"a": y, "b": x})]),
    ]  # fmt: skip
    for fn, (first, then) in cases:
        fast = gg.compile(fn)
        for k, call in enumerate([first] * 4 + [then] * 3):
            got = []
            for f in (fast, fn):
                out = call(f)
                out.backward()
                got.append((out.item(), _W.grad.copy()))
                _W.grad = None
            assert got[0][0] == got[1][0], f"call {k}"
            np.testing.assert_array_equal(got[0][1], got[1][1], err_msg=f"call {k}")


_REPEATS: dict[str, Callable[[gg.Tensor], Any]] = {
    "a result twice": lambda x: (lambda y: (y, y))(x.tanh()),
    "in a dict": lambda x: (lambda y: {"a": y, "b": y, "c": y * 2.0})(x.tanh()),
    "beside its detached alias": lambda x: (lambda y: (y, y.detach(), y))(x.tanh()),
    "nested": lambda x: (lambda y: [y, (x * _W, y)])(x.tanh()),
    "the argument twice": lambda x: (x, x * 2.0, x),
    "made inside, twice": lambda x: (lambda z: (x + z, z, z))(gg.zeros(3)),
}


@pytest.mark.parametrize("name", list(_REPEATS))
def test_a_value_returned_twice_is_one_tensor(name: str) -> None:
    """Where the eager function returns one tensor at two places, so does the compiled
    one (an in-place change through one name is seen through the other, with its node);
    each place's gradient still reaches the inputs."""
    fn = _REPEATS[name]
    fast = gg.compile(fn, fullgraph=True)
    for k in range(6):
        seen = []
        for f in (fast, fn):
            x = gg.tensor(np.array([0.1, 0.5, -0.3]), requires_grad=True)
            out = _tensors(_as_list(f(x)))
            same = [[a is b for b in out] for a in out]
            graded = [t for t in out if t.requires_grad and t is not x]
            gg.backward(graded, [np.full(3, j + 1.0) for j in range(len(graded))])
            seen.append((same, [t.requires_grad for t in out], x.grad, _W.grad))
            _W.grad = None
        (s1, r1, g1, w1), (s2, r2, g2, w2) = seen
        assert s1 == s2 and r1 == r2, f"call {k}"
        for a, b in ((g1, g2), (w1, w2)):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b, err_msg=f"call {k}")


def test_signatures_beyond_the_cache_limit_run_eagerly_with_one_warning() -> None:
    """A Python number that changes at every call is a constant of each trace: after
    ``Compiled.cache_limit`` signatures, new ones run eagerly (their eager values) with
    one warning that names the argument; fullgraph raises; retrace starts over."""
    w = gg.tensor(np.linspace(-1.0, 1.0, 12).reshape(4, 3), requires_grad=True)

    def step(x: np.ndarray, scale: float) -> gg.Tensor:
        return ((x @ w) * scale).tanh().sum()

    x = np.ones((2, 4))
    fast = gg.compile(step)
    limit = gg.Compiled.cache_limit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(limit + 5):
            got, want = fast(x, 0.1 * k), step(x, 0.1 * k)
            got.backward()
            g = w.grad.copy()
            w.grad = None
            want.backward()
            assert got.item() == want.item()
            np.testing.assert_array_equal(g, w.grad)
            w.grad = None
    msgs = [str(c.message) for c in caught if issubclass(c.category, gg.CompileWarning)]
    assert len(msgs) == 1 and "'scale'" in msgs[0] and "cache_limit" in msgs[0]
    assert len(fast.stats) == limit
    for _ in range(3):  # a traced signature still runs its program
        fast(x, 0.1)
    assert fast.stats[1]["traces"] == 2 and fast.stats[1]["eager"] is None
    fast.retrace()
    assert fast.stats == []
    strict = gg.compile(step, fullgraph=True)
    for k in range(limit):
        strict(x, 0.1 * k)
    with pytest.raises(gg.CompileError, match="cache_limit"):
        strict(x, 5.0)


def test_an_argument_that_reuses_a_freed_parameter_array_id_is_no_alias() -> None:
    """The guard keeps weak references to the reached arrays: an argument that took the
    id of a parameter array since freed (``w.data = ...`` rebinds it) is not taken for
    that parameter (it was: that call traced anew, and the program was generated again)."""
    w = gg.tensor(np.ones(3), requires_grad=True)
    fast = gg.compile(lambda x: (x * w).sum())
    for _ in range(4):
        fast(np.arange(3.0))
    program = fast._latest
    freed = id(w.data)
    w.data = np.full(3, 2.0)  # the array the guards saw is freed
    xs = [np.arange(3.0) for _ in range(8)]
    # (CPython hands the freed array's memory, so its id, to a next array)
    assert any(id(x) == freed for x in xs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", gg.CompileWarning)
        for x in xs:
            assert fast(x).item() == 6.0
    assert fast._latest is program  # not traced and generated again
    (entry,) = fast.stats
    assert entry["traces"] == 2 and entry["eager"] is None


_NUMPY_ON_ARGUMENTS: dict[str, Callable[[np.ndarray], gg.Tensor]] = {
    "x + 1": lambda x: ((x + 1.0) * _W).sum(),
    "np.exp(x)": lambda x: (np.exp(x) * _W).sum(),
    "a mask x > 0": lambda x: (gg.where(x > 0, _W, -_W) * x).sum(),
    "x.max()": lambda x: (x * _W / x.max()).sum(),
    "a loop over rows": lambda x: sum(((r * _W).sum() for r in x), start=gg.tensor(0.0)),
    "x @ x.T": lambda x: ((x @ x.T).sum(axis=0) * _W).sum(),
    "a reversed copy": lambda x: (x[::-1].copy() * _W).sum(),
}


@pytest.mark.parametrize("name", list(_NUMPY_ON_ARGUMENTS))
def test_numpy_computed_from_an_array_argument_is_never_kept_fixed(name: str) -> None:
    """A value computed in NumPy from an array argument is a constant of a trace. Even
    where the first two calls have equal arrays (nothing to compare), the check call gives
    the function its arrays as tensors, which records that computation, so the traces
    differ and the function runs eagerly: later arrays give their own values (they gave
    the first array's)."""
    fn = _NUMPY_ON_ARGUMENTS[name]
    fast = gg.compile(fn)
    rng = np.random.default_rng(8)
    same = rng.standard_normal((3, 3))
    with pytest.warns(gg.CompileWarning, match="array argument in NumPy|as tensors"):
        for k, x in enumerate([same, same.copy(), *rng.standard_normal((4, 3, 3))]):
            got, want = fast(x), fn(x)
            got.backward()
            g = _W.grad.copy()
            _W.grad = None
            want.backward()
            assert got.item() == want.item(), f"call {k}"
            np.testing.assert_array_equal(g, _W.grad, err_msg=f"call {k}")
            _W.grad = None
    (entry,) = fast.stats
    assert entry["eager"] is not None
    with pytest.raises(gg.CompileError):
        strict = gg.compile(fn, fullgraph=True)
        strict(same)
        strict(same)


def _containers() -> dict[str, tuple[Callable[..., gg.Tensor], Callable[[], None]]]:
    """Functions that loop over a reached dict, list or tuple, and a change of its entries."""
    rng = np.random.default_rng(12)

    def new() -> gg.Tensor:
        return gg.tensor(rng.standard_normal((3, 3)), requires_grad=True)

    layers = [new(), new()]
    table = {"a": new()}

    class Stack:
        def __init__(self) -> None:
            self.ws = (new(), new())

        def __call__(self, x: Any) -> gg.Tensor:
            for w in self.ws:
                x = (x @ w).tanh()
            return x.sum()

    stack = Stack()

    def chain(x: Any) -> gg.Tensor:
        for w in layers:
            x = (x @ w).tanh()
        return x.sum()

    def summed(x: Any) -> gg.Tensor:
        return sum(((x @ w).sum() for w in table.values()), start=gg.tensor(0.0))

    return {
        "list append": (chain, lambda: layers.append(new())),
        "list pop": (chain, lambda: layers.pop()),
        "list insert": (chain, lambda: layers.insert(0, new())),
        "dict key added": (summed, lambda: table.__setitem__("b", new())),
        "dict key renamed": (summed, lambda: table.update(c=table.pop("a"))),
        "tuple attribute longer": (stack, lambda: setattr(stack, "ws", (*stack.ws, new()))),
        "tuple attribute replaced": (stack, lambda: setattr(stack, "ws", (new(), new()))),
    }


_CONTAINER_CASES = list(_containers())


@pytest.mark.parametrize("name", _CONTAINER_CASES)
def test_a_reached_container_that_gains_or_loses_an_entry_traces_again(name: str) -> None:
    """A loop over a list, dict or tuple the function reaches is unrolled in the trace;
    an entry added or removed between calls traces again (the replay kept the old loop)."""
    fn, change = _containers()[name]
    fast = gg.compile(fn)
    x = np.ones((2, 3))
    for _ in range(5):
        fast(x)
    change()
    for k in range(4):
        got, want = fast(x), fn(x)
        assert got.item() == want.item(), f"call {k} after the change"


def test_a_callable_object_is_read_as_its_bound_call() -> None:
    """gg.compile(obj) on an object with __call__ reads its attributes at every call (a
    replaced weight was the traced one); a functools.partial reaches its function."""
    import functools

    rng = np.random.default_rng(13)

    class Scorer:
        def __init__(self) -> None:
            self.w = gg.tensor(rng.standard_normal((3, 3)), requires_grad=True)

        def __call__(self, x: Any) -> gg.Tensor:
            return (x @ self.w).tanh().sum()

    scorer = Scorer()
    holder = {"w": gg.tensor(rng.standard_normal((3, 2)), requires_grad=True)}

    def loss(x: Any, scale: float) -> gg.Tensor:
        return ((x @ holder["w"]) * scale).sum()

    bound = functools.partial(loss, scale=2.0)
    x = np.ones((2, 3))
    for fn, change in [
        (scorer, lambda: setattr(scorer, "w", gg.tensor(rng.standard_normal((3, 3))))),
        (bound, lambda: holder.__setitem__("w", gg.tensor(rng.standard_normal((3, 2))))),
    ]:
        fast = gg.compile(fn)
        for _ in range(5):
            fast(x)
        change()
        for k in range(3):
            assert fast(x).item() == fn(x).item(), f"call {k} after the change"


class _Layers(nn.Module):
    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.stack = nn.ModuleList([nn.Linear(3, 3, rng=rng) for _ in range(2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(3, 1, rng=rng)})

    def forward(self, x: Any) -> gg.Tensor:
        for layer in self.stack:
            x = layer(x).tanh()
        return sum((h(x).sum() for h in self.heads.values()), start=gg.tensor(0.0))


@pytest.mark.parametrize(
    "change",
    [
        lambda m, r: m.stack.append(nn.Linear(3, 3, rng=r)),
        lambda m, r: m.stack.insert(0, nn.Linear(3, 3, rng=r)),
        lambda m, r: m.heads.__setitem__("b", nn.Linear(3, 1, rng=r)),
        lambda m, r: m.heads.__delitem__("a"),
        lambda m, r: m.stack.add_module("2", nn.Linear(3, 3, rng=r)),
    ],
    ids=["ModuleList.append", "ModuleList.insert", "ModuleDict new key", "ModuleDict del",
         "add_module"],
)  # fmt: skip
def test_a_module_tree_that_changes_traces_again(change: Callable[..., Any]) -> None:
    """A submodule added to or removed from a reached module (a loop over a ModuleList is
    unrolled in the trace) traces again: the replay ran the old layers."""
    rng = np.random.default_rng(14)
    model = _Layers(rng)
    fast = gg.compile(model)
    x = np.ones((2, 3))
    for _ in range(5):
        fast(x)
    change(model, rng)
    for k in range(3):
        assert fast(x).item() == model(x).item(), f"call {k} after the change"


_M = gg.tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)


def _under_no_grad(h: gg.Tensor) -> gg.Tensor:
    with gg.no_grad():
        h += 1.0  # an unrecorded change of a computed tensor
    return h


_IN_PLACE: dict[str, tuple[Callable[[np.ndarray], gg.Tensor], bool]] = {
    "+= a tensor": (lambda x: (lambda h: (h.__iadd__(_M), h * _W)[1])(x * _W).sum(), True),
    "*= a tensor": (lambda x: (lambda h: (h.__imul__(_M), h)[1])(x * _W).sum(), True),
    "-= then /=": (
        lambda x: (lambda h: (h.__isub__(_M * 2.0), h.__itruediv__(_W + 3.0), h)[2])(
            (x * _W).tanh()
        ).sum(),
        True,
    ),
    "+= a number, *= a tensor": (
        lambda x: (lambda h: (h.__iadd__(1.0), h.__imul__(_M), h)[2])(x * _W).sum(),
        True,
    ),
    "fill_": (lambda x: ((lambda h: (h.fill_(_M.sum()), h)[1])(x * _W) * _W).sum(), True),
    "under no_grad": (lambda x: (_under_no_grad(x * _W) * _M).sum(), False),
    "into a tensor made inside": (lambda x: _accumulated(x), True),
}


def _accumulated(x: np.ndarray) -> gg.Tensor:
    total = gg.zeros(())  # made at every call: the program keeps its value before the +=
    h = _M * x
    for r in range(len(x)):
        total += h[r] * _W[r]
    return total


@pytest.mark.parametrize("name", list(_IN_PLACE))
def test_in_place_changes_of_computed_tensors_are_replayed(name: str) -> None:
    """A recorded in-place change (``h *= m``) makes ``h`` the new value for every later
    op of the trace (the replay read ``h`` before the change: ``m`` got no gradient); an
    unrecorded one (under no_grad) runs eagerly."""
    fn, compiles = _IN_PLACE[name]
    fast = gg.compile(fn)
    rng = np.random.default_rng(15)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(5):
            x = rng.standard_normal(3)
            got = []
            for f in (fast, fn):
                out = f(x)
                out.backward()
                got.append(
                    (out.item(), [None if t.grad is None else t.grad.copy() for t in (_W, _M)])
                )
                _W.grad = _M.grad = None
            (a, ga), (b, gb) = got
            assert a == b, f"call {k}"
            for u, v in zip(ga, gb):
                assert (u is None) == (v is None), f"call {k}: a gradient went missing"
                if u is not None:
                    np.testing.assert_array_equal(u, v, err_msg=f"call {k}")
    warned = [c for c in caught if issubclass(c.category, gg.CompileWarning)]
    (entry,) = fast.stats
    assert (entry["eager"] is None) == compiles and bool(warned) != compiles


def _copies() -> dict[str, Callable[[gg.Tensor], gg.Tensor]]:
    import copy

    return {
        "copy.deepcopy": lambda x: (copy.deepcopy(x) * _W).sum(),
        "copy.copy": lambda x: (copy.copy(x) * _W).sum(),
        "gg.tensor": lambda x: (gg.tensor(x) * _W).sum(),
        "detach": lambda x: (x.detach() * _W).sum(),
        "clone": lambda x: (x.clone() * _W).sum(),
        "astype": lambda x: (x.astype(np.float32) * _W).sum(),
        ".data": lambda x: (x.data * _W).sum(),
    }


@pytest.mark.parametrize("name", list(_copies()))
def test_a_copy_of_a_tensor_argument_is_read_at_every_call(name: str) -> None:
    """Every way to copy (or alias) a tensor argument inside the function gives, in the
    replay, the new argument's values — also where the first two calls had equal values,
    which a copy kept as a constant of the trace would pass unnoticed (copy.deepcopy did)."""
    fn = _copies()[name]
    fast = gg.compile(fn)
    rng = np.random.default_rng(16)
    same = rng.standard_normal(3)
    for k, v in enumerate([same, same.copy(), *rng.standard_normal((3, 3))]):
        x = gg.tensor(v)
        assert fast(x).item() == fn(x).item(), f"call {k}"


def test_an_argument_changed_in_place_runs_eagerly() -> None:
    """``x += w`` on an argument changes the caller's tensor, which a replay would not do:
    the function runs eagerly, with a warning, and each call changes its argument as the
    eager call does."""

    def f(x: gg.Tensor) -> gg.Tensor:
        x += _W
        return (x * _M).sum()

    fast = gg.compile(f)
    with pytest.warns(gg.CompileWarning, match="changes an argument"):
        for k in range(4):
            a, b = gg.tensor(np.arange(3.0)), gg.tensor(np.arange(3.0))
            assert fast(a).item() == f(b).item(), f"call {k}"
            np.testing.assert_array_equal(a.data, b.data)
            assert a.is_leaf == b.is_leaf


def test_a_module_passed_as_an_argument_has_its_tensors_guarded() -> None:
    """A module the function gets as an argument is reached through no place: its tensors
    are the traced objects. Replacing one (a parameter, a tensor attribute) traces again;
    the replay used the old one."""
    rng = np.random.default_rng(17)
    lin = nn.Linear(3, 2, rng=rng)
    lin.scale = gg.tensor(np.ones(2))

    def f(x: np.ndarray, m: nn.Linear) -> gg.Tensor:
        return (m(x) * m.scale).sum()

    fast = gg.compile(f)
    x = np.ones((1, 3))
    for change in (
        lambda: setattr(lin, "weight", nn.Parameter(rng.standard_normal((2, 3)))),
        lambda: setattr(lin, "scale", gg.tensor(rng.standard_normal(2))),
        lambda: lin.weight.data.__setitem__(..., 2.0),  # in place: the same object
    ):
        for _ in range(4):
            fast(x, lin)
        change()
        for k in range(3):
            assert fast(x, lin).item() == f(x, lin).item(), f"call {k} after the change"


@pytest.mark.parametrize("collector_on", [True, False])
def test_code_generation_restores_the_garbage_collectors_state(
    collector_on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generation pauses Python's cyclic collector (its passes over the many small objects
    generation makes cost ~30% of a long graph's compile time) and leaves it as it found
    it: on after a compile if it was on, off if the caller had turned it off — also when
    generation fails."""
    import gc

    from graphgrad.compiler import codegen

    w = gg.tensor(np.ones(3), requires_grad=True)
    fast = gg.compile(lambda x: (x * w).sum(), fullgraph=True)
    seen = []
    generate = codegen.generate

    def failing(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        raise gg.CompileError("generation failed")

    try:
        gc.enable() if collector_on else gc.disable()
        for _ in range(2):
            fast(np.arange(3.0)).backward()
        assert fast.compile_seconds > 0 and gc.isenabled() == collector_on
        monkeypatch.setattr(codegen, "generate", failing)
        again = gg.compile(lambda x: (x * w).sum(), fullgraph=True)
        with pytest.raises(gg.CompileError, match="generation failed"):
            for _ in range(2):
                again(np.arange(3.0))
        assert seen == [False] and gc.isenabled() == collector_on
    finally:
        monkeypatch.setattr(codegen, "generate", generate)
        gc.enable()
