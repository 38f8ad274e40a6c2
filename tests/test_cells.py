"""The fused recurrences (models/cells.py) equal torch's modules and the autograd reference.

Every comparison runs in float64 on right-padded batches with different lengths, and checks the
outputs, the final states and the gradients of the input and of every parameter.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqbench.models import cells
from seqbench.models.cells import FusedRecurrent
from seqbench.models.peephole import PeepholeLSTM

LENGTHS = torch.tensor([7, 3, 5, 1])  # padded to T = 7


def _grads(loss: torch.Tensor, *tensors: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, tensors))


@pytest.mark.parametrize("mode", ["gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_fused_recurrence_equals_torch_module_on_a_packed_batch(mode, layers, bidirectional):
    torch.manual_seed(0)
    fused = FusedRecurrent(mode, 3, 5, num_layers=layers, bidirectional=bidirectional).double()
    module = {"gru": torch.nn.GRU, "rnn": torch.nn.RNN}[mode]
    ref = module(3, 5, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    ref = ref.double()
    ref.load_state_dict(fused.state_dict())  # same names and layout as torch's
    x = torch.randn(4, 7, 3, dtype=torch.float64, requires_grad=True)  # (B, T, I)

    out, h_n = fused(x, LENGTHS)
    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    ref_packed, ref_h_n = ref(packed)
    ref_out, _ = pad_packed_sequence(ref_packed, batch_first=True, total_length=7)

    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(h_n, ref_h_n, atol=1e-12, rtol=0)
    assert not out[1, 3:].any() and not out[3, 1:].any()  # zero at padding
    weight_out, weight_h = torch.randn_like(out), torch.randn_like(h_n)
    ours = _grads((out * weight_out).sum() + (h_n * weight_h).sum(), x, *fused.parameters())
    theirs = _grads((ref_out * weight_out).sum() + (ref_h_n * weight_h).sum(), x, *ref.parameters())
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_fused_peephole_equals_the_autograd_scan(layers, bidirectional):
    torch.manual_seed(0)
    fused = PeepholeLSTM(3, 5, layers, bidirectional, scan="fused").double()
    ref = PeepholeLSTM(3, 5, layers, bidirectional, scan="eager").double()
    ref.load_state_dict(fused.state_dict())
    x = torch.randn(4, 7, 3, dtype=torch.float64, requires_grad=True)

    out, (h_n, c_n) = fused(x, LENGTHS)
    ref_out, (ref_h, ref_c) = ref(x, LENGTHS)
    for a, b in [(out, ref_out), (h_n, ref_h), (c_n, ref_c)]:
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    w = [torch.randn_like(t) for t in (out, h_n, c_n)]

    def loss(o, h, c):  # gradients flow in through the outputs and both final states
        return (o * w[0]).sum() + (h * w[1]).sum() + (c * w[2]).sum()

    ours = _grads(loss(out, h_n, c_n), x, *fused.parameters())
    theirs = _grads(loss(ref_out, ref_h, ref_c), x, *ref.parameters())
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_scans_match_autograd_of_the_textbook_recurrence_initial_state_included():
    """h0 (and c0) gradients, which the encoder never needs, are right too."""
    torch.manual_seed(1)
    steps, batch, hidden = 6, 3, 4
    xw3 = torch.randn(steps, batch, 3 * hidden, dtype=torch.float64, requires_grad=True)
    w_hh = torch.randn(3 * hidden, hidden, dtype=torch.float64, requires_grad=True)
    b_hh = torch.randn(3 * hidden, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True)
    out = cells.GRUScan.apply(xw3, w_hh, b_hh, h0)
    h, ref = h0, []
    for t in range(steps):
        gh = h @ w_hh.t() + b_hh
        r = torch.sigmoid(xw3[t, :, :hidden] + gh[:, :hidden])
        z = torch.sigmoid(xw3[t, :, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
        n = torch.tanh(xw3[t, :, 2 * hidden :] + r * gh[:, 2 * hidden :])
        h = (1 - z) * n + z * h
        ref.append(h)
    g = torch.randn_like(out)
    ours = _grads((out * g).sum(), xw3, w_hh, b_hh, h0)
    theirs = _grads((torch.stack(ref) * g).sum(), xw3, w_hh, b_hh, h0)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    xw1 = torch.randn(steps, batch, hidden, dtype=torch.float64, requires_grad=True)
    w1 = torch.randn(hidden, hidden, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(cells.RNNScan.apply, (xw1, w1, h0))


def test_the_eager_loops_run_where_torchscript_cannot(monkeypatch):
    """A torch without TorchScript falls back to the same loops, with the same results."""
    torch.manual_seed(2)
    model = FusedRecurrent("gru", 3, 5, num_layers=2, bidirectional=True)
    x = torch.randn(4, 7, 3)
    scripted, _ = model(x, LENGTHS)

    def no_script(fn):
        raise RuntimeError("TorchScript is not available")

    cells.compiled.cache_clear()
    monkeypatch.setattr(torch.jit, "script", no_script)
    try:
        assert cells.compiled("gru_forward") is cells.gru_forward
        eager, _ = model(x, LENGTHS)
    finally:
        cells.compiled.cache_clear()
    torch.testing.assert_close(eager, scripted, atol=1e-6, rtol=0)


def test_state_dicts_load_both_ways_between_fused_and_torch_modules():
    fused = FusedRecurrent("gru", 4, 6, num_layers=2, bidirectional=True)
    torch_gru = torch.nn.GRU(4, 6, num_layers=2, bidirectional=True, batch_first=True)
    torch_gru.load_state_dict(fused.state_dict())
    fused.load_state_dict(torch_gru.state_dict())
    assert [n for n, _ in fused.named_parameters()] == [n for n, _ in torch_gru.named_parameters()]


@pytest.mark.parametrize(
    "make",
    [
        lambda: FusedRecurrent("gru", 4, 5, 2, True),
        lambda: FusedRecurrent("rnn", 4, 5, 2),
        lambda: PeepholeLSTM(4, 5, 2, True),
    ],
)
def test_fused_recurrences_run_in_fp32_under_cpu_autocast(make):
    """bf16 autocast (Lightning's bf16-mixed) hands the layers bf16 projections; the loops
    compute in fp32 and give the fp32 result to bf16 rounding of their inputs."""
    torch.manual_seed(3)
    model = make()
    x = torch.randn(3, 7, 4)  # (B, T, I)
    ref, _ = model(x, LENGTHS[:3])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = model(x, LENGTHS[:3])
        out.float().sum().backward()
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, atol=2e-2, rtol=0)
    assert all(p.grad is not None and p.grad.isfinite().all() for p in model.parameters())
