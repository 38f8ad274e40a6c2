"""Peephole LSTM (Gers & Schmidhuber 2000) with padding, stacking and both directions.

Gates, with diagonal peepholes ``p_i, p_f, p_o`` (elementwise products, shape (H,)):

    i_t = σ(W_i x_t + U_i h_{t-1} + p_i ⊙ c_{t-1} + b_i)
    f_t = σ(W_f x_t + U_f h_{t-1} + p_f ⊙ c_{t-1} + b_f)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ tanh(W_g x_t + U_g h_{t-1} + b_g)
    o_t = σ(W_o x_t + U_o h_{t-1} + p_o ⊙ c_t + b_o)
    h_t = o_t ⊙ tanh(c_t)

Parameters are named and laid out like ``nn.LSTM`` (``weight_ih_l0``, ``weight_hh_l0_reverse``,
gate order i, f, g, o), plus ``peephole_l{k}[_reverse]`` of shape (3, H) holding p_i, p_f, p_o;
with zero peepholes the module computes exactly ``nn.LSTM``.

No library kernel exists. The default scan (``fused``) is ``models/cells.py``'s: one
``autograd.Function`` per layer and direction with a hand-written backward, the input projection
of all steps in one matmul, per step one ``addmm`` and element-wise ops written into preallocated
buffers, and the recurrent weight gradient as one GEMM over all steps. ``eager`` and ``script``
differentiate :func:`peephole_scan` with autograd; they are the reference the tests compare the
fused scan with (outputs, final states and every gradient, float64). Per-step inputs are taken
with ``unbind``: indexing ``xw[t]`` made the autograd backward quadratic in T. ``torch.compile``
unrolls the T-step loop, compiled for minutes and recompiles for every sequence length.
Timings: ``bench/models.py`` (the peephole / ``nn.LSTM`` ratio) and ``--peephole-impls``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from seqbench.models.base import reverse_padded, valid_mask
from seqbench.models.cells import StackedRecurrence, peephole_fused


def peephole_scan(
    xw: Tensor, w_hh: Tensor, peep: Tensor, mask: Tensor, h: Tensor, c: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Run the recurrence over pre-projected inputs ``xw`` (T, B, 4H).

    ``mask`` (T, B, 1) is False after a sequence's end: there the state is frozen and the output
    is zero, so final states and outputs equal those of the unpadded sequence.
    Returns outputs (T, B, H) and the final ``h``, ``c`` (B, H).
    """
    w_hh_t = w_hh.t()  # (H, 4H)
    p_i, p_f, p_o = peep[0], peep[1], peep[2]  # (H,) each
    outputs: list[Tensor] = []
    inputs = xw.unbind(0)  # not xw[t]: each xw[t]'s backward would zero-fill all of (T, B, 4H)
    for t in range(len(inputs)):
        gates = torch.addmm(inputs[t], h, w_hh_t)  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)  # (B, H) each
        i = torch.sigmoid(i + p_i * c)
        f = torch.sigmoid(f + p_f * c)
        c_next = f * c + i * torch.tanh(g)
        o = torch.sigmoid(o + p_o * c_next)
        h_next = o * torch.tanh(c_next)
        valid = mask[t]  # (B, 1)
        c = torch.where(valid, c_next, c)
        h = torch.where(valid, h_next, h)
        outputs.append(h_next.masked_fill(~valid, 0.0))
    return torch.stack(outputs), h, c  # (T, B, H), (B, H), (B, H)


SCAN_IMPLS = ("eager", "script", "fused")
DEFAULT_SCAN = "fused"


@functools.cache
def scan_impl(name: str) -> Callable[..., tuple[Tensor, Tensor, Tensor]]:
    """The scan compiled as ``name`` asks; scripted lazily, once per process.

    ``fused`` is the hand-written backward of ``models/cells.py``; ``eager`` and ``script``
    differentiate ``peephole_scan`` with autograd (the reference the tests compare against).
    """
    if name == "fused":
        return peephole_fused
    if name == "script":
        with warnings.catch_warnings():  # torch.jit is deprecated in torch 2.13 but still fastest
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                return torch.jit.script(peephole_scan)
            except Exception:  # a torch without TorchScript: the eager loop computes the same
                return peephole_scan
    return peephole_scan


class PeepholeLSTM(StackedRecurrence):
    """A stacked, optionally bidirectional peephole LSTM over right-padded batches."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        scan: str | Callable[..., tuple[Tensor, Tensor, Tensor]] = DEFAULT_SCAN,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size,
            4,
            num_layers,
            bidirectional,
            dropout,
            extra={"peephole": (3, hidden_size)},
        )
        self.scan = scan  # a name (picklable), or a scan function (benchmarks)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Outputs (B, T, directions·H), zero at padding, and final (h, c) (layers·dirs, B, H)."""
        batch, steps, _ = x.shape
        mask = valid_mask(lengths, steps).t()[..., None]  # (T, B, 1)
        zeros = x.new_zeros(batch, self.hidden_size)  # (B, H)
        finals_h, finals_c = [], []
        layer_in = x  # (B, T, I)
        for layer in range(self.num_layers):
            outputs = []
            for direction, sfx in enumerate(self._suffixes(layer)):
                seq = layer_in if direction == 0 else reverse_padded(layer_in, lengths)
                bias = getattr(self, f"bias_ih{sfx}") + getattr(self, f"bias_hh{sfx}")
                xw = F.linear(seq, getattr(self, f"weight_ih{sfx}"), bias)  # (B, T, 4H)
                out, h, c = (self.scan if callable(self.scan) else scan_impl(self.scan))(
                    xw.transpose(0, 1),
                    getattr(self, f"weight_hh{sfx}"),
                    getattr(self, f"peephole{sfx}"),
                    mask,
                    zeros,
                    zeros,
                )
                out = out.transpose(0, 1)  # (B, T, H)
                outputs.append(out if direction == 0 else reverse_padded(out, lengths))
                finals_h.append(h)
                finals_c.append(c)
            layer_in = torch.cat(outputs, dim=-1)  # (B, T, directions·H)
            if layer < self.num_layers - 1 and self.dropout > 0:
                layer_in = F.dropout(layer_in, self.dropout, self.training)
        return layer_in, (torch.stack(finals_h), torch.stack(finals_c))
