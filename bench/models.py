"""CPU forward+backward throughput of every architecture, and the peephole LSTM's cost.

Run by hand: ``.venv/bin/python bench/models.py`` (under a minute on 2 cores);
``--sizes small medium large --lengths 64 256 512`` for more, ``--cells`` to compare the fused
GRU/RNN layers with torch's, ``--peephole-impls`` to compare the peephole scan implementations
(``--compile`` adds torch.compile, minutes to warm up).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from rich.console import Console
from rich.table import Table

from seqbench import runtime
from seqbench.models import (
    ARCHITECTURES,
    ClassificationSpec,
    ModelConfig,
    build_model,
    count_parameters,
    estimate_flops,
)
from seqbench.models.cells import FusedRecurrent
from seqbench.models.peephole import SCAN_IMPLS, PeepholeLSTM, peephole_scan, scan_impl

SIZES = {
    "small": {"hidden_size": 64, "num_layers": 1, "num_heads": 4},
    "medium": {"hidden_size": 128, "num_layers": 2, "num_heads": 4},
    "large": {"hidden_size": 256, "num_layers": 3, "num_heads": 8},
}
SPEC = ClassificationSpec(vocab_size=1000, num_classes=2)  # small vocab: params ≈ the encoder
FAMILIES = ("rnn", "lstm", "gru", "peephole_lstm", "transformer")  # the default rows


def seconds_per_call(step: Callable[[], None], min_time: float, warmup: int = 4) -> float:
    """Median wall time of ``step`` after ``warmup`` calls, timing >= 3 calls and ``min_time`` s.

    The median, not the mean, so that stalls from other jobs on a shared CPU do not dominate.
    """
    for _ in range(warmup):
        step()
    times: list[float] = []
    while len(times) < 3 or sum(times) < min_time:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train_step(arch: str, size: str, steps: int, batch: int) -> tuple[Callable[[], None], int, int]:
    """A forward+backward closure on random padded text, its parameter count and FLOPs/seq."""
    torch.manual_seed(0)
    sizes = {**SIZES[size], **ARCHITECTURES[arch].fixed}  # a variant keeps its own settings
    cfg = ModelConfig(arch=arch, max_length=max(512, steps + 1), **sizes)
    model = build_model(cfg, SPEC).train()
    x = torch.randint(1, SPEC.vocab_size, (batch, steps))  # (B, T)
    lengths = torch.full((batch,), steps)
    labels = torch.randint(0, SPEC.num_classes, (batch,))

    def step() -> None:
        model.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x, lengths), labels)
        loss.backward()

    return step, count_parameters(model), estimate_flops(cfg, SPEC, steps)


def throughput(args: argparse.Namespace, console: Console) -> None:
    table = Table(title=f"forward+backward, batch {args.batch}, {torch.get_num_threads()} threads")
    for col in ("arch", "size", "T", "params", "GFLOP/seq", "ms/batch", "seq/s", "tokens/s"):
        table.add_column(col, justify="left" if col in ("arch", "size") else "right")
    ms: dict[tuple[str, str, int], float] = {}
    for size in args.sizes:
        for steps in args.lengths:
            for arch in args.archs:
                step, params, flops = train_step(arch, size, steps, args.batch)
                seconds = seconds_per_call(step, args.min_time)
                ms[arch, size, steps] = seconds * 1e3
                table.add_row(
                    arch,
                    size,
                    str(steps),
                    f"{params:,}",
                    f"{flops / 1e9:.4f}",
                    f"{seconds * 1e3:.1f}",
                    f"{args.batch / seconds:,.0f}",
                    f"{args.batch * steps / seconds:,.0f}",
                )
            table.add_section()
    console.print(table)
    if {"peephole_lstm", "lstm"} <= set(args.archs):
        ratio = Table(title="peephole LSTM / nn.LSTM time per batch")
        for col in ("size", "T", "ratio"):
            ratio.add_column(col, justify="right")
        for size in args.sizes:
            for steps in args.lengths:
                r = ms["peephole_lstm", size, steps] / ms["lstm", size, steps]
                ratio.add_row(size, str(steps), f"{r:.1f}x")
        console.print(ratio)


def fused_cells(args: argparse.Namespace, console: Console) -> None:
    """seqbench's fused GRU/RNN layers against torch's modules (and nn.LSTM), same shapes."""
    table = Table(title=f"recurrent layers alone, forward+backward, batch {args.batch}")
    for col in ("size", "T", "layer", "ms/batch", "GFLOP/s", "× nn.LSTM's rate"):
        table.add_column(col, justify="right")
    for size in args.sizes:
        hidden, layers = SIZES[size]["hidden_size"], SIZES[size]["num_layers"]
        for steps in args.lengths:
            torch.manual_seed(0)
            x = torch.randn(args.batch, steps, hidden, requires_grad=True)  # (B, T, H)
            lengths = torch.full((args.batch,), steps)
            rows = {
                "nn.LSTM": (torch.nn.LSTM(hidden, hidden, layers, batch_first=True), 4),
                "nn.GRU": (torch.nn.GRU(hidden, hidden, layers, batch_first=True), 3),
                "fused GRU": (FusedRecurrent("gru", hidden, hidden, layers), 3),
                "nn.RNN": (torch.nn.RNN(hidden, hidden, layers, batch_first=True), 1),
                "fused RNN": (FusedRecurrent("rnn", hidden, hidden, layers), 1),
            }
            rates = {}
            for name, (layer, gates) in rows.items():
                inputs = (x, lengths) if isinstance(layer, FusedRecurrent) else (x,)

                def step(layer: torch.nn.Module = layer, inputs: tuple = inputs) -> None:
                    layer(*inputs)[0].sum().backward()

                seconds = seconds_per_call(step, args.min_time)
                flops = 3 * 2 * gates * hidden * 2 * hidden * steps * layers * args.batch
                rates[name] = flops / seconds / 1e9
                table.add_row(
                    size,
                    str(steps),
                    name,
                    f"{seconds * 1e3:.1f}",
                    f"{rates[name]:.0f}",
                    f"{rates[name] / rates['nn.LSTM']:.2f}",
                )
            table.add_section()
    console.print(table)


def peephole_impls(args: argparse.Namespace, console: Console) -> None:
    """Time each peephole scan implementation against nn.LSTM (B=32, T=64, I=H=64)."""
    torch.manual_seed(0)
    x = torch.randn(32, 64, 64)  # (B, T, I)
    lengths = torch.full((32,), 64)
    lstm = torch.nn.LSTM(64, 64, batch_first=True)

    def lstm_step() -> None:
        lstm(x)[0].sum().backward()

    rows = [("nn.LSTM", 0.0, seconds_per_call(lstm_step, args.min_time))]
    impls: dict[str, Callable] = {name: scan_impl(name) for name in SCAN_IMPLS}
    if args.compile:
        impls["compile"] = torch.compile(peephole_scan, dynamic=False)
    for name, scan in impls.items():
        model = PeepholeLSTM(64, 64)
        model.scan = scan

        def step(model: PeepholeLSTM = model) -> None:
            model(x, lengths)[0].sum().backward()

        start = time.perf_counter()
        step()
        first = time.perf_counter() - start
        rows.append((name, first, seconds_per_call(step, args.min_time)))
    table = Table(title="peephole scan, forward+backward, B=32 T=64 H=64")
    for col in ("impl", "first call s", "ms/batch"):
        table.add_column(col, justify="right")
    for name, first, seconds in rows:
        table.add_row(name, f"{first:.2f}", f"{seconds * 1e3:.1f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=list(FAMILIES), choices=ARCHITECTURES)
    parser.add_argument("--sizes", nargs="+", default=["small", "medium"], choices=SIZES)
    parser.add_argument("--lengths", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds timed per row")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--peephole-impls", action="store_true", help="compare scan impls only")
    parser.add_argument("--compile", action="store_true", help="add torch.compile to the above")
    parser.add_argument(
        "--cells", action="store_true", help="fused GRU/RNN layers against torch's modules only"
    )
    args = parser.parse_args()
    runtime.configure()  # as every seqbench process: subnormals flushed to zero
    if args.threads:
        torch.set_num_threads(args.threads)
    console = Console(width=140)
    start = time.perf_counter()
    if args.peephole_impls:
        peephole_impls(args, console)
    elif args.cells:
        fused_cells(args, console)
    else:
        throughput(args, console)
    console.print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
