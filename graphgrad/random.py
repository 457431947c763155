"""The default random generator used by layers and initialisers when none is given.

``gg.manual_seed(0)`` makes model construction reproducible; every layer and ``nn.init``
function also accepts ``rng=`` (a ``np.random.Generator`` or an int seed).
"""

from __future__ import annotations

import numpy as np

_default = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed the default generator used when no ``rng`` is passed."""
    global _default
    _default = np.random.default_rng(seed)


def get_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """``rng`` itself, a new generator seeded with ``rng`` if it is an int, or the default."""
    if rng is None:
        return _default
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a np.random.Generator, an int seed or None, got {rng!r}")
