"""Inference latency of a saved model on CPU: median seconds per sample at given batch sizes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from seqbench.stats import median_seconds


def measure_latency(
    model: nn.Module,
    make_input: Callable[[int, int], tuple[torch.Tensor, torch.Tensor | None]],
    seq_len: int,
    batch_sizes: Sequence[int] = (1, 256),
    *,
    repeats: int = 5,
    warmup: int = 1,
    threads: int | None = 1,
) -> dict[int, float]:
    """Median wall-clock seconds **per sample** of ``model`` on CPU for each batch size.

    ``make_input(batch_size, seq_len)`` gives a full-length batch ``(x, lengths)`` (the task
    kind's ``latency_input``).
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
                x, lengths = make_input(size, seq_len)
                seconds = median_seconds(lambda: model(x, lengths), repeats, warmup)  # noqa: B023
                out[int(size)] = seconds / size
    finally:
        torch.set_num_threads(previous)
    return out
