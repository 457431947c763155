"""``gg.save`` / ``gg.load``: state dicts (and nested dicts/lists of arrays, numbers and
strings — e.g. an optimizer's state) as ``.npz`` files, never pickle.

Format: an ordinary NumPy ``.npz`` archive (a zip of ``.npy`` members, stored
uncompressed) holding a JSON manifest ``__graphgrad__`` first, then the arrays ``a0, a1,
...`` it refers to. ``np.load`` reads these files too.

Loading reads the archive itself rather than through ``np.load``, so that a file is taken
whole or not at all (``CheckpointError`` otherwise, and nothing is returned):

* every member's CRC is checked (a single flipped bit anywhere in the data is caught);
  the manifest is validated field by field, every array it names must be there, and no
  member may be left over;
* the array data read is bounded before anything is allocated: by the file's size (every
  file ``gg.save`` writes fits it, as it stores arrays uncompressed), or by ``max_bytes``
  for a compressed ``.npz`` from elsewhere; a header declaring more is refused, so a
  small file cannot make ``gg.load`` allocate gigabytes;
* pickled objects (object arrays, pickle files, PyTorch ``.pt`` archives) are refused and
  never unpickled, so a file can never execute code.

Saving is atomic: the archive is written to a temporary file in the target directory,
flushed to disk, given the permissions the target has (or a new file would get), renamed
over the target, and the directory entry is flushed; a crash mid-save leaves the previous
file intact. A temporary file left by a save that was killed is removed by the next save
to the same path.
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
import stat
import struct
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from graphgrad.core.tensor import Tensor
from graphgrad.errors import CheckpointError

_MANIFEST = "__graphgrad__"
_FORMAT = "graphgrad-npz"
_STORABLE = "biufcUS"  # dtype kinds saved without pickle
_MAX_DEPTH = 100  # nesting of the saved tree (state dicts are a few levels deep)
_TMP_SUFFIX = ".graphgrad-tmp"


# ------------------------------------------------------------------------------ save
def save(obj: Any, path: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write ``obj`` (a mapping of names to arrays/Tensors, possibly nested) to ``path``
    atomically. ``path`` is used as given (no suffix is added). An open binary file (as
    ``torch.save(obj, f)`` takes) is written from its current position: everything is
    encoded first, so a refused object writes nothing, but the file is the caller's, so
    replacing it atomically is too (give a path for that)."""
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays, 0)
    manifest = json.dumps({"format": _FORMAT, "version": 1, "tree": tree})
    if hasattr(path, "write"):
        if isinstance(path, io.TextIOBase):
            raise TypeError("gg.save: the file must be opened in binary mode ('wb')")
        buffer = io.BytesIO()
        _write_archive(buffer, manifest, arrays)
        path.write(buffer.getvalue())
        return
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():  # else the error would name the temporary file
        raise FileNotFoundError(f"gg.save: {path}: the directory {directory} does not exist")
    _remove_stale_temporaries(directory, path.name)
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{_TMP_SUFFIX}"
    # 0o666 less the umask: the permissions a new file gets (mkstemp would give 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_archive(f, manifest, arrays)
            f.flush()
            os.fsync(f.fileno())
        try:  # an existing file keeps its permissions
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _write_archive(f: IO[bytes], manifest: str, arrays: dict[str, np.ndarray]) -> None:
    """The manifest first: a damaged directory that loses trailing members then loses an
    array the manifest names (and is refused), never the manifest."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in [(_MANIFEST, np.array(manifest)), *arrays.items()]:
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _remove_stale_temporaries(directory: Path, name: str) -> None:
    """Temporary files of earlier saves to ``name`` whose process no longer runs (a save
    that was killed cannot remove its own)."""
    if os.name != "posix":  # os.kill(pid, 0) asks whether pid runs on POSIX only
        return
    for tmp in directory.glob(f".{name}.*{_TMP_SUFFIX}"):
        pid_text = tmp.name[len(name) + 2 :].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue  # not ours to judge, or a save in progress in this process
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (PermissionError, OverflowError):
            pass  # that process runs (as another user): its save may be in progress


def _fsync_directory(directory: Path) -> None:
    """Flush the rename itself to disk (POSIX; elsewhere directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _encode(obj: Any, arrays: dict[str, np.ndarray], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise TypeError(f"gg.save: the object is nested more than {_MAX_DEPTH} levels deep")
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _STORABLE:
            raise TypeError(f"gg.save: cannot store an array of dtype {obj.dtype} without pickle")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"array": key}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"gg.save: dict keys must be str or int, got {k!r}")
            items.append([k, _encode(v, arrays, depth + 1)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, depth + 1) for v in obj]}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict"):
        raise TypeError(
            f"gg.save: cannot store a {type(obj).__name__} itself (graphgrad never pickles "
            "objects): save its state, gg.save(model.state_dict(), f), and restore it into a "
            "new instance with model.load_state_dict(gg.load(f))"
        )
    raise TypeError(
        f"gg.save: cannot store a {type(obj).__name__} (arrays, numbers, strings, "
        "dicts and lists only)"
    )


