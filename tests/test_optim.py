"""Optimizers against their update formulas, parameter groups, clipping, state round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim


def _param(values: list[float]) -> gg.Tensor:
    return nn.Parameter(np.array(values))


def test_sgd_plain_momentum_nesterov_weight_decay() -> None:
    p = _param([1.0, -2.0])
    g1, g2 = np.array([0.5, 1.0]), np.array([-1.0, 0.25])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    expected = p.data.copy()
    buf = None
    for g in (g1, g2):
        p.grad = g.copy()
        opt.step()
        d = g + 0.01 * expected
        buf = d if buf is None else 0.9 * buf + d
        expected = expected - 0.1 * buf
        np.testing.assert_allclose(p.data, expected, rtol=1e-15)
    q = _param([1.0])
    nest = optim.SGD([q], lr=0.1, momentum=0.5, nesterov=True)
    q.grad = np.array([2.0])
    nest.step()
    np.testing.assert_allclose(q.data, [1.0 - 0.1 * (2.0 + 0.5 * 2.0)])


def test_parameter_groups_have_their_own_lr() -> None:
    w, r = _param([1.0]), _param([1.0])
    opt = optim.SGD([{"params": [w]}, {"params": [r], "lr": 0.001}], lr=0.1)
    w.grad, r.grad = np.array([1.0]), np.array([1.0])
    opt.step()
    assert w.data[0] == pytest.approx(0.9) and r.data[0] == pytest.approx(0.999)


def test_adam_rmsprop_adagrad_formulas() -> None:
    g = np.array([0.3, -0.7])
    p = _param([0.5, 0.5])
    opt = optim.Adam([p], lr=0.01)
    m = v = np.zeros(2)
    x = p.data.copy()
    for t in range(1, 4):
        p.grad = g * t
        opt.step()
        m = 0.9 * m + 0.1 * (g * t)
        v = 0.999 * v + 0.001 * (g * t) ** 2
        x = x - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(p.data, x, rtol=1e-12)

    p = _param([0.5, 0.5])
    opt = optim.RMSprop([p], lr=0.01, alpha=0.9)
    p.grad = g.copy()
    opt.step()
    np.testing.assert_allclose(p.data, 0.5 - 0.01 * g / (np.sqrt(0.1 * g * g) + 1e-8))

    p = _param([0.5, 0.5])
    opt = optim.AdaGrad([p], lr=0.1)
    for _ in range(2):
        p.grad = g.copy()
        opt.step()
    np.testing.assert_allclose(
        p.data, 0.5 - 0.1 * g / np.abs(g) - 0.1 * g / np.sqrt(2 * g * g), rtol=1e-9
    )


def test_adamw_decouples_weight_decay_from_the_adam_step() -> None:
    g = np.array([0.3, -0.7])
    p = _param([0.5, -1.5])
    opt = optim.AdamW([p], lr=0.01, weight_decay=0.1)
    m = v = np.zeros(2)
    x = p.data.copy()
    for t in range(1, 4):
        p.grad = g * t
        opt.step()
        x = x * (1 - 0.01 * 0.1)  # the decay, outside the adaptive scaling
        m = 0.9 * m + 0.1 * (g * t)
        v = 0.999 * v + 0.001 * (g * t) ** 2
        x = x - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(p.data, x, rtol=1e-12)
    q = _param([0.5, -1.5])  # Adam's weight_decay is an L2 term: a different update
    adam = optim.Adam([q], lr=0.01, weight_decay=0.1)
    q.grad = g.copy()
    adam.step()
    r = _param([0.5, -1.5])
    adamw = optim.AdamW([r], lr=0.01, weight_decay=0.1)
    r.grad = g.copy()
    adamw.step()
    assert not np.allclose(q.data, r.data, rtol=1e-9, atol=0)


def _lrs(opt: optim.Optimizer, sched: optim.lr_scheduler.LRScheduler, n: int) -> np.ndarray:
    """The lr of every group at epochs 0 .. n-1 (read before each epoch's step)."""
    out = []
    for _ in range(n):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return np.array(out)


def test_lr_schedules_follow_their_closed_forms() -> None:
    e = np.arange(12)[:, None]
    base = np.array([[0.1, 0.001]])  # two groups (seed 002's lrs): each scales its own

    def make() -> optim.SGD:
        return optim.SGD(
            [{"params": [_param([1.0])]}, {"params": [_param([1.0])], "lr": 0.001}], lr=0.1
        )

    S = optim.lr_scheduler
    o = make()
    np.testing.assert_allclose(
        _lrs(o, S.StepLR(o, step_size=3, gamma=0.5), 12), base * 0.5 ** (e // 3)
    )
    o = make()
    np.testing.assert_allclose(_lrs(o, S.ExponentialLR(o, gamma=0.9), 12), base * 0.9**e)
    o = make()
    cos = 0.01 + (base - 0.01) * (1 + np.cos(np.pi * e / 5)) / 2
    np.testing.assert_allclose(_lrs(o, S.CosineAnnealingLR(o, T_max=5, eta_min=0.01), 12), cos)
    o = make()
    warm = S.LambdaLR(o, [lambda k: min(1.0, (k + 1) / 4), lambda k: 1.0])  # warm-up, constant
    np.testing.assert_allclose(
        _lrs(o, warm, 12), base * np.hstack([np.minimum(1.0, (e + 1) / 4), np.ones_like(e)])
    )
    assert warm.get_last_lr() == [0.1, 0.001]


def test_lr_schedule_resumes_from_its_state_dict() -> None:
    p = _param([1.0])
    opt = optim.SGD([p], lr=0.2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    assert state == {"last_epoch": 3, "base_lrs": [0.2]}
    opt2 = optim.SGD([_param([1.0])], lr=0.2)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.1)
    sched2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == pytest.approx(0.02)
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_reduce_lr_on_plateau_waits_patience_then_cools_down() -> None:
    opt = optim.SGD([{"params": [_param([1.0])]}, {"params": [_param([1.0])], "lr": 0.01}], lr=0.1)
    sched = optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=2, cooldown=1, min_lr=[0.0, 0.004]
    )
    losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.89995, 0.9]
    # bad calls: 0 0 1 2 3→cut, cooling 0, 1 2 3→cut, cooling 0; 0.89995 is within the
    # 1e-4 relative threshold of 0.9: not an improvement
    lrs = []
    for v in losses:
        sched.step(v)
        lrs.append(sched.get_last_lr())
    expected = [[0.1, 0.01]] * 4 + [[0.05, 0.005]] * 4 + [[0.025, 0.004]] * 2  # 0.004: min_lr
    np.testing.assert_allclose(lrs, expected)
    assert sched.best == 0.9 and sched.num_bad_epochs == 0
    sched.step(0.5)  # an improvement resets the count
    assert sched.best == 0.5 and sched.get_last_lr() == pytest.approx([0.025, 0.004])
    resumed = optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=2, cooldown=1, min_lr=[0.0, 0.004]
    )
    resumed.load_state_dict(sched.state_dict())
    assert resumed.state_dict() == sched.state_dict()
    with pytest.raises(ValueError, match="metric is nan"):
        sched.step(float("nan"))
    up = optim.lr_scheduler.ReduceLROnPlateau(
        optim.SGD([_param([1.0])], lr=1.0),
        mode="max",
        patience=0,
        threshold_mode="abs",
        threshold=0.1,
    )
    for acc in (0.5, 0.55, 0.7):  # 0.55 is not 0.1 above 0.5: cut; 0.7 is
        up.step(acc)
    assert up.get_last_lr() == [pytest.approx(0.1)]


