"""Benchmark graphgrad against hand-written NumPy (and PyTorch eager when installed).

    python benchmarks/run.py                  # every workload, float64 and float32, 1 thread
    python benchmarks/run.py --quick          # small sizes, a few repeats (the test suite runs it)
    python benchmarks/run.py --only mlp lstm-batch --dtypes float64
    python benchmarks/run.py --scaling        # also time rnn-batch vs T and vs hidden size (plot)

For each workload (one training step: forward + backward) the harness
1. checks the hand-written NumPy step against central differences of its own loss along a
   random direction, per parameter (it is the reference, so it is verified first);
2. runs every backend once and compares its loss and gradients with NumPy's (float64: max
   relative error ≤ 1e-8; float32: ≤ 1e-3) — a backend that disagrees is reported as
   failed and not timed;
3. times the backends interleaved (round-robin, after warm-up) and reports the median time
   per step, the interquartile range, the ratio of medians to NumPy, and the median number
   of minor page faults per step (on a VM they can cost microseconds each);
4. for deep-graph and word-lm, measures the peak RSS of one step in a fresh subprocess.

BLAS/OpenMP threads are pinned (``--threads``, default 1) before NumPy is imported, and
torch is pinned with ``torch.set_num_threads``. With glibc the allocator is pinned too
(``--malloc pinned``, the default): freed memory is kept in the heap and arrays up to 32 MiB
are served from it, so no backend's step pays page faults for memory that another backend's
step (or its own previous one) handed back to the OS. Without that, on a VM where a minor
fault costs microseconds, a step's time depends on the heap state the backend before it left,
and the ratios measure the allocator more than the code (``--malloc default`` shows it; the
page-fault column says what each step paid). Results are printed as Markdown and written as
JSON and Markdown under ``--out``.
"""

from __future__ import annotations

import os
import sys


def _pin_threads(argv: list[str]) -> int:
    n = 1
    if "--threads" in argv:
        try:
            n = max(1, int(argv[argv.index("--threads") + 1]))
        except (IndexError, ValueError):
            pass  # argparse reports the bad value below, before anything runs
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        os.environ[var] = str(n)
    return n


if __name__ == "__main__":
    _pin_threads(sys.argv)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

try:
    import resource  # Unix only: page-fault counts
except ImportError:  # pragma: no cover
    resource = None  # type: ignore[assignment]

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import Problem, Step, Workload, workloads  # noqa: E402

TOLERANCE = {"float64": 1e-8, "float32": 1e-3}


# ------------------------------------------------------------------ correctness
def check_reference(
    make_step: Callable[[Problem], Step],
    problem: Problem,
    seed: int = 0,
    eps: float = 1e-7,
    rtol: float = 1e-5,
) -> str | None:
    """Directional check of the hand-written NumPy step: for each parameter θ and a random
    direction v, (L(θ + εv) − L(θ − εv)) / 2ε must equal ⟨∂L/∂θ, v⟩. Returns an error or None.
    (ε is small so that the step rarely carries a ReLU across its kink in the MLP.)"""
    step = make_step(problem)
    _, grads = step()
    rng = np.random.default_rng(seed)
    for name, g in grads.items():
        theta = problem[name]
        v = rng.standard_normal(theta.shape)
        theta += eps * v  # in place: the prepared step reads the same array
        up = step()[0]
        theta -= 2 * eps * v
        down = step()[0]
        theta += eps * v
        numeric, analytic = (up - down) / (2 * eps), float(np.sum(g * v))
        if abs(numeric - analytic) > rtol * max(abs(numeric), abs(analytic), 1e-3):
            return (
                f"NumPy reference gradient of {name}: ⟨g, v⟩ = {analytic:.8g}, "
                f"central difference {numeric:.8g}"
            )
    return None


