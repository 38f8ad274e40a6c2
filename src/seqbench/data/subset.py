"""Seeded subsets of a split (``train.fraction`` < 1): one draw for every data kind."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def subset_index(n: int, fraction: float, key: int | Sequence[int]) -> np.ndarray | None:
    """A sorted random subset of ``max(1, round(n * fraction))`` of ``range(n)``, drawn from
    ``numpy.random.default_rng(key)``; None (everything) when ``fraction >= 1`` or ``n == 0``."""
    if fraction >= 1.0 or n == 0:
        return None
    rng = np.random.default_rng(key)
    size = max(1, round(fraction * n))
    return np.sort(rng.choice(n, size=size, replace=False))
