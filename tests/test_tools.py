"""Tools for debugging models: graph pictures, anomaly detection, gradient flow,
check_module."""

from __future__ import annotations

import re
import shutil
from typing import Any

import numpy as np
import pytest
from test_function import Cube, WrongCube

import graphgrad as gg
from graphgrad import diagnostics, nn, testing, viz
from graphgrad.nn import functional as F
from graphgrad.nn import init


# ------------------------------------------------------------------ viz
def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A minimal DOT reader: node statements and edges of graphgrad's output."""
    assert text.startswith("digraph graphgrad {") and text.rstrip().endswith("}")
    nodes = dict(re.findall(r'^  (\w+) \[label="(.*?)"', text, flags=re.M))
    edges = re.findall(r"^  (\w+) -> (\w+)", text, flags=re.M)
    assert all(a in nodes and b in nodes for a, b in edges)
    return nodes, edges


def recorded(t: gg.Tensor) -> tuple[int, int]:
    """Vertices and edges of the recorded graph, counted independently of viz."""
    seen, stack, edges = {id(t._node)}, [t._node], 0
    while stack:
        v = stack.pop()
        if isinstance(v, gg.Tensor):
            continue
        for x in v.inputs:
            if x is not None:
                edges += 1
                if id(x) not in seen:
                    seen.add(id(x))
                    stack.append(x)
    return len(seen), edges


def test_dot_of_an_mlp_matches_the_recorded_graph() -> None:
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    loss = F.cross_entropy(model(np.ones((5, 3))), np.array([0, 1, 0, 1, 1]))
    nodes, edges = parse_dot(viz.to_dot(loss, params=model))
    # 8 ops (linear, relu, linear, log_softmax, getitem, neg, sum, div), 4 parameters,
    # and the output; 11 input edges plus the edge to the output.
    assert (len(nodes), len(edges)) == (13, 12)
    v, e = recorded(loss)
    assert (len(nodes), len(edges)) == (v + 1, e + 1)
    labels = "\n".join(nodes.values())
    assert "0.weight\\n(4, 3) float64" in labels and "Linear\\n(5, 4)" in labels


def test_dot_of_an_rnn_and_collapsing_the_time_steps() -> None:
    rnn = nn.ElmanRNN(2, 3, rng=0, batch_first=True)
    out, _ = rnn(np.ones((1, 6, 2)))
    loss = out.sum()
    nodes, edges = parse_dot(viz.to_dot(loss, params=rnn))
    v, e = recorded(loss)
    assert (len(nodes), len(edges)) == (v + 1, e + 1)
    small, _ = parse_dot(viz.to_dot(loss, collapse=True))
    longer, _ = rnn(np.ones((1, 12, 2)))
    small_longer, _ = parse_dot(viz.to_dot(longer.sum(), collapse=True))
    assert len(small) == len(small_longer) < len(nodes) / 1.5  # does not grow with T
    assert any(label.startswith("Tanh\\n(1, 3)\\n×6") for label in small.values())
    capped, _ = parse_dot(viz.to_dot(loss, max_nodes=5))
    assert "cut" in capped and f"{v - 5} more vertices not shown" in capped["cut"]


def test_dot_shows_gradient_norms_and_refuses_released_graphs() -> None:
    w = gg.tensor(np.full((2, 2), 0.5), requires_grad=True)
    y = (w * 3).sum()
    y.backward(retain_graph=True)
    assert "‖grad‖ = 6" in viz.to_dot(y, show_grads=True, params={"w": w})
    y2 = (w * 2).sum()
    y2.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.to_dot(y2)


