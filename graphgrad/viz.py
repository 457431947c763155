"""Pictures of the recorded graph: Graphviz DOT text, rendered to SVG/PNG by ``dot``.

Vertices are the ops (boxes: the op's name and output shape) and the leaf tensors
(ellipses: name, shape and dtype; parameters filled, constants dashed); the tensor you
pass is drawn as the output. Edges follow the data from inputs to the ops that use them.
An unrolled RNN repeats one step's sub-graph T times: ``collapse=True`` merges ops with
the same name and output shape into one box labelled ×count (one time step, with edge
multiplicities), and ``max_nodes`` caps the drawing, with a note of how much was left out.
An op that takes a block of its input names the block (``GetItem [..., 8:12]``); the
recurrent cells label what they compute (an LSTM's gates i, f, g, o in PyTorch's order, a
GRU's r, z and candidate n); with ``params=`` each op also lists the named parameters it
reads (``· weight_hh_l0``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from graphgrad.core.tensor import Tensor
from graphgrad.nn.module import Module, Parameter

_INSTALL = (
    "Graphviz's `dot` program is not installed. Install it (Debian/Ubuntu: apt-get install "
    "graphviz; macOS: brew install graphviz; conda: conda install graphviz), or save the "
    "text of graphgrad.viz.to_dot(...) to a .dot file and render it elsewhere."
)


def _walk(root: Tensor, max_nodes: int | None) -> tuple[list[Any], list[tuple[Any, Any]], int]:
    """Vertices (nodes and leaves) reachable from ``root`` breadth-first, edges
    (input vertex, consumer node), and how many vertices were left out by ``max_nodes``."""
    start = root._node if root._node is not None else root
    order, seen, edges = [start], {id(start)}, []
    i = 0
    while i < len(order):
        v = order[i]
        i += 1
        if isinstance(v, Tensor) or v.inputs is None:
            continue
        for x in v.inputs:
            if x is None:
                continue
            edges.append((x, v))
            if id(x) not in seen:
                seen.add(id(x))
                order.append(x)
    cut = 0
    if max_nodes is not None and len(order) > max_nodes:
        kept = {id(v) for v in order[:max_nodes]}
        cut = len(order) - max_nodes
        order = order[:max_nodes]
        edges = [(a, b) for a, b in edges if id(a) in kept and id(b) in kept]
    return order, edges, cut


def _names(params: Module | Mapping[str, Tensor] | None) -> dict[int, str]:
    if params is None:
        return {}
    items = params.named_parameters() if isinstance(params, Module) else params.items()
    return {id(t): name for name, t in items}


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _label(v: Any, names: dict[int, str], show_shapes: bool, show_grads: bool) -> tuple[str, str]:
    """(label, DOT attributes) of a vertex."""
    if isinstance(v, Tensor):
        name = names.get(
            id(v),
            "parameter"
            if isinstance(v, Parameter)
            else ("input" if v.requires_grad else "constant"),
        )
        lines = [name]
        if show_shapes:
            lines.append(f"{v.shape} {v.dtype}")
        if show_grads and v.grad is not None:
            lines.append(f"‖grad‖ = {float(np.linalg.norm(np.asarray(v.grad))):.3g}")
        if isinstance(v, Parameter) or id(v) in names:
            style = 'shape=ellipse, style=filled, fillcolor="#cfe2ff"'
        elif v.requires_grad:
            style = 'shape=ellipse, style=filled, fillcolor="#e7f5e7"'
        else:
            style = "shape=ellipse, style=dashed"
        return "\\n".join(_esc(x) for x in lines), style
    lines = [type(v).__name__]
    label = getattr(v, "label", None)
    if label:
        lines.insert(0, label)  # what the value is: an LSTM's "gate i"
    where = _slice_text(v)
    if where:
        lines[-1] += " " + where  # which block of the input
    if show_shapes:
        lines.append(str(v._shape))
    used = [names[id(x)] for x in (v.inputs or ()) if isinstance(x, Tensor) and id(x) in names]
    if used:
        lines.append("· " + ", ".join(used))  # the named parameters it reads
    return "\\n".join(_esc(x) for x in lines), "shape=box"


def _slice_text(v: Any) -> str:
    """``[:, 0:128]`` for a GetItem node whose index is slices and ints, else ''."""
    if type(v).__name__ != "GetItem":
        return ""
    index = getattr(v, "index", None)
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, slice) and p.step is None:
            lo = "" if p.start is None else str(p.start)
            hi = "" if p.stop is None else str(p.stop)
            out.append(f"{lo}:{hi}")
        elif isinstance(p, (int, np.integer)) and not isinstance(p, bool):
            out.append(str(int(p)))
        elif p is Ellipsis:
            out.append("...")
        else:
            return ""  # an array index: no short text
    return "[" + ", ".join(out) + "]"


class DotGraph(str):
    """DOT text (a ``str``) that a notebook shows as a picture: ``_repr_svg_`` renders it
    with Graphviz's ``dot`` when that is installed (else the notebook shows the text)."""

    def _repr_svg_(self) -> str | None:
        exe = shutil.which("dot")
        if exe is None:
            return None
        result = subprocess.run([exe, "-Tsvg"], input=str(self), capture_output=True, text=True)
        return result.stdout if result.returncode == 0 else None


