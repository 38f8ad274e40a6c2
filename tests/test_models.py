"""Behaviour of the architecture zoo: shapes, gradients, padding, causality, peephole, FLOPs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.flop_counter import FlopCounterMode

from seqbench.models import (
    ARCHITECTURES,
    ClassificationSpec,
    ForecastSpec,
    ModelConfig,
    build_model,
    count_parameters,
    estimate_flops,
)
from seqbench.models.cells import FusedRecurrent
from seqbench.models.peephole import SCAN_IMPLS, PeepholeLSTM
from seqbench.typed import ConfigError, build

TEXT = ClassificationSpec(vocab_size=99, num_classes=3, label_tokens=((5,), (7, 8), (9,)))
SERIES = ForecastSpec(input_features=4, horizon=3, targets=2, target_indices=(0, 2))
RECURRENT = [n for n, a in ARCHITECTURES.items() if a.family == "recurrent"]
TRANSFORMERS = [n for n, a in ARCHITECTURES.items() if a.family == "transformer"]
BASELINES = [n for n, a in ARCHITECTURES.items() if a.forecaster is not None]
# Built from scratch (the pretrained rows load an encoder: tests/test_pretrained.py, tiny BERT).
NETWORKS = [n for n, a in ARCHITECTURES.items() if a.estimator is None and a.pretrained is None]
TEXT_ONLY = [n for n, a in ARCHITECTURES.items() if a.text_to_text]  # they write the label


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors gain nothing from threads; one avoids spinning on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(arch: str, **kw) -> ModelConfig:
    base = {"hidden_size": 16, "num_layers": 2, "num_heads": 2, "ff_size": 24, "max_length": 64}
    return ModelConfig(arch=arch, **{**base, **ARCHITECTURES[arch].fixed, **kw})


def task_input(spec, batch: int, steps: int) -> Tensor:
    if isinstance(spec, ClassificationSpec):
        return torch.randint(1, spec.vocab_size, (batch, steps))  # (B, T)
    return torch.randn(batch, steps, spec.input_features)  # (B, L, F)


TASKS = [
    ("classification", TEXT, "direct"),
    ("direct", SERIES, "direct"),
    ("autoregressive", SERIES, "autoregressive"),
]
CASES = [  # the window baselines forecast full windows of a known length, directly
    (arch, *task)
    if arch not in BASELINES
    else (arch, task[0], dataclasses.replace(task[1], input_length=7), task[2])
    for arch in NETWORKS
    for task in TASKS
    if (arch not in BASELINES or task[0] == "direct")
    and (arch not in TEXT_ONLY or task[0] == "classification")
]
IDS = [f"{arch}-{name}" for arch, name, _, _ in CASES]


@pytest.mark.parametrize(("arch", "name", "spec", "decoding"), CASES, ids=IDS)
def test_shapes_and_every_parameter_gets_a_gradient(arch, name, spec, decoding):
    torch.manual_seed(0)
    model = build_model(tiny(arch, decoding=decoding), spec)
    x = task_input(spec, batch=3, steps=7)
    out = model(x, torch.tensor([7, 4, 1]))
    expected = (3, spec.num_classes) if name == "classification" else (3, 3, 2)
    assert out.shape == expected
    if not count_parameters(model):  # the naive forecaster: the last value, nothing to learn
        torch.testing.assert_close(out, x[:, -1:, list(spec.target_indices)].expand(3, 3, 2))
        return
    out.square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    # A single decoder query attends only to itself, so its self-attention query projection
    # cannot matter (softmax over one key is 1): the one expected zero gradient.
    single_query = arch == "transformer_encdec" and name == "classification"
    zero = [n for n, p in model.named_parameters() if not p.grad.any()]
    assert all(single_query and "self_attn.query" in n for n in zero), zero
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


def invariance_configs() -> list[tuple[str, dict]]:
    configs: list[tuple[str, dict]] = []
    for arch in RECURRENT:
        for bidirectional in (False, True):
            if ARCHITECTURES[arch].fixed.get("bidirectional", bidirectional) != bidirectional:
                continue
            for pooling in ARCHITECTURES[arch].poolings:
                configs.append((arch, {"bidirectional": bidirectional, "pooling": pooling}))
    for arch in TRANSFORMERS:
        for pooling in ARCHITECTURES[arch].poolings:
            configs.append((arch, {"pooling": pooling}))
        configs.append((arch, {"positional": "learned"}))
    return configs


@pytest.mark.parametrize(
    ("arch", "kw"), invariance_configs(), ids=lambda v: v if isinstance(v, str) else str(v)
)
def test_padding_is_invisible(arch, kw):
    """A short sequence gives the same output alone or padded next to a much longer one."""
    specs = [(TEXT, "direct"), (SERIES, "direct"), (SERIES, "autoregressive")]
    for spec, decoding in specs[:1] if arch in TEXT_ONLY else specs:
        torch.manual_seed(0)
        model = build_model(tiny(arch, decoding=decoding, **kw), spec).eval()
        short, long = task_input(spec, 1, 5), task_input(spec, 1, 29)
        padded = task_input(spec, 1, 29)  # garbage, not pad ids: lengths alone must hide it
        padded[:, :5] = short
        with torch.no_grad():
            alone = model(short, torch.tensor([5]))
            batched = model(torch.cat([padded, long]), torch.tensor([5, 29]))
        assert torch.isfinite(batched).all()
        torch.testing.assert_close(batched[:1], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", TRANSFORMERS)
def test_transformer_states_stay_finite_at_padding(arch):
    """Padded query rows could be fully masked (NaN); they may always attend to themselves."""
    pooling = "mean" if "mean" in ARCHITECTURES[arch].poolings else None
    model = build_model(tiny(arch, pooling=pooling), TEXT)
    states, _ = model.encoder(torch.randn(3, 8, 16), torch.tensor([8, 1, 3]))
    assert torch.isfinite(states).all()


def test_text_lengths_default_to_non_pad_tokens():
    torch.manual_seed(0)
    model = build_model(tiny("lstm"), TEXT).eval()
    x = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x, torch.tensor([3, 5])))
        torch.testing.assert_close(model(x[:1, :3]), model(x)[:1], atol=1e-6, rtol=0)


@pytest.mark.parametrize("arch", ["transformer_decoder", "transformer"])
def test_decoder_only_is_causal_and_encoder_only_is_not(arch):
    torch.manual_seed(0)
    model = build_model(tiny(arch, pooling="mean"), SERIES).eval()
    h = torch.randn(2, 9, 16)  # (B, T, d) embedded inputs
    lengths = torch.tensor([9, 9])
    changed = h.clone()
    changed[:, 5:] += torch.randn(2, 4, 16)
    with torch.no_grad():
        before, _ = model.encoder(h, lengths)  # (B, T, d) per-step states
        after, _ = model.encoder(changed, lengths)
    prefix_same = torch.allclose(before[:, :5], after[:, :5], atol=1e-6)
    assert prefix_same == (arch == "transformer_decoder")
    assert not torch.allclose(before[:, 5:], after[:, 5:], atol=1e-3)


def test_encoder_decoder_decoder_is_causal():
    torch.manual_seed(0)
    model = build_model(tiny("transformer_encdec"), SERIES).eval()
    memory, lengths = model.encoder(torch.randn(2, 6, 16), torch.tensor([6, 3]))
    tgt = torch.randn(2, 5, 16)  # (B, Q, d) decoder inputs
    changed = tgt.clone()
    changed[:, 3:] = torch.randn(2, 2, 16)
    with torch.no_grad():
        before = model.encoder.decode(memory, lengths, tgt)  # (B, Q, d)
        after = model.encoder.decode(memory, lengths, changed)
    torch.testing.assert_close(before[:, :3], after[:, :3], atol=1e-6, rtol=0)
    assert not torch.allclose(before[:, 3:], after[:, 3:], atol=1e-3)


# ------------------------------------------------------------------------------------------
# Peephole LSTM
# ------------------------------------------------------------------------------------------


def reference_peephole(model: PeepholeLSTM, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Slow textbook peephole LSTM over ONE unpadded sequence x (T, I): outputs, h_n, c_n."""
    hs, cs = [], []
    layer_in = x
    for layer in range(model.num_layers):
        outs = []
        for direction, sfx in enumerate(["", "_reverse"][: model.directions]):
            w_ih = getattr(model, f"weight_ih_l{layer}{sfx}")
            w_hh = getattr(model, f"weight_hh_l{layer}{sfx}")
            b = getattr(model, f"bias_ih_l{layer}{sfx}") + getattr(model, f"bias_hh_l{layer}{sfx}")
            p_i, p_f, p_o = getattr(model, f"peephole_l{layer}{sfx}")
            h = c = torch.zeros(model.hidden_size)
            steps = range(len(layer_in)) if direction == 0 else reversed(range(len(layer_in)))
            out = [None] * len(layer_in)
            for t in steps:
                z = w_ih @ layer_in[t] + w_hh @ h + b
                zi, zf, zg, zo = z.chunk(4)
                i = torch.sigmoid(zi + p_i * c)
                f = torch.sigmoid(zf + p_f * c)
                c = f * c + i * torch.tanh(zg)
                o = torch.sigmoid(zo + p_o * c)
                h = o * torch.tanh(c)
                out[t] = h
            outs.append(torch.stack(out))
            hs.append(h)
            cs.append(c)
        layer_in = torch.cat(outs, dim=-1)
    return layer_in, torch.stack(hs), torch.stack(cs)


