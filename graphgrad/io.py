"""``gg.save`` / ``gg.load``: state dicts (and nested dicts/lists of arrays, numbers and
strings — e.g. an optimizer's state) as ``.npz`` files, never pickle.

Format: an ordinary NumPy ``.npz`` archive whose arrays are ``a0, a1, ...`` plus a JSON
``__graphgrad__`` manifest describing the nesting. Loading uses ``allow_pickle=False``, so
a file can never execute code; a file holding pickled objects is refused with an
explanation. Saving is atomic: the archive is written to a temporary file in the target
directory, flushed to disk, then renamed over the target, so a crash mid-save leaves the
previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad.errors import CheckpointError
from graphgrad.tensor import Tensor

_MANIFEST = "__graphgrad__"
_FORMAT = "graphgrad-npz"


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` (a mapping of names to arrays/Tensors, possibly nested) to ``path``
    atomically. ``path`` is used as given (no suffix is added)."""
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays)
    manifest = json.dumps({"format": _FORMAT, "version": 1, "tree": tree})
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():  # else mkstemp's error would name the temporary file
        raise FileNotFoundError(f"gg.save: {path}: the directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, **{_MANIFEST: np.array(manifest)})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike[str]) -> Any:
    """Read a file written by ``save`` (or any pickle-free ``.npz``: then a dict of its
    arrays). Raises ``CheckpointError`` for a missing, truncated, corrupt or pickled file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            contents = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except ValueError as exc:
        if _starts_like_a_pickle(path) or "Object arrays" in str(exc):
            raise CheckpointError(
                f"{path}: refusing to load: the file contains pickled Python objects, which "
                "could execute code when loaded. graphgrad checkpoints hold only arrays."
            ) from exc
        if "allow_pickle" in str(exc):  # NumPy's guess for a file it does not recognise
            raise CheckpointError(
                f"{path}: not a readable .npz checkpoint: it is neither a zip archive nor an "
                ".npy file"
            ) from None
        raise CheckpointError(f"{path}: not a readable .npz checkpoint ({exc})") from exc
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise CheckpointError(
            f"{path}: not a readable .npz checkpoint — the file may be truncated or "
            f"corrupt ({type(exc).__name__}: {exc})"
        ) from exc
    if _MANIFEST not in contents:
        return contents
    try:
        manifest = json.loads(str(contents.pop(_MANIFEST)))
        if manifest.get("format") != _FORMAT:
            raise ValueError(f"unknown format {manifest.get('format')!r}")
        return _decode(manifest["tree"], contents)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's manifest is damaged ({exc})") from exc


def _starts_like_a_pickle(path: str | os.PathLike[str]) -> bool:
    """np.load takes any file that is neither .npz nor .npy for a pickle; only one that
    starts with a pickle protocol opcode (2 and later: 0x80) is reported as one."""
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufcUS":
            raise TypeError(f"gg.save: cannot store an array of dtype {obj.dtype} without pickle")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"array": key}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"gg.save: dict keys must be str or int, got {k!r}")
            items.append([k, _encode(v, arrays)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(
        f"gg.save: cannot store a {type(obj).__name__} (arrays, numbers, strings, "
        "dicts and lists only)"
    )


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if "array" in node:
        return arrays[node["array"]]
    if "dict" in node:
        return {k: _decode(v, arrays) for k, v in node["dict"]}
    if "list" in node:
        return [_decode(v, arrays) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, arrays) for v in node["tuple"])
    return node["value"]
