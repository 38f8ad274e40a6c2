"""Output heads shared by every encoder: classification logits and forecasts."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqbench.models.base import Encoder


class PooledHead(nn.Module):
    """Pooled encoding (B, D) → linear → (B, *shape): logits (C,) or a direct forecast (H, T)."""

    def __init__(self, in_size: int, shape: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        self.shape = shape
        self.drop = nn.Dropout(dropout)
        out = 1
        for n in shape:
            out *= n
        self.linear = nn.Linear(in_size, out)

    def forward(self, encoder: Encoder, h: Tensor, lengths: Tensor) -> Tensor:
        z = encoder.pooled(h, lengths)  # (B, D)
        return self.linear(self.drop(z)).view(-1, *self.shape)  # (B, *shape)


class QueryHead(nn.Module):
    """Learned decoder queries of an encoder-decoder → linear per query → (B, *shape).

    One query for classification (shape (C,)), one per horizon step for a direct forecast
    (shape (H, T)).
    """

    def __init__(self, d: int, queries: int, shape: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        self.shape = shape
        self.queries = nn.Parameter(torch.randn(queries, d) * 0.02)  # (Q, d)
        self.drop = nn.Dropout(dropout)
        self.linear = nn.Linear(d, shape[-1])

    def forward(self, encoder: Encoder, h: Tensor, lengths: Tensor) -> Tensor:
        memory, lengths = encoder(h, lengths)  # (B, T, d)
        tgt = self.queries.expand(h.size(0), -1, -1)  # (B, Q, d)
        out = encoder.decode(memory, lengths, tgt)  # (B, Q, d)
        return self.linear(self.drop(out)).view(-1, *self.shape)  # (B, *shape)


class StepHead(nn.Module):
    """Per-step states of the last T steps (a CLS step, if any, dropped) → logits (B, T, C)."""

    def __init__(self, in_size: int, classes: int, dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.linear = nn.Linear(in_size, classes)

    def forward(self, encoder: Encoder, h: Tensor, lengths: Tensor) -> Tensor:
        states, _ = encoder(h, lengths)  # (B, T', D), T' = T or T+1 with CLS first
        return self.linear(self.drop(states[:, -h.size(1) :]))  # (B, T, C)
