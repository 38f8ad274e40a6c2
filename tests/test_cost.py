"""Cost against sequence length: the saved-bytes counter against hand computations, the power-law
fit, crossovers and sequential steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from seqbench.claims.cost import (
    SPEC,
    cost_curve,
    crossover,
    power_exponent,
    saved_bytes,
    sequential_steps,
)
from seqbench.models import ModelConfig

F32 = 4  # bytes


def test_a_linear_layer_saves_its_input_and_not_its_weight() -> None:
    layer = nn.Linear(4, 3)
    x = torch.randn(5, 4)  # (B, in); no grad: only the weight's gradient needs it
    count, out = saved_bytes(layer, lambda: layer(x).sum())
    assert count == 5 * 4 * F32
    out.backward()  # the hooks returned the tensors unchanged
    assert layer.weight.grad is not None and layer.weight.grad.shape == (3, 4)


class Attention(nn.Module):
    """One head of self-attention, spelled out: the T × T weights are saved."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.wq, self.wk, self.wv = (nn.Parameter(torch.randn(d, d)) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = x @ self.wq, x @ self.wk, x @ self.wv  # (T, d) each
        p = torch.softmax(q @ k.transpose(0, 1) / math.sqrt(x.shape[1]), dim=-1)  # (T, T)
        return (p @ v).sum()


@pytest.mark.parametrize("length", [6, 12, 40])
def test_attention_saves_its_inputs_projections_and_t_squared_weights(length: int) -> None:
    d = 4
    model = Attention(d)
    count, _ = saved_bytes(model, lambda: model(torch.randn(length, d)))
    # x (shared by 3 products, counted once), q, k, v: T × d each; softmax output: T × T
    assert count == (4 * length * d + length * length) * F32


def test_the_power_law_fit_recovers_known_exponents() -> None:
    lengths = [32, 64, 128, 256, 512]
    for k in (1.0, 2.0, 1.5):
        assert power_exponent(lengths, [3.0 * t**k for t in lengths]) == pytest.approx(k)
    mixed = [100 * t + t * t for t in lengths]  # linear at first, quadratic later
    assert 1.0 < power_exponent(lengths, mixed) < 2.0


def test_crossover_is_where_one_curve_stays_above_the_other() -> None:
    lengths = [32, 64, 128, 256]
    assert crossover(lengths, [1, 2, 5, 9], [3, 3, 3, 3]) == 128
    assert crossover(lengths, [1, 4, 1, 9], [3, 3, 3, 3]) == 256  # must stay above
    assert crossover(lengths, [5, 5, 5, 5], [3, 3, 3, 3]) is None  # above from the start
    assert crossover(lengths, [1, 1, 1, 1], [3, 3, 3, 3]) is None


def test_recurrent_steps_grow_with_length_and_attention_does_not() -> None:
    assert sequential_steps("lstm", 256, 2) == 257
    assert sequential_steps("gru", 32, 1) == 32
    assert sequential_steps("transformer", 4096, 2) == 2


def test_recurrent_memory_grows_linearly_and_attention_faster() -> None:
    lengths = [16, 64, 256]
    exps = {}
    for arch, extra in (("gru", {}), ("transformer", {"num_heads": 2, "max_length": 300})):
        cfg = ModelConfig(arch=arch, hidden_size=8, num_layers=1, **extra)
        curve = cost_curve(cfg, lengths, tokens=256, repeats=1)
        points = curve["points"]
        assert [p["batch"] for p in points] == [16, 4, 1]  # tokens per batch held fixed
        assert all(p["step_seconds"] > 0 for p in points)
        exps[arch] = curve["memory_exponent"]
    assert exps["gru"] == pytest.approx(1.0, abs=0.05)
    assert exps["transformer"] > 1.2
    assert SPEC.input_features == 2


def fake_cost(family: str, seconds: list[float], saved: list[int], width_seconds: float) -> dict:
    """A claims_cost result at T = 32, 64, 128, 256 (tokens 1024 per batch)."""
    lengths = [32, 64, 128, 256]
    recurrent = family != "transformer"
    params = {"rnn": 100, "gru": 300, "lstm": 400, "transformer": 350}[family]
    return {
        "arch": family,
        "parameters": 1000,
        "device": "cpu",
        "points": [
            {
                "length": t,
                "batch": 1024 // t,
                "step_seconds": s,
                "tokens_per_second": 1024 / s,
                "sequential_steps": t if recurrent else 1,
                "saved_bytes_per_sequence": b,
            }
            for t, s, b in zip(lengths, seconds, saved, strict=True)
        ],
        "memory_exponent": power_exponent(lengths, saved),
        "time_exponent": power_exponent(lengths, seconds),
        "equal_width": {
            "hidden_size": 64,
            "length": 256,
            "parameters": params,
            "flops_per_sequence": params * 2 * 256,
            "step_seconds": width_seconds,
        },
    }


