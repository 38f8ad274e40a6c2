"""Fused CPU recurrences for GRU, Elman RNN and the peephole LSTM: a few ops per step.

``nn.LSTM`` takes oneDNN's fused kernel on CPU; ``nn.GRU`` and ``nn.RNN`` do not, and their
autograd graph records every per-step op, so each backward step replays a dozen tiny kernels
and accumulates the recurrent weight gradient with one small GEMM per step. Here each layer is
one ``autograd.Function`` whose backward is written by hand, like cuDNN's and oneDNN's:

- forward: the input projection of every step in one GEMM; per step, the recurrent GEMM
  (one for the RNN and peephole LSTM, two for the GRU, whose candidate gate needs ``W_hn h``
  alone) and 1 (RNN), 4 (GRU) or 9 (peephole) element-wise ops, each adding in place into its
  own contiguous slice of a ``(T, B, ·)`` buffer that starts as the step-independent part;
- backward: the step-independent factors of the chain rule (σ', tanh', ...) in bulk over all T,
  then per step 1 (RNN), 5 (GRU) or 9 (peephole) element-wise ops and the recurrent GEMM
  (by gate block for the GRU); the weight gradients are one large GEMM over all ``T·B`` rows.

Per-step operands are contiguous: a strided (B, H) slice costs about 3× per op at B=128.
Parameters are named and laid out like ``nn.GRU`` / ``nn.RNN`` (``weight_ih_l0``, ``bias_hh_l0``,
``..._reverse``; GRU gate order r, z, n), so state dicts load into either, and the outputs equal
``nn.GRU``'s / ``nn.RNN``'s to float rounding (``tests/test_cells.py``). Speed, outputs against
``nn.LSTM``: ``bench/models.py``. The step loops are TorchScript-compiled when TorchScript is
available (the eager loops compute the same).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import _VF, Tensor, nn

from seqbench.models.base import reverse_padded, valid_mask

# --- the step loops (TorchScript-compatible: plain tensors and ints only) --------------------


def rnn_forward(xw: Tensor, w_hh: Tensor, h0: Tensor) -> Tensor:
    """Elman tanh recurrence over pre-projected inputs ``xw`` (T, B, H), biases folded in.

    Returns the states (T+1, B, H) with ``h0`` first, so ``[1:]`` are the outputs and ``[:-1]``
    each step's previous state, both without a copy.
    """
    states = xw.new_empty(xw.size(0) + 1, xw.size(1), xw.size(2))  # (T+1, B, H)
    states[0] = h0
    w_t = w_hh.t().contiguous()  # (H, H)
    inputs, outs = xw.unbind(0), states.unbind(0)  # views, made once: no per-step indexing
    for t in range(len(inputs)):
        torch.addmm(inputs[t], outs[t], w_t, out=outs[t + 1])  # (B, H)
        outs[t + 1].tanh_()
    return states


def rnn_backward(grad_out: Tensor, states: Tensor, w_hh: Tensor) -> tuple[Tensor, Tensor]:
    """Gradients w.r.t. the pre-activations (T, B, H) and ``h0`` (B, H) from the outputs'."""
    slope = 1.0 - states[1:] * states[1:]  # tanh' at every step, in bulk: (T, B, H)
    from_outputs = grad_out * slope  # the outputs' own share of each step's gradient
    d_pre = torch.empty_like(slope)  # (T, B, H)
    dh = torch.zeros_like(states[0])  # (B, H): gradient reaching h_t from step t+1
    d_steps, slopes, own = d_pre.unbind(0), slope.unbind(0), from_outputs.unbind(0)
    for t in range(len(d_steps) - 1, -1, -1):
        torch.addcmul(own[t], dh, slopes[t], out=d_steps[t])  # (dh + g_t) ⊙ tanh'
        dh = torch.mm(d_steps[t], w_hh)  # (B, H)
    return d_pre, dh


