"""IMDB batching: bucketed batches cover every example once with less padding; deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seqbench.data.text import (
    BucketBatchSampler,
    RandomBatchSampler,
    TextDataModule,
    collate,
    padding_fraction,
    sorted_batches,
)


def write_tokenized(root: Path, sizes: dict[str, int], seed: int = 0, vocab: int = 50) -> Path:
    """A tiny tokenized folder in the ``data/tokenized/imdb`` layout."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in sizes.items():
        lengths = rng.integers(1, 80, size=n)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = rng.integers(2, vocab, size=int(offsets[-1])).astype(np.int32)
        labels = rng.integers(0, 2, size=n).astype(np.int64)
        np.savez(root / f"{split}.npz", ids=ids, offsets=offsets, labels=labels)
    (root / "meta.json").write_text(json.dumps({"vocab_size": vocab, "pad_id": 0, "unk_id": 1}))
    return root


def test_padding_fraction_by_hand() -> None:
    lengths = np.array([2, 4, 4, 1])
    # batch [0, 1]: 6 real of 8; batch [2, 3]: 5 real of 8 -> 1 - 11/16
    assert padding_fraction(lengths, [[0, 1], [2, 3]]) == pytest.approx(5 / 16)


def test_collate_pads_to_batch_max_and_keeps_lengths() -> None:
    batch = [(torch.tensor([5, 6, 7]), 1), (torch.tensor([8]), 0)]
    ids, lengths, labels = collate(batch, pad_id=0)
    assert ids.dtype == lengths.dtype == labels.dtype == torch.int64
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert lengths.tolist() == [3, 1] and labels.tolist() == [1, 0]


def test_bucketed_batches_cover_every_example_once_with_less_padding() -> None:
    lengths = np.random.default_rng(1).integers(1, 300, size=1003)
    bucket = BucketBatchSampler(lengths, batch_size=16, seed=3, chunk=10)
    batches = list(bucket)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    assert len(batches) == len(bucket)
    random = RandomBatchSampler(lengths, batch_size=16, seed=3)
    assert padding_fraction(lengths, batches) < 0.5 * padding_fraction(lengths, list(random))


def test_bucket_sampler_is_seeded_and_reshuffles_each_epoch() -> None:
    lengths = np.arange(200) % 37 + 1
    a = BucketBatchSampler(lengths, 8, seed=5)
    b = BucketBatchSampler(lengths, 8, seed=5)
    assert list(a) == list(b)  # epoch 0
    assert list(a) != a.batches(0)  # epoch 1 differs
    assert BucketBatchSampler(lengths, 8, seed=6).batches(0) != b.batches(0)


def test_datamodule_batches_and_sorted_eval(tmp_path: Path) -> None:
    root = write_tokenized(tmp_path / "tok", {"train": 100, "val": 30, "test": 40})
    dm = TextDataModule(root, batch_size=8, seed=0, eval_batch_size=16)
    dm.setup("fit")
    ids, lengths, labels = next(iter(dm.train_dataloader()))
    assert ids.shape == (len(lengths), int(lengths.max())) and labels.shape == lengths.shape
    assert bool((ids[torch.arange(ids.shape[1]) >= lengths[:, None]] == 0).all())
    val_lengths = torch.cat([b[1] for b in dm.val_dataloader()])
    assert val_lengths.tolist() == sorted(val_lengths.tolist())
    assert len(val_lengths) == 30
    assert sum(len(b[2]) for b in dm.train_dataloader()) == 100
    assert (
        0.0
        <= dm.train_padding_fraction()
        < padding_fraction(
            dm.split("train").lengths,
            RandomBatchSampler(dm.split("train").lengths, 8, 0).batches(0),
        )
    )


def test_fraction_keeps_the_same_seeded_subset(tmp_path: Path) -> None:
    root = write_tokenized(tmp_path / "tok", {"train": 100, "val": 30, "test": 40})
    a = TextDataModule(root, batch_size=8, seed=0, fraction=0.25)
    b = TextDataModule(root, batch_size=8, seed=1, fraction=0.25)
    assert len(a.split("train")) == 25 and len(a.split("test")) == 10
    assert a.split("train").index.tolist() == b.split("train").index.tolist()


def test_sorted_batches_are_deterministic() -> None:
    lengths = np.array([5, 1, 3, 3, 9])
    assert sorted_batches(lengths, 2) == [[1, 2], [3, 0], [4]]