def disagreement(
    ref: tuple[float, dict[str, np.ndarray]], got: tuple[float, dict[str, np.ndarray]], tol: float
) -> str | None:
    """None if loss and every gradient agree with the reference to ``tol`` (relative)."""
    (l_ref, g_ref), (l_got, g_got) = ref, got
    if abs(l_got - l_ref) > tol * max(abs(l_ref), 1e-30):
        return f"loss {l_got:.10g} vs NumPy {l_ref:.10g}"
    for name, expected in g_ref.items():
        actual = g_got.get(name)
        if actual is None or np.shape(actual) != np.shape(expected):
            shape = np.shape(actual) if actual is not None else None
            return f"gradient {name}: missing or of shape {shape}, NumPy {np.shape(expected)}"
        scale = max(float(np.max(np.abs(expected))), 1e-30)
        err = float(np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected))) / scale
        if not err <= tol:
            return f"gradient {name}: relative error {err:.2e} > {tol:g}"
    return None


# ------------------------------------------------------------------ timing
def _minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is unavailable)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


def time_interleaved(
    steps: dict[str, Step], min_time: float, min_repeats: int, max_repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Warm up, then time each step once per round, rotating the order, until every backend
    has ``min_repeats`` samples and ``min_time`` seconds (or ``max_repeats`` samples).
    Returns the times and each timed step's minor page faults (first touches of memory the
    allocator got from the OS: on a VM they can cost microseconds each, and whether a step
    pays them depends on what the allocator kept from the step before)."""
    for s in steps.values():
        s()
        s()
    times: dict[str, list[float]] = {k: [] for k in steps}
    faults: dict[str, list[int]] = {k: [] for k in steps}
    names = list(steps)
    r = 0
    while True:
        order = names[r % len(names) :] + names[: r % len(names)]
        for k in order:
            f0 = _minor_faults()
            t0 = time.perf_counter()
            steps[k]()
            times[k].append(time.perf_counter() - t0)
            faults[k].append(_minor_faults() - f0)
        r += 1
        if r >= max_repeats or (
            r >= min_repeats and all(sum(v) >= min_time for v in times.values())
        ):
            return times, faults


def summary(samples: list[float]) -> dict[str, float]:
    q1, med, q3 = np.percentile(samples, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3), "repeats": len(samples)}


def evaluate(
    w: Workload, dtype: str, args: argparse.Namespace, available: set[str]
) -> dict[str, Any]:
    """Check and time every backend of one workload in one dtype."""
    np_dtype = np.dtype(dtype)
    row: dict[str, Any] = {
        "workload": w.name,
        "dtype": dtype,
        "target": w.target,
        "compiled_target": w.compiled_target,
        "backends": {},
    }
    problem = w.make(np.random.default_rng(args.seed), np_dtype)
    row["sizes"] = {
        k: list(v.shape) if isinstance(v, np.ndarray) else v
        for k, v in problem.items()
        if isinstance(v, (np.ndarray, int, str))
    }
    if dtype == "float64":
        err = check_reference(
            w.backends["numpy"], w.make(np.random.default_rng(args.seed), np_dtype)
        )
        if err:
            row["error"] = err
            return row
    reference = w.backends["numpy"](problem)()
    steps: dict[str, Step] = {}
    for name, prepare in w.backends.items():
        if name not in available:
            row["backends"][name] = {"status": "skipped (not installed)"}
            continue
        step = prepare(problem)
        problem_err = disagreement(reference, step(), TOLERANCE[dtype]) if name != "numpy" else None
        if problem_err:
            row["backends"][name] = {"status": f"failed: {problem_err}"}
            continue
        steps[name] = step
        row["backends"][name] = {"status": "ok"}
        if hasattr(step, "compile_seconds"):  # the compiled backend's first two calls
            row["backends"][name]["compile_s"] = step.compile_seconds
    times, faults = time_interleaved(steps, args.min_time, args.min_repeats, args.max_repeats)
    base = float(np.median(times["numpy"]))
    for name, samples in times.items():
        s = summary(samples)
        s["page_faults"] = int(np.median(faults[name]))
        s["ratio"] = s["median"] / base
        if w.ops_per_step:
            s["us_per_op"] = s["median"] / w.ops_per_step * 1e6
        row["backends"][name].update(s)
    if w.name.startswith(("deep-graph", "word-lm")) and args.memory:
        for name in steps:
            row["backends"][name]["peak_mib"] = peak_memory(w.name, name, dtype, args)
    return row


# ------------------------------------------------------------------ memory
def peak_memory(workload: str, backend: str, dtype: str, args: argparse.Namespace) -> float | None:
    """Peak RSS growth (MiB) of one step, measured in a fresh Python process."""
    cmd = [
        sys.executable,
        __file__,
        "--_memory",
        workload,
        backend,
        dtype,
        "--threads",
        str(args.threads),
    ]
    if args.quick:
        cmd.append("--quick")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return None
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"])


def _peak_rss_kib() -> int:
    """This process's peak RSS. On Linux, VmHWM of the current address space: unlike
    ru_maxrss it is not inherited through fork/exec from a larger parent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource  # Unix only; reached off Linux

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