def test_lr_schedule_argument_errors() -> None:
    opt = optim.SGD([_param([1.0])], lr=0.1)
    S = optim.lr_scheduler
    with pytest.raises(ValueError, match=r"StepLR: step_size must be an int ≥ 1, got 0"):
        S.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match=r"ExponentialLR: gamma must be > 0, got -0\.5"):
        S.ExponentialLR(opt, gamma=-0.5)
    with pytest.raises(ValueError, match="T_max must be > 0"):
        S.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="one per parameter group"):
        S.LambdaLR(opt, [lambda e: 1.0, lambda e: 0.5])
    with pytest.raises(TypeError, match="schedules an optimizer's lr; got list"):
        S.StepLR([], step_size=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\), got 2"):
        S.ReduceLROnPlateau(opt, factor=2)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        S.ReduceLROnPlateau(opt, mode="minimum")
    with pytest.raises(ValueError, match="min_lr must be a number ≥ 0 or a list of 1"):
        S.ReduceLROnPlateau(opt, min_lr=[0.0, 0.1])


def test_zero_grad_can_fill_zeros_in_place() -> None:
    model = nn.Linear(2, 1, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = np.array([[1.0, 2.0]])
    model(x).sum().backward()
    first = model.weight.grad.copy()
    buffer = model.weight.grad
    opt.zero_grad(set_to_none=False)  # PyTorch's grad.zero_()
    assert model.weight.grad is buffer and not buffer.any()
    model(x).sum().backward()
    model(x).sum().backward()
    np.testing.assert_array_equal(model.weight.grad, 2 * first)  # accumulates from zero
    model.zero_grad(set_to_none=False)
    assert not model.weight.grad.any() and not model.bias.grad.any()
    model.zero_grad()
    assert model.weight.grad is None


def test_step_skips_params_without_grad_and_zero_grad_clears() -> None:
    a, b = _param([1.0]), _param([1.0])
    opt = optim.Adam([a, b])
    a.grad = np.array([1.0])
    opt.step()
    assert b.data[0] == 1.0 and a.data[0] != 1.0
    opt.zero_grad()
    assert a.grad is None


def test_optimizer_argument_errors() -> None:
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match=r"does not require grad.*if p.requires_grad\]"):
        optim.SGD([gg.tensor([1.0])], lr=0.1)
    p = _param([1.0])
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="unknown hyperparameter"):
        optim.SGD([{"params": [p], "learning_rate": 0.1}], lr=0.1)
    with pytest.raises(ValueError, match="lr must be ≥ 0"):
        optim.Adam([p], lr=-1.0)
    with pytest.raises(ValueError, match="output of Mul, not a leaf"):
        optim.SGD([p * 2], lr=0.1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: optim.SGD([p], lr=float("nan")), "lr must be ≥ 0, got nan"),
        (lambda p: optim.SGD([p], lr=0.1, momentum=-0.9), "momentum must be ≥ 0"),
        (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "nesterov=True needs a momentum"),
        (lambda p: optim.SGD([p], lr=0.1, momentum=0.9, nesterov="no"), "must be True or False"),
        (lambda p: optim.SGD([{"params": [p], "weight_decay": -1}], lr=0.1), "weight_decay"),
        (lambda p: optim.Adam([p], betas=(1.0, 0.999)), r"betas must be in \[0, 1\)"),
        (lambda p: optim.Adam([p], betas=(0.9,)), "betas must be a pair"),
        (lambda p: optim.Adam([p], eps=-1e-8), "eps must be ≥ 0"),
        (lambda p: optim.RMSprop([p], alpha=1.5), r"alpha must be in \[0, 1\]"),
        (lambda p: optim.AdaGrad([p], initial_accumulator_value=-1), "initial_accumulator"),
    ],
)
def test_hyperparameters_out_of_range_are_refused(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        make(_param([1.0]))


def test_loading_a_state_with_bad_hyperparameters_changes_nothing() -> None:
    p = _param([1.0])
    opt = optim.Adam([p], lr=0.01)
    state = opt.state_dict()
    state["param_groups"][0]["betas"] = (0.9, 1.5)
    with pytest.raises(ValueError, match="betas"):
        opt.load_state_dict(state)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)


