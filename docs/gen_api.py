"""Generate docs/api.md from graphgrad's docstrings and signatures.

python docs/gen_api.py          # rewrite docs/api.md
python docs/gen_api.py --check  # exit 1 if docs/api.md is out of date (the tests do this)
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
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    path = Path(__file__).with_name("api.md")
    text = generate()
    if "--check" in sys.argv:
        if not path.exists() or path.read_text() != text:
            print("docs/api.md is out of date: run python docs/gen_api.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