def _reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux), so that a step prepared by warm-up calls —
    the compiled backend traces and generates in its first two — is measured on its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _one_step_peak(step: Step) -> None:
    _reset_peak_rss()
    before = _peak_rss_kib()
    step()
    print(json.dumps({"peak_mib": (_peak_rss_kib() - before) / 1024}))


def _memory_child(workload: str, backend: str, dtype: str, quick: bool) -> None:
    w = next(w for w in workloads(quick) if w.name == workload)
    _one_step_peak(w.backends[backend](w.make(np.random.default_rng(0), np.dtype(dtype))))


def graph_memory(T: int, threads: int = 1) -> float:
    """Peak RSS growth of one graphgrad step of the deep-graph RNN of length T (for tests)."""
    cmd = [sys.executable, __file__, "--_memory_T", str(T), "--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"])


# ------------------------------------------------------------------ scaling
def scaling(args: argparse.Namespace, available: set[str]) -> dict[str, Any]:
    from workloads import _batch_graphgrad, _batch_make, _batch_numpy

    make = _batch_make("rnn")
    Ts = [8, 16, 32] if args.quick else [8, 16, 32, 64, 128, 256, 512]
    Hs = [16, 32] if args.quick else [16, 32, 64, 128, 256, 512, 1024]
    # the sizes held fixed along each sweep (make()'s defaults, or --quick's)
    fixed = {
        "T": "batch 4, input 3, hidden 128" if args.quick else "batch 64, input 32, hidden 128",
        "hidden": "batch 4, input 3, T = 6" if args.quick else "batch 64, input 32, T = 64",
    }
    result: dict[str, Any] = {"T": [], "hidden": [], "threads": args.threads, "fixed": fixed}
    for axis, values in (("T", Ts), ("hidden", Hs)):
        for v in values:
            kw = {"T": v} if axis == "T" else {"H": v}
            if args.quick:
                kw.setdefault("T", 6)
                kw.update(N=4, F_in=3)
            p = make(np.random.default_rng(0), np.dtype("float64"), **kw)
            times, _ = time_interleaved(
                {"numpy": _batch_numpy(p), "graphgrad": _batch_graphgrad(p)},
                args.min_time / 2,
                3,
                args.max_repeats,
            )
            entry = {axis: v, **{k: float(np.median(t)) for k, t in times.items()}}
            entry["ratio"] = entry["graphgrad"] / entry["numpy"]
            result[axis].append(entry)
            print(
                f"  scaling {axis}={v}: graphgrad {entry['graphgrad'] * 1e3:.2f} ms, "
                f"numpy {entry['numpy'] * 1e3:.2f} ms, ratio {entry['ratio']:.2f}",
                flush=True,
            )
    _plot_scaling(result, args.out)
    return result


