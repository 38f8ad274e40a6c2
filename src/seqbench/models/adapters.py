"""Task adapters: turn raw inputs into the (B, T, E) sequences every encoder consumes."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TokenEmbedding(nn.Module):
    """Text: padded token ids (B, T) → embeddings (B, T, E); lengths from the padding id."""

    def __init__(self, vocab_size: int, size: int, pad_id: int, dropout: float) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, size, padding_idx=pad_id)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.embed(x))  # (B, T, E)

    def default_lengths(self, x: Tensor) -> Tensor:
        """Lengths of right-padded id sequences (at least 1)."""
        return (x != self.pad_id).sum(dim=1).clamp(min=1)  # (B,)


class NumericProjection(nn.Module):
    """Numeric windows (B, L, F) → (B, L, E) by one linear projection per step."""

    def __init__(self, features: int, size: int, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Linear(features, size)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.proj(x))  # (B, L, E)

    def default_lengths(self, x: Tensor) -> Tensor:
        """Unpadded windows: every sequence spans all L steps."""
        return torch.full((x.size(0),), x.size(1), dtype=torch.long, device=x.device)  # (B,)