def test_a_single_tensor_is_one_parameter_not_its_rows() -> None:
    p = _param([[1.0, 2.0], [3.0, 4.0]])
    opt = optim.SGD(p, lr=0.5)
    assert opt.param_groups[0]["params"] == [p]
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.data, [[0.0, 0.0], [0.0, 0.0]])


def test_clip_grad_norm_returns_total_norm_and_scales_jointly() -> None:
    a, b = _param([0.0, 0.0]), _param([0.0])
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), [0.6, 0.0, 0.8], rtol=1e-6)
    assert nn.utils.clip_grad_norm_([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(a.grad, [0.6, 0.0], rtol=1e-6)  # below the limit: unchanged
    a.grad = np.array([-7.0, 2.0])
    assert nn.utils.clip_grad_norm_([a], 1.0, norm_type=float("inf")) == 7.0
    a.grad = np.array([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="total gradient norm is inf"):
        nn.utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)


def test_clip_grad_value() -> None:
    a = _param([0.0, 0.0, 0.0])
    a.grad = np.array([-3.0, 0.5, 2.0])
    nn.utils.clip_grad_value_([a], 1.0)
    np.testing.assert_array_equal(a.grad, [-1.0, 0.5, 1.0])


def _train(model: nn.Module, opt: optim.Optimizer, steps: int, rng: np.random.Generator) -> None:
    for _ in range(steps):
        x = rng.standard_normal((4, 3, 2))
        out, _ = model(x)
        loss = (out * out).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.01),
    lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5),
    lambda ps: optim.AdaGrad(ps, lr=0.1),
])  # fmt: skip
def test_resume_from_saved_state_is_bit_identical(make, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = nn.LSTM(2, 3, rng=0, batch_first=True)
    opt = make(model.parameters())
    _train(model, opt, 3, np.random.default_rng(1))
    gg.save({"model": model.state_dict(), "optim": opt.state_dict()}, tmp_path / "ckpt.npz")
    _train(model, opt, 4, np.random.default_rng(2))
    reference = model.state_dict()

    resumed = nn.LSTM(2, 3, rng=99, batch_first=True)
    opt2 = make(resumed.parameters())
    ckpt = gg.load(tmp_path / "ckpt.npz")
    resumed.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optim"])
    _train(resumed, opt2, 4, np.random.default_rng(2))
    for k, v in resumed.state_dict().items():
        np.testing.assert_array_equal(v, reference[k])


def _lbfgs_problem() -> tuple[list[gg.Tensor], Any]:
    rng = np.random.default_rng(3)
    A, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    w = gg.tensor(np.zeros(3), requires_grad=True)
    b = gg.tensor(np.zeros(1), requires_grad=True)

    def loss_of() -> gg.Tensor:
        r = A @ w + b - y
        return (r * r).sum() + (w**4).sum()  # not quadratic: several iterations

    return [w, b], loss_of


def test_lbfgs_resumes_bit_identically_from_its_saved_state(tmp_path: Path) -> None:
    def run(opt: Any, params: list[gg.Tensor], loss_of: Any, steps: int) -> None:
        def closure() -> gg.Tensor:
            opt.zero_grad()
            loss = loss_of()
            loss.backward()
            return loss

        for _ in range(steps):
            opt.step(closure)

    for fn in (None, "strong_wolfe"):
        params, loss_of = _lbfgs_problem()
        opt = optim.LBFGS(params, lr=0.5, max_iter=3, history_size=2, line_search_fn=fn)
        run(opt, params, loss_of, 2)
        gg.save({"p": [p.data for p in params], "o": opt.state_dict()}, tmp_path / "c.npz")
        run(opt, params, loss_of, 3)
        reference = [p.data.copy() for p in params]

        params2, loss_of2 = _lbfgs_problem()
        ckpt = gg.load(tmp_path / "c.npz")
        for p, v in zip(params2, ckpt["p"]):
            p.data[...] = v
        opt2 = optim.LBFGS(params2, lr=0.5, max_iter=3, history_size=2, line_search_fn=fn)
        opt2.load_state_dict(ckpt["o"])
        run(opt2, params2, loss_of2, 3)
        for p, r in zip(params2, reference):
            np.testing.assert_array_equal(p.data, r)


def test_lbfgs_argument_errors() -> None:
    params, _ = _lbfgs_problem()
    with pytest.raises(TypeError, match="needs a closure"):
        optim.LBFGS(params).step()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": params[:1]}, {"params": params[1:]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS(params, line_search_fn="armijo")
    with pytest.raises(ValueError, match="max_iter must be a positive int"):
        optim.LBFGS(params, max_iter=0)
    opt = optim.LBFGS(params)
    state = {
        "state": {3: {"n_iter": 1, "func_evals": 1}},
        "param_groups": opt.state_dict()["param_groups"],
    }
    with pytest.raises(gg.StateDictError):
        opt.load_state_dict(state)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.01), lambda ps: optim.Adam(ps), lambda ps: optim.AdamW(ps),
    lambda ps: optim.RMSprop(ps), lambda ps: optim.Adagrad(ps), lambda ps: optim.LBFGS(ps),
])  # fmt: skip
def test_step_with_a_closure_records_even_under_no_grad_and_returns_its_loss(make: Any) -> None:
    params, loss_of = _lbfgs_problem()
    opt = make(params)

    def closure() -> gg.Tensor:
        opt.zero_grad()
        loss = loss_of()
        loss.backward()  # would raise if recording were off
        return loss

    first = loss_of().item()
    with gg.no_grad():
        returned = opt.step(closure)
    assert returned.item() == pytest.approx(first)
    assert loss_of().item() < first


def test_one_cycle_refuses_steps_past_its_total_and_bad_arguments() -> None:
    w = gg.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    lrs = []
    for _ in range(3):  # PyTorch's values, the third past the schedule's end included
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.46263710266697505, 1.0 / 25 / 1e4, 0.4626371026669753])
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()
    with pytest.raises(ValueError, match="total_steps, or epochs and steps_per_epoch"):
        optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy"):
        optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="pct_start"):
        optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5, pct_start=1.5)