@pytest.mark.parametrize("scan", sorted(SCAN_IMPLS))
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, False), (2, True)])
def test_peephole_matches_step_by_step_reference(scan, layers, bidirectional):
    torch.manual_seed(0)
    model = PeepholeLSTM(3, 5, num_layers=layers, bidirectional=bidirectional, scan=scan)
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 2, 4])
    with torch.no_grad():
        out, (h_n, c_n) = model(x, lengths)
        for b, n in enumerate(lengths.tolist()):
            ref_out, ref_h, ref_c = reference_peephole(model, x[b, :n])
            torch.testing.assert_close(out[b, :n], ref_out, atol=1e-6, rtol=0)
            assert not out[b, n:].any()
            torch.testing.assert_close(h_n[:, b], ref_h, atol=1e-6, rtol=0)
            torch.testing.assert_close(c_n[:, b], ref_c, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (1, True), (3, True)])
def test_peephole_with_zero_peepholes_equals_nn_lstm(layers, bidirectional):
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 6, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    model = PeepholeLSTM(4, 6, num_layers=layers, bidirectional=bidirectional)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.zeros_like(p) if name.startswith("peephole") else getattr(lstm, name))
        x = torch.randn(4, 7, 4)
        lengths = torch.tensor([3, 7, 1, 5])
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        ref, (ref_h, ref_c) = lstm(packed)
        ref, _ = pad_packed_sequence(ref, batch_first=True, total_length=7)
        out, (h_n, c_n) = model(x, lengths)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_n, ref_h, atol=1e-5, rtol=0)
    torch.testing.assert_close(c_n, ref_c, atol=1e-5, rtol=0)


