"""Inference latency of a saved model on CPU: median seconds per sample at given batch sizes."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import torch
from torch import nn

from seqbench.models import ClassificationSpec, ForecastSpec


def example_batch(
    spec: ClassificationSpec | ForecastSpec, batch_size: int, seq_len: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A synthetic full-length batch: ids ``(B, T)`` with lengths, or windows ``(B, L, F)``."""
    gen = torch.Generator().manual_seed(seed)
    if isinstance(spec, ClassificationSpec):
        low = min(spec.pad_id + 1, spec.vocab_size - 1)
        ids = torch.randint(low, spec.vocab_size, (batch_size, seq_len), generator=gen)  # (B, T)
        return ids, torch.full((batch_size,), seq_len, dtype=torch.int64)  # (B,)
    x = torch.randn(batch_size, seq_len, spec.input_features, generator=gen)  # (B, L, F)
    return x, None


def measure_latency(
    model: nn.Module,
    spec: ClassificationSpec | ForecastSpec,
    seq_len: int,
    batch_sizes: Sequence[int] = (1, 256),
    *,
    repeats: int = 5,
    warmup: int = 1,
    threads: int | None = 1,
) -> dict[int, float]:
    """Median wall-clock seconds **per sample** of ``model`` on CPU for each batch size.

    Each batch size is run ``warmup`` times unmeasured, then ``repeats`` times; the median of
    (batch time / batch size) is reported. ``threads`` pins torch's intra-op threads for the
    measurement (None keeps the current setting) and is restored afterwards.
    """
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    model = model.cpu().eval()
    out: dict[int, float] = {}
    try:
        with torch.inference_mode():
            for size in batch_sizes:
                x, lengths = example_batch(spec, size, seq_len)
                times = []
                for i in range(warmup + repeats):
                    start = time.perf_counter()
                    model(x, lengths)
                    if i >= warmup:
                        times.append((time.perf_counter() - start) / size)
                out[int(size)] = statistics.median(times)
    finally:
        torch.set_num_threads(previous)
    return out
