"""Tensor basics: construction, dtype rules, NumPy interop, repr, comparisons."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphgrad as gg


def test_construction_copies_and_from_numpy_shares() -> None:
    a = np.array([1.0, 2.0])
    t = gg.tensor(a)
    a[0] = 99.0
    assert t.data[0] == 1.0
    s = gg.from_numpy(a)
    a[1] = -1.0
    assert s.data[1] == -1.0
    assert gg.Tensor([1, 2]).dtype == np.int64
    assert gg.tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert gg.tensor(3.5).shape == () and gg.tensor(3.5).item() == 3.5


def test_data_is_live() -> None:
    p = gg.tensor(np.zeros(3), requires_grad=True)
    p.data[...] = 1.0
    assert (p * 2).data.tolist() == [2.0, 2.0, 2.0]


def test_dtype_follows_data_and_python_scalars_do_not_upcast() -> None:
    x = gg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + 1) / 3.0 - 0.5
    y = y**2 @ x
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_mixed_precision_gradient_is_cast_to_the_leaf_dtype() -> None:
    x = gg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x * np.ones(3)  # a float64 constant promotes the result, as in NumPy
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_numpy_interop() -> None:
    t = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    c = gg.tensor([1.0, 2.0])
    assert np.asarray(c) is c.data and c.numpy() is c.data  # a constant: its array, shared
    # as in PyTorch, a tensor that requires grad is not silently turned into a constant
    with pytest.raises(TypeError, match=r"requires grad.*constant array"):
        np.asarray(t)
    with pytest.raises(RuntimeError, match=r"t\.detach\(\)\.numpy\(\)"):
        t.numpy()
    assert t.detach().numpy() is t.data
    assert np.allclose(t, [[1, 2], [3, 4]])
    assert np.isnan(t).sum() == 0
    # Differentiable NumPy functions dispatch to graphgrad ops and record the graph.
    for y in (
        np.exp(t),
        np.sum(t, axis=0),
        np.concatenate([t, t]),
        np.arange(2.0) @ t,
        np.ones(2) * t,
        np.transpose(t),
        np.mean(t),
        np.tanh(t),
        np.square(t),
        np.clip(t, 1.5, 3.5),
        np.maximum(t, 2.0),
        np.minimum(1.0, t),
    ):
        assert isinstance(y, gg.Tensor) and y.requires_grad
    (np.ones(2) * t).sum().backward()
    np.testing.assert_array_equal(t.grad, np.ones((2, 2)))
    t.grad = None
    (np.square(t) + np.clip(t, 1.5, 3.5)).sum().backward()
    np.testing.assert_array_equal(t.grad, 2 * t.data + [[0, 1], [1, 0]])


def test_repr() -> None:
    assert repr(gg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(gg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    y = gg.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<Mul>)"
    assert "dtype=float32" in repr(gg.tensor([1.0], dtype=np.float32))
    assert repr(gg.tensor([[1.0, 2.0], [3.0, 4.0]])) == ("tensor([[1., 2.],\n        [3., 4.]])")


def test_format_spec_applies_to_one_element_tensors() -> None:
    loss = (gg.tensor([1.0, 2.0], requires_grad=True) ** 2).sum()
    assert f"loss {loss:.3f}" == "loss 5.000"  # the training-loop print
    assert f"{gg.tensor([2.5], dtype=np.float32):>6.2f}" == "  2.50"
    assert f"{gg.tensor([1.0, 2.0])}" == "tensor([1., 2.])"  # no spec: str
    with pytest.raises(TypeError, match=r"one-element tensor.*shape \(2,\)"):
        f"{gg.tensor([1.0, 2.0]):.2f}"


def test_names_from_pytorch_and_ndarray_say_what_to_use() -> None:
    t = gg.tensor([[1.0, -2.0]], requires_grad=True)
    for name, advice in [
        ("clamp", "t.clip(low, high)"),
        ("permute", "t.transpose"),
        ("argmax", "t.data.argmax(...)"),
        ("cumsum", "outside the graph"),
        ("add_", "t += a * x"),
        ("mul_", "t *= x"),
        ("zero_", "t.fill_(0)"),
        ("copy_", "t.data[...] = src"),
        ("uniform_", "nn.init.uniform_(t, a, b)"),
        ("cuda", "CPU only"),
    ]:
        with pytest.raises(AttributeError, match=re.escape(advice)):
            getattr(t, name)
        assert not hasattr(t, name)
    # the advice is runnable
    np.testing.assert_array_equal(t.clip(-1, 1).data, [[1.0, -1.0]])
    assert gg.cat([t, t], dim=1).shape == (1, 4)  # PyTorch's name, PyTorch's meaning
    with pytest.raises(AttributeError, match=re.escape("gg.tensor(np.arange(...))")):
        gg.arange(3)
    with pytest.raises(AttributeError, match=r"'no_such_thing'$"):
        _ = t.no_such_thing
    with pytest.raises(AttributeError, match=r"'no_such_thing'$"):
        _ = gg.no_such_thing


def test_comparisons_are_boolean_and_not_recorded() -> None:
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    assert (x == x).data.all() and not (x != x).data.any()
    assert ((x * m).sum()).item() == 5.0


def test_len_iter_item_float() -> None:
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert len(x) == 2
    rows = list(x)
    assert [r.shape for r in rows] == [(2,), (2,)]
    sum(r.sum() for r in rows).backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 2)))
    assert float(gg.tensor(2.5)) == 2.5
    with pytest.raises(TypeError):
        iter(gg.tensor(1.0))


def test_shape_helpers() -> None:
    x = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.T.shape == (3, 2)
    assert x.transpose(1, 0).shape == (3, 2) and x.transpose((1, 0)).shape == (3, 2)
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.flatten().shape == (6,) and x.unsqueeze(0).shape == (1, 2, 3)
    assert x.unsqueeze(0).squeeze(0).shape == (2, 3) and x.swapaxes(0, 1).shape == (3, 2)
    with pytest.raises(gg.ShapeError, match=r"squeeze: axis 0 of shape \(2, 3\)"):
        x.squeeze(0)
    assert x.broadcast_to((4, 2, 3)).shape == (4, 2, 3)
    assert x.min().item() == 0.0 and x.sqrt().shape == (2, 3)


def test_requires_grad_and_leaf_flags() -> None:
    x = gg.tensor([1.0])
    assert x.is_leaf and not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None
    assert y.detach().is_leaf


def test_an_untracked_op_output_can_become_a_leaf() -> None:
    # Outputs of ops that recorded nothing (constant inputs, no_grad) are created without the
    # .grad slot; switching requires_grad on must make them full leaves.
    x = gg.tensor([1.0, 2.0])
    y = x * 2
    with gg.no_grad():
        z = gg.tensor([3.0], requires_grad=True) * 3
    for leaf in (y, z):
        assert leaf.grad is None
        leaf.requires_grad_()
        (leaf * leaf).sum().backward()
        np.testing.assert_allclose(leaf.grad, 2 * leaf.data)
        (leaf * leaf).sum().backward()  # accumulates
        np.testing.assert_allclose(leaf.grad, 4 * leaf.data)


def test_abs_values_gradient_and_its_convention_at_zero() -> None:
    x = gg.tensor([-2.0, -0.5, 0.0, 0.75], requires_grad=True)
    y = x.abs()
    np.testing.assert_array_equal(y.data, np.abs(x.data))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, -1.0, 0.0, 1.0])  # |x|'(0) = 0, from relu'(0) = 0
    assert gg.gradcheck(lambda t: t.abs(), (gg.tensor([-1.5, 0.3, 2.0], requires_grad=True),))
    for spelled in (abs(x), np.abs(x), np.absolute(x)):  # the builtin and NumPy record it too
        x.grad = None
        spelled.sum().backward()
        np.testing.assert_array_equal(x.grad, [-1.0, -1.0, 0.0, 1.0])


def test_numpy_keywords_graphgrad_cannot_honour_are_refused() -> None:
    t = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with pytest.raises(TypeError, match="order='C'"):
        np.reshape(t, (3, 2), order="F")
    with pytest.raises(TypeError, match=r"axis= only.*'out'"):
        np.concatenate([t, t], out=np.empty((4, 3)))
    assert np.reshape(t, (3, 2)).shape == (3, 2) and np.stack([t, t], axis=1).shape == (2, 2, 3)


def test_ufunc_out_naming_a_tensor_is_an_in_place_write() -> None:
    c = gg.tensor([1.0, 2.0])
    assert np.add(c, 1.0, out=c) is c and np.multiply(c, 2.0, out=(c,)) is c
    np.testing.assert_array_equal(c.data, [4.0, 6.0])
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"out=t.*t \+= x.*no_grad"):
        np.add(w, 1.0, out=w)  # used to recurse until RecursionError
    with pytest.raises(TypeError, match="no_grad"):
        np.add(c, w, out=c)  # would need recording: w requires grad
    with gg.no_grad():
        np.subtract(w, 0.5, out=w)
    np.testing.assert_array_equal(w.data, [0.5, 1.5])
    assert w.is_leaf and w.requires_grad


def test_np_dot_is_matmul_for_vectors_and_matrices() -> None:
    v = gg.tensor([1.0, 2.0], requires_grad=True)
    W = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.dot(np.dot(v, W), np.ones(3)).backward()
    np.testing.assert_array_equal(v.grad, W.data.sum(axis=1))
    np.testing.assert_array_equal(W.grad, np.outer(v.data, np.ones(3)))
    assert np.dot(2.0, v).requires_grad
    with pytest.raises(TypeError, match=r"np\.matmul"):
        np.dot(np.ones((2, 2, 2)), v)


def test_refusal_names_submodule_functions_as_written() -> None:
    with pytest.raises(
        TypeError, match=r"np\.linalg\.norm \(on Tensor .*\) is not a graphgrad operation"
    ):
        np.linalg.norm(gg.tensor([3.0, 4.0], requires_grad=True))
    assert np.linalg.norm(gg.tensor([3.0, 4.0])) == 5.0  # nothing to differentiate: allowed


def test_cast_gradient_is_cast_back() -> None:
    x = gg.tensor([0.5, -1.5], requires_grad=True)
    assert gg.gradcheck(lambda t: (t.astype(np.float64) * 3.0).sum(), (x,))
    y = gg.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (y.astype(np.float64) * 2.0).sum().backward()
    assert y.grad.dtype == np.float32 and np.array_equal(y.grad, [2.0, 2.0])


def test_deepcopy_copies_a_leaf_and_refuses_a_computed_tensor() -> None:
    """copy.deepcopy as PyTorch's: a leaf of the same class with its own copy of the
    values, the flag and .grad (shared objects stay shared, through the memo); a tensor an
    op computed raises (its graph is not copied)."""
    import copy

    from graphgrad import nn

    lin = nn.Linear(3, 2, rng=0)
    lin.weight.grad = np.ones((2, 3))
    tied = {"a": lin.weight, "b": lin.weight, "x": gg.tensor([1.0, 2.0])}
    got = copy.deepcopy(tied)
    w = got["a"]
    assert got["b"] is w and type(w) is type(lin.weight) and w.requires_grad
    assert w.is_leaf and not got["x"].requires_grad
    for new, old in ((w.data, lin.weight.data), (w.grad, lin.weight.grad)):
        np.testing.assert_array_equal(new, old)
        assert not np.shares_memory(new, old)
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        copy.deepcopy(lin(np.ones((1, 3))))