def test_bidirectional_last_pooling_joins_forward_end_and_backward_start():
    torch.manual_seed(0)
    model = build_model(tiny("lstm", bidirectional=True, num_layers=1), TEXT).eval()
    h = torch.randn(2, 6, 16)
    lengths = torch.tensor([6, 3])
    packed = pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
    with torch.no_grad():
        _, (h_n, _) = model.encoder.rnn(packed)  # (2, B, H): forward, backward final states
        pooled = model.encoder.pooled(h, lengths)
    torch.testing.assert_close(pooled, torch.cat([h_n[0], h_n[1]], dim=-1), atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------------
# Configuration, seeding, FLOPs
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", [a for a in NETWORKS if a != "naive"])  # naive: no weights
def test_same_seed_same_weights_and_outputs(arch):
    spec = dataclasses.replace(SERIES, input_length=6) if arch in BASELINES else TEXT
    x = task_input(spec, 2, 6)

    def run(seed: int) -> tuple[Tensor, Tensor]:
        torch.manual_seed(seed)
        model = build_model(tiny(arch), spec).eval()
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        with torch.no_grad():
            return flat, model(x)

    (w1, y1), (w2, y2), (w3, _) = run(7), run(7), run(8)
    assert torch.equal(w1, w2) and torch.equal(y1, y2)
    assert not torch.equal(w1, w3)


def test_unknown_architecture_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        build(ModelConfig, {"arch": "mamba"}, "models.mine")
    message = str(err.value)
    assert message.startswith("models.mine.arch:")
    assert all(name in message for name in ARCHITECTURES)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"arch": "lstm", "dropout": -0.1}, "dropout"),
        ({"arch": "transformer", "hidden_size": 30, "num_heads": 4}, "hidden_size"),
        ({"arch": "gru", "num_layers": 0}, "num_layers"),
        ({"arch": "lstm", "pooling": "cls"}, "pooling"),
        ({"arch": "transformer_decoder", "pooling": "cls"}, "pooling"),
        ({"arch": "transformer", "bidirectional": True}, "bidirectional"),
        ({"arch": "transformer", "embedding_size": 8}, "embedding_size"),
        ({"arch": "lstm", "decoding": "beam"}, "decoding"),
        ({"arch": "rnn", "hidden": 3}, "hidden"),
    ],
)
def test_bad_config_values_name_the_key(values, key):
    with pytest.raises(ConfigError, match=rf"^m\.{key}: "):
        build(ModelConfig, values, "m")


