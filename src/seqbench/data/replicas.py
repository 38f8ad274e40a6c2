"""Data-parallel training (Lightning DDP): each process reads its own share of every split.

Lightning's distributed sampler is off (``use_distributed_sampler=False`` in the trainer): it
cannot shard the text tasks' length-bucketed batches, so every data kind shards here, one way.
Training: one seeded order of batches, dealt round-robin, every process getting the same number
(DDP synchronizes every step; the last few batches of an epoch may be left out). Evaluation:
every example exactly once (the metrics are summed over processes when computed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


RANK_VARIABLES = ("RANK", "NODE_RANK", "LOCAL_RANK", "SLURM_PROCID")  # torchrun, Lightning, SLURM


def lead_process() -> bool:
    """Whether this is global rank 0: the one process of a data-parallel run (launched by
    Lightning, ``torchrun`` or SLURM, each re-running the whole command) that tracks the run
    and writes its outputs. A plain run is its own lead."""
    return all(int(os.environ.get(name) or 0) == 0 for name in RANK_VARIABLES)


def replica(datamodule: Any) -> tuple[int, int]:
    """``(rank, world size)`` of this process: ``(0, 1)`` unless a distributed trainer (which
    Lightning attaches before it asks for loaders) runs it."""
    trainer = getattr(datamodule, "trainer", None)
    if trainer is None:
        return 0, 1
    return int(trainer.global_rank), int(trainer.world_size)


def deal(items: Sequence[T], rank: int, world: int, *, even: bool) -> list[T]:
    """Process ``rank``'s share of ``items`` dealt round-robin; ``even`` drops the remainder so
    that every process gets the same number."""
    if world == 1:
        return list(items)
    usable = len(items) // world * world if even else len(items)
    return list(items[rank:usable:world])


def train_sampler(dataset: Any, seed: int, rank: int, world: int) -> Any:
    """Process ``rank``'s shuffled training sampler of a plain (unbucketed) loader: PyTorch's
    ``DistributedSampler`` seeded by ``seed``, equal shares (Lightning sets its epoch)."""
    from torch.utils.data import DistributedSampler

    return DistributedSampler(
        dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True
    )


def eval_sampler(size: int, rank: int, world: int) -> Sequence[int]:
    """Process ``rank``'s examples of an evaluation split of ``size``, in order."""
    return range(rank, size, world)


def loader_sampling(datamodule: Any, dataset: Any, shuffle: bool, seed: int) -> dict[str, Any]:
    """The ``DataLoader`` keywords that order a plain loader's examples: one process shuffles
    with a generator seeded by ``seed`` (training) or keeps the order; in a data-parallel run
    each process takes its share (:func:`train_sampler`, :func:`eval_sampler`)."""
    import torch

    rank, world = replica(datamodule)
    if world == 1:
        generator = torch.Generator().manual_seed(seed) if shuffle else None
        return {"shuffle": shuffle, "generator": generator}
    if shuffle:
        return {"sampler": train_sampler(dataset, seed, rank, world)}
    return {"sampler": eval_sampler(len(dataset), rank, world)}
