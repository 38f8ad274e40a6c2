"""Cost against sequence length: training-step time, tokens/s, sequential steps and the bytes
autograd saves for backward, per family at one parameter count (the claims lab's sizing).

Time is measured at a fixed number of tokens per batch (``batch = tokens // T``), so a family
whose step cost grows faster than linearly in ``T`` shows it as falling tokens/s. Memory is
measured per sequence (batch 1 scaled to ``batch``): the bytes of the distinct activations saved
for backward, counted with autograd's saved-tensor hooks on any device, plus the CUDA peak on a
GPU. Parameters are not counted: they exist whether or not anything is saved.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from seqbench.models import (
    ARCHITECTURES,
    ForecastSpec,
    ModelConfig,
    build_model,
    count_parameters,
    estimate_flops,
)
from seqbench.stats import median_seconds
from seqbench.typed import build, check, section

SPEC = ForecastSpec(input_features=2, horizon=1, targets=1)  # the adding problem's shapes


@dataclass(frozen=True)
class CostConfig:
    """``cost``: the lengths ``T`` measured, the tokens of a training batch (``batch = tokens //
    T``), the sequences of a saved-bytes count, the timed steps per length (their median), the
    shared hidden size ``width`` and length ``width_length`` of the equal-width comparison, and
    the device (``cpu`` or ``cuda``: the report names it)."""

    lengths: list[int]
    tokens: int = 4096
    memory_batch: int = 1
    repeats: int = 5
    width: int = 64
    width_length: int = 256
    device: str = "cpu"

    def __post_init__(self) -> None:
        check(
            len(self.lengths) >= 2 and self.lengths == sorted(set(self.lengths)),
            "lengths",
            "at least two increasing lengths",
            self.lengths,
        )
        check(self.lengths[0] >= 2, "lengths", "lengths >= 2", self.lengths)
        check(self.tokens >= self.lengths[-1], "tokens", "at least the longest T", self.tokens)
        check(self.memory_batch >= 1, "memory_batch", "an integer >= 1", self.memory_batch)
        check(self.repeats >= 1, "repeats", "an integer >= 1", self.repeats)
        check(self.width >= 2, "width", "an integer >= 2", self.width)
        check(self.device in ("cpu", "cuda"), "device", "cpu or cuda", self.device)


def cost_config(params: dict[str, Any]) -> CostConfig:
    return build(CostConfig, section(params, "cost") or {}, "cost")


def saved_bytes(model: nn.Module, fn: Callable[[], Tensor]) -> tuple[int, Tensor]:
    """Run ``fn`` (a forward pass) and count the bytes autograd saves for its backward: each
    distinct storage once (views share one), ``model``'s parameters excluded. Returns the count
    and ``fn``'s output."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params:
            seen[ptr] = max(seen.get(ptr, 0), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(seen.values()), out


def sequential_steps(arch: str, length: int, num_layers: int) -> int:
    """Steps that must run one after another in a forward pass over ``length`` positions: a
    recurrent layer waits for its previous step (``length`` per layer, layers pipelined:
    ``length + num_layers - 1``); attention layers see every position at once (one per
    layer)."""
    if ARCHITECTURES[arch].family == "transformer":
        return num_layers
    return length + num_layers - 1


def adding_batch(batch: int, length: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Random adding-problem inputs ``(B, T, 2)`` and targets ``(B, 1, 1)``, seeded."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, length, 2, generator=g)  # (B, T, 2)
    y = torch.rand(batch, 1, 1, generator=g)  # (B, 1, 1)
    return x.to(device), y.to(device)


@dataclass(frozen=True)
class Point:
    """One family at one length."""

    length: int
    batch: int
    step_seconds: float
    tokens_per_second: float
    sequential_steps: int
    saved_bytes_per_sequence: int
    cuda_peak_bytes: int | None = None


def measure_length(
    model: nn.Module,
    arch: str,
    num_layers: int,
    length: int,
    tokens: int,
    *,
    memory_batch: int = 1,
    repeats: int = 5,
    warmup: int = 2,
    device: torch.device | None = None,
) -> Point:
    """Step time (forward + backward + SGD update) at ``tokens // length`` sequences per batch,
    and saved bytes per sequence at ``memory_batch`` sequences."""
    device = device or torch.device("cpu")
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    batch = max(1, tokens // length)
    x, y = adding_batch(batch, length, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()

    seconds = median_seconds(step, repeats, warmup, sync)
    xm, ym = adding_batch(memory_batch, length, device)
    peak = None
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    saved, out = saved_bytes(model, lambda: nn.functional.mse_loss(model(xm), ym))
    out.backward()
    if cuda:
        peak = torch.cuda.max_memory_allocated(device) - before
    optimizer.zero_grad(set_to_none=True)
    return Point(
        length=length,
        batch=batch,
        step_seconds=seconds,
        tokens_per_second=batch * length / seconds,
        sequential_steps=sequential_steps(arch, length, num_layers),
        saved_bytes_per_sequence=saved // memory_batch,
        cuda_peak_bytes=None if peak is None else peak // memory_batch,
    )


def power_exponent(lengths: Sequence[int], values: Sequence[float]) -> float:
    """The exponent ``k`` of ``value ≈ c · T^k``: the least-squares slope on log-log axes."""
    xs = [math.log(t) for t in lengths]
    ys = [math.log(v) for v in values]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    num = sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True))
    den = sum((a - mx) ** 2 for a in xs)
    return num / den


def crossover(lengths: Sequence[int], a: Sequence[float], b: Sequence[float]) -> int | None:
    """The first length from which ``a`` stays above ``b`` (None: never, or only at the
    start)."""
    above = [x > y for x, y in zip(a, b, strict=True)]
    for i, length in enumerate(lengths):
        if all(above[i:]) and (i == 0 or not above[i - 1]):
            return length if i > 0 else None
    return None


def cost_curve(
    model_cfg: Any,
    lengths: Sequence[int],
    tokens: int,
    *,
    memory_batch: int = 1,
    repeats: int = 5,
    device: torch.device | None = None,
) -> dict[str, Any]:
    """Every length of ``lengths`` for one family (``model_cfg``: its sized ModelConfig)."""
    torch.manual_seed(0)
    device = device or torch.device("cpu")
    model = build_model(model_cfg, SPEC).to(device).train()
    points = [
        measure_length(
            model,
            model_cfg.arch,
            model_cfg.num_layers,
            t,
            tokens,
            memory_batch=memory_batch,
            repeats=repeats,
            device=device,
        )
        for t in lengths
    ]
    return {
        "arch": model_cfg.arch,
        "hidden_size": model_cfg.hidden_size,
        "parameters": count_parameters(model),
        "device": str(device),
        "points": [p.__dict__ for p in points],
        "memory_exponent": power_exponent(
            lengths, [max(p.saved_bytes_per_sequence, 1) for p in points]
        ),
        "time_exponent": power_exponent(lengths, [p.step_seconds for p in points]),
    }


def equal_width(
    family: str, shared: dict[str, Any], cfg: CostConfig, device: torch.device
) -> dict[str, Any]:
    """``family`` at the shared hidden size ``cfg.width``: its parameters, forward FLOPs per
    sequence of ``cfg.width_length`` steps, and its training-step time there."""
    raw = {**shared, **ARCHITECTURES[family].fixed, "arch": family, "hidden_size": cfg.width}
    if ARCHITECTURES[family].family == "transformer":
        raw["max_length"] = max(int(raw.get("max_length", 512)), cfg.width_length)
    model_cfg = build(ModelConfig, raw, "claims.model")
    torch.manual_seed(0)
    model = build_model(model_cfg, SPEC).to(device).train()
    point = measure_length(
        model,
        family,
        model_cfg.num_layers,
        cfg.width_length,
        cfg.tokens,
        memory_batch=cfg.memory_batch,
        repeats=cfg.repeats,
        device=device,
    )
    return {
        "hidden_size": cfg.width,
        "length": cfg.width_length,
        "parameters": count_parameters(model),
        "flops_per_sequence": estimate_flops(model_cfg, SPEC, cfg.width_length),
        "step_seconds": point.step_seconds,
        "batch": point.batch,
    }
