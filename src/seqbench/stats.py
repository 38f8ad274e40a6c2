"""Paired significance tests: McNemar (classifiers) and Diebold-Mariano (forecasters); the
median wall time every timing in seqbench reports."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

# Below this many discordant pairs McNemar uses the exact binomial test (Fagerland et al. 2013
# recommend it generally; the chi-square approximation is the classic choice for large counts).
EXACT_BELOW = 25


@dataclass(frozen=True)
class PairedTest:
    """A paired test of model A against model B: statistic, two-sided p-value and method."""

    statistic: float
    p_value: float
    method: str
    n: int  # pairs the test used (discordant pairs for McNemar, windows for DM)
    detail: str = ""


def mcnemar(b: int, c: int, *, exact_below: int = EXACT_BELOW) -> PairedTest:
    """McNemar's test from the discordant counts of a 2×2 table.

    ``b``: examples A gets right and B wrong; ``c``: the reverse. With ``b + c < exact_below``
    the exact two-sided binomial test (``n = b + c``, ``p = 0.5``); otherwise the chi-square
    statistic with continuity correction ``(|b - c| - 1)² / (b + c)`` on 1 degree of freedom.
    """
    if b < 0 or c < 0:
        raise ValueError(f"mcnemar: counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return PairedTest(0.0, 1.0, "exact binomial", 0, f"b={b} c={c}")
    if n < exact_below:
        p = stats.binomtest(min(b, c), n, 0.5, alternative="two-sided").pvalue
        return PairedTest(float(min(b, c)), float(min(1.0, p)), "exact binomial", n, f"b={b} c={c}")
    statistic = (abs(b - c) - 1) ** 2 / n
    p = stats.chi2.sf(statistic, df=1)
    return PairedTest(float(statistic), float(p), "chi-square (cc)", n, f"b={b} c={c}")


def mcnemar_predictions(
    correct_a: np.ndarray, correct_b: np.ndarray, *, exact_below: int = EXACT_BELOW
) -> PairedTest:
    """McNemar's test from per-example correctness (bool arrays over the same examples)."""
    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError(f"mcnemar: predictions of different shapes {a.shape} and {b_.shape}")
    return mcnemar(int((a & ~b_).sum()), int((~a & b_).sum()), exact_below=exact_below)


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, horizon: int = 1) -> PairedTest:
    """Diebold-Mariano test of equal expected loss, with the Harvey-Leybourne-Newbold correction.

    ``loss_a``/``loss_b`` are per-window losses (e.g. absolute or squared errors averaged over
    the window) of two forecasters on the same windows, in time order. The long-run variance of
    the loss differential uses autocovariances up to lag ``horizon - 1`` (overlapping
    ``horizon``-step forecasts); the statistic is scaled by
    ``sqrt((n + 1 - 2h + h(h - 1) / n) / n)`` and compared with Student's t on ``n - 1`` degrees
    of freedom. A negative statistic means A has the smaller loss.
    """
    d = np.asarray(loss_a, dtype=np.float64) - np.asarray(loss_b, dtype=np.float64)  # (n,)
    n = len(d)
    if n < 3:
        raise ValueError(f"diebold_mariano: need at least 3 paired losses, got {n}")
    h = max(1, min(int(horizon), n - 1))
    mean = d.mean()
    centered = d - mean
    gamma = [float(centered[k:] @ centered[: n - k]) / n for k in range(h)]  # autocovariances
    variance = (gamma[0] + 2.0 * sum(gamma[1:])) / n
    if variance <= 0:  # the truncated long-run variance can be negative; fall back to lag 0
        variance = gamma[0] / n
    if variance <= 0:
        statistic = 0.0 if mean == 0 else math.copysign(math.inf, mean)
    else:
        statistic = mean / math.sqrt(variance)
    correction = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    statistic *= correction
    p = 2.0 * stats.t.sf(abs(statistic), df=n - 1) if math.isfinite(statistic) else 0.0
    return PairedTest(float(statistic), float(min(1.0, p)), "Diebold-Mariano (HLN)", n, f"h={h}")


def median_seconds(
    step: Callable[[], object], repeats: int, warmup: int, sync: Callable[[], object] = lambda: None
) -> float:
    """Median wall time of ``step`` over ``repeats`` calls after ``warmup`` unmeasured ones
    (the median: a stall of a shared machine does not move it); ``sync`` waits for a device."""
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
