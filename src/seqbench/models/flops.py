"""Analytic forward FLOPs per sequence (a multiply-add counts as 2 FLOPs).

Counted: every matrix product (adapter projection, recurrent gates, attention projections,
attention scores and weighted sums over all — also masked — positions, MLPs, heads, decoder
feedback) and the peephole LSTM's diagonal products. Not counted: embedding lookups, biases,
nonlinearities, normalization, softmax, pooling. Autoregressive decoding counts every pass it
makes: the generic rollout re-encodes windows of L, L+1, ..., L+H-1 steps; the encoder-decoder
encodes once and runs its decoder on 1, 2, ..., H inputs.
"""

from __future__ import annotations

from seqbench.models.config import ClassificationSpec, ForecastSpec, ModelConfig
from seqbench.models.pretrained import encoder_flops
from seqbench.models.registry import ARCHITECTURES
from seqbench.models.transformer import TransformerEncDec


def estimate_flops(cfg: ModelConfig, spec: ClassificationSpec | ForecastSpec, seq_len: int) -> int:
    """Forward FLOPs of ``build_model(cfg, spec)`` on one sequence of ``seq_len`` valid steps."""
    arch = ARCHITECTURES[cfg.arch]
    if arch.pretrained is not None:
        assert isinstance(spec, ClassificationSpec) and spec.encoder is not None
        return encoder_flops(
            spec.encoder, arch.pretrained, cfg.hidden_size, spec.num_classes, seq_len
        )
    if arch.forecaster is not None:
        assert isinstance(spec, ForecastSpec)
        return arch.forecaster.flops(cfg, spec, seq_len)
    seq2seq = arch.encoder is TransformerEncDec
    width = cfg.input_size
    out = cfg.hidden_size * (2 if cfg.bidirectional else 1)

    def encode(steps: int) -> int:
        adapter = (
            0 if isinstance(spec, ClassificationSpec) else 2 * steps * spec.input_features * width
        )
        return adapter + arch.flops(cfg, width, steps)

    if isinstance(spec, ClassificationSpec):
        if arch.text_to_text:  # every label's tokens (+ end) decoded against the vocabulary
            steps = 1 + max(len(tokens) for tokens in spec.label_tokens)
            classes = len(spec.label_tokens)
            decoder = classes * TransformerEncDec.decode_flops(cfg, steps, seq_len)
            return encode(seq_len) + decoder + 2 * classes * steps * out * (spec.vocab_size + 1)
        if seq2seq:
            return (
                encode(seq_len)
                + TransformerEncDec.decode_flops(cfg, 1, seq_len)
                + 2 * out * spec.num_classes
            )
        return encode(seq_len) + 2 * out * spec.num_classes
    horizon, targets = spec.horizon, spec.targets
    if cfg.decoding == "direct":
        if seq2seq:
            decoder = TransformerEncDec.decode_flops(cfg, horizon, seq_len)
            return encode(seq_len) + decoder + horizon * 2 * out * targets
        return encode(seq_len) + 2 * out * horizon * targets
    if seq2seq:
        decoder = sum(
            TransformerEncDec.decode_flops(cfg, k, seq_len) for k in range(1, horizon + 1)
        )
        feedback = horizon * 2 * targets * out  # last observed + H-1 predictions
        return encode(seq_len) + decoder + feedback + horizon * 2 * out * targets
    return sum(encode(seq_len + k) + 2 * out * targets for k in range(horizon))
