"""Seeded subsets of a split: one draw for every data kind.

``train.fraction`` < 1 keeps a share of every split that depends on the split only, never on the
run's seed: every seed and architecture trains, validates and tests on the same examples, so
per-seed means and paired tests compare like with like. ``train.train_share`` < 1 (learning
curves) then keeps a share of the *training* split only, drawn with the run's seed; validation
and test never change with it.
"""

from __future__ import annotations

import numpy as np

SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}  # the generator key of each split's subset
SHARE_KEY = 3  # the generator key of the training share (with the run's seed)


def subset_index(n: int, fraction: float, split: str) -> np.ndarray | None:
    """A sorted random subset of ``max(1, round(n * fraction))`` of ``range(n)`` for ``split``;
    None (everything) when ``fraction >= 1`` or ``n == 0``."""
    if fraction >= 1.0 or n == 0:
        return None
    rng = np.random.default_rng(SPLIT_KEYS[split])
    size = max(1, round(fraction * n))
    return np.sort(rng.choice(n, size=size, replace=False))


def split_index(
    n: int, split: str, fraction: float = 1.0, train_share: float = 1.0, seed: int = 0
) -> np.ndarray | None:
    """The sorted examples of ``split`` a run uses (None: all ``n``): the fixed ``fraction``
    subset of :func:`subset_index`, then, for the training split only, ``max(1, round(m *
    train_share))`` of its ``m`` examples drawn with ``seed``. For one seed the shares are
    nested (each smaller share lies inside every larger one), so a learning curve adds data
    rather than swapping it."""
    index = subset_index(n, fraction, split)
    if split != "train" or train_share >= 1.0 or n == 0:
        return index
    base = np.arange(n) if index is None else index
    order = np.random.default_rng([SHARE_KEY, seed]).permutation(len(base))
    keep = max(1, round(train_share * len(base)))
    return np.sort(base[order[:keep]])
