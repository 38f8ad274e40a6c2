"""The one registry of architectures: short name → encoder (or whole baseline) and options.

An entry is a family plus fixed options: ``bilstm`` is the recurrent encoder with the LSTM cell
and ``bidirectional: true``; ``stacked_gru`` needs ``num_layers >= 2``. ``base`` names the
vanilla architecture a variant is compared against in the report. Adding an architecture = its
module + one line here + its ``models.<name>`` (and ``tune.space.<name>``) section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from seqbench.models.base import Encoder
from seqbench.models.bow import BagOfNgrams, NbsvmBaseline, TfidfLogistic
from seqbench.models.linear import DLinear, Naive, NLinear, WindowForecaster
from seqbench.models.pretrained import Mode
from seqbench.models.recurrent import RecurrentEncoder
from seqbench.models.transformer import TransformerEncDec, TransformerEncoder

if TYPE_CHECKING:  # annotations only: models/config.py imports this module
    from seqbench.models.config import ModelConfig


@dataclass(frozen=True)
class Architecture:
    """How to build one architecture and count its FLOPs.

    ``encoder`` is built with ``options`` inside adapter → encoder → head; a ``forecaster``
    (the linear baselines) is instead a whole forecasting model, and an ``estimator`` (the
    bag-of-n-grams text baselines) is fit by scikit-learn, not by the Lightning path.
    ``poolings`` lists the pooling modes it supports, the first its default. ``fixed`` are
    ``model.*`` values the entry always has; ``min_layers`` the smallest ``num_layers`` it takes.
    ``text_to_text`` entries write the class label as tokens (``models/text2text.py``).
    ``pretrained`` entries wrap a pre-trained Hugging Face encoder in that mode
    (``models/pretrained.py``); the encoder itself is named by the task's ``ClassificationSpec``.
    A variant names its vanilla architecture ``base`` and what it changes, ``variant`` (the
    question the claims lab asks of it: does bidirectionality help?).
    """

    encoder: type[Encoder] | None
    family: Literal["recurrent", "transformer", "baseline", "pretrained"]
    poolings: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    min_layers: int = 1
    base: str | None = None
    variant: str | None = None
    forecaster: type[WindowForecaster] | None = None
    estimator: BagOfNgrams | None = None  # a scikit-learn text baseline (no network)
    text_to_text: bool = False
    pretrained: Mode | None = None

    def build(self, cfg: ModelConfig, input_size: int) -> Encoder:
        assert self.encoder is not None, "a forecaster entry has no encoder"
        return self.encoder(cfg, input_size, **self.options)

    def flops(self, cfg: ModelConfig, input_size: int, seq_len: int) -> int:
        return self.encoder.flops(cfg, input_size, seq_len, **self.options)  # type: ignore[union-attr]


_RECURRENT = ("last", "mean", "max")


def _recurrent(cell: str, base: str | None = None, **kw: Any) -> Architecture:
    return Architecture(RecurrentEncoder, "recurrent", _RECURRENT, {"cell": cell}, base=base, **kw)


ARCHITECTURES: dict[str, Architecture] = {
    "rnn": _recurrent("rnn"),
    "lstm": _recurrent("lstm"),
    "gru": _recurrent("gru"),
    "birnn": _recurrent("rnn", "rnn", fixed={"bidirectional": True}, variant="bidirectional"),
    "bilstm": _recurrent("lstm", "lstm", fixed={"bidirectional": True}, variant="bidirectional"),
    "bigru": _recurrent("gru", "gru", fixed={"bidirectional": True}, variant="bidirectional"),
    "stacked_rnn": _recurrent("rnn", "rnn", min_layers=2, variant="stacked"),
    "stacked_lstm": _recurrent("lstm", "lstm", min_layers=2, variant="stacked"),
    "stacked_gru": _recurrent("gru", "gru", min_layers=2, variant="stacked"),
    "peephole_lstm": _recurrent("peephole_lstm", "lstm", variant="peepholes"),
    "transformer": Architecture(
        TransformerEncoder, "transformer", ("cls", "mean", "max", "last"), {"causal": False}
    ),
    "transformer_decoder": Architecture(
        TransformerEncoder,
        "transformer",
        ("last", "mean"),
        {"causal": True},
        base="transformer",
        variant="decoder-only",
    ),
    # "cls" here is a learned decoder query cross-attending to the encoded sequence.
    "transformer_encdec": Architecture(
        TransformerEncDec, "transformer", ("cls",), base="transformer", variant="encoder-decoder"
    ),
    # T5-like: the encoder-decoder generates the label's words ("cls": no pooling, the decoder
    # reads the encoded sequence).
    "transformer_t2t": Architecture(
        TransformerEncDec,
        "transformer",
        ("cls",),
        base="transformer",
        text_to_text=True,
        variant="text-to-text",
    ),
    # Forecasting baselines (Zeng et al. 2023): whole models over the window, no encoder.
    "naive": Architecture(None, "baseline", (), forecaster=Naive),
    "nlinear": Architecture(None, "baseline", (), forecaster=NLinear),
    "dlinear": Architecture(None, "baseline", (), forecaster=DLinear),
    # Text baselines (scikit-learn): NBSVM (Wang & Manning 2012), TF-IDF + logistic regression.
    "nbsvm": Architecture(None, "baseline", (), estimator=NbsvmBaseline()),
    "tfidf_lr": Architecture(None, "baseline", (), estimator=TfidfLogistic()),
    # Pre-trained encoders (MiniLM-L6 by default): fine-tuned, a probe on frozen states, and the
    # RoBERTa-LSTM hybrid of Tan et al. 2022 (an LSTM over the token states).
    "minilm": Architecture(None, "pretrained", (), pretrained="finetune"),
    "minilm_frozen": Architecture(
        None, "pretrained", (), pretrained="frozen", base="minilm", variant="frozen encoder"
    ),
    "minilm_lstm": Architecture(
        None, "pretrained", (), pretrained="lstm", base="minilm", variant="LSTM over its states"
    ),
}
