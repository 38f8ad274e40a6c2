"""One recurrent encoder for RNN, LSTM, GRU and peephole LSTM: a cell switch, not four files."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqbench.models.base import Encoder, valid_mask
from seqbench.models.cells import FusedRecurrent
from seqbench.models.peephole import PeepholeLSTM

if TYPE_CHECKING:  # annotations only: models/config.py imports this module
    from seqbench.models.config import ModelConfig

# cell name -> (module class, gate blocks per step). nn.LSTM has oneDNN's fused CPU kernel;
# GRU and RNN use seqbench's fused recurrences (models/cells.py), which take cuDNN on a GPU.
CELLS: dict[str, tuple[type[nn.Module] | functools.partial, int]] = {
    "rnn": (functools.partial(FusedRecurrent, "rnn"), 1),
    "gru": (functools.partial(FusedRecurrent, "gru"), 3),
    "lstm": (nn.LSTM, 4),
    "peephole_lstm": (PeepholeLSTM, 4),
}


class RecurrentEncoder(Encoder):
    """Stacked, optionally bidirectional recurrent encoder over right-padded batches.

    Padding never reaches a valid step's state, and states are zero at padding steps.
    Unidirectional stacks run on the padded batch: step ``t`` depends only on steps ``<= t``, so
    the valid steps equal a packed run's, and on CPU only the unpacked input takes the fused
    oneDNN LSTM kernel (packing also makes the backward pass zero-fill per step). Per batch
    B=64, T=200, H=128, fwd+bwd, 2 threads: LSTM 99 ms padded vs 506 ms packed. Bidirectional
    LSTM stacks are packed, so the backward direction starts at each sequence's last valid
    step; the GRU, RNN and peephole LSTM reverse each sequence within its length instead.
    """

    def __init__(self, cfg: ModelConfig, input_size: int, cell: str) -> None:
        super().__init__()
        module, _ = CELLS[cell]
        self.takes_lengths = module is not nn.LSTM  # ours take (x, lengths); nn.LSTM packs
        self.rnn = module(
            input_size,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            bidirectional=cfg.bidirectional,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
            **({} if self.takes_lengths else {"batch_first": True}),
        )
        self.directions = 2 if cfg.bidirectional else 1
        self.out_size = cfg.hidden_size * self.directions
        self.pooling = cfg.pool

    def forward(self, h: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        if self.takes_lengths:
            states, _ = self.rnn(h, lengths)  # (B, T, dirs·H), zero at padding; finals unused
            return states, lengths
        if self.directions == 1:
            states, _ = self.rnn(h)  # (B, T, H); final state unused: we pool states
            mask = valid_mask(lengths.to(h.device), h.size(1))[..., None]  # (B, T, 1)
            return states.masked_fill(~mask, 0.0), lengths
        packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)  # final state (h, or (h, c) for LSTM) unused: we pool states
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=h.size(1))
        return states, lengths  # (B, T, dirs·H)

    @staticmethod
    def flops(cfg: ModelConfig, input_size: int, seq_len: int, cell: str) -> int:
        """Matmul FLOPs: per layer, direction and step 2·G·H·(in + H) (+ 6H peephole products)."""
        _, gates = CELLS[cell]
        directions = 2 if cfg.bidirectional else 1
        hidden = cfg.hidden_size
        total = 0
        for layer in range(cfg.num_layers):
            layer_in = input_size if layer == 0 else hidden * directions
            per_step = 2 * gates * hidden * (layer_in + hidden)
            if cell == "peephole_lstm":
                per_step += 2 * 3 * hidden
            total += directions * seq_len * per_step
        return total
