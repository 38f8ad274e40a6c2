"""Seeded subsets of a split (``train.fraction`` < 1): one draw for every data kind.

The draw depends on the split only, never on the run's seed: every seed and architecture trains,
validates and tests on the same examples, so per-seed means and paired tests compare like with
like.
"""

from __future__ import annotations

import numpy as np

SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}  # the generator key of each split's subset


def subset_index(n: int, fraction: float, split: str) -> np.ndarray | None:
    """A sorted random subset of ``max(1, round(n * fraction))`` of ``range(n)`` for ``split``;
    None (everything) when ``fraction >= 1`` or ``n == 0``."""
    if fraction >= 1.0 or n == 0:
        return None
    rng = np.random.default_rng(SPLIT_KEYS[split])
    size = max(1, round(fraction * n))
    return np.sort(rng.choice(n, size=size, replace=False))