def test_autoregressive_needs_target_indices():
    with pytest.raises(ConfigError, match=r"^target_indices: "):
        build_model(tiny("lstm", decoding="autoregressive"), ForecastSpec(4, 3, 2))


def test_sequence_longer_than_max_length_names_the_key():
    model = build_model(tiny("transformer", max_length=8), TEXT)
    with pytest.raises(ConfigError, match=r"^max_length: "):
        model(task_input(TEXT, 1, 12))


def test_reference_traffic_transformer_is_expressible():
    cfg = build(
        ModelConfig,
        {
            "arch": "transformer_encdec",
            "hidden_size": 20,
            "num_heads": 5,
            "num_layers": 5,
            "num_decoder_layers": 5,
        },
    )
    model = build_model(cfg, SERIES)
    assert len(model.encoder.encoder) == 5 and len(model.encoder.decoder) == 5
    assert model(torch.randn(2, 12, 4)).shape == (2, 3, 2)


def test_flops_by_hand_for_lstm_and_transformer():
    # LSTM, 1 layer, E = H = 16, text (embedding lookup is free), 10 steps, 3 classes:
    # gates 2·4·16·(16+16) per step, head 2·16·3.
    assert estimate_flops(tiny("lstm", num_layers=1), TEXT, 10) == 10 * 2 * 4 * 16 * 32 + 2 * 16 * 3
    # Bidirectional 2-layer GRU on 4 features: projection 2·L·4·16, layer 1 input 16, layer 2
    # input 32, both directions, direct head 2·32·(3·2).
    cfg = tiny("gru", bidirectional=True)
    per_dir = 2 * 3 * 16 * (16 + 16) + 2 * 3 * 16 * (32 + 16)
    assert estimate_flops(cfg, SERIES, 6) == 2 * 6 * 4 * 16 + 2 * 6 * per_dir + 2 * 32 * 6
    # Encoder-only Transformer with CLS (n = 10 + 1), d = 16, ff = 24, 2 layers:
    n, d, ff = 11, 16, 24
    layer = 8 * n * d * d + 4 * n * n * d + 4 * n * d * ff
    assert estimate_flops(tiny("transformer"), TEXT, 10) == 2 * layer + 2 * d * 3