def to_dot(
    tensor: Tensor,
    show_shapes: bool = True,
    show_grads: bool = False,
    params: Module | Mapping[str, Tensor] | None = None,
    collapse: bool = False,
    max_nodes: int | None = None,
) -> DotGraph:
    """The graph recorded behind ``tensor`` as Graphviz DOT text (a ``str``; in a
    notebook it displays as the rendered graph when Graphviz is installed). An op that
    takes a block of its input (GetItem) names the block, ``[:, 0:128]``.

    Args:
        tensor: usually a loss; its graph must not have been released by backward
            (call before backward, or backward with retain_graph=True).
        show_shapes: label ops with their output shape and tensors with shape and dtype.
        show_grads: add ‖grad‖ to leaves that have a gradient.
        params: a Module or ``{name: tensor}`` whose tensors are labelled by name.
        collapse: merge ops with the same name and output shape (e.g. the T copies of one
            RNN step) into one box "×count"; edges carry their multiplicity.
        max_nodes: draw at most this many vertices (nearest to the output first) and add a
            note saying how many were left out.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot expects a Tensor, got {type(tensor).__name__}")
    if tensor._node is not None and tensor._node.inputs is None:
        raise RuntimeError(
            "this tensor's graph was released by backward(); call to_dot before backward, "
            "or pass retain_graph=True to backward"
        )
    order, edges, cut = _walk(tensor, max_nodes)
    names = _names(params)
    lines = ["digraph graphgrad {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    if collapse:
        key = {id(v): _collapse_key(v) for v in order}
        groups = Counter(key[id(v)] for v in order)
        first: dict[Any, Any] = {}
        for v in order:
            first.setdefault(key[id(v)], v)
        ids = {k: f"v{i}" for i, k in enumerate(first)}
        for k, v in first.items():
            label, style = _label(v, names, show_shapes, show_grads)
            if groups[k] > 1:
                label += f"\\n×{groups[k]}"
            lines.append(f'  {ids[k]} [label="{label}", {style}];')
        for (a, b), n in Counter((key[id(a)], key[id(b)]) for a, b in edges).items():
            extra = f' [label="×{n}"]' if n > 1 else ""
            lines.append(f"  {ids[a]} -> {ids[b]}{extra};")
    else:
        ids = {id(v): f"v{i}" for i, v in enumerate(order)}
        for v in order:
            label, style = _label(v, names, show_shapes, show_grads)
            lines.append(f'  {ids[id(v)]} [label="{label}", {style}];')
        for a, b in edges:
            lines.append(f"  {ids[id(a)]} -> {ids[id(b)]};")
    out_label = "output\\n" + (_esc(f"{tensor.shape} {tensor.dtype}") if show_shapes else "")
    lines.append(f'  output [label="{out_label}", shape=ellipse, style=bold];')
    root = tensor._node if tensor._node is not None else tensor
    root_id = (ids[_collapse_key(root)] if collapse else ids[id(root)]) if order else None
    if root_id is not None and root is not tensor:
        lines.append(f"  {root_id} -> output;")
    if cut:
        lines.append(
            f'  cut [label="… {cut} more vertices not shown (max_nodes={max_nodes})", shape=note];'
        )
    lines.append("}")
    return DotGraph("\n".join(lines) + "\n")


def _collapse_key(v: Any) -> Any:
    if isinstance(v, Tensor):
        return ("tensor", id(v))  # leaves are never merged: each parameter is drawn once
    # a GetItem keeps its block in the key, so the T copies of one gate merge but the
    # gates (same op, same shape, other blocks) stay apart
    return (type(v).__name__, v._shape, _slice_text(v), getattr(v, "label", None))


def render(tensor: Tensor, path: str | Path, **kwargs: Any) -> Path:
    """Write the graph to ``path`` (SVG, PNG or PDF, by its suffix) using Graphviz's ``dot``.
    Keyword arguments go to ``to_dot``. Raises RuntimeError saying how to install Graphviz
    when ``dot`` is missing."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "svg"
    if fmt not in {"svg", "png", "pdf"}:
        raise ValueError(f"render: unsupported format {fmt!r} (use .svg, .png or .pdf)")
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(_INSTALL)
    result = subprocess.run(
        [exe, f"-T{fmt}", "-o", str(path)],
        input=to_dot(tensor, **kwargs),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.strip()}")
    return path