# ------------------------------------------------------------------------------ load
class _Buffer(io.BytesIO):
    """A file object's bytes, named as the file in messages."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self._name = name

    def __str__(self) -> str:
        return self._name


def _first_archive(data: bytes) -> bytes:
    """The bytes of the first zip archive in ``data``. Saves to one open file follow each
    other; a zip reader would find the last one's directory (it reads from the end), so
    loading the first object would silently return the last. An archive ends at the first
    end-of-directory record whose directory lies just before it."""
    pos = data.find(b"PK\x05\x06")
    while pos >= 0 and pos + 22 <= len(data):
        size, offset = struct.unpack_from("<II", data, pos + 12)
        (comment,) = struct.unpack_from("<H", data, pos + 20)
        if offset + size == pos and data[offset : offset + 4] == b"PK\x01\x02":
            return data[: pos + 22 + comment]
        pos = data.find(b"PK\x05\x06", pos + 1)
    return data  # not a zip archive (an .npy file, or damage that load then reports)


def load(path: str | os.PathLike[str] | IO[bytes], *, max_bytes: int | None = None) -> Any:
    """Read a file written by ``save`` (or a pickle-free ``.npz``: then a dict of its arrays;
    or a ``.npy`` file: its array), whole or not at all.

    Args:
        path: the file.
        max_bytes: the most array data to read (bytes). Default: the file's size, which
            every file ``save`` writes fits; a compressed ``.npz`` may need more.

    Raises:
        CheckpointError: a missing, truncated, corrupt, oversized or pickled file, or a
            damaged manifest. Nothing is returned then.
    """
    if hasattr(path, "read"):  # an open binary file, as torch.load(f) takes
        start = path.tell() if path.seekable() else None  # type: ignore[union-attr]
        data = path.read()
        if not isinstance(data, bytes):
            raise TypeError("gg.load: the file must be opened in binary mode ('rb')")
        data = _first_archive(data)
        if start is not None:  # the next load reads the next object, as with torch.load
            path.seek(start + len(data))  # type: ignore[union-attr]
        path = _Buffer(data, str(getattr(path, "name", "<file object>")))
    try:
        if isinstance(path, _Buffer):
            size, head = len(path.getvalue()), path.getvalue()[:6]
        else:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                head = f.read(6)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
    budget = size if max_bytes is None else max_bytes
    if head == b"\x93NUMPY":
        return _guarded(path, lambda: _read_npy_file(path, size, budget))
    if head[:1] == b"\x80":  # pickle protocol 2 and later
        raise CheckpointError(
            f"{path}: refusing to load: the file contains pickled Python objects, which "
            "could execute code when loaded. graphgrad checkpoints hold only arrays."
        )
    if head[:2] != b"PK" and (isinstance(path, _Buffer) or not zipfile.is_zipfile(path)):
        raise CheckpointError(
            f"{path}: not a readable .npz checkpoint: it is neither a zip archive nor an .npy file"
        )
    contents = _guarded(path, lambda: _read_archive(path, budget, max_bytes is None))
    if _MANIFEST not in contents:
        return contents
    return _from_manifest(path, contents)


def _guarded(path: Any, read: Any) -> Any:
    """Any failure while reading (zipfile, zlib, struct, header parsing ...) means the file
    is not readable as a whole: one CheckpointError, never a partial result."""
    try:
        return read()
    except CheckpointError:
        raise
    except RecursionError as exc:
        raise CheckpointError(f"{path}: the file is nested too deeply to be read") from exc
    except Exception as exc:
        raise CheckpointError(
            f"{path}: not a readable .npz checkpoint — the file may be truncated or "
            f"corrupt ({type(exc).__name__}: {exc})"
        ) from exc


def _read_archive(path: Any, budget: int, default_budget: bool) -> dict[str, np.ndarray]:
    contents: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if any(n.endswith(".pkl") for n in names):
            raise CheckpointError(
                f"{path}: refusing to load: the archive holds pickled Python objects "
                f"({next(n for n in names if n.endswith('.pkl'))}; a PyTorch .pt file is "
                "such a zip of pickles). graphgrad never unpickles: save the arrays with "
                "np.savez (e.g. {k: v.numpy() for k, v in torch_state.items()})"
            )
        declared = sum(i.file_size for i in infos)
        if declared > budget:
            raise CheckpointError(
                f"{path}: the archive declares {declared} bytes of data, more than "
                + (
                    f"the file's own size ({budget} bytes), as no file gg.save writes does; "
                    "for a compressed .npz you trust, pass max_bytes="
                    if default_budget
                    else f"max_bytes={budget}"
                )
            )
        for info in infos:
            if not info.filename.endswith(".npy") or info.is_dir():
                raise CheckpointError(
                    f"{path}: the archive member {info.filename!r} is not an .npy array"
                )
            key = info.filename[: -len(".npy")]
            if key in contents:
                raise CheckpointError(f"{path}: the archive holds {key!r} twice")
            with zf.open(info) as member:
                contents[key] = _read_npy(member, info.file_size, path)
    return contents


def _read_npy_file(path: Any, size: int, budget: int) -> np.ndarray:
    if size > budget:
        raise CheckpointError(f"{path}: {size} bytes, more than max_bytes={budget}")
    if isinstance(path, _Buffer):
        return _read_npy(path, size, path)
    with open(path, "rb") as f:
        return _read_npy(f, size, path)


def _read_npy(fp: IO[bytes], length: int, path: Any) -> np.ndarray:
    """One .npy stream of ``length`` bytes. The header's shape and dtype must account for
    exactly those bytes before the array is allocated; the stream is then read to its end
    (which is where zipfile checks the member's CRC)."""
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise CheckpointError(f"{path}: unsupported .npy format version {version}")
    if dtype.hasobject:
        raise CheckpointError(
            f"{path}: refusing to load: the file contains pickled Python objects (an "
            "object array), which could execute code when loaded. graphgrad checkpoints "
            "hold only arrays."
        )
    if dtype.kind not in _STORABLE:
        raise CheckpointError(f"{path}: an array of dtype {dtype} (not stored by gg.save)")
    nbytes = math.prod(shape) * dtype.itemsize
    # exactly the member's bytes after the header; where the position cannot be read, at
    # least no more than the member holds (so nothing larger is ever allocated)
    header = fp.tell() if fp.seekable() else None
    fits = nbytes <= length if header is None else header + nbytes == length
    if not fits:
        raise CheckpointError(
            f"{path}: an array header declares {nbytes} bytes of data (shape {shape}, "
            f"{dtype}) where the member holds {length - (header or 0)}: the file is corrupt"
        )
    flat = np.empty(nbytes, dtype=np.uint8)
    view, done = memoryview(flat.data), 0
    while done < nbytes:
        n = fp.readinto(view[done:])  # type: ignore[attr-defined]
        if not n:
            raise CheckpointError(f"{path}: an array's data is truncated")
        done += n
    if fp.read(1):
        raise CheckpointError(f"{path}: an array member holds more data than its header says")
    if dtype.itemsize == 0:
        return np.zeros(shape, dtype=dtype)
    return flat.view(dtype).reshape(shape, order="F" if fortran else "C")


def _from_manifest(path: Any, contents: dict[str, np.ndarray]) -> Any:
    raw = contents.pop(_MANIFEST)
    try:
        if raw.dtype.kind != "U" or raw.shape != ():
            raise ValueError(f"it is a {raw.dtype} array of shape {raw.shape}, not a string")
        manifest = json.loads(str(raw))
        if not isinstance(manifest, dict):
            raise ValueError(f"it is a JSON {type(manifest).__name__}, not an object")
        if set(manifest) != {"format", "version", "tree"}:
            raise ValueError(f"its fields are {sorted(manifest)}")
        if manifest["format"] != _FORMAT:
            raise ValueError(f"unknown format {manifest['format']!r}")
        if manifest["version"] != 1 or isinstance(manifest["version"], bool):
            raise ValueError(f"unknown version {manifest['version']!r}")
        used: set[str] = set()
        obj = _decode(manifest["tree"], contents, used, 0)
    except RecursionError as exc:
        raise CheckpointError(f"{path}: the checkpoint's manifest is nested too deeply") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's manifest is damaged ({exc})") from exc
    extra = sorted(set(contents) - used)
    if extra:
        raise CheckpointError(
            f"{path}: the archive holds arrays its manifest does not name ({', '.join(extra)})"
        )
    return obj


def _decode(node: Any, arrays: dict[str, np.ndarray], used: set[str], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError(f"nested more than {_MAX_DEPTH} levels deep")
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"a node must be an object with one field, got {node!r:.60}")
    ((kind, body),) = node.items()
    if kind == "array":
        if not isinstance(body, str) or body not in arrays:
            raise ValueError(f"it names an array {body!r:.40} that the archive lacks")
        if body in used:
            raise ValueError(f"it names the array {body!r} twice")
        used.add(body)
        return arrays[body]
    if kind == "value":
        if body is not None and not isinstance(body, (bool, int, float, str)):
            raise ValueError(f"a value must be a number, string or null, got {body!r:.40}")
        return body
    if not isinstance(body, list):
        raise ValueError(f"{kind!r} must hold a list, got {type(body).__name__}")
    if kind == "list":
        return [_decode(v, arrays, used, depth + 1) for v in body]
    if kind == "tuple":
        return tuple(_decode(v, arrays, used, depth + 1) for v in body)
    if kind == "dict":
        out = {}
        for item in body:
            if not isinstance(item, list) or len(item) != 2:
                raise ValueError("a dict entry must be a [key, value] pair")
            k, v = item
            if not isinstance(k, (str, int)) or isinstance(k, bool) or k in out:
                raise ValueError(f"bad or repeated dict key {k!r:.40}")
            out[k] = _decode(v, arrays, used, depth + 1)
        return out
    raise ValueError(f"unknown node kind {kind!r:.40}")
