"""Shared test setup: hypothesis profiles chosen by GRAPHGRAD_HYPOTHESIS_PROFILE.

ci    (default) few examples, derandomized: fast and repeatable, for CI.
dev   more examples, still derandomized.
deep  many random examples, for a thorough local run:
      GRAPHGRAD_HYPOTHESIS_PROFILE=deep pytest
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=12, derandomize=True, **_common)
settings.register_profile("dev", max_examples=60, derandomize=True, **_common)
settings.register_profile("deep", max_examples=400, **_common)
settings.load_profile(os.environ.get("GRAPHGRAD_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
