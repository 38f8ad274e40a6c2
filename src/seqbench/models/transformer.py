"""Transformers, nanoGPT style: attention → MLP → block → encoder-only / decoder-only / enc-dec.

Hand-written pre-norm blocks over ``F.scaled_dot_product_attention`` with explicit boolean masks
(True = may attend), instead of ``nn.TransformerEncoder`` whose nested-tensor fast path changes
padded outputs. Every query may attend to itself, so no row is fully masked (no NaN), and valid
positions never attend to padding, so outputs are padding-invariant.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqbench.models.base import Encoder, valid_mask
from seqbench.typed import ConfigError

if TYPE_CHECKING:  # annotations only: models/config.py imports this module
    from seqbench.models.config import ModelConfig


class PositionalEncoding(nn.Module):
    """Adds sinusoidal (fixed) or learned position vectors to (B, T, d) inputs."""

    def __init__(self, kind: str, max_length: int, d: int) -> None:
        super().__init__()
        self.max_length = max_length
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_length, d) * 0.02)  # (P, d)
        else:
            position = torch.arange(max_length, dtype=torch.float32)[:, None]  # (P, 1)
            freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(1e4) / d))
            table = torch.zeros(max_length, d)  # (P, d)
            table[:, 0::2] = torch.sin(position * freq)
            table[:, 1::2] = torch.cos(position * freq[: d // 2])
            self.register_buffer("table", table, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        steps = x.size(1)
        if steps > self.max_length:
            raise ConfigError(
                f"max_length: expected >= the sequence length {steps}, got {self.max_length}"
            )
        return x + self.table[:steps]  # (B, T, d)


class Attention(nn.Module):
    """Multi-head attention of queries ``x`` over ``context`` (self- or cross-attention)."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.query = nn.Linear(d, d)
        self.key_value = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x: Tensor, context: Tensor, mask: Tensor) -> Tensor:
        """``x`` (B, Q, d), ``context`` (B, K, d), ``mask`` (B, Q, K) → (B, Q, d)."""
        batch, queries, d = x.shape
        keys, head_size = context.size(1), d // self.heads
        q = self.query(x).view(batch, queries, self.heads, head_size).transpose(1, 2)  # (B,nh,Q,hs)
        kv = self.key_value(context).view(batch, keys, 2, self.heads, head_size)
        k, v = kv.permute(2, 0, 3, 1, 4)  # (B, nh, K, hs) each
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask[:, None], dropout_p=self.dropout if self.training else 0.0
        )  # (B, nh, Q, hs)
        return self.proj(y.transpose(1, 2).reshape(batch, queries, d))  # (B, Q, d)


class Block(nn.Module):
    """Pre-norm block: self-attention, optional cross-attention to a memory, then an MLP."""

    def __init__(
        self,
        d: int,
        heads: int,
        ff: int,
        dropout: float,
        cross: bool = False,
        attention_dropout: float | None = None,
    ) -> None:
        super().__init__()
        attn = dropout if attention_dropout is None else attention_dropout
        self.norm_self = nn.LayerNorm(d)
        self.self_attn = Attention(d, heads, attn)
        self.norm_cross = nn.LayerNorm(d) if cross else None
        self.cross_attn = Attention(d, heads, attn) if cross else None
        self.norm_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        mask: Tensor,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
    ) -> Tensor:
        h = self.norm_self(x)
        x = x + self.drop(self.self_attn(h, h, mask))  # (B, T, d)
        if self.cross_attn is not None and self.norm_cross is not None:
            x = x + self.drop(self.cross_attn(self.norm_cross(x), memory, memory_mask))
        return x + self.drop(self.mlp(self.norm_mlp(x)))  # (B, T, d)


def self_attention_mask(lengths: Tensor, steps: int, causal: bool) -> Tensor:
    """(B, T, T): attend to valid keys (and earlier ones only, if causal), always to oneself."""
    mask = valid_mask(lengths, steps)[:, None, :].expand(-1, steps, -1)  # (B, T, T)
    eye = torch.eye(steps, dtype=torch.bool, device=lengths.device)  # (T, T)
    if causal:
        mask = mask & torch.ones_like(eye).tril()
    return mask | eye


def _stack_flops(d: int, ff: int, layers: int, queries: int, memory: int = 0) -> int:
    """Matmul FLOPs of ``layers`` blocks over ``queries`` steps (+ cross-attention to ``memory``).

    Per block: self-attention 8·Q·d² (q, kv, out projections) + 4·Q²·d (scores, weighted sum);
    cross-attention 4·Q·d² + 4·M·d² + 4·Q·M·d; MLP 4·Q·d·ff. Masked scores are computed too.
    """
    per_layer = 8 * queries * d * d + 4 * queries * queries * d + 4 * queries * d * ff
    if memory:
        per_layer += 4 * queries * d * d + 4 * memory * d * d + 4 * queries * memory * d
    return layers * per_layer


