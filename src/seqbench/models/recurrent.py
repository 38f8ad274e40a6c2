"""One recurrent encoder for RNN, LSTM, GRU and peephole LSTM: a cell switch, not four files."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqbench.models.base import Encoder
from seqbench.models.config import ModelConfig
from seqbench.models.peephole import PeepholeLSTM

# cell name -> (module class, gate blocks per step)
CELLS: dict[str, tuple[type[nn.Module], int]] = {
    "rnn": (nn.RNN, 1),
    "gru": (nn.GRU, 3),
    "lstm": (nn.LSTM, 4),
    "peephole_lstm": (PeepholeLSTM, 4),
}


class RecurrentEncoder(Encoder):
    """Stacked, optionally bidirectional recurrent encoder over right-padded batches.

    The fused cuDNN/oneDNN kernels of ``nn.RNN/LSTM/GRU`` see packed sequences, so padding
    never enters the recurrence (backward direction included); the peephole LSTM masks its
    state instead. States are zero at padding steps.
    """

    def __init__(self, cfg: ModelConfig, input_size: int, cell: str) -> None:
        super().__init__()
        module, _ = CELLS[cell]
        self.fused = module is not PeepholeLSTM
        self.rnn = module(
            input_size,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            bidirectional=cfg.bidirectional,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
            **({"batch_first": True} if self.fused else {}),
        )
        self.directions = 2 if cfg.bidirectional else 1
        self.out_size = cfg.hidden_size * self.directions
        self.pooling = cfg.pool

    def forward(self, h: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        if not self.fused:
            states, _ = self.rnn(h, lengths)  # (B, T, dirs·H); final (h, c) unused
            return states, lengths
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