def gru_forward(
    xw: Tensor, w_hh: Tensor, b_hh: Tensor, h0: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """GRU recurrence over pre-projected inputs ``xw`` (T, B, 3H) (``b_ih`` folded in).

    Returns the states (T+1, B, H) with ``h0`` first and, for the backward pass, the gates
    ``[r, z]`` (T, B, 2H), the candidates ``n`` and ``gh_n = W_hn h + b_hn`` (each (T, B, H)).
    Every buffer starts as its step-independent part, filled in bulk, and each step adds to its
    own contiguous slice in place: no per-step copy or strided add.
    """
    steps, batch, three = xw.shape
    hidden = three // 3
    states = xw.new_empty(steps + 1, batch, hidden)  # (T+1, B, H)
    states[0] = h0
    rz = (xw[..., : 2 * hidden] + b_hh[: 2 * hidden]).contiguous()  # (T, B, 2H): x + b, r | z
    gh_n = b_hh[2 * hidden :].expand(steps, batch, hidden).contiguous()  # (T, B, H): b_hn
    n = xw[..., 2 * hidden :].contiguous()  # (T, B, H): W_in x + b_in
    w_rz = w_hh[: 2 * hidden].t().contiguous()  # (H, 2H)
    w_n = w_hh[2 * hidden :].t().contiguous()  # (H, H)
    # Per-step views, made once: the loop then only computes.
    rz_all, r, z = rz.unbind(0), rz[..., :hidden].unbind(0), rz[..., hidden:].unbind(0)
    gh_ns, n_all, hs = gh_n.unbind(0), n.unbind(0), states.unbind(0)
    for t in range(steps):
        # addmm with out= its own input: in place, and visible to torch's FLOP counter
        torch.addmm(rz_all[t], hs[t], w_rz, out=rz_all[t]).sigmoid_()  # r | z = σ(x + b + W h)
        torch.addmm(gh_ns[t], hs[t], w_n, out=gh_ns[t])  # W_hn h + b_hn
        n_all[t].addcmul_(r[t], gh_ns[t]).tanh_()  # n = tanh(x_n + r ⊙ gh_n)
        torch.lerp(n_all[t], hs[t], z[t], out=hs[t + 1])  # h' = n + z ⊙ (h - n)
    return states, rz, n, gh_n


def gru_backward(
    grad_out: Tensor, states: Tensor, rz: Tensor, n: Tensor, gh_n: Tensor, w_hh: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients w.r.t. ``xw``, ``gh`` (each (T, B, 3H)) and ``h0`` from the outputs'.

    Every per-step operand is a contiguous (B, H) slice (a strided one costs about 3× per op
    at B=128), so the recurrent GEMM runs per gate block, accumulated in place.
    """
    steps, hidden = n.size(0), n.size(2)
    r, z = rz[..., :hidden].contiguous(), rz[..., hidden:].contiguous()  # (T, B, H) each
    # Step-independent chain-rule factors, in bulk (T, B, H), for h' = n + z ⊙ (h - n):
    dn_factor = (1.0 - z) * (1.0 - n * n)  # ∂h'/∂n · tanh'
    dz_factor = (states[:-1] - n) * z * (1.0 - z)  # ∂h'/∂z · σ'
    dr_factor = gh_n * r * (1.0 - r)  # ∂(r ⊙ gh_n)/∂r · σ'
    # The outputs' own share of each step's gradient, in bulk, so the loop needs no add.
    own_n, own_z, own_hz = grad_out * dn_factor, grad_out * dz_factor, grad_out * z
    # Pre-activation gradients: d_r, d_z, d_n w.r.t. xw; d_r, d_z, d_ghn w.r.t. gh.
    d_r, d_z, d_ghn, d_n = (torch.empty_like(n) for _ in range(4))  # (T, B, H) each
    w_r, w_z, w_n = w_hh[:hidden], w_hh[hidden : 2 * hidden], w_hh[2 * hidden :]  # (H, H)
    d_rs, d_zs, d_ghns, d_ns = d_r.unbind(0), d_z.unbind(0), d_ghn.unbind(0), d_n.unbind(0)
    dnf, dzf, drf = dn_factor.unbind(0), dz_factor.unbind(0), dr_factor.unbind(0)
    rs, zs = r.unbind(0), z.unbind(0)
    own_ns, own_zs, own_hzs = own_n.unbind(0), own_z.unbind(0), own_hz.unbind(0)
    dh = torch.zeros_like(states[0])  # (B, H): gradient reaching h_t from step t+1
    for t in range(steps - 1, -1, -1):
        torch.addcmul(own_ns[t], dh, dnf[t], out=d_ns[t])  # (dh + g_t) ⊙ dn_factor
        torch.addcmul(own_zs[t], dh, dzf[t], out=d_zs[t])
        to_prev = torch.addcmul(own_hzs[t], dh, zs[t])  # (dh + g_t) ⊙ z: straight to h_{t-1}
        torch.mul(d_ns[t], drf[t], out=d_rs[t])
        torch.mul(d_ns[t], rs[t], out=d_ghns[t])
        torch.addmm(to_prev, d_rs[t], w_r, out=to_prev)  # + the gh gradient · W_hh, by gate
        torch.addmm(to_prev, d_zs[t], w_z, out=to_prev)
        dh = torch.addmm(to_prev, d_ghns[t], w_n, out=to_prev)  # (B, H)
    d_xw = torch.cat([d_r, d_z, d_n], dim=-1)  # (T, B, 3H), gate order r, z, n
    d_gh = torch.cat([d_r, d_z, d_ghn], dim=-1)
    return d_xw, d_gh, dh


def peephole_forward(
    xw: Tensor, w_hh: Tensor, peep: Tensor, h0: Tensor, c0: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Peephole LSTM recurrence over pre-projected inputs ``xw`` (T, B, 4H), biases folded in.

    Gate order i, f, g, o; ``peep`` (3, H) holds p_i, p_f, p_o. Returns the states ``h`` and
    cells ``c`` (each (T+1, B, H), the initial one first), the activated gates
    ``[i, f, tanh g, o]`` (T, B, 4H) and ``tanh c`` (T, B, H).
    """
    steps, batch, four = xw.shape
    hidden = four // 4
    hs = xw.new_empty(steps + 1, batch, hidden)  # (T+1, B, H)
    cs = torch.empty_like(hs)
    hs[0] = h0
    cs[0] = c0
    acts = torch.empty_like(xw)  # (T, B, 4H)
    tanh_c = xw.new_empty(steps, batch, hidden)
    w_t = w_hh.t().contiguous()  # (H, 4H)
    p_if, p_o = peep[:2][None], peep[2]  # (1, 2, H), (H,)
    gates = acts.unbind(0)
    i_f = acts[..., : 2 * hidden].view(steps, batch, 2, hidden).unbind(0)  # (B, 2, H) each
    i, g, o = (
        acts[..., :hidden].unbind(0),
        acts[..., 2 * hidden : 3 * hidden].unbind(0),
        acts[..., 3 * hidden :].unbind(0),
    )
    f = acts[..., hidden : 2 * hidden].unbind(0)
    h_all, c_all, tc = hs.unbind(0), cs.unbind(0), tanh_c.unbind(0)
    inputs = xw.unbind(0)
    for t in range(steps):
        torch.addmm(inputs[t], h_all[t], w_t, out=gates[t])  # (B, 4H)
        torch.addcmul(i_f[t], p_if, c_all[t][:, None, :], out=i_f[t])  # + p ⊙ c_{t-1}
        i_f[t].sigmoid_()
        g[t].tanh_()
        torch.addcmul(f[t] * c_all[t], i[t], g[t], out=c_all[t + 1])  # c = f ⊙ c + i ⊙ g
        torch.addcmul(o[t], p_o, c_all[t + 1], out=o[t])  # o sees the new cell
        o[t].sigmoid_()
        torch.tanh(c_all[t + 1], out=tc[t])
        torch.mul(o[t], tc[t], out=h_all[t + 1])
    return hs, cs, acts, tanh_c


def peephole_backward(
    grad_h: Tensor,
    grad_c: Tensor,
    hs: Tensor,
    cs: Tensor,
    acts: Tensor,
    tanh_c: Tensor,
    w_hh: Tensor,
    peep: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Gradients w.r.t. ``xw`` (T, B, 4H), ``peep`` (3, H), ``h0`` and ``c0`` (B, H)."""
    steps, batch, hidden = tanh_c.shape
    i, f = acts[..., :hidden], acts[..., hidden : 2 * hidden]
    g, o = acts[..., 2 * hidden : 3 * hidden], acts[..., 3 * hidden :]
    c_prev, c_new = cs[:-1], cs[1:]
    # Step-independent chain-rule factors, in bulk (T, B, H).
    do_factor = tanh_c * o * (1.0 - o)  # ∂h/∂o · σ'
    dc_factor = o * (1.0 - tanh_c * tanh_c)  # ∂h/∂c
    dif_factor = torch.stack([g * i * (1.0 - i), c_prev * f * (1.0 - f)], dim=2)  # (T, B, 2, H)
    dg_factor = i * (1.0 - g * g)
    own_o = grad_h * do_factor  # the outputs' own share, in bulk
    own_c = grad_c + grad_h * dc_factor
    p_i, p_f, p_o = peep[0], peep[1], peep[2]
    d_gates = torch.empty_like(acts)  # (T, B, 4H): [di, df, dg, do] pre-activation
    d_all = d_gates.unbind(0)
    d_if = d_gates[..., : 2 * hidden].view(steps, batch, 2, hidden).unbind(0)
    d_g, d_o = d_gates[..., 2 * hidden : 3 * hidden].unbind(0), d_gates[..., 3 * hidden :].unbind(0)
    d_i, d_f = d_gates[..., :hidden].unbind(0), d_gates[..., hidden : 2 * hidden].unbind(0)
    dof, dcf, diff, dgf = (
        do_factor.unbind(0),
        dc_factor.unbind(0),
        dif_factor.unbind(0),
        dg_factor.unbind(0),
    )
    own_os, own_cs, fs = own_o.unbind(0), own_c.unbind(0), f.unbind(0)
    dh = torch.zeros_like(hs[0])  # (B, H): gradients reaching step t from step t+1
    dc = torch.zeros_like(hs[0])
    for t in range(steps - 1, -1, -1):
        torch.addcmul(own_os[t], dh, dof[t], out=d_o[t])  # do_pre
        dc_t = torch.addcmul(own_cs[t], dh, dcf[t]).add_(dc)
        dc_t.addcmul_(d_o[t], p_o)  # o saw c_t through p_o
        torch.mul(dc_t[:, None, :], diff[t], out=d_if[t])  # di_pre, df_pre
        torch.mul(dc_t, dgf[t], out=d_g[t])
        dc = (dc_t * fs[t]).addcmul_(d_i[t], p_i).addcmul_(d_f[t], p_f)
        dh = torch.mm(d_all[t], w_hh)  # (B, H)
    d_peep = torch.stack(
        [
            (d_gates[..., :hidden] * c_prev).sum((0, 1)),
            (d_gates[..., hidden : 2 * hidden] * c_prev).sum((0, 1)),
            (d_gates[..., 3 * hidden :] * c_new).sum((0, 1)),
        ]
    )  # (3, H)
    return d_gates, d_peep, dh, dc


LOOPS = {
    "rnn_forward": rnn_forward,
    "rnn_backward": rnn_backward,
    "gru_forward": gru_forward,
    "gru_backward": gru_backward,
    "peephole_forward": peephole_forward,
    "peephole_backward": peephole_backward,
}


@functools.cache
def compiled(name: str) -> Callable[..., Any]:
    """The loop ``name``, TorchScript-compiled once per process; eager where scripting fails."""
    with warnings.catch_warnings():  # torch.jit is deprecated in torch 2.13 but still fastest
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return torch.jit.script(LOOPS[name])
        except Exception:  # a torch without TorchScript: the eager loop computes the same
            return LOOPS[name]


_fp32 = torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
_fp32_backward = torch.amp.custom_bwd(device_type="cpu")


def _weight_grad(d_pre: Tensor, states: Tensor) -> Tensor:
    """Σ_t d_pre_tᵀ h_{t-1} as one GEMM over all T·B rows: (G·H, H)."""
    return d_pre.flatten(0, 1).t().mm(states[:-1].flatten(0, 1))


class RNNScan(torch.autograd.Function):
    """One Elman layer: ``xw`` (T, B, H), ``w_hh`` (H, H), ``h0`` (B, H) → states (T, B, H)."""

    @staticmethod
    @_fp32  # under CPU autocast too: the loops write fp32 buffers
    def forward(ctx: Any, xw: Tensor, w_hh: Tensor, h0: Tensor) -> Tensor:
        states = compiled("rnn_forward")(xw, w_hh, h0)  # (T+1, B, H)
        ctx.save_for_backward(w_hh, states)
        return states[1:]

    @staticmethod
    @_fp32_backward
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        w_hh, states = ctx.saved_tensors
        d_pre, d_h0 = compiled("rnn_backward")(grad_out.contiguous(), states, w_hh)
        return d_pre, _weight_grad(d_pre, states), d_h0


class GRUScan(torch.autograd.Function):
    """One GRU layer's recurrence: ``xw`` (T, B, 3H), ``w_hh`` (3H, H), ``b_hh`` (3H,), ``h0``."""

    @staticmethod
    @_fp32  # under CPU autocast too: the loops write fp32 buffers
    def forward(ctx: Any, xw: Tensor, w_hh: Tensor, b_hh: Tensor, h0: Tensor) -> Tensor:
        states, rz, n, gh_n = compiled("gru_forward")(xw, w_hh, b_hh, h0)
        ctx.save_for_backward(w_hh, states, rz, n, gh_n)
        return states[1:]  # (T, B, H)

    @staticmethod
    @_fp32_backward
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        w_hh, states, rz, n, gh_n = ctx.saved_tensors
        d_xw, d_gh, d_h0 = compiled("gru_backward")(
            grad_out.contiguous(), states, rz, n, gh_n, w_hh
        )
        return d_xw, _weight_grad(d_gh, states), d_gh.sum((0, 1)), d_h0


class PeepholeScan(torch.autograd.Function):
    """One peephole LSTM layer: ``xw`` (T, B, 4H), ``w_hh`` (4H, H), ``peep`` (3, H), ``h0``,
    ``c0`` (B, H) → every step's state and cell (T, B, H) each."""

    @staticmethod
    @_fp32  # under CPU autocast too: the loops write fp32 buffers
    def forward(
        ctx: Any, xw: Tensor, w_hh: Tensor, peep: Tensor, h0: Tensor, c0: Tensor
    ) -> tuple[Tensor, Tensor]:
        hs, cs, acts, tanh_c = compiled("peephole_forward")(xw, w_hh, peep, h0, c0)
        ctx.save_for_backward(w_hh, peep, hs, cs, acts, tanh_c)
        return hs[1:], cs[1:]

    @staticmethod
    @_fp32_backward
    def backward(ctx: Any, grad_h: Tensor, grad_c: Tensor) -> tuple[Tensor | None, ...]:
        w_hh, peep, hs, cs, acts, tanh_c = ctx.saved_tensors
        d_xw, d_peep, d_h0, d_c0 = compiled("peephole_backward")(
            grad_h.contiguous(), grad_c.contiguous(), hs, cs, acts, tanh_c, w_hh, peep
        )
        return d_xw, _weight_grad(d_xw, hs), d_peep, d_h0, d_c0


def peephole_fused(
    xw: Tensor, w_hh: Tensor, peep: Tensor, mask: Tensor, h: Tensor, c: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """``peephole.peephole_scan``'s contract on the fused recurrence.

    The recurrence runs over the padding too (it comes after every valid step, so valid steps
    never see it); outputs are then zeroed there and the final state is each sequence's last
    valid one. Returns outputs (T, B, H) and the final ``h``, ``c`` (B, H).
    """
    hs, cs = PeepholeScan.apply(xw, w_hh, peep, h, c)  # (T, B, H) each
    last = (mask.sum(0) - 1).clamp(min=0)[None].expand(1, -1, hs.size(2))  # (1, B, H)
    return hs.masked_fill(~mask, 0.0), hs.gather(0, last)[0], cs.gather(0, last)[0]


class StackedRecurrence(nn.Module):
    """The parameters of a stacked, optionally bidirectional recurrence, laid out like torch's
    ``nn.RNN`` family: per layer and direction ``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh`` (``gates`` blocks of H rows each), then any ``extra`` per-direction tensors
    (the peephole LSTM's ``peephole`` (3, H)), suffixed ``_l{k}`` / ``_l{k}_reverse``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        gates: int,
        num_layers: int,
        bidirectional: bool,
        dropout: float,
        extra: dict[str, tuple[int, ...]] | None = None,
    ) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.directions = 2 if bidirectional else 1
        self.dropout = dropout
        width = gates * hidden_size
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * self.directions
            shapes = {
                "weight_ih": (width, layer_in),
                "weight_hh": (width, hidden_size),
                "bias_ih": (width,),
                "bias_hh": (width,),
                **(extra or {}),
            }
            for sfx in self._suffixes(layer):
                for name, shape in shapes.items():
                    self.register_parameter(f"{name}{sfx}", nn.Parameter(torch.empty(shape)))
        self.reset_parameters()

    @property
    def bidirectional(self) -> bool:
        return self.directions == 2

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.directions]

    def reset_parameters(self) -> None:
        """Uniform(-1/√H, 1/√H) for every weight, as torch's recurrent modules do."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)


class FusedRecurrent(StackedRecurrence):
    """A stacked, optionally bidirectional GRU or tanh RNN over right-padded batches (B, T, I).

    The drop-in CPU replacement for ``nn.GRU`` / ``nn.RNN`` (``batch_first``) in
    ``RecurrentEncoder``: same parameters, same outputs at valid steps. Each direction runs over
    the padded batch (the backward direction over each sequence reversed within its length), so
    valid steps never see padding; outputs are zero at padding steps.
    """

    GATES: ClassVar[dict[str, int]] = {"gru": 3, "rnn": 1}

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        if mode not in self.GATES:
            raise ValueError(
                f"FusedRecurrent mode must be one of {sorted(self.GATES)}, got {mode!r}"
            )
        super().__init__(
            input_size, hidden_size, self.GATES[mode], num_layers, bidirectional, dropout
        )
        self.mode = mode

    def _scan(self, seq: Tensor, sfx: str) -> Tensor:
        """One direction of one layer: (T, B, I) → (T, B, H)."""
        w_ih, w_hh = getattr(self, f"weight_ih{sfx}"), getattr(self, f"weight_hh{sfx}")
        b_ih, b_hh = getattr(self, f"bias_ih{sfx}"), getattr(self, f"bias_hh{sfx}")
        h0 = seq.new_zeros(seq.size(1), self.hidden_size)  # (B, H)
        if seq.is_cuda:  # cuDNN fuses GRU and RNN: torch's own kernel, on the same weights
            kernel = _VF.gru if self.mode == "gru" else _VF.rnn_tanh
            with warnings.catch_warnings():  # per-direction weights are not one flat buffer
                warnings.simplefilter("ignore", UserWarning)
                out, _ = kernel(
                    seq, h0[None], [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, False, False, False
                )
            return out  # (T, B, H)
        if self.mode == "rnn":
            xw = F.linear(seq, w_ih, b_ih + b_hh)  # (T, B, H): both biases fold into the input
            return RNNScan.apply(xw, w_hh, h0)
        xw = F.linear(seq, w_ih, b_ih)  # (T, B, 3H); b_hh stays inside r ⊙ (W_hn h + b_hn)
        return GRUScan.apply(xw, w_hh, b_hh, h0)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Outputs (B, T, directions·H), zero at padding steps, and each sequence's final
        state (layers·directions, B, H) as ``nn.GRU`` returns for a packed batch."""
        lengths = lengths.to(x.device)
        mask = valid_mask(lengths, x.size(1)).t()[..., None]  # (T, B, 1)
        last = (lengths - 1).clamp(min=0)[None, :, None].expand(1, -1, self.hidden_size)
        layer_in = x.transpose(0, 1)  # (T, B, I)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction, sfx in enumerate(self._suffixes(layer)):
                if direction == 0:
                    out = self._scan(layer_in, sfx)  # (T, B, H)
                    outputs.append(out)
                else:  # each sequence reversed within its length, and the outputs back
                    out = self._scan(reverse_padded(layer_in, lengths, time_dim=0), sfx)
                    outputs.append(reverse_padded(out, lengths, time_dim=0))
                finals.append(out.gather(0, last)[0])  # (B, H): the last valid step's state
            layer_in = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
            if layer < self.num_layers - 1 and self.dropout > 0:
                layer_in = F.dropout(layer_in, self.dropout, self.training)
        states = layer_in.masked_fill(~mask, 0.0).transpose(0, 1)  # (B, T, dirs·H)
        return states, torch.stack(finals)
