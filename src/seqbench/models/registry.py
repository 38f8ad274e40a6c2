"""The one registry of architectures: short name → encoder class, options and supported poolings.

Adding an architecture = its encoder module + one line here (+ its params section).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from seqbench.models.base import Encoder
from seqbench.models.recurrent import RecurrentEncoder
from seqbench.models.transformer import TransformerEncDec, TransformerEncoder

if TYPE_CHECKING:  # annotations only: models/config.py imports this module
    from seqbench.models.config import ModelConfig


@dataclass(frozen=True)
class Architecture:
    """How to build one architecture's encoder and count its FLOPs.

    ``poolings`` lists the pooling modes it supports; the first is its default.
    """

    encoder: type[Encoder]
    family: Literal["recurrent", "transformer"]
    poolings: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)

    def build(self, cfg: ModelConfig, input_size: int) -> Encoder:
        return self.encoder(cfg, input_size, **self.options)

    def flops(self, cfg: ModelConfig, input_size: int, seq_len: int) -> int:
        return self.encoder.flops(cfg, input_size, seq_len, **self.options)  # type: ignore[attr-defined]


_RECURRENT = ("last", "mean", "max")

ARCHITECTURES: dict[str, Architecture] = {
    "rnn": Architecture(RecurrentEncoder, "recurrent", _RECURRENT, {"cell": "rnn"}),
    "lstm": Architecture(RecurrentEncoder, "recurrent", _RECURRENT, {"cell": "lstm"}),
    "gru": Architecture(RecurrentEncoder, "recurrent", _RECURRENT, {"cell": "gru"}),
    "peephole_lstm": Architecture(
        RecurrentEncoder, "recurrent", _RECURRENT, {"cell": "peephole_lstm"}
    ),
    "transformer": Architecture(
        TransformerEncoder, "transformer", ("cls", "mean", "max", "last"), {"causal": False}
    ),
    "transformer_decoder": Architecture(
        TransformerEncoder, "transformer", ("last", "mean"), {"causal": True}
    ),
    # "cls" here is a learned decoder query cross-attending to the encoded sequence.
    "transformer_encdec": Architecture(TransformerEncDec, "transformer", ("cls",)),
}
