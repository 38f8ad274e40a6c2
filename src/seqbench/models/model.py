"""Whole models (adapter → encoder → head) and ``build_model``, the one way to construct them."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqbench.models.adapters import NumericProjection, TokenEmbedding
from seqbench.models.base import Encoder
from seqbench.models.config import ClassificationSpec, ForecastSpec, ModelConfig, TaggingSpec
from seqbench.models.heads import PooledHead, QueryHead, StepHead
from seqbench.models.linear import RevIN
from seqbench.models.pretrained import PretrainedClassifier, load_encoder
from seqbench.models.registry import ARCHITECTURES, Architecture
from seqbench.models.text2text import TextToText
from seqbench.models.transformer import TransformerEncDec
from seqbench.typed import check

Adapter = TokenEmbedding | NumericProjection


class SequenceModel(nn.Module):
    """Classification or direct multi-horizon forecasting: one encoder pass, one head."""

    def __init__(self, adapter: Adapter, encoder: Encoder, head: nn.Module) -> None:
        super().__init__()
        self.adapter = adapter
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``x`` (B, T) ids or (B, L, F) values → logits (B, C) or forecast (B, H, targets)."""
        if lengths is None:
            lengths = self.adapter.default_lengths(x)
        return self.head(self.encoder, self.adapter(x), lengths)


class RolloutForecaster(nn.Module):
    """Autoregressive forecasting for any encoder by re-encoding an extended window.

    Each step predicts the next target values from the window so far, then appends a step whose
    targets are those predictions and whose other features repeat the last step's values
    (future covariates are unknown). Gradients flow through the fed-back predictions.
    """

    def __init__(
        self, adapter: NumericProjection, encoder: Encoder, head: PooledHead, spec: ForecastSpec
    ) -> None:
        super().__init__()
        self.adapter = adapter
        self.encoder = encoder
        self.head = head  # shape (targets,): one step ahead
        self.horizon = spec.horizon
        self.register_buffer("target_indices", torch.tensor(spec.target_indices), persistent=False)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if lengths is None:
            lengths = self.adapter.default_lengths(x)
        batch, steps, features = x.shape
        rows = torch.arange(batch, device=x.device)
        x = torch.cat([x, x.new_zeros(batch, self.horizon, features)], dim=1)  # (B, L+H, F)
        predictions = []
        for k in range(self.horizon):
            window = x[:, : steps + k]  # (B, L+k, F): every sequence's valid steps fit
            y = self.head(self.encoder, self.adapter(window), lengths)  # (B, targets)
            predictions.append(y)
            step = x[rows, lengths - 1].index_copy(1, self.target_indices, y)  # (B, F)
            x = x.index_put((rows, lengths), step)
            lengths = lengths + 1
        return torch.stack(predictions, dim=1)  # (B, H, targets)


class Seq2SeqForecaster(nn.Module):
    """Autoregressive forecasting with an encoder-decoder: the decoder reads its own outputs.

    Decoder input 0 is the last observed target values; input k is the prediction for step k.
    """

    def __init__(
        self, adapter: NumericProjection, encoder: Encoder, spec: ForecastSpec, dropout: float
    ) -> None:
        super().__init__()
        self.adapter = adapter
        self.encoder = encoder
        self.horizon = spec.horizon
        self.register_buffer("target_indices", torch.tensor(spec.target_indices), persistent=False)
        self.feedback = nn.Linear(spec.targets, encoder.out_size)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(encoder.out_size, spec.targets)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if lengths is None:
            lengths = self.adapter.default_lengths(x)
        rows = torch.arange(x.size(0), device=x.device)
        memory, lengths = self.encoder(self.adapter(x), lengths)  # (B, L, d)
        last = x[rows, lengths - 1][:, self.target_indices]  # (B, targets) last observed
        tokens = [self.feedback(last)]  # each (B, d)
        predictions = []
        for k in range(self.horizon):
            out = self.encoder.decode(memory, lengths, torch.stack(tokens, dim=1))  # (B, k+1, d)
            y = self.out(self.drop(out[:, -1]))  # (B, targets)
            predictions.append(y)
            if k + 1 < self.horizon:
                tokens.append(self.feedback(y))
        return torch.stack(predictions, dim=1)  # (B, H, targets)


