"""IMDB batching: a DataModule over the tokenized splits with length-bucketed, padded batches."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from seqbench.data.replicas import deal, replica
from seqbench.data.subset import split_index
from seqbench.errors import SeqbenchError

TextBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # ids (B, T), lengths (B,), labels (B,)


class TextDataError(SeqbenchError):
    """The tokenized data folder is missing a file or holds inconsistent arrays."""


class EncodedDataset(Dataset):
    """Reviews of one split as variable-length id sequences (no padding), optionally a subset."""

    def __init__(
        self,
        ids: np.ndarray,
        offsets: np.ndarray,
        labels: np.ndarray,
        index: np.ndarray | None = None,
    ) -> None:
        self.ids = ids
        self.offsets = offsets
        self.labels = labels
        self.index = np.arange(len(labels)) if index is None else index
        # Empty reviews are kept as one pad token so packed sequences stay valid.
        self.lengths = np.maximum(offsets[self.index + 1] - offsets[self.index], 1)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        j = self.index[i]
        seq = torch.from_numpy(self.ids[self.offsets[j] : self.offsets[j + 1]].astype(np.int64))
        return seq, int(self.labels[j])


def collate(batch: Sequence[tuple[torch.Tensor, int]], pad_id: int = 0) -> TextBatch:
    """Pad a list of ``(ids, label)`` to the batch's longest sequence, keeping true lengths."""
    lengths = torch.tensor([max(len(seq), 1) for seq, _ in batch], dtype=torch.int64)  # (B,)
    ids = torch.full((len(batch), int(lengths.max())), pad_id, dtype=torch.int64)  # (B, T)
    for row, (seq, _) in enumerate(batch):
        ids[row, : len(seq)] = seq
    labels = torch.tensor([label for _, label in batch], dtype=torch.int64)  # (B,)
    return ids, lengths, labels


class Collate:
    """Picklable :func:`collate` bound to a pad id (for worker processes)."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: Sequence[tuple[torch.Tensor, int]]) -> TextBatch:
        return collate(batch, self.pad_id)


class BucketBatchSampler(Sampler[list[int]]):
    """Shuffled batches of similar lengths: shuffle, sort within chunks, shuffle the batches.

    Each epoch draws a permutation from ``seed + epoch``, sorts every chunk of
    ``chunk * batch_size`` examples by length, cuts it into batches and shuffles the batch order,
    so batches stay random while holding little padding. Every example appears exactly once.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        seed: int,
        chunk: int = 50,
        *,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.chunk = chunk
        self.rank, self.world = rank, world  # data-parallel: this process's share of batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches of ``epoch`` (pure function of seed and epoch)."""
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        perm = torch.randperm(len(self.lengths), generator=gen).numpy()
        span = self.chunk * self.batch_size
        batches: list[list[int]] = []
        for start in range(0, len(perm), span):
            part = perm[start : start + span]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches += [
                part[i : i + self.batch_size].tolist() for i in range(0, len(part), self.batch_size)
            ]
        order = torch.randperm(len(batches), generator=gen).tolist()
        return [batches[i] for i in order]

    def __iter__(self) -> Iterator[list[int]]:
        batches = deal(self.batches(self.epoch), self.rank, self.world, even=True)
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size) // self.world


class RandomBatchSampler(BucketBatchSampler):
    """Plain shuffled batches (no bucketing), seeded the same way; the baseline for padding."""

    def batches(self, epoch: int) -> list[list[int]]:
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        perm = torch.randperm(len(self.lengths), generator=gen).tolist()
        return [perm[i : i + self.batch_size] for i in range(0, len(perm), self.batch_size)]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[list[int]]:
    """Deterministic evaluation batches: examples sorted by length, then cut."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def padding_fraction(lengths: np.ndarray, batches: Iterable[Sequence[int]]) -> float:
    """Share of padded positions in ``batches`` (each padded to its own longest example)."""
    lengths = np.asarray(lengths)
    real = padded = 0
    for batch in batches:
        sizes = lengths[list(batch)]
        real += int(sizes.sum())
        padded += int(sizes.max()) * len(sizes)
    return 1.0 - real / padded if padded else 0.0


class TextDataModule(L.LightningDataModule):
    """The tokenized IMDB splits as ``(ids (B, T) int64, lengths (B,) int64, labels (B,) int64)``.

    Training batches are length-bucketed (or plain shuffled with ``bucketing=False``);
    validation and test batches are sorted by length, hence deterministic. ``fraction`` < 1 keeps
    a fixed seeded subset of every split (smoke runs, tuning); ``train_share`` < 1 a share of the
    training split drawn with ``seed`` (learning curves).
    """

    def __init__(
        self,
        data_dir: str | Path,
        batch_size: int,
        seed: int,
        *,
        fraction: float = 1.0,
        train_share: float = 1.0,
        eval_batch_size: int | None = None,
        bucketing: bool = True,
        bucket_chunk: int = 50,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        meta_path = self.data_dir / "meta.json"
        if not meta_path.is_file():
            raise TextDataError(f"{meta_path}: file not found (run the tokenize stage first)")
        self.meta = json.loads(meta_path.read_text())
        self.vocab_size = int(self.meta["vocab_size"])
        self.pad_id = int(self.meta.get("pad_id", 0))
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.seed = seed
        self.fraction = fraction
        self.train_share = train_share
        self.bucketing = bucketing
        self.bucket_chunk = bucket_chunk
        self.num_workers = num_workers
        self.splits: dict[str, EncodedDataset] = {}

    def split(self, name: str) -> EncodedDataset:
        """The (possibly subset) dataset of split ``name``, loaded once."""
        if name not in self.splits:
            from seqbench.data.tokenize import load_encoded

            enc = load_encoded(self.data_dir, name)
            index = split_index(len(enc.labels), name, self.fraction, self.train_share, self.seed)
            self.splits[name] = EncodedDataset(
                np.asarray(enc.ids), np.asarray(enc.offsets), np.asarray(enc.labels), index
            )
        return self.splits[name]

    def setup(self, stage: str | None = None) -> None:
        for name in ("train", "val") if stage == "fit" else ("test",) if stage == "test" else ():
            self.split(name)

    def train_sampler(self) -> BucketBatchSampler:
        cls = BucketBatchSampler if self.bucketing else RandomBatchSampler
        rank, world = replica(self)
        lengths = self.split("train").lengths
        return cls(lengths, self.batch_size, self.seed, self.bucket_chunk, rank=rank, world=world)

    def eval_batches(self, name: str) -> list[list[int]]:
        """The sorted evaluation batches of split ``name`` that this process reads."""
        batches = sorted_batches(self.split(name).lengths, self.eval_batch_size)
        return deal(batches, *replica(self), even=False)

    def loader(self, name: str, batch_sampler: Iterable[list[int]]) -> DataLoader:
        return DataLoader(
            self.split(name),
            batch_sampler=batch_sampler,
            collate_fn=Collate(self.pad_id),
            num_workers=self.num_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", self.train_sampler())

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", self.eval_batches("val"))

    def test_dataloader(self) -> DataLoader:
        return self.loader("test", self.eval_batches("test"))

    def train_padding_fraction(self, epoch: int = 0) -> float:
        """Padding share of the training batches of ``epoch`` as this module draws them."""
        sampler = self.train_sampler()
        return padding_fraction(sampler.lengths, sampler.batches(epoch))