@pytest.mark.parametrize(
    ("arch", "spec", "decoding"),
    [
        (arch, spec, decoding)
        for arch in ["rnn", "gru", "peephole_lstm", *TRANSFORMERS]
        for spec, decoding in [(TEXT, "direct"), (SERIES, "autoregressive")]
        if arch not in TEXT_ONLY or spec is TEXT  # text-to-text models do not forecast
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_flops_agree_with_torch_flop_counter(arch, spec, decoding):
    """The counter sees every matmul except the CPU attention kernel and peephole products."""
    cfg = tiny(arch, decoding=decoding)
    model = build_model(cfg, spec).eval()
    steps = 6
    with FlopCounterMode(display=False) as counter:
        model(task_input(spec, 1, steps))
    uncounted = 0
    if arch == "peephole_lstm":
        per_pass = 2 * 3 * 16 * 2 * sum(steps + k for k in range(3))  # 2 layers, 3 AR passes
        uncounted = per_pass if decoding == "autoregressive" else 2 * 3 * 16 * 2 * steps
    elif arch in TRANSFORMERS:
        uncounted = attention_scores(arch, cfg, steps, decoding)
    assert estimate_flops(cfg, spec, steps) == counter.get_total_flops() + uncounted


def attention_scores(arch: str, cfg: ModelConfig, steps: int, decoding: str) -> int:
    """4·Q·K·d per layer for every attention (scores + weighted sum) the model runs."""
    d, layers = cfg.hidden_size, cfg.num_layers

    def enc(n: int) -> int:
        n += 1 if arch == "transformer" and cfg.pool == "cls" else 0
        return layers * 4 * n * n * d

    def dec(q: int) -> int:
        return layers * (4 * q * q * d + 4 * q * steps * d)

    if arch in TEXT_ONLY:  # every label's tokens + end: 3 labels, at most 2 tokens
        return enc(steps) + 3 * dec(3)
    if arch == "transformer_encdec":
        if decoding == "direct":
            return enc(steps) + dec(1)
        return enc(steps) + sum(dec(q) for q in range(1, 4))
    if decoding == "direct":
        return enc(steps)
    return sum(enc(steps + k) for k in range(3))


@pytest.mark.parametrize("arch", TRANSFORMERS)
def test_attention_dropout_defaults_to_dropout_and_can_be_set_apart(arch):
    def rates(cfg: ModelConfig) -> set[tuple[str, float]]:
        model = build_model(cfg, TEXT)
        return {
            (type(m).__name__, m.dropout if hasattr(m, "heads") else m.p)
            for m in model.encoder.modules()
            if hasattr(m, "heads") or isinstance(m, nn.Dropout)
        }

    assert rates(tiny(arch, dropout=0.3)) == {("Attention", 0.3), ("Dropout", 0.3)}
    assert rates(tiny(arch, dropout=0.3, attention_dropout=0.0)) == {
        ("Attention", 0.0),
        ("Dropout", 0.3),
    }
    with pytest.raises(ConfigError, match="attention_dropout"):
        tiny(arch, attention_dropout=1.0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_states_equal_a_packed_run_and_are_zero_at_padding(cell, bidirectional):
    """Every path (oneDNN LSTM unpacked or packed, seqbench's fused GRU/RNN) must match torch's
    module run on the packed batch."""
    torch.manual_seed(0)
    model = build_model(tiny(cell, num_layers=2, bidirectional=bidirectional), TEXT).eval()
    rnn = model.encoder.rnn
    torch_rnn = rnn
    if isinstance(rnn, FusedRecurrent):
        torch_rnn = {"gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](
            16, rnn.hidden_size, 2, bidirectional=bidirectional, batch_first=True
        )
        torch_rnn.load_state_dict(rnn.state_dict())
    h = torch.randn(3, 9, 16)  # (B, T, E)
    lengths = torch.tensor([9, 4, 1])
    states, _ = model.encoder(h, lengths)  # (B, T, dirs·H)
    packed = pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
    ref, _ = pad_packed_sequence(torch_rnn(packed)[0], batch_first=True, total_length=9)
    torch.testing.assert_close(states, ref, atol=1e-5, rtol=0)
    assert not states[1, 4:].any() and not states[2, 1:].any()
    states.sum().backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in rnn.parameters())


# ------------------------------------------------------------------------------------------
# Forecasting baselines, RevIN, variants
# ------------------------------------------------------------------------------------------

WINDOW = dataclasses.replace(SERIES, input_length=12)


def test_nlinear_and_dlinear_are_the_papers_maps():
    torch.manual_seed(0)
    x = torch.randn(5, 12, 4)  # (B, L, F)
    y = x[..., [0, 2]]  # (B, L, T) the target channels
    nlinear = build_model(tiny("nlinear"), WINDOW)
    last = y[:, -1:]
    expected = nlinear.linear((y - last).transpose(1, 2)).transpose(1, 2) + last
    torch.testing.assert_close(nlinear(x), expected)
    dlinear = build_model(tiny("dlinear", moving_average=5), WINDOW)
    padded = torch.cat([y[:, :1].repeat(1, 2, 1), y, y[:, -1:].repeat(1, 2, 1)], dim=1)
    trend = torch.stack([padded[:, t : t + 5].mean(1) for t in range(12)], dim=1)  # (B, L, T)
    expected = dlinear.trend(trend.transpose(1, 2)) + dlinear.seasonal((y - trend).transpose(1, 2))
    torch.testing.assert_close(dlinear(x), expected.transpose(1, 2))
    assert estimate_flops(tiny("dlinear"), WINDOW, 12) == 2 * estimate_flops(
        tiny("nlinear"), WINDOW, 12
    )


@pytest.mark.parametrize("arch", ["nlinear", "gru", "transformer"])
def test_revin_makes_forecasts_follow_a_level_shift(arch):
    """With RevIN, shifting a window by c shifts its forecast by c (instance normalization)."""
    torch.manual_seed(0)
    model = build_model(tiny(arch, revin=True), WINDOW).eval()
    x = torch.randn(3, 12, 4)
    with torch.no_grad():
        torch.testing.assert_close(model(x + 100.0), model(x) + 100.0, atol=1e-3, rtol=1e-4)
        plain = build_model(tiny(arch), WINDOW).eval()
        shifts = torch.allclose(plain(x + 100.0), plain(x) + 100.0, atol=1e-1)
        assert shifts == (arch == "nlinear")  # NLinear subtracts the last value on its own


def test_a_bidirectional_forecaster_sees_no_target_step():
    """The window holds only past steps: changing the future never changes the forecast."""
    import numpy as np

    from seqbench.data.timeseries import WindowDataset

    values = torch.randn(40, 4)
    data = WindowDataset(values, torch.arange(0, 20), 12, 3, [0, 1, 2, 3], [0, 2])
    future = values.clone()
    future[12:] += 50.0  # every step after the first window's input
    moved = WindowDataset(future, torch.arange(0, 20), 12, 3, [0, 1, 2, 3], [0, 2])
    x, y = data[0]
    x2, y2 = moved[0]
    assert torch.equal(x, x2) and not torch.equal(y, y2)
    model = build_model(tiny("bilstm"), WINDOW).eval()
    with torch.no_grad():
        assert torch.equal(model(x[None]), model(x2[None]))
    assert np.isfinite(model(x[None]).detach().numpy()).all()


def test_variants_are_registry_entries_with_fixed_options():
    assert tiny("bilstm").bidirectional and ARCHITECTURES["bilstm"].base == "lstm"
    with pytest.raises(ConfigError, match=r"models\.bigru\.bidirectional: expected True"):
        build(ModelConfig, {"arch": "bigru", "bidirectional": False}, "models.bigru")
    with pytest.raises(ConfigError, match=r"models\.stacked_gru\.num_layers: expected .*>= 2"):
        build(ModelConfig, {"arch": "stacked_gru", "num_layers": 1}, "models.stacked_gru")
    stacked = build_model(tiny("stacked_lstm", num_layers=3), TEXT)
    assert stacked.encoder.rnn.num_layers == 3
    with pytest.raises(ConfigError, match="a forecasting task for a window baseline"):
        build_model(tiny("dlinear"), TEXT)
    for name, entry in ARCHITECTURES.items():  # every variant names an existing vanilla entry
        assert entry.base is None or ARCHITECTURES[entry.base].base is None, name


# ------------------------------------------------------------------------------------------
# The registry and params.yaml


def repo_params() -> dict:
    from pathlib import Path

    from seqbench.typed import load_params

    return load_params(Path(__file__).resolve().parents[1] / "params.yaml")


def served_tasks(entry) -> list[str]:
    """The real tasks an entry runs on: text-only rows on IMDB, window forecasters on series."""
    if entry.estimator is not None or entry.text_to_text or entry.pretrained is not None:
        return ["imdb"]
    if entry.forecaster is not None:
        return ["pems", "etth1"]
    return ["imdb", "pems", "etth1"]


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_registry_entry_has_its_params_sections_and_resolves(arch):
    from seqbench.training.run import resolve_run
    from seqbench.tuning.config import tune_config

    params = repo_params()
    assert arch in params["models"] and arch in params["tune"]["space"]
    for task in served_tasks(ARCHITECTURES[arch]):
        spec = resolve_run(params, task, arch)
        assert spec.model.arch == arch
        tune_config(params, task, arch)


def test_adding_a_variant_is_one_registry_entry_and_its_params_section(monkeypatch):
    """A new variant (a wide bidirectional GRU) needs its ARCHITECTURES line and a models.<name>
    section (plus its tune.space entry): then it resolves, tunes, builds and faces its base."""
    from seqbench.models.recurrent import RecurrentEncoder
    from seqbench.models.registry import Architecture
    from seqbench.profiles import check_params

    entry = Architecture(
        RecurrentEncoder, "recurrent", ("last", "mean", "max"), {"cell": "gru"},
        fixed={"bidirectional": True}, base="gru",
    )  # fmt: skip
    monkeypatch.setitem(ARCHITECTURES, "wide_bigru", entry)
    params = repo_params()
    params["models"]["wide_bigru"] = {"hidden_size": 256, "num_layers": 1, "dropout": 0.1}
    params["tune"]["space"]["wide_bigru"] = params["tune"]["space"]["bigru"]
    params["train"]["architectures"]["text"].append("wide_bigru")
    check_params(params)  # every stage's typed sections build, the new row's included
    from seqbench.training.run import resolve_run

    spec = resolve_run(params, "imdb", "wide_bigru")
    model = build_model(spec.model, TEXT)
    assert model.encoder.rnn.bidirectional and model.encoder.rnn.hidden_size == 256
    with pytest.raises(ConfigError, match=r"models\.wide_bigru\.bidirectional: expected True"):
        params["models"]["wide_bigru"]["bidirectional"] = False
        resolve_run(params, "imdb", "wide_bigru")


@pytest.mark.parametrize("arch", NETWORKS)
def test_every_network_survives_pickling_and_deepcopy(arch):
    """MLflow logs networks with pickle (and Lightning deep-copies them): a scripted function
    held by a module would break both."""
    import copy
    import pickle

    spec = dataclasses.replace(SERIES, input_length=6) if arch in BASELINES else TEXT
    model = build_model(tiny(arch), spec).eval()
    x = task_input(spec, 2, 6)
    with torch.no_grad():
        expected = model(x)
        for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            torch.testing.assert_close(clone(x), expected)
