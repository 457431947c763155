"""Checkpoints load whole or not at all: corrupt, oversized, forged and foreign files are
refused (CheckpointError) and nothing is returned; saves are atomic, keep permissions and
clean up after killed saves; every load_state_dict checks everything before it changes
anything."""

from __future__ import annotations

import copy
import io
import json
import os
import signal
import stat
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.optim import lr_scheduler


def _same(a: Any, b: Any) -> bool:
    """Exact equality of what gg.save stores: types, dtypes, shapes, values."""
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------------- bit flips
def test_every_single_bit_flip_is_refused_or_loads_exactly(tmp_path: Path) -> None:
    path = tmp_path / "small.npz"
    obj = {"w": np.arange(3.0), "n": {"k": [1, "s"], "b": np.array([True])}}
    gg.save(obj, path)
    assert _same(gg.load(path), obj)
    good = path.read_bytes()
    refused = exact = 0
    for i in range(len(good)):
        for bit in range(8):
            damaged = bytearray(good)
            damaged[i] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            try:
                back = gg.load(path)
            except gg.CheckpointError:
                refused += 1
                continue
            assert _same(back, obj), f"byte {i} bit {bit}: loaded something else"
            exact += 1
    assert refused + exact == 8 * len(good)
    assert refused > exact  # the bits that do not matter (unread zip fields) are few


# ------------------------------------------------------------------- bounded memory
def _peak_while(fn: Any) -> int:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_zip_bomb_is_refused_within_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, a=np.zeros(2**23))  # 64 MiB of zeros in ~65 KB
    assert path.stat().st_size < 200_000

    def load() -> None:
        with pytest.raises(gg.CheckpointError, match="max_bytes"):
            gg.load(path)

    assert _peak_while(load) < 2**20
    assert gg.load(path, max_bytes=2**27)["a"].shape == (2**23,)  # trusted: allowed


def _npz_with_member(path: Path, name: str, payload: bytes) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, payload)


def test_a_forged_array_header_cannot_make_load_allocate(tmp_path: Path) -> None:
    path = tmp_path / "forged.npz"
    header = io.BytesIO()
    np.lib.format.write_array(header, np.zeros(2))
    forged = header.getvalue().replace(b"(2,)", b"(268435456,)")  # 2 GiB declared
    _npz_with_member(path, "a.npy", forged)

    def load() -> None:
        with pytest.raises(gg.CheckpointError, match=r"declares .* bytes"):
            gg.load(path)

    assert _peak_while(load) < 2**20
    npy = tmp_path / "forged.npy"
    npy.write_bytes(forged)

    def load_npy() -> None:
        with pytest.raises(gg.CheckpointError, match=r"declares .* bytes"):
            gg.load(npy)

    assert _peak_while(load_npy) < 2**20


# --------------------------------------------------------------------- the manifest
def _with_manifest(path: Path, manifest: Any, **arrays: np.ndarray) -> None:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    np.savez(path, __graphgrad__=np.array(text), **arrays)


GOOD = {"format": "graphgrad-npz", "version": 1, "tree": {"array": "a0"}}
BAD_MANIFESTS = [
    [1, 2],
    "[" * 50_000 + "]" * 50_000,
    {"format": "graphgrad-npz", "version": 1},
    {**GOOD, "format": "other"},
    {**GOOD, "version": 2},
    {**GOOD, "version": True},
    {**GOOD, "extra": 1},
    {**GOOD, "tree": {"array": "a1"}},
    {**GOOD, "tree": {"list": [{"array": "a0"}, {"array": "a0"}]}},
    {**GOOD, "tree": {"list": [{"value": 1}]}},  # a0 left over
    {**GOOD, "tree": {"dict": [[True, {"array": "a0"}]]}},
    {**GOOD, "tree": {"dict": [["k", {"array": "a0"}], ["k", {"value": 1}]]}},
    {**GOOD, "tree": {"value": [1, 2]}},
    {**GOOD, "tree": {"what": 1}},
    {**GOOD, "tree": {"array": "a0", "value": 1}},
    {**GOOD, "tree": "a0"},
    {**GOOD, "tree": {"list": {"array": "a0"}}},
    {**GOOD, "tree": {"dict": [["k"]]}},
    {**GOOD, "tree": json.loads('{"list": ' * 200 + '{"array": "a0"}' + "}" * 200)},
    "{not json",
]


