"""gg.save / gg.load: round trips, atomic writes, and refusal of bad files."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn


def test_round_trip_restores_identical_outputs(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 5, rng=0), nn.Tanh(), nn.Linear(5, 2, rng=1))
    x = np.random.default_rng(0).standard_normal((4, 3))
    gg.save(model.state_dict(), tmp_path / "w.npz")
    fresh = nn.Sequential(nn.Linear(3, 5, rng=7), nn.Tanh(), nn.Linear(5, 2, rng=8))
    fresh.load_state_dict(gg.load(tmp_path / "w.npz"))
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_nested_values_round_trip(tmp_path: Path) -> None:
    obj = {
        "a": np.arange(3.0),
        "n": {"k": [1, 2.5, "s", None, True], "t": (np.ones(2), 3)},
        7: np.float32(1.5),
        "e": np.zeros((0, 2)),
    }
    gg.save(obj, tmp_path / "x.npz")
    back = gg.load(tmp_path / "x.npz")
    np.testing.assert_array_equal(back["a"], obj["a"])
    assert back["n"]["k"] == [1, 2.5, "s", None, True]
    assert isinstance(back["n"]["t"], tuple) and back["n"]["t"][1] == 3
    assert back[7] == 1.5 and back["e"].shape == (0, 2)


def test_save_is_atomic_a_failed_save_keeps_the_previous_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "ckpt.npz"
    gg.save({"w": np.ones(3)}, path)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("power cut mid-save")

    monkeypatch.setattr(gg.io, "_write_archive", crash)
    with pytest.raises(KeyboardInterrupt):
        gg.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(gg.load(path)["w"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temp file left behind


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    gg.save({"w": np.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(gg.CheckpointError, match="truncated or corrupt"):
        gg.load(path)


def test_garbage_and_missing_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "g.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(gg.CheckpointError, match=r"not a readable \.npz") as info:
        gg.load(tmp_path / "g.npz")
    assert "pickle" not in str(info.value)  # garbage is not reported as a pickle
    (tmp_path / "p.npz").write_bytes(pickle.dumps({"w": [1.0]}))  # e.g. a pickled state dict
    with pytest.raises(gg.CheckpointError, match="pickled Python objects"):
        gg.load(tmp_path / "p.npz")
    with pytest.raises(gg.CheckpointError, match="no such file"):
        gg.load(tmp_path / "missing.npz")


class _Exploit:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(_Exploit.marker),))


def test_pickled_objects_are_refused_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _Exploit.marker = str(marker)  # type: ignore[attr-defined]
    path = tmp_path / "evil.npz"
    payload = np.empty(1, dtype=object)
    payload[0] = _Exploit()
    np.savez(path, w=np.ones(2), evil=payload)  # savez pickles object arrays
    assert pickle.dumps(_Exploit())  # the payload really would run on unpickling
    with pytest.raises(gg.CheckpointError, match="pickled Python objects"):
        gg.load(path)
    assert not marker.exists()


def test_wrong_model_checkpoint_is_refused_by_load_state_dict(tmp_path: Path) -> None:
    gg.save(nn.Linear(3, 2).state_dict(), tmp_path / "lin.npz")
    with pytest.raises(gg.StateDictError, match="weight: checkpoint \\(2, 3\\), model \\(2, 4\\)"):
        nn.Linear(4, 2).load_state_dict(gg.load(tmp_path / "lin.npz"))


def test_damaged_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, a0=np.ones(1), __graphgrad__=np.array("{not json"))
    with pytest.raises(gg.CheckpointError, match="manifest is damaged"):
        gg.load(path)


def test_plain_npz_loads_as_dict(tmp_path: Path) -> None:
    np.savez(tmp_path / "p.npz", x=np.arange(3))
    assert list(gg.load(tmp_path / "p.npz")) == ["x"]
    assert zipfile.is_zipfile(tmp_path / "p.npz")


def test_unsupported_values_are_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot store a set"):
        gg.save({"s": {1, 2}}, tmp_path / "s.npz")
    assert not (tmp_path / "s.npz").exists()


def test_save_into_a_missing_directory_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"the directory .*nope does not exist"):
        gg.save({"w": np.ones(2)}, tmp_path / "nope" / "w.npz")
    assert not (tmp_path / "nope").exists()


def test_open_binary_files_round_trip_like_torch_save(tmp_path: Path) -> None:
    """``gg.save(obj, f)`` / ``gg.load(f)`` on open files, as time_sequence_prediction does
    with torch.save; several objects follow each other in one file."""
    data = {"x": np.arange(6.0).reshape(2, 3), "n": [1, "s"]}
    with open(tmp_path / "d.pt", "wb") as f:
        gg.save(data, f)
        gg.save({"second": np.ones(2)}, f)
    with open(tmp_path / "d.pt", "rb") as f:
        got = gg.load(f)
    np.testing.assert_array_equal(got["x"], data["x"])
    assert got["n"] == [1, "s"]
    buffer = io.BytesIO()
    gg.save(data, buffer)
    np.testing.assert_array_equal(gg.load(io.BytesIO(buffer.getvalue()))["x"], data["x"])


def test_file_objects_are_refused_in_text_mode_and_when_damaged(tmp_path: Path) -> None:
    with open(tmp_path / "t.txt", "w") as f, pytest.raises(TypeError, match="binary mode"):
        gg.save({"a": np.ones(2)}, f)
    (tmp_path / "t.txt").write_text("hello")
    with open(tmp_path / "t.txt") as f, pytest.raises(TypeError, match="binary mode"):
        gg.load(f)
    buffer = io.BytesIO()
    gg.save({"a": np.ones(100)}, buffer)
    whole = buffer.getvalue()
    for cut in (10, len(whole) // 2, len(whole) - 5):
        with pytest.raises(gg.CheckpointError):
            gg.load(io.BytesIO(whole[:cut]))
    with pytest.raises(gg.CheckpointError, match="pickled"):
        gg.load(io.BytesIO(pickle.dumps({"a": 1})))


def test_saving_a_module_itself_names_state_dict(tmp_path: Path) -> None:
    model = nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"model.state_dict\(\).*load_state_dict"):
        gg.save(model, tmp_path / "m.pt")
    with pytest.raises(TypeError, match="state_dict"):
        gg.save({"model": model}, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()
