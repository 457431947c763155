"""pytorch/examples' word_language_model and time_sequence_prediction, ported by changing
their imports (examples/pytorch_ports): each differs from its upstream copy only in import
lines and a few lines marked ``graphgrad:``; each runs and learns; and the gradients the
graph computes for their models equal the reference equations (graphgrad.reference, the
LSTM/GRU equations in PyTorch's layout written out step by step), so no torch is needed.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import reference

ROOT = Path(__file__).resolve().parent.parent
PORTS = ROOT / "examples" / "pytorch_ports"
WLM = PORTS / "word_language_model"
TSP = PORTS / "time_sequence_prediction"

# file -> how many changed places (diff hunks) beyond the import lines, each marked
# "graphgrad:" in the port and explained in docs/pytorch.md
PORTED = {
    "word_language_model/main.py": 4,  # no Transformer/ONNX; p.data update; save; load
    "word_language_model/model.py": 1,  # TransformerModel dropped
    "word_language_model/generate.py": 1,  # load the state dict
    "word_language_model/data.py": 0,
    "time_sequence_prediction/train.py": 0,
    "time_sequence_prediction/generate_sine_wave.py": 0,
}


def _is_import(line: str) -> bool:
    return bool(re.match(r"\s*(import \S|from \S+ import )", line))


@pytest.mark.parametrize("name", sorted(PORTED))
def test_port_changes_only_imports_and_marked_lines(name: str) -> None:
    upstream = (PORTS / "upstream" / name).read_text().splitlines()
    port = (PORTS / name).read_text().splitlines()
    hunks = []
    matcher = difflib.SequenceMatcher(a=upstream, b=port, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed, added = upstream[i1:i2], port[j1:j2]
        if all(_is_import(x) for x in removed + added):
            continue
        hunks.append(added)
        assert any("graphgrad:" in x for x in added), (
            f"{name}: a change that is not an import line carries no 'graphgrad:' note:\n"
            + "\n".join(["- " + x for x in removed] + ["+ " + x for x in added])
        )
    assert len(hunks) == PORTED[name]
    assert any(x.startswith("import graphgrad") for x in port) or "data.py" in name


def test_ports_keep_the_licence_notice() -> None:
    notice = (PORTS / "LICENSE").read_text()
    assert "BSD 3-Clause License" in notice and "Pytorch contributors" in notice


def _run(script: Path, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# ------------------------------------------------------------------ word_language_model
@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hundred lines of the shipped Wikitext-2 files, as train/valid/test."""
    d = tmp_path_factory.mktemp("corpus")
    valid = (WLM / "data" / "wikitext-2" / "valid.txt").read_text(encoding="utf8").splitlines(True)
    test = (WLM / "data" / "wikitext-2" / "test.txt").read_text(encoding="utf8").splitlines(True)
    (d / "train.txt").write_text("".join(valid[:240]), encoding="utf8")
    (d / "valid.txt").write_text("".join(test[:40]), encoding="utf8")
    (d / "test.txt").write_text("".join(test[40:80]), encoding="utf8")
    return d


def _epoch_losses(out: str) -> tuple[list[float], list[float]]:
    train = [float(x) for x in re.findall(r"batches \|.*\| loss +([\d.]+)", out)]
    valid = [float(x) for x in re.findall(r"valid loss +([\d.]+)", out)]
    return train, valid


def test_word_language_model_trains_saves_and_generates(small_corpus: Path, tmp_path: Path) -> None:
    args = ["--data", str(small_corpus), "--emsize", "24", "--nhid", "24", "--bptt", "12"]
    args += ["--batch_size", "8", "--epochs", "3", "--log-interval", "4", "--dropout", "0.1"]
    out = _run(WLM / "main.py", *args, "--save", "lm.pt", cwd=tmp_path)
    train, valid = _epoch_losses(out)
    assert len(valid) == 3 and len(train) >= 6
    assert train[-1] < train[0] - 0.5, train  # from about ln(vocabulary) down
    vocabulary = {"<eos>"}
    for split in ("train", "valid", "test"):
        vocabulary |= set((small_corpus / f"{split}.txt").read_text(encoding="utf8").split())
    assert max(valid) < np.log(len(vocabulary))  # better than a uniform guess
    test_loss = float(re.search(r"test loss +([\d.]+)", out).group(1))
    assert np.isfinite(test_loss) and test_loss < train[0]
    words = _run(
        WLM / "generate.py",
        *("--data", str(small_corpus), "--checkpoint", "lm.pt", "--words", "25"),
        cwd=tmp_path,
    )
    assert "| Generated 0/25 words" in words
    generated = (tmp_path / "generated.txt").read_text(encoding="utf8").split()
    assert len(generated) == 25 and set(generated) <= vocabulary


@pytest.mark.parametrize(
    "flags", [["--model", "GRU", "--tied"], ["--use-optimizer", "--lr", "0.01"]]
)
def test_word_language_model_variants_learn(
    small_corpus: Path, tmp_path: Path, flags: list[str]
) -> None:
    args = ["--data", str(small_corpus), "--emsize", "16", "--nhid", "16", "--bptt", "12"]
    args += ["--batch_size", "8", "--epochs", "1", "--log-interval", "4", *flags]
    train, valid = _epoch_losses(_run(WLM / "main.py", *args, cwd=tmp_path))
    assert train[-1] < train[0] and len(valid) == 1