@pytest.mark.parametrize("manifest", BAD_MANIFESTS, ids=range(len(BAD_MANIFESTS)))
def test_every_field_of_the_manifest_is_validated(tmp_path: Path, manifest: Any) -> None:
    path = tmp_path / "m.npz"
    _with_manifest(path, manifest, a0=np.ones(2))
    with pytest.raises(gg.CheckpointError, match=r"manifest|names"):
        gg.load(path)
    _with_manifest(path, GOOD, a0=np.ones(2))  # the control
    np.testing.assert_array_equal(gg.load(path), np.ones(2))


def test_a_manifest_that_is_not_a_string_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, __graphgrad__=np.ones(3), a0=np.ones(2))
    with pytest.raises(gg.CheckpointError, match="manifest is damaged"):
        gg.load(path)


def test_a_pytorch_archive_is_refused_not_read_as_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as zf:  # the layout torch.save writes
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        zf.writestr("archive/data/0", b"\x00" * 16)
        zf.writestr("archive/version", b"3\n")
    with pytest.raises(gg.CheckpointError, match=r"PyTorch \.pt"):
        gg.load(path)


def test_members_that_are_not_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    _npz_with_member(path, "notes.txt", b"hello")
    with pytest.raises(gg.CheckpointError, match=r"not an \.npy array"):
        gg.load(path)


# ------------------------------------------------------------------------- saving
def test_save_keeps_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.npz"
        gg.save({"w": np.ones(2)}, new)
        assert stat.S_IMODE(new.stat().st_mode) == 0o644  # what a new file gets
        new.chmod(0o640)
        gg.save({"w": np.zeros(2)}, new)
        assert stat.S_IMODE(new.stat().st_mode) == 0o640  # the old file's
    finally:
        os.umask(old)


def test_save_flushes_the_directory(tmp_path: Path, monkeypatch: Any) -> None:
    kinds = []
    real = os.fsync

    def recording(fd: int) -> None:
        kinds.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    gg.save({"w": np.ones(2)}, tmp_path / "d.npz")
    assert kinds == [False, True]  # the file, then its directory after the rename


