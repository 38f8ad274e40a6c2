"""Benchmark: seqbench's Lightning training path vs a hand-written PyTorch loop; padding shares.

Run by hand after the tokenize stage:  python bench/train_overhead.py [--batches N | --epoch]
Both paths train the same LSTM (params.yaml's imdb × lstm config, same seed and initial
weights) on the same length-bucketed batches; validation is off so only training is timed.
"""

from __future__ import annotations

import argparse
import time

import lightning as L
import torch
import torch.nn.functional as F

from seqbench.data.text import (
    RandomBatchSampler,
    TextDataModule,
    padding_fraction,
    sorted_batches,
)
from seqbench.models import build_model
from seqbench.training.fit import configure_threads
from seqbench.training.run import resolve_run
from seqbench.typed import load_params


def make(spec, seed: int) -> tuple[TextDataModule, torch.nn.Module]:
    dm = TextDataModule(
        spec.data_dir, spec.train.batch_size, seed, bucket_chunk=spec.train.bucket_chunk
    )
    L.seed_everything(seed, verbose=False)
    return dm, build_model(spec.model, spec.kind.model_spec(spec, dm))


def lightning_path(spec, seed: int, batches: int | None) -> float:
    dm, model = make(spec, seed)
    task = spec.kind.module(spec, model, dm)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=batches or 1.0,
        limit_val_batches=0,
        gradient_clip_val=spec.optim.clip_norm or None,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
    )
    start = time.perf_counter()
    trainer.fit(task, train_dataloaders=dm.train_dataloader())
    return time.perf_counter() - start


def plain_loop(spec, seed: int, batches: int | None) -> float:
    dm, model = make(spec, seed)
    opt = torch.optim.AdamW(
        model.parameters(), lr=spec.optim.lr, weight_decay=spec.optim.weight_decay
    )
    model.train()
    start = time.perf_counter()
    for i, (ids, lengths, labels) in enumerate(dm.train_dataloader()):
        if batches is not None and i >= batches:
            break
        loss = F.cross_entropy(model(ids, lengths), labels)  # logits (B, C)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if spec.optim.clip_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.optim.clip_norm)
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/tokenized/imdb")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--arch", default="lstm")
    parser.add_argument("--batches", type=int, default=100, help="training batches per path")
    parser.add_argument("--epoch", action="store_true", help="a whole epoch instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each path")
    parser.add_argument("--threads", type=int, help="torch threads (default: train.threads)")
    args = parser.parse_args()
    spec = resolve_run(load_params(args.params), "imdb", args.arch, data_dir=args.data)
    threads = configure_threads(args.threads or spec.train.threads)
    torch.use_deterministic_algorithms(True)
    batches = None if args.epoch else args.batches

    dm = TextDataModule(
        spec.data_dir, spec.train.batch_size, args.seed, bucket_chunk=spec.train.bucket_chunk
    )
    lengths = dm.split("train").lengths
    n = len(dm.train_sampler()) if batches is None else min(batches, len(dm.train_sampler()))
    bucketed = padding_fraction(lengths, dm.train_sampler().batches(0))
    random = padding_fraction(
        lengths, RandomBatchSampler(lengths, spec.train.batch_size, args.seed).batches(0)
    )
    val = dm.split("val").lengths
    sorted_val = padding_fraction(val, sorted_batches(val, spec.train.batch_size))

    plain_loop(spec, args.seed, min(n, 5))  # warm-up (allocator, oneDNN kernels)
    # Alternate the two paths and keep each one's best time: a shared machine's load varies.
    t_plain = t_light = float("inf")
    for _ in range(args.repeats):
        t_plain = min(t_plain, plain_loop(spec, args.seed, batches))
        t_light = min(t_light, lightning_path(spec, args.seed, batches))

    print(
        f"\nIMDB × {args.arch}: best of {args.repeats}, {n} training batches of "
        f"{spec.train.batch_size}, "
        f"hidden {spec.model.hidden_size}, {threads} torch threads, "
        f"max_length {dm.meta.get('max_length')}"
    )
    print("| path | seconds | batches/s | overhead |\n|---|---:|---:|---:|")
    print(f"| hand-written PyTorch loop | {t_plain:.1f} | {n / t_plain:.2f} | - |")
    print(
        f"| seqbench Lightning task | {t_light:.1f} | {n / t_light:.2f} | "
        f"{100 * (t_light / t_plain - 1):+.1f}% |"
    )
    print("\n| batching | padding fraction |\n|---|---:|")
    print(f"| random batches (train) | {random:.3f} |")
    print(
        f"| length-bucketed (train, chunks of {spec.train.bucket_chunk} batches) | {bucketed:.3f} |"
    )
    print(f"| sorted by length (val) | {sorted_val:.3f} |")


if __name__ == "__main__":
    main()