Spec = ClassificationSpec | ForecastSpec | TaggingSpec


def build_model(cfg: ModelConfig, spec: Spec) -> nn.Module:
    """Build the model for ``cfg.arch`` on the task described by ``spec`` (wrapped in RevIN for
    forecasting with ``model.revin``).

    Seed with ``torch.manual_seed`` beforehand for reproducible initial weights.
    """
    arch = ARCHITECTURES[cfg.arch]
    if isinstance(spec, ForecastSpec) and cfg.revin:
        return RevIN(_build(arch, cfg, spec), spec)
    return _build(arch, cfg, spec)


def _build(arch: Architecture, cfg: ModelConfig, spec: Spec) -> nn.Module:
    if arch.pretrained is not None:
        check(
            isinstance(spec, ClassificationSpec) and spec.encoder is not None,
            "arch",
            "a text classification task tokenized for a pre-trained encoder",
            cfg.arch,
        )
        assert isinstance(spec, ClassificationSpec) and spec.encoder is not None
        encoder = load_encoder(spec.encoder, weights=spec.encoder_weights)
        return PretrainedClassifier(
            encoder, arch.pretrained, spec.num_classes, cfg.hidden_size, cfg.dropout
        )
    if arch.forecaster is not None:
        check(
            isinstance(spec, ForecastSpec) and spec.input_length is not None,
            "arch",
            "a forecasting task for a window baseline",
            cfg.arch,
        )
        return arch.forecaster(cfg, spec)  # type: ignore[arg-type]
    if isinstance(spec, ClassificationSpec | TaggingSpec):
        adapter: Adapter = TokenEmbedding(spec.vocab_size, cfg.input_size, spec.pad_id, cfg.dropout)
    else:
        adapter = NumericProjection(spec.input_features, cfg.input_size, cfg.dropout)
    encoder = arch.build(cfg, cfg.input_size)
    if isinstance(spec, TaggingSpec):
        check(not encoder.seq2seq, "arch", "an encoder with per-step states", cfg.arch)
        return SequenceModel(
            adapter, encoder, StepHead(encoder.out_size, spec.num_classes, cfg.dropout)
        )
    if arch.text_to_text:
        check(
            isinstance(spec, ClassificationSpec) and bool(spec.label_tokens),
            "arch",
            "a text classification task with class names (task.labels) for a text-to-text model",
            cfg.arch,
        )
        assert isinstance(adapter, TokenEmbedding) and isinstance(encoder, TransformerEncDec)
        assert isinstance(spec, ClassificationSpec)
        return TextToText(adapter, encoder, spec.label_tokens, cfg.dropout)
    if isinstance(spec, ClassificationSpec):
        shape: tuple[int, ...] = (spec.num_classes,)
        queries = 1
    elif cfg.decoding == "direct":
        shape, queries = (spec.horizon, spec.targets), spec.horizon
    else:
        check(
            len(spec.target_indices) == spec.targets,
            "target_indices",
            "one input-feature index per target for decoding=autoregressive",
            spec.target_indices,
        )
        assert isinstance(adapter, NumericProjection)
        if encoder.seq2seq:
            return Seq2SeqForecaster(adapter, encoder, spec, cfg.dropout)
        head = PooledHead(encoder.out_size, (spec.targets,), cfg.dropout)
        return RolloutForecaster(adapter, encoder, head, spec)
    if encoder.seq2seq:
        return SequenceModel(
            adapter, encoder, QueryHead(encoder.out_size, queries, shape, cfg.dropout)
        )
    return SequenceModel(adapter, encoder, PooledHead(encoder.out_size, shape, cfg.dropout))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