def test_a_killed_save_keeps_the_old_file_and_the_next_save_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.npz"
    gg.save({"w": np.ones(3)}, path)
    script = (
        "import os, signal, sys, numpy as np, graphgrad as gg, graphgrad.io as gio\n"
        "real = gio._write_archive\n"
        "def killed(f, manifest, arrays):\n"
        "    real(f, manifest, arrays); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "gio._write_archive = killed\n"
        "gg.save({'w': np.zeros(3)}, sys.argv[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    np.testing.assert_array_equal(gg.load(path)["w"], np.ones(3))  # the old file, intact
    left = [p.name for p in tmp_path.iterdir() if p.name != "ckpt.npz"]
    assert len(left) == 1 and left[0].startswith(".ckpt.npz.")  # the killed save's
    gg.save({"w": np.full(3, 2.0)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
    np.testing.assert_array_equal(gg.load(path)["w"], 2.0)


# ------------------------------------------------------------------ load_state_dict
BAD_VALUES = [
    np.array(["a", "b"]), np.array([1 + 2j]), None, "weights", np.zeros((7, 7)),
    [[1.0, 2.0], [3.0]], np.array([object()], dtype=object),
]  # fmt: skip


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("bad", BAD_VALUES, ids=range(len(BAD_VALUES)))
def test_module_load_state_dict_changes_nothing_when_one_value_is_bad(
    position: int, bad: Any
) -> None:
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = {k: v + 1.0 for k, v in before.items()}
    state[list(state)[position]] = bad
    with pytest.raises(gg.StateDictError, match=r"nothing|cannot load"):
        model.load_state_dict(state)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a nested state dict (dict keys, list indices)."""
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = enumerate(tree)
    else:
        return [prefix]
    return [prefix] + [p for k, v in items for p in _paths(v, (*prefix, k))]


def _replace(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    tree = copy.deepcopy(tree)
    if not path:
        return value
    node = tree
    for k in path[:-1]:
        node = node[k]
    if isinstance(node, tuple):  # betas
        return _replace(tree, path[:-1], tuple(value if i == path[-1] else v
                                              for i, v in enumerate(node)))  # fmt: skip
    node[path[-1]] = value
    return tree


CORRUPTIONS = ["x", -1, float("nan"), None, np.zeros((5, 5)), [1, 2], {"a": 1}, 10**6]


def _trained(make: Any) -> tuple[Any, list[gg.Tensor]]:
    rng = np.random.default_rng(0)
    ps = [gg.tensor(rng.standard_normal((2, 3)), requires_grad=True),
          gg.tensor(rng.standard_normal(3), requires_grad=True)]  # fmt: skip
    opt = make(ps)
    for _ in range(2):
        grads = [rng.standard_normal(p.shape) for p in ps]
        if isinstance(opt, optim.LBFGS):  # a closure: the loss Σ ½p² + g·p

            def closure(grads: list[np.ndarray] = grads) -> gg.Tensor:
                opt.zero_grad()
                loss = sum(((p * p) * 0.5 + p * g).sum() for p, g in zip(ps, grads))
                loss.backward()
                return loss

            opt.step(closure)
            continue
        for p, g in zip(ps, grads):
            p.grad = g
        opt.step()
    return opt, ps


OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.5}], lr=0.1,
                                momentum=0.9),
    "Adam": lambda ps: optim.Adam(ps, lr=0.01),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.01),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5),
    "AdaGrad": lambda ps: optim.AdaGrad(ps, lr=0.01),
    "LBFGS": lambda ps: optim.LBFGS(ps, max_iter=3, history_size=2),
}  # fmt: skip


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_load_state_dict_is_all_or_nothing(name: str) -> None:
    """Every place of a real state dict, replaced by each kind of bad value: it loads (the
    value was acceptable there) or raises StateDictError leaving the optimizer as it was."""
    opt, _ = _trained(OPTIMIZERS[name])
    good = opt.state_dict()
    tried = refused = 0
    for path in _paths(good):
        for bad in CORRUPTIONS:
            target, _ = _trained(OPTIMIZERS[name])
            before = target.state_dict()
            tried += 1
            try:
                target.load_state_dict(_replace(good, path, bad))
            except gg.StateDictError:
                refused += 1
                assert _same_state(target.state_dict(), before), (path, bad)
            else:  # accepted: the value fitted there, read as what it is
                assert _same_kinds(target.state_dict(), good), (path, bad)
    assert refused > 0.7 * tried, (refused, tried)


def _same_kinds(a: Any, b: Any) -> bool:
    """Same structure, and each value of the same kind (bool, number, array of a shape)."""
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.shape == b.shape
    if isinstance(b, dict):
        return (
            isinstance(a, dict) and a.keys() == b.keys() and all(_same_kinds(a[k], b[k]) for k in b)
        )
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and all(map(_same_kinds, a, b))
    if isinstance(b, bool):
        return isinstance(a, bool)
    if b is None or isinstance(b, str):
        return a == b
    return isinstance(a, (int, float)) and not isinstance(a, bool)


def _same_state(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same_state, a, b))
    return a == b or (a != a and b != b)


SCHEDULERS = {
    "StepLR": lambda o: lr_scheduler.StepLR(o, step_size=2),
    "CosineAnnealingLR": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5),
    "ReduceLROnPlateau": lambda o: lr_scheduler.ReduceLROnPlateau(o),
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_scheduler_load_state_dict_is_all_or_nothing(name: str) -> None:
    def fresh() -> Any:
        opt, _ = _trained(OPTIMIZERS["SGD"])
        sched = SCHEDULERS[name](opt)
        for k in range(3):
            sched.step(1.0 / (k + 1)) if name == "ReduceLROnPlateau" else sched.step()
        return sched

    good = fresh().state_dict()
    for path in _paths(good):
        for bad in CORRUPTIONS:
            sched = fresh()
            before = (sched.state_dict(), [g["lr"] for g in sched.optimizer.param_groups])
            try:
                sched.load_state_dict(_replace(good, path, bad))
            except gg.StateDictError:
                after = (sched.state_dict(), [g["lr"] for g in sched.optimizer.param_groups])
                assert _same_state(after, before), (path, bad)