def _plot_scaling(result: dict[str, Any], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no scaling plot; pip install 'graphgrad[plot]')")
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, axis, label in (
        (axes[0], "T", "sequence length T"),
        (axes[1], "hidden", "hidden size"),
    ):
        xs = [e[axis] for e in result[axis]]
        for k in ("graphgrad", "numpy"):
            ax.loglog(xs, [e[k] * 1e3 for e in result[axis]], "o-", label=k)
        ax.set(
            xlabel=label,
            ylabel="ms per step",
            title=f"rnn-batch: {result['fixed'][axis]},\nfloat64, {result['threads']} thread(s)",
        )
        ax.set_xticks(xs, [str(x) for x in xs], minor=False)  # the measured sizes, as numbers
        ax.set_xticks([], minor=True)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "scaling.png", dpi=120)
    print(f"plot: {out / 'scaling.png'}")


# ------------------------------------------------------------------ report
def markdown(rows: list[dict[str, Any]], torch_version: str | None) -> str:
    head = [
        "workload",
        "dtype",
        "NumPy (ms)",
        "graphgrad (ms)",
        "graphgrad / NumPy",
        "target",
        "compiled / NumPy",
        "compiled target",
        "compile (s)",
        "page faults / step (NumPy, graphgrad)",
    ]
    extra = ["torch / NumPy", "torch.nn / NumPy"] if torch_version else []
    lines = ["| " + " | ".join(head + extra) + " |", "|" + "---|" * len(head + extra)]
    for row in rows:
        b = row["backends"]
        if "error" in row:
            lines.append(f"| {row['workload']} | {row['dtype']} | failed: {row['error']} |")
            continue

        def ratio(name: str, b: dict[str, Any] = b) -> str:
            e = b.get(name)
            if e is None:
                return "—"
            if "ratio" not in e:
                return e["status"]
            base = b["numpy"]["median"]
            text = f"{e['ratio']:.2f}× ({e['q1'] / base:.2f}–{e['q3'] / base:.2f})"
            if "peak_mib" in e and e["peak_mib"] is not None:
                text += f", {e['peak_mib']:.0f} MiB"
            return text

        gg_e = b["graphgrad"]
        gg_ms = f"{gg_e['median'] * 1e3:.3f}" if "median" in gg_e else gg_e["status"]
        if "us_per_op" in gg_e:
            gg_ms += f" ({gg_e['us_per_op']:.2f} µs/op)"
        np_ms = f"{b['numpy']['median'] * 1e3:.3f}"
        if "us_per_op" in b["numpy"]:
            np_ms += f" ({b['numpy']['us_per_op']:.2f} µs/op)"
        if "peak_mib" in b["numpy"] and b["numpy"]["peak_mib"] is not None:
            np_ms += f", {b['numpy']['peak_mib']:.0f} MiB"
        target = f"≤ {row['target']:.2f}×" if row["target"] else ""
        faults = ", ".join(str(b[k].get("page_faults", "—")) for k in ("numpy", "graphgrad"))
        ct = row.get("compiled_target")
        c_target = "≤ eager" if ct == "eager" else f"≤ {ct:.2f}×" if ct else ""
        comp = b.get("graphgrad compiled", {})
        c_time = f"{comp['compile_s']:.2f}" if "compile_s" in comp else "—"
        cells = [row["workload"], row["dtype"], np_ms, gg_ms, ratio("graphgrad"), target]
        cells += [ratio("graphgrad compiled"), c_target, c_time, faults]
        if torch_version:
            cells += [ratio("torch"), ratio("torch.nn")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pin_allocator() -> str:
    """Keep freed memory in glibc's heap and serve arrays up to 32 MiB from it (mallopt:
    no trimming, a fixed mmap threshold). Returns how the allocator is set, for the report."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows)
        return "default (no glibc mallopt here)"
    m_trim_threshold, m_mmap_threshold = -1, -3
    if mallopt(m_trim_threshold, 1 << 30) and mallopt(m_mmap_threshold, 1 << 25):
        return "pinned (glibc: no heap trimming, mmap threshold 32 MiB)"
    return "default (mallopt refused the settings)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--_memory":
        _memory_child(argv[1], argv[2], argv[3], "--quick" in argv)
        return 0
    if argv and argv[0] == "--_memory_T":
        from workloads import _deep_graphgrad, _deep_make

        _one_step_peak(
            _deep_graphgrad(_deep_make(int(argv[1]))(np.random.default_rng(0), np.dtype("float64")))
        )
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, few repeats (a smoke run)"
    )
    parser.add_argument("--only", nargs="+", default=None, help="workload name prefixes to run")
    parser.add_argument(
        "--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"]
    )
    parser.add_argument(
        "--threads", type=_positive, default=1, help="BLAS/OpenMP/torch threads (default 1)"
    )
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument(
        "--no-memory", dest="memory", action="store_false", help="skip deep-graph peak memory"
    )
    parser.add_argument(
        "--scaling", action="store_true", help="time rnn-batch vs T and hidden size"
    )
    parser.add_argument(
        "--min-time", type=float, default=1.0, help="seconds of samples per backend"
    )
    parser.add_argument("--min-repeats", type=int, default=7)
    parser.add_argument("--max-repeats", type=int, default=200)
    parser.add_argument(
        "--malloc",
        choices=["pinned", "default"],
        default="pinned",
        help="pin glibc's allocator so steps pay no page faults for memory another step "
        "returned to the OS (default), or leave it as it is",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks"))
    args = parser.parse_args(argv)
    names = [w.name for w in workloads(args.quick)]
    if args.only:
        unknown = [o for o in args.only if not any(n.startswith(o) for n in names)]
        if unknown:
            parser.error(f"--only {' '.join(unknown)}: no workload starts so; workloads: {names}")
    if args.quick:
        args.min_time, args.min_repeats, args.max_repeats = 0.0, 3, 3
        print("--quick: toy sizes and 3 repeats, a smoke run: the targets are for the full sizes")
    args.out.mkdir(parents=True, exist_ok=True)

    allocator = _pin_allocator() if args.malloc == "pinned" else "default"
    available = {"numpy", "graphgrad", "graphgrad compiled"}
    torch_version = None
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(args.threads)
            torch_version = torch.__version__
            available |= {"torch", "torch.nn"}
        except ImportError:
            pass
    info = {
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "threads": args.threads,
        "allocator": allocator,
        "blas": _blas_info(),
        "command": " ".join(["python", *sys.argv]),
        "quick": args.quick,
        "units": {"median, q1, q3": "s per step", "us_per_op": "µs", "peak_mib": "MiB"},
    }
    print(
        f"threads pinned to {args.threads}; numpy {np.__version__} ({info['blas']}); "
        f"torch {torch_version}; allocator {allocator}"
    )

    rows = []
    for w in workloads(args.quick):
        if args.only and not any(w.name.startswith(o) for o in args.only):
            continue
        for dtype in args.dtypes:
            row = evaluate(w, dtype, args, available)
            rows.append(row)
            said = []
            for name in ("graphgrad", "graphgrad compiled"):
                g = row["backends"].get(name, {})
                said.append(
                    f"{name}/NumPy "
                    + (
                        f"{g['ratio']:.2f}×"
                        if "ratio" in g
                        else str(g.get("status", row.get("error")))
                    )
                )
            print(f"{w.name:18s} {dtype}: " + ", ".join(said), flush=True)
    table = markdown(rows, torch_version)
    if args.quick:
        table = (
            "*A `--quick` smoke run: toy sizes and 3 repeats; the targets are for the full "
            "sizes and are not met or missed here.*\n\n" + table
        )
    print("\n" + table)
    result: dict[str, Any] = {"info": info, "rows": rows}
    if args.scaling:
        result["scaling"] = scaling(args, available)
    (args.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "results.md").write_text(table + "\n")
    print(f"\nwritten: {args.out / 'results.json'}, {args.out / 'results.md'}")
    failed = [
        r["workload"]
        for r in rows
        if "error" in r
        or any(str(b.get("status", "")).startswith("failed") for b in r["backends"].values())
    ]
    if failed:
        print(f"FAILED gradient checks: {failed}", file=sys.stderr)
        return 1
    return 0


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {n}")
    return n


_positive.__name__ = "positive integer"  # argparse names the type in its message


def _blas_info() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # diagnostic only
        return "unknown BLAS"


if __name__ == "__main__":
    sys.exit(main())
