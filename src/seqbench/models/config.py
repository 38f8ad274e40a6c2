"""Typed model configuration (one ``ModelConfig`` for every architecture) and task specs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from seqbench.models.registry import ARCHITECTURES
from seqbench.typed import check

Pooling = Literal["last", "mean", "max", "cls"]


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of one architecture from ``ARCHITECTURES``; validated at construction.

    ``hidden_size`` is the recurrent state size or the Transformer width (d_model);
    ``num_layers`` is the depth of the encoder (of the decoder stack for ``transformer_decoder``);
    ``num_decoder_layers`` is the decoder depth of ``transformer_encdec`` (None: ``num_layers``).
    ``pooling`` None picks the architecture's default (the first it supports).
    ``embedding_size`` is the adapter width of recurrent models (None: ``hidden_size``);
    Transformers always embed to ``hidden_size``. ``max_length`` bounds Transformer positions.
    ``attention_dropout`` drops Transformer attention weights (None: ``dropout``); on CPU it costs
    more than the attention itself (a (B, heads, T, T) random mask, and no fused kernel).
    ``revin`` wraps a forecaster in reversible instance normalization; ``moving_average`` is
    DLinear's trend kernel (25 steps in Zeng et al. 2023). ``ngrams`` (the longest n-gram),
    ``c_values`` (regularization) and ``nb_beta`` (NBSVM's interpolation), the settings tried on
    the validation split, configure the bag-of-n-grams text baselines.
    """

    arch: str
    hidden_size: int = 64
    num_layers: int = 1
    num_decoder_layers: int | None = None
    bidirectional: bool = False
    dropout: float = 0.0
    attention_dropout: float | None = None
    num_heads: int = 4
    ff_size: int | None = None
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"
    max_length: int = 512
    pooling: Pooling | None = None
    decoding: Literal["direct", "autoregressive"] = "direct"
    embedding_size: int | None = None
    revin: bool = False
    moving_average: int = 25
    ngrams: int = 2
    c_values: list[float] = field(default_factory=lambda: [0.1, 1.0, 10.0])
    nb_beta: list[float] = field(default_factory=lambda: [0.25])

    def __post_init__(self) -> None:
        check(
            self.arch in ARCHITECTURES,
            "arch",
            "one of " + ", ".join(sorted(ARCHITECTURES)),
            self.arch,
        )
        spec = ARCHITECTURES[self.arch]
        for key, value in spec.fixed.items():
            check(
                getattr(self, key) == value, key, f"{value!r} for {self.arch}", getattr(self, key)
            )
        check(
            self.num_layers >= spec.min_layers,
            "num_layers",
            f"an integer >= {spec.min_layers} for {self.arch}",
            self.num_layers,
        )
        check(self.moving_average >= 1, "moving_average", "an integer >= 1", self.moving_average)
        check(self.ngrams >= 1, "ngrams", "an integer >= 1", self.ngrams)
        check(
            bool(self.c_values) and all(c > 0 for c in self.c_values),
            "c_values",
            "a non-empty list of numbers > 0",
            self.c_values,
        )
        check(
            bool(self.nb_beta) and all(0 <= b <= 1 for b in self.nb_beta),
            "nb_beta",
            "a non-empty list of numbers in [0, 1]",
            self.nb_beta,
        )
        check(self.hidden_size >= 1, "hidden_size", "an integer >= 1", self.hidden_size)
        check(self.num_layers >= 1, "num_layers", "an integer >= 1", self.num_layers)
        check(0.0 <= self.dropout < 1.0, "dropout", "a number in [0, 1)", self.dropout)
        check(
            self.attention_dropout is None or 0.0 <= self.attention_dropout < 1.0,
            "attention_dropout",
            "a number in [0, 1) or null",
            self.attention_dropout,
        )
        check(self.max_length >= 1, "max_length", "an integer >= 1", self.max_length)
        check(
            self.pooling is None or not spec.poolings or self.pooling in spec.poolings,
            "pooling",
            f"one of {', '.join(spec.poolings)} for {self.arch}",
            self.pooling,
        )
        check(
            not self.bidirectional or spec.family == "recurrent",
            "bidirectional",
            f"false for {self.arch} (only recurrent models run both directions)",
            self.bidirectional,
        )
        if spec.family in ("recurrent", "baseline", "pretrained"):
            check(
                self.embedding_size is None or self.embedding_size >= 1,
                "embedding_size",
                "an integer >= 1 or null",
                self.embedding_size,
            )
        else:
            check(
                self.embedding_size is None,
                "embedding_size",
                f"null for {self.arch} (Transformers embed to hidden_size)",
                self.embedding_size,
            )
            check(self.num_heads >= 1, "num_heads", "an integer >= 1", self.num_heads)
            check(
                self.hidden_size % self.num_heads == 0,
                "hidden_size",
                f"a multiple of num_heads={self.num_heads}",
                self.hidden_size,
            )
            check(
                self.ff_size is None or self.ff_size >= 1,
                "ff_size",
                "an integer >= 1 or null",
                self.ff_size,
            )
        check(
            self.num_decoder_layers is None or self.num_decoder_layers >= 1,
            "num_decoder_layers",
            "an integer >= 1 or null",
            self.num_decoder_layers,
        )

    @property
    def pool(self) -> str:
        """The pooling actually used (the architecture's default when ``pooling`` is None)."""
        return self.pooling or ARCHITECTURES[self.arch].poolings[0]

    @property
    def ff(self) -> int:
        """Transformer feed-forward width (4 × hidden_size unless set)."""
        return self.ff_size or 4 * self.hidden_size

    @property
    def attn_dropout(self) -> float:
        """Dropout on Transformer attention weights (``dropout`` unless set)."""
        return self.dropout if self.attention_dropout is None else self.attention_dropout

    @property
    def decoder_layers(self) -> int:
        """Decoder depth of the encoder-decoder Transformer."""
        return self.num_decoder_layers or self.num_layers

    @property
    def input_size(self) -> int:
        """Width of the adapter output the encoder consumes."""
        return self.embedding_size or self.hidden_size