def cost_verdicts(cost: dict) -> dict[str, tuple[str, str]]:
    from seqbench.claims.verdicts import Evidence, judge

    params = {f: cost[f]["equal_width"]["parameters"] for f in cost}
    ev = Evidence(spans={}, params_at_width=params, cost=cost)
    return {v.claim.split(",")[0]: (v.verdict, v.evidence) for v in judge(ev)}


def test_the_cost_verdicts_of_hand_made_measurements() -> None:
    linear = [1000 * t for t in (32, 64, 128, 256)]
    cost = {
        "rnn": fake_cost("rnn", [0.01, 0.02, 0.04, 0.08], linear, 0.010),
        "lstm": fake_cost("lstm", [0.01, 0.02, 0.04, 0.08], [4 * b for b in linear], 0.008),
        "gru": fake_cost("gru", [0.02, 0.04, 0.08, 0.16], [3 * b for b in linear], 0.020),
        # faster at short T, slower from 128; quadratic memory
        "transformer": fake_cost(
            "transformer", [0.002, 0.01, 0.09, 0.5], [80 * t * t for t in (32, 64, 128, 256)], 0.01
        ),
    }
    v = cost_verdicts(cost)
    assert v["Simple structure"][0] == "holds"
    assert "gru 3.00×, lstm 4.00×" in v["Simple structure"][1]
    lstm = v["More computationally intensive than RNNs"]
    assert lstm[0] == "holds only in FLOPs (faster per step on cpu)"  # 0.8× the RNN's step
    assert "FLOPs 4.00× rnn's, step time 0.80×" in lstm[1]
    gru = v["Fewer parameters than LSTM"]
    assert gru[0] == "holds only for parameters" and "fused oneDNN kernel" in gru[1]
    assert v["Complexity can lead to longer training times (said of LSTM/GRU gating)"][0] == (
        "holds only for gru"
    )
    assert v["Processes data in parallel rather than sequentially"][0] == "holds"
    assert v["Highly parallelizable"][0] == "holds only when T ≤ 64"
    memory = v["Can be memory-intensive due to the attention mechanism"]
    assert memory[0] == "holds"
    assert "transformer 2.00" in memory[1] and "rnn 1.00" in memory[1]
    assert "lstm: T = 64" in memory[1] and "rnn: every T" in memory[1]  # 80·T² > 4000·T: T > 50
    flat = dict(cost, transformer=fake_cost("transformer", [0.001] * 4, linear, 0.01))
    assert cost_verdicts(flat)["Can be memory-intensive due to the attention mechanism"][0] == (
        "does not hold"
    )
    assert cost_verdicts(flat)["Highly parallelizable"][0] == "holds"
    missing = cost_verdicts({})
    assert missing["Processes data in parallel rather than sequentially"][0] == "inconclusive"


def test_the_cost_section_names_the_crossovers_and_the_device() -> None:
    from seqbench.claims.report import _cost_section

    linear = [1000 * t for t in (32, 64, 128, 256)]
    cost = {
        "rnn": fake_cost("rnn", [0.01, 0.02, 0.04, 0.08], linear, 0.010),
        "transformer": fake_cost(
            "transformer", [0.002, 0.01, 0.09, 0.5], [80 * t * t for t in (32, 64, 128, 256)], 0.01
        ),
    }
    text = "\n".join(_cost_section(cost))
    assert "## Cost against sequence length (cpu" in text
    assert "- against rnn: step time: dearer from T = 128; memory: dearer at every T" in text
    assert "| rnn | 1000 | 10 | 20 | 40 | 80 | 1.00 |" in text  # step ms and the power of T


def test_the_gru_training_time_claim_reads_the_real_tasks_time_to_target() -> None:
    from seqbench.claims.convergence import TimeToTarget
    from seqbench.claims.verdicts import Evidence, judge

    linear = [1000 * t for t in (32, 64, 128, 256)]
    cost = {
        "gru": fake_cost("gru", [0.02] * 4, linear, 0.020),
        "lstm": fake_cost("lstm", [0.01] * 4, linear, 0.008),
    }

    def verdict(gru_seconds: dict[str, float]) -> tuple[str, str]:
        conv = {
            t: TimeToTarget(t, "val/mae", "min", 7.5, {"gru": s, "lstm": 10.0}, {})
            for t, s in gru_seconds.items()
        }
        ev = Evidence(spans={}, params_at_width={}, cost=cost, convergence=conv)
        found = [v for v in judge(ev) if v.claim.startswith("Fewer parameters")]
        return found[0].verdict, found[0].evidence

    assert verdict({"pems": 5.0, "etth1": 8.0})[0] == "holds"
    found, evidence = verdict({"pems": 5.0, "etth1": 12.0})
    assert found == "holds only on pems" and "etth1: time to val/mae 7.5 gru 12 s" in evidence
    assert verdict({"pems": 15.0})[0] == "holds only for parameters"
    assert verdict({})[0] == "holds only for parameters"  # the step time at equal width: 2.5×