def test_collapsed_lstm_keeps_its_gates_apart_and_shows_in_a_notebook(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    layer = nn.LSTM(3, 4, batch_first=True, rng=0)
    out, _ = layer(np.ones((2, 5, 3)))
    dot = viz.to_dot(out.sum(), collapse=True)
    assert isinstance(dot, str)  # DOT text, as before
    blocks = re.findall(r"GetItem (\[\.\.\., [^\]]*\])", dot)
    # the gate blocks of the (N, 4H) pre-activation stay distinct boxes, each ×T
    assert len(set(blocks)) == len(blocks) >= 4
    assert "GetItem [..., :4]" in dot and "GetItem [..., 8:12]" in dot
    # each gate is named (PyTorch's order i, f, g, o), and ops name the parameters they read
    for gate in ("gate i", "gate f", "gate g", "gate o"):
        assert dot.count(f'label="{gate}\\n') == 1, gate
    named = viz.to_dot(out.sum(), collapse=True, params=layer)
    assert "· weight_hh_l0" in named and "· weight_ih_l0" in named
    gru = nn.GRU(3, 4, batch_first=True, rng=0)
    gdot = viz.to_dot(gru(np.ones((2, 5, 3)))[0].sum(), collapse=True)
    assert all(f'label="{g}\\n' in gdot for g in ("gate r", "gate z", "candidate n"))
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    assert dot._repr_svg_() is None  # no Graphviz: the notebook shows the text


def test_render_says_how_to_install_graphviz(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    y = (gg.tensor([1.0], requires_grad=True) * 2).sum()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        viz.render(y, tmp_path / "g.svg")
    monkeypatch.undo()
    if shutil.which("dot"):
        assert viz.render(y, tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")


# ------------------------------------------------------------------ anomaly detection
def test_detect_anomaly_names_log_of_zero_in_forward() -> None:
    x = gg.tensor([1.0, 0.0, 2.0], requires_grad=True)
    with pytest.raises(
        gg.AnomalyError, match=r"^Log produced inf in its forward pass .*test_tools\.py:\d+"
    ):
        with gg.detect_anomaly(), np.errstate(divide="ignore"):
            (x * 2).log().sum()
    assert gg.Function.__dict__["apply"] is not None
    y = (x + 1).log()  # outside the context: NumPy semantics, no error
    assert np.isfinite(y.data).all()


def test_detect_anomaly_names_the_op_producing_nan_in_backward() -> None:
    x = gg.tensor([1.0, 0.0], requires_grad=True)
    with gg.detect_anomaly(), np.errstate(all="ignore"):
        z = (x**0.5 * 0.0 + x).sum()  # forward finite; d√x/dx at 0 is inf, times 0: NaN
        with pytest.raises(gg.AnomalyError) as info:
            z.backward()
    msg = str(info.value)
    assert msg.startswith("Pow produced nan in its backward pass") and "test_tools.py" in msg


def test_detect_anomaly_is_quiet_when_all_is_finite_and_restores_the_fast_path() -> None:
    plain = gg.Function.apply
    x = gg.tensor([0.5, 1.5], requires_grad=True)
    with gg.detect_anomaly(), gg.detect_anomaly():
        (x.log() * x).sum().backward()
    assert gg.Function.apply == plain and not gg.core.grad_mode.anomaly_on[0]
    np.testing.assert_allclose(x.grad, np.log(x.data) + 1)


# ------------------------------------------------------------------ gradient flow
def _scaled_rnn(radius: float, nonlinearity: str, H: int = 6) -> nn.ElmanRNN:
    rnn = nn.ElmanRNN(2, H, nonlinearity=nonlinearity, rng=0, batch_first=True)
    init.orthogonal_(rnn.cells[0].V, gain=radius, rng=1)  # every singular value = radius
    return rnn


def _last_step_loss(d: np.ndarray) -> Any:
    return lambda out: (out[:, -1] * d).sum()  # L = ⟨d(T)|h(T)⟩, seed 003


def test_gradient_flow_decays_geometrically_for_radius_half() -> None:
    x = np.random.default_rng(0).standard_normal((3, 12, 2)) * 0.5
    d = np.random.default_rng(1).standard_normal((3, 6))
    flow = diagnostics.gradient_flow(_scaled_rnn(0.5, "tanh"), x, _last_step_loss(d))
    norms = flow.hidden_grad_norms[0]
    ratios = norms[:-1] / norms[1:]  # ‖∂L/∂h_t‖ / ‖∂L/∂h_{t+1}‖
    assert np.all(ratios <= 0.5 + 1e-9) and np.all(ratios > 0.2)
    assert flow.decay_per_step() < 0.5 + 1e-9
    assert flow.spectral_radius[0] == pytest.approx(0.5) and flow.largest_singular_value[
        0
    ] == pytest.approx(0.5)
    linear = diagnostics.gradient_flow(_scaled_rnn(0.5, "linear"), x, _last_step_loss(d))
    np.testing.assert_allclose(
        linear.hidden_grad_norms[0][:-1] / linear.hidden_grad_norms[0][1:], 0.5, rtol=1e-9
    )


def test_plot_gradient_flow_returns_a_figure_and_leaves_the_backend_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    matplotlib = pytest.importorskip("matplotlib")
    backend = matplotlib.get_backend()
    x = np.random.default_rng(0).standard_normal((3, 12, 2)) * 0.5
    d = np.random.default_rng(1).standard_normal((3, 6))
    flows = {"ρ = 0.5": diagnostics.gradient_flow(_scaled_rnn(0.5, "tanh"), x, _last_step_loss(d))}
    fig = diagnostics.plot_gradient_flow(flows, tmp_path / "flow.png")
    assert (tmp_path / "flow.png").stat().st_size > 0
    assert matplotlib.get_backend() == backend  # a notebook's inline backend stays
    (line,) = fig.axes[0].get_lines()
    assert line.get_label() == "ρ = 0.5"
    from matplotlib.figure import Figure

    theirs = Figure()
    ax = theirs.add_subplot()
    assert diagnostics.plot_gradient_flow(flows, ax=ax) is theirs and len(ax.get_lines()) == 1


def test_gradient_flow_grows_for_radius_one_and_a_half_linear() -> None:
    x = np.random.default_rng(0).standard_normal((3, 12, 2))
    d = np.random.default_rng(1).standard_normal((3, 6))
    flow = diagnostics.gradient_flow(_scaled_rnn(1.5, "linear"), x, _last_step_loss(d))
    norms = flow.hidden_grad_norms[0]
    np.testing.assert_allclose(norms[:-1] / norms[1:], 1.5, rtol=1e-9)
    assert flow.decay_per_step() == pytest.approx(1.5)


def test_gradient_flow_equals_retained_gradients_computed_directly() -> None:
    rnn = _scaled_rnn(0.9, "tanh")
    cell = rnn.cells[0]
    x = np.random.default_rng(2).standard_normal((2, 7, 2))
    d = np.random.default_rng(3).standard_normal((2, 6))
    target = np.random.default_rng(4).standard_normal((2, 7, 6))

    def loss_fn(out: gg.Tensor) -> gg.Tensor:
        return F.squared_error(out, target) + (out[:, -1] * d).sum()

    flow = diagnostics.gradient_flow(rnn, x, loss_fn)
    hs, h = [], None
    for t in range(7):  # the same model unrolled by hand, keeping ∂L/∂h_t with retain_grad
        h = cell(x[:, t], h)
        h.retain_grad()
        hs.append(h)
    loss_fn(gg.stack(hs, axis=1)).backward()
    np.testing.assert_allclose(
        flow.hidden_grad_norms[0], [np.linalg.norm(h.grad) for h in hs], rtol=1e-10
    )
    assert flow.parameter_grad_norms["cells.0.V"] == pytest.approx(np.linalg.norm(cell.V.grad))


def test_gradient_flow_on_gated_and_stacked_layers() -> None:
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    for layer in (
        nn.LSTM(3, 4, num_layers=2, rng=0, batch_first=True),
        nn.GRU(3, 4, rng=0, batch_first=True),
    ):
        flow = diagnostics.gradient_flow(layer, x, lambda out: out[:, -1].sum())
        assert flow.hidden_grad_norms.shape == (layer.num_layers, 5)
        assert np.all(flow.hidden_grad_norms > 0) and flow.largest_singular_value.shape == (
            layer.num_layers,
        )
        assert all(p.grad is None for p in layer.parameters())  # nothing accumulated


# ------------------------------------------------------------------ check_module
class CubeLayer(nn.Module):
    def __init__(self, d: int, rng: np.random.Generator, op: type = Cube) -> None:
        super().__init__()
        self.lin = nn.Linear(d, d, rng=rng)
        self.op = op

    def forward(self, x: Any) -> gg.Tensor:
        return self.op.apply(self.lin(x))


def test_check_module_passes_on_lstm_and_a_correct_custom_layer() -> None:
    testing.check_module(
        lambda rng: nn.LSTM(3, 2, rng=rng, batch_first=True),
        [(2, 3, 3)],
        max_examples=3,
        fast_mode=True,
    )
    testing.check_module(
        lambda rng: CubeLayer(3, rng),
        [testing.shapes(2, 2, 1, 3).map(lambda s: (*s, 3))],
        max_examples=4,
        check_second_order=True,
    )


def test_check_module_fails_on_a_layer_with_a_wrong_backward() -> None:
    with pytest.raises(gg.GradcheckError, match="Jacobian mismatch"):
        testing.check_module(lambda rng: CubeLayer(3, rng, WrongCube), [(2, 3)], max_examples=3)
