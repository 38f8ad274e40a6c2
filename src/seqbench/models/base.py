"""The encoder contract shared by every architecture, and pooling over valid steps only."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def valid_mask(lengths: Tensor, steps: int) -> Tensor:
    """True at the valid (non-padding) steps of right-padded sequences."""
    return torch.arange(steps, device=lengths.device) < lengths[:, None]  # (B, T)


def reverse_padded(x: Tensor, lengths: Tensor, time_dim: int = 1) -> Tensor:
    """Reverse each sequence of ``x`` within its length along ``time_dim`` (1: (B, T, ...),
    0: (T, B, ...)); padding steps stay in place. Applying it twice gives ``x`` back."""
    steps = x.size(time_dim)
    t = torch.arange(steps, device=x.device)  # (T,)
    index = lengths.to(x.device)[:, None] - 1 - t  # (B, T)
    index = torch.where(index >= 0, index, t)
    if time_dim == 0:
        index = index.t()  # (T, B)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(time_dim, index)


def pool(states: Tensor, lengths: Tensor, mode: str, directions: int = 1) -> Tensor:
    """Summarize per-step ``states`` (B, T, D) using only each sequence's first ``lengths`` steps.

    ``last`` of a bidirectional recurrent output joins the forward half at the last valid step
    with the backward half at step 0 (where the backward pass ends). ``cls`` takes step 0.
    """
    batch, steps, size = states.shape
    if mode == "cls":
        return states[:, 0]  # (B, D)
    if mode == "last":
        last = states[torch.arange(batch, device=states.device), lengths - 1]  # (B, D)
        if directions == 1:
            return last
        half = size // 2
        return torch.cat([last[:, :half], states[:, 0, half:]], dim=-1)  # (B, D)
    mask = valid_mask(lengths, steps)[..., None]  # (B, T, 1)
    if mode == "mean":
        total = states.masked_fill(~mask, 0.0).sum(dim=1)  # (B, D)
        return total / lengths[:, None].clamp(min=1).to(states.dtype)
    if mode == "max":
        return states.masked_fill(~mask, float("-inf")).amax(dim=1)  # (B, D)
    raise ValueError(f"unknown pooling {mode!r}")


class Encoder(nn.Module):
    """Maps embedded right-padded sequences (B, T, E) + lengths (B,) to per-step states.

    Subclasses set ``out_size`` and implement ``forward``; padding must be invisible to the
    valid steps. ``pooled`` pools those states to one vector per sequence.
    """

    out_size: int
    pooling: str
    directions: int = 1
    seq2seq: bool = False

    def forward(self, h: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Return per-step states (B, T', out_size) and their lengths (B,) (T' may add a CLS)."""
        raise NotImplementedError

    def pooled(self, h: Tensor, lengths: Tensor) -> Tensor:
        """One vector (B, out_size) per sequence, pooled over valid steps."""
        states, lengths = self(h, lengths)
        return pool(states, lengths, self.pooling, self.directions)