@pytest.mark.parametrize("flag", [["--model", "Transformer"], ["--onnx-export", "m.onnx"]])
def test_word_language_model_refuses_what_graphgrad_lacks(tmp_path: Path, flag: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, str(WLM / "main.py"), *flag],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no nn.Transformer and no ONNX export" in result.stderr


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("rnn_type", "tied"), [("LSTM", False), ("LSTM", True), ("GRU", False)])
def test_rnn_model_gradients_are_the_reference_equations(rnn_type: str, tied: bool) -> None:
    """RNNModel (embedding, 2 recurrent layers, decoder, log_softmax) with NLLLoss: the
    loss and every parameter's gradient against the equations written out by hand
    (``reference.word_lm_step``)."""
    model_py = _load(WLM / "model.py", "wlm_model")
    gg.manual_seed(0)
    V, E, T, N = 13, 6, 5, 3
    model = model_py.RNNModel(rnn_type, V, E, E, 2, dropout=0.0, tie_weights=tied)
    tokens = np.random.default_rng(0).integers(0, V, size=(T + 1, N))
    data, targets = gg.tensor(tokens[:-1]), gg.tensor(tokens[1:]).view(-1)
    output, _ = model(data, model.init_hidden(N))
    loss = gg.nn.NLLLoss()(output, targets)
    model.zero_grad()
    loss.backward()

    p = dict(model.named_parameters())
    if tied:  # one parameter, two uses (state_dict() lists it under both names)
        assert model.decoder.weight is model.encoder.weight and "decoder.weight" not in p
    loss_ref, expected = reference.word_lm_step(tokens, {k: v.data for k, v in p.items()}, rnn_type)
    np.testing.assert_allclose(loss.item(), loss_ref, rtol=1e-12)
    assert set(expected) == set(p)
    for name, grad in expected.items():
        np.testing.assert_allclose(p[name].grad, grad, rtol=1e-9, atol=1e-13, err_msg=name)


# ------------------------------------------------------------------ time_sequence_prediction
def test_generate_sine_wave_writes_the_training_data(tmp_path: Path) -> None:
    _run(TSP / "generate_sine_wave.py", cwd=tmp_path)
    with open(tmp_path / "traindata.pt", "rb") as f:
        data = gg.load(f)
    assert data.shape == (100, 1000) and data.dtype == np.float64
    assert np.abs(data).max() <= 1


def test_time_sequence_prediction_trains_with_lbfgs(tmp_path: Path) -> None:
    """train.py as it is, on fewer and shorter waves of the same kind (the file
    generate_sine_wave.py writes, made smaller so that the run is quick)."""
    T, L, N = 20, 80, 8
    rng = np.random.default_rng(2)
    x = np.arange(L) + rng.integers(-4 * T, 4 * T, N).reshape(N, 1)
    with open(tmp_path / "traindata.pt", "wb") as f:
        gg.save(np.sin(x / 1.0 / T).astype("float64"), f)
    out = _run(TSP / "train.py", "--steps", "2", cwd=tmp_path)
    losses = [float(v) for v in re.findall(r"^loss: (\S+)$", out, flags=re.M)]
    test_losses = [float(v) for v in re.findall(r"^test loss: (\S+)$", out, flags=re.M)]
    assert len(test_losses) == 2 and np.all(np.isfinite(losses))
    assert losses[-1] < 0.2 * losses[0], losses
    assert (tmp_path / "predict0.pdf").stat().st_size > 0 and (tmp_path / "predict1.pdf").exists()


def test_sequence_gradients_are_the_reference_equations() -> None:
    """train.py's Sequence (two LSTMCells and a Linear, unrolled over the wave) with
    MSELoss: every gradient against the LSTM equations written out by hand."""
    train_py = _load(TSP / "train.py", "tsp_train")
    gg.manual_seed(1)
    seq = train_py.Sequence()
    seq.double()
    N, T = 3, 7
    rng = np.random.default_rng(3)
    wave, target = rng.standard_normal((N, T)), rng.standard_normal((N, T))
    loss = gg.nn.MSELoss()(seq(gg.tensor(wave)), gg.tensor(target))
    seq.zero_grad()
    loss.backward()

    p = {k: v.data for k, v in seq.named_parameters()}
    cell = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    h1, c1 = reference.lstm_forward(wave[:, :, None], *(p[f"lstm1.{w}"] for w in cell))
    h2, c2 = reference.lstm_forward(h1, *(p[f"lstm2.{w}"] for w in cell))
    out = (h2 @ p["linear.weight"].T)[:, :, 0] + p["linear.bias"]
    np.testing.assert_allclose(loss.item(), ((out - target) ** 2).mean(), rtol=1e-12)
    dout = 2 * (out - target) / out.size
    expected = {
        "linear.weight": np.einsum("nt,nth->h", dout, h2)[None],
        "linear.bias": np.array([dout.sum()]),
    }
    g2 = reference.lstm_backward(dout[:, :, None] * p["linear.weight"][0], c2)
    g1 = reference.lstm_backward(g2["x"], c1)
    for layer, g in (("lstm1", g1), ("lstm2", g2)):
        for w, key in zip(cell, ("W_ih", "W_hh", "b_ih", "b_hh")):
            expected[f"{layer}.{w}"] = g[key]
    assert set(expected) == set(p)
    for name, grad in expected.items():
        got = dict(seq.named_parameters())[name].grad
        np.testing.assert_allclose(got, grad, rtol=1e-9, atol=1e-13, err_msg=name)
