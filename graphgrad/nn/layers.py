"""Feed-forward layers: ``Linear``, activations, ``Dropout``, ``Embedding``, ``LayerNorm``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad import ops, runtime
from graphgrad.core.tensor import Tensor, shape_of
from graphgrad.errors import ShapeError
from graphgrad.nn import init
from graphgrad.nn.functional import _dropout_probability, dropout, layer_norm
from graphgrad.nn.module import Module, Parameter
from graphgrad.random import get_rng


def check_features(
    layer: Module, x: Any, size: int, what: str = "input", weight: Tensor | None = None
) -> None:
    """Raise a ShapeError naming the layer when the last axis of ``x`` is not ``size``, and
    (given the layer's ``weight``) a TypeError when a floating ``x`` has another dtype:
    PyTorch refuses mixed dtypes, and NumPy would silently compute in the wider one."""
    shape = shape_of(x)
    if len(shape) == 0 or shape[-1] != size:
        raise ShapeError(
            f"{type(layer).__name__}: expected {what} with last axis {size}, got shape {shape}"
        )
    if weight is not None:
        dt = x.data.dtype if isinstance(x, Tensor) else getattr(x, "dtype", None)
        if dt is not None and dt.kind == "f" and dt != weight.data.dtype:
            w = weight.data.dtype
            raise TypeError(
                f"{type(layer).__name__}: {what} has dtype {dt} but the parameters have {w} "
                f"(PyTorch refuses mixed dtypes too): cast the {what} (x.astype(np.{w})) or "
                f"the model (model.to(np.{dt}))"
            )


class Linear(Module):
    """Y = X Wᵀ + b, PyTorch's ``nn.Linear``.   X (..., in_features) -> Y (..., out_features).

    ``weight`` has PyTorch's shape (out_features, in_features), so a PyTorch state dict
    loads as it is and weight tying (``decoder.weight = embedding.weight``) works. In the
    seeds' notation Y = XW + b (seed 004) the matrix W is ``weight.T``, so ∂E/∂W = Xᵀ ∂E/∂Y
    arrives in ``weight.grad`` as its transpose, (∂E/∂Y)ᵀ X, computed as that one product
    in the weight's own layout (``ops.Linear``). Init as in PyTorch: W, b ~ U(−k, k),
    k = 1/√in_features.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        device: Any = None,
        dtype: Any = None,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        runtime.check_device(device or "cpu", "Linear")
        dtype = runtime.resolve_dtype(dtype)
        self.in_features, self.out_features = in_features, out_features
        rng = get_rng(rng)
        k = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(np.zeros((out_features, in_features)), dtype=dtype)
        init.uniform_(self.weight, -k, k, rng)
        self.bias = None
        if bias:
            self.bias = Parameter(np.zeros(out_features), dtype=dtype)
            init.uniform_(self.bias, -k, k, rng)

    def forward(self, x: Any) -> Tensor:
        check_features(self, x, self.in_features, weight=self.weight)
        if self.bias is None:
            return ops.Linear.apply(x, self.weight)
        return ops.Linear.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Tanh(Module):
    """tanh, elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.Tanh.apply(x)


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e⁻ˣ), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.Sigmoid.apply(x)


class ReLU(Module):
    """max(x, 0), elementwise (relu'(0) = 0)."""

    def forward(self, x: Any) -> Tensor:
        return ops.ReLU.apply(x)


class Dropout(Module):
    """Inverted dropout in training mode, identity in eval mode (``model.eval()``); see
    ``functional.dropout``. ``rng``: a generator or int seed for the masks (default:
    graphgrad's generator, ``gg.manual_seed``)."""

    def __init__(
        self, p: float = 0.5, inplace: bool = False, *, rng: np.random.Generator | int | None = None
    ) -> None:
        super().__init__()
        if inplace:
            raise ValueError(
                "Dropout(inplace=True): graphgrad's dropout returns a new tensor (an in-place "
                "write would hide the input a recorded op saved); leave inplace=False"
            )
        self.p = _dropout_probability(p, "Dropout")
        self.rng = None if rng is None else get_rng(rng)

    def forward(self, x: Any) -> Tensor:
        return dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Embedding(Module):
    """Row lookup: indices (...) of ints in [0, num_embeddings) -> (..., embedding_dim).

    The backward pass adds each output row's gradient into its weight row (repeated
    indices accumulate), without materialising a dense (num_embeddings, dim) gradient
    per lookup. With ``padding_idx`` (negative counts from the end, as in PyTorch), that row
    starts as zeros and never gets a gradient; a lookup of it returns the row's current
    value, as a constant. Init: N(0, 1), as in PyTorch.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        device: Any = None,
        dtype: Any = None,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        runtime.check_device(device or "cpu", "Embedding")
        dtype = runtime.resolve_dtype(dtype)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise TypeError(f"Embedding: padding_idx must be an int, got {padding_idx!r}")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} is out of range for "
                    f"{num_embeddings} embeddings (-{num_embeddings} <= padding_idx < "
                    f"{num_embeddings})"
                )
            padding_idx = int(padding_idx) % num_embeddings  # −1: the last row, as in PyTorch
        self.padding_idx = padding_idx
        self.weight = Parameter(np.zeros((num_embeddings, embedding_dim)), dtype=dtype)
        init.normal_(self.weight, 0.0, 1.0, get_rng(rng))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0.0

    def forward(self, indices: Any) -> Tensor:
        idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = idx[(idx < 0) | (idx >= self.num_embeddings)][0]
            raise IndexError(
                f"Embedding: index {bad} is out of range for {self.num_embeddings} embeddings"
            )
        out = ops.GetItem.apply(self.weight, idx)
        if self.padding_idx is not None:
            # the padding row's value as a constant: it is looked up but never trained
            out = ops.Where.apply((idx != self.padding_idx)[..., None], out, out.data)
        return out

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class LayerNorm(Module):
    """PyTorch's ``nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True,
    bias=True)``: y = (x − μ) / √(σ² + eps) ∘ weight + bias over the trailing
    ``normalized_shape`` dims (``functional.layer_norm``); weight = 1, bias = 0 at init."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        runtime.check_device(device or "cpu", "LayerNorm")
        dtype = runtime.resolve_dtype(dtype)
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape, self.eps = tuple(int(n) for n in shape), float(eps)
        self.elementwise_affine = elementwise_affine
        self.weight = (
            Parameter(np.ones(self.normalized_shape), dtype=dtype) if elementwise_affine else None
        )
        self.bias = (
            Parameter(np.zeros(self.normalized_shape), dtype=dtype)
            if elementwise_affine and bias
            else None
        )

    def forward(self, x: Any) -> Tensor:
        if self.weight is not None:
            check_features(self, x, self.normalized_shape[-1], weight=self.weight)
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