@dataclass(frozen=True)
class ClassificationSpec:
    """Text classification: token ids in, ``num_classes`` logits out. ``label_tokens`` are the
    class names as token ids of the vocabulary (what a text-to-text model writes); ``encoder``
    names the pre-trained encoder whose tokenizer wrote the ids (a hub name, a folder or
    ``models.pretrained.PACKAGED``), which the ``pretrained`` architectures load, and
    ``encoder_sha256`` the digest of its weight file (provenance; None for a hub name).
    ``encoder_weights`` false builds the encoder from its config only (a serving bundle, whose
    own state dict holds the fine-tuned weights)."""

    vocab_size: int
    num_classes: int
    pad_id: int = 0
    label_tokens: tuple[tuple[int, ...], ...] = ()
    encoder: str | None = None
    encoder_sha256: str | None = None
    encoder_weights: bool = True

    def __post_init__(self) -> None:
        check(self.vocab_size >= 2, "vocab_size", "an integer >= 2", self.vocab_size)
        check(self.num_classes >= 2, "num_classes", "an integer >= 2", self.num_classes)
        check(0 <= self.pad_id < self.vocab_size, "pad_id", "an id below vocab_size", self.pad_id)
        check(
            not self.label_tokens or len(self.label_tokens) == self.num_classes,
            "label_tokens",
            f"one token sequence per class ({self.num_classes})",
            self.label_tokens,
        )


@dataclass(frozen=True)
class TaggingSpec:
    """Per-step classification (copy memory): token ids in, ``num_classes`` logits per step."""

    vocab_size: int
    num_classes: int
    pad_id: int = 0

    def __post_init__(self) -> None:
        check(self.vocab_size >= 2, "vocab_size", "an integer >= 2", self.vocab_size)
        check(self.num_classes >= 2, "num_classes", "an integer >= 2", self.num_classes)
        check(0 <= self.pad_id < self.vocab_size, "pad_id", "an id below vocab_size", self.pad_id)


@dataclass(frozen=True)
class ForecastSpec:
    """Forecasting: a window of ``input_features`` in, ``horizon`` × ``targets`` values out.

    ``target_indices`` gives each target's column among the input features; autoregressive
    decoding needs it to start from the last observed targets and feed predictions back.
    """

    input_features: int
    horizon: int
    targets: int
    target_indices: tuple[int, ...] = ()
    input_length: int | None = None  # window length (the linear baselines need it)

    def __post_init__(self) -> None:
        check(self.input_features >= 1, "input_features", "an integer >= 1", self.input_features)
        check(self.horizon >= 1, "horizon", "an integer >= 1", self.horizon)
        check(self.targets >= 1, "targets", "an integer >= 1", self.targets)
        check(
            all(0 <= i < self.input_features for i in self.target_indices),
            "target_indices",
            f"indices below input_features={self.input_features}",
            self.target_indices,
        )
        check(
            len(self.target_indices) in (0, self.targets),
            "target_indices",
            f"empty or one index per target ({self.targets})",
            self.target_indices,
        )