class TransformerEncoder(Encoder):
    """Encoder-only (bidirectional attention) or decoder-only (``causal``) Transformer stack.

    With ``cls`` pooling a learned CLS vector is prepended inside the model (the tokenizer has
    no CLS token); states then have T+1 steps and CLS is step 0.
    """

    def __init__(self, cfg: ModelConfig, input_size: int, causal: bool) -> None:
        super().__init__()
        d = cfg.hidden_size
        if input_size != d:
            raise ValueError(f"Transformer input size {input_size} must equal hidden_size {d}")
        self.causal = causal
        self.pooling = cfg.pool
        self.out_size = d
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02) if self.pooling == "cls" else None
        self.positions = PositionalEncoding(cfg.positional, cfg.max_length, d)
        self.blocks = nn.ModuleList(
            Block(d, cfg.num_heads, cfg.ff, cfg.dropout, attention_dropout=cfg.attn_dropout)
            for _ in range(cfg.num_layers)
        )
        self.norm = nn.LayerNorm(d)

    def forward(self, h: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        if self.cls is not None:
            h = torch.cat([self.cls.expand(h.size(0), -1, -1), h], dim=1)  # (B, 1+T, d)
            lengths = lengths + 1
        x = self.positions(h)  # (B, T, d)
        mask = self_attention_mask(lengths, x.size(1), self.causal)  # (B, T, T)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x), lengths  # (B, T, d)

    @staticmethod
    def flops(cfg: ModelConfig, input_size: int, seq_len: int, causal: bool) -> int:
        steps = seq_len + (1 if cfg.pool == "cls" else 0)
        return _stack_flops(cfg.hidden_size, cfg.ff, cfg.num_layers, steps)


class TransformerEncDec(Encoder):
    """Encoder-decoder Transformer: ``forward`` encodes, ``decode`` runs the causal decoder.

    The decoder's inputs (learned queries or fed-back targets) come from the heads; its
    self-attention uses a square-subsequent (causal) mask, its cross-attention the encoder's
    key-padding mask.
    """

    seq2seq = True

    def __init__(self, cfg: ModelConfig, input_size: int) -> None:
        super().__init__()
        d = cfg.hidden_size
        if input_size != d:
            raise ValueError(f"Transformer input size {input_size} must equal hidden_size {d}")
        self.pooling = cfg.pool
        self.out_size = d
        self.positions = PositionalEncoding(cfg.positional, cfg.max_length, d)
        self.encoder = nn.ModuleList(
            Block(d, cfg.num_heads, cfg.ff, cfg.dropout, attention_dropout=cfg.attn_dropout)
            for _ in range(cfg.num_layers)
        )
        self.encoder_norm = nn.LayerNorm(d)
        self.decoder = nn.ModuleList(
            Block(d, cfg.num_heads, cfg.ff, cfg.dropout, True, cfg.attn_dropout)
            for _ in range(cfg.decoder_layers)
        )
        self.decoder_norm = nn.LayerNorm(d)

    def forward(self, h: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = self.positions(h)  # (B, T, d)
        mask = self_attention_mask(lengths, x.size(1), causal=False)  # (B, T, T)
        for block in self.encoder:
            x = block(x, mask)
        return self.encoder_norm(x), lengths  # memory (B, T, d)

    def decode(self, memory: Tensor, lengths: Tensor, tgt: Tensor) -> Tensor:
        """Per-step decoder states (B, Q, d) for decoder inputs ``tgt`` (B, Q, d); causal."""
        batch, queries, _ = tgt.shape
        x = self.positions(tgt)  # (B, Q, d)
        full = torch.full((batch,), queries, device=tgt.device)
        mask = self_attention_mask(full, queries, causal=True)  # (B, Q, Q)
        memory_mask = valid_mask(lengths, memory.size(1))[:, None, :].expand(-1, queries, -1)
        for block in self.decoder:
            x = block(x, mask, memory, memory_mask)  # (B, Q, d)
        return self.decoder_norm(x)

    def pooled(self, h: Tensor, lengths: Tensor) -> Tensor:
        raise TypeError("the encoder-decoder is read out through decoder queries (QueryHead)")

    @staticmethod
    def flops(cfg: ModelConfig, input_size: int, seq_len: int) -> int:
        """Encoder FLOPs only; decoder passes are counted by :meth:`decode_flops`."""
        return _stack_flops(cfg.hidden_size, cfg.ff, cfg.num_layers, seq_len)

    @staticmethod
    def decode_flops(cfg: ModelConfig, queries: int, memory_len: int) -> int:
        return _stack_flops(cfg.hidden_size, cfg.ff, cfg.decoder_layers, queries, memory_len)
