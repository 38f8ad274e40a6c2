"""The claims lab's generated problems: the adding problem and copy memory, seeded, per length.

Layouts follow Bai, Kolter & Koltun 2018 ("An Empirical Evaluation of Generic Convolutional and
Recurrent Networks for Sequence Modeling"), with the adding problem's two marks one in each half
(Hochreiter & Schmidhuber 1997). ``prepare`` stores only what defines each example (the values
and the marked positions; the 10 symbols) in one parquet table per split, which the expectation
suite gates; :func:`adding_inputs` and :func:`copy_inputs` lay the tensors out for training.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

from seqbench.data.config import SyntheticConfig
from seqbench.data.replicas import loader_sampling
from seqbench.data.subset import split_index
from seqbench.errors import SeqbenchError
from seqbench.io import SPLITS, atomic_path, load_splits, write_json

BLANK, DELIMITER = 0, 9  # copy memory: symbols are 1..8
SYMBOLS, RECALL = 8, 10  # 8 classes, 10 symbols to recall
COPY_VOCAB = 10  # blank, 8 symbols, delimiter


class SyntheticDataError(SeqbenchError):
    """A prepared synthetic problem lacks what a run asks for (a length not in its grid)."""


def adding_examples(n: int, length: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` adding-problem examples of ``length`` steps: uniform values, one mark in each half,
    target = the sum of the two marked values."""
    values = rng.random((n, length), dtype=np.float32)  # (N, T)
    half = length // 2
    first = rng.integers(0, half, n)  # (N,)
    second = rng.integers(half, length, n)  # (N,)
    rows = np.arange(n)
    target = values[rows, first] + values[rows, second]  # (N,)
    return pd.DataFrame(
        {
            "length": np.full(n, length, dtype=np.int64),
            "first": first.astype(np.int64),
            "second": second.astype(np.int64),
            "target": target.astype(np.float64),
            "values": list(values),
        }
    )


def copy_examples(n: int, length: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` copy-memory examples: 10 symbols from 1..8 to recall after ``length`` blanks."""
    symbols = rng.integers(1, SYMBOLS + 1, (n, RECALL))  # (N, 10)
    return pd.DataFrame(
        {"length": np.full(n, length, dtype=np.int64), "symbols": list(symbols.astype(np.int64))}
    )


def adding_inputs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows of one length → inputs (N, T, 2) (value, mark) and targets (N, 1, 1)."""
    values = np.stack(frame["values"].to_numpy()).astype(np.float32)  # (N, T)
    marks = np.zeros_like(values)
    rows = np.arange(len(frame))
    marks[rows, frame["first"].to_numpy()] = 1.0
    marks[rows, frame["second"].to_numpy()] = 1.0
    x = np.stack([values, marks], axis=-1)  # (N, T, 2)
    y = frame["target"].to_numpy(dtype=np.float32)[:, None, None]  # (N, 1, 1)
    return x, y


def copy_inputs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows of one length T → input ids (N, T+20) and target ids (N, T+20).

    Input: the 10 symbols, T-1 blanks, then 11 delimiters (the first says "recall now").
    Target: blanks for T+10 steps, then the 10 symbols.
    """
    symbols = np.stack(frame["symbols"].to_numpy()).astype(np.int64)  # (N, 10)
    n, length = len(frame), int(frame["length"].iloc[0])
    x = np.full((n, length + 2 * RECALL), BLANK, dtype=np.int64)  # (N, T+20)
    x[:, :RECALL] = symbols
    x[:, RECALL + length - 1 :] = DELIMITER
    y = np.full_like(x, BLANK)  # (N, T+20)
    y[:, -RECALL:] = symbols
    return x, y


def trivial_loss(problem: str, length: int) -> float:
    """The loss of the best input-ignoring predictor: predicting 1 for the adding problem
    (the variance of a sum of two uniforms, 1/6), and blanks then uniform guesses for copy memory
    (``10·ln 8 / (T+20)``, per-step cross-entropy)."""
    if problem == "adding":
        return 1.0 / 6.0
    return RECALL * float(np.log(SYMBOLS)) / (length + 2 * RECALL)


def example_keys(frame: pd.DataFrame, problem: str) -> pd.Series:
    """One string per example: its length and content (equal keys = the same example)."""
    column = "symbols" if problem == "copy" else "values"
    content = frame[column].map(lambda a: np.asarray(a).tobytes().hex())
    return frame["length"].astype(str) + ":" + content


def generate(cfg: SyntheticConfig) -> dict[str, pd.DataFrame]:
    """Every split at every length, from ``cfg.seed`` alone. A validation or test example that
    repeats a training one (possible for copy memory: 8^10 symbol strings) is redrawn, so no
    example is in two splits."""
    make = adding_examples if cfg.problem == "adding" else copy_examples
    streams = np.random.SeedSequence(cfg.seed).spawn(len(SPLITS))
    seen: set[str] = set()
    out: dict[str, pd.DataFrame] = {}
    for split, stream in zip(SPLITS, streams, strict=True):
        rng = np.random.default_rng(stream)
        parts = []
        for length in cfg.lengths:
            frame = make(cfg.sizes[split], length, rng)
            while True:  # redraw examples already in an earlier split (or repeated here)
                keys = example_keys(frame, cfg.problem)
                clash = keys.isin(seen) | keys.duplicated()
                if not clash.any():
                    break
                fresh = make(int(clash.sum()), length, rng)
                frame = pd.concat([frame[~clash], fresh], ignore_index=True)
            seen.update(example_keys(frame, cfg.problem))
            parts.append(frame)
        out[split] = pd.concat(parts, ignore_index=True)
    return out


def prepare(cfg: SyntheticConfig, raw_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write ``{train,val,test}.parquet`` and ``meta.json`` (problem, lengths) to ``out_dir``
    (``raw_dir`` is unused: nothing is downloaded)."""
    frames = generate(cfg)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for split, frame in frames.items():
            frame.to_parquet(tmp / f"{split}.parquet", index=False)
        write_json(
            tmp / "meta.json",
            {"problem": cfg.problem, "lengths": list(cfg.lengths), "sizes": dict(cfg.sizes)},
        )
    return {split: len(frame) for split, frame in frames.items()}


class SyntheticDataModule(L.LightningDataModule):
    """One length ``T`` of a prepared synthetic problem as tensors, with seeded shuffling.

    Batches: adding ``(x (B, T, 2), y (B, 1, 1))``; copy ``(ids (B, T+20), y (B, T+20))``.
    """

    def __init__(
        self,
        processed_dir: str | Path,
        problem: str,
        length: int,
        batch_size: int,
        seed: int,
        fraction: float = 1.0,
        train_share: float = 1.0,
    ) -> None:
        super().__init__()
        self.processed_dir = Path(processed_dir)
        self.problem = problem
        self.length = length
        self.batch_size = batch_size
        self.seed = seed
        self.fraction = fraction
        self.train_share = train_share
        self._datasets: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self._datasets:
            return
        lay_out = adding_inputs if self.problem == "adding" else copy_inputs
        for split, frame in load_splits(self.processed_dir).items():
            rows = frame[frame["length"] == self.length].reset_index(drop=True)
            if rows.empty:
                raise SyntheticDataError(
                    f"{self.processed_dir / split}.parquet: no example of length {self.length} "
                    f"(prepared lengths: {sorted(int(t) for t in frame['length'].unique())})"
                )
            index = split_index(len(rows), split, self.fraction, self.train_share, self.seed)
            if index is not None:
                rows = rows.iloc[index].reset_index(drop=True)
            x, y = lay_out(rows)
            self._datasets[split] = TensorDataset(torch.as_tensor(x), torch.as_tensor(y))

    def dataset(self, split: str) -> TensorDataset:
        self.setup()
        return self._datasets[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self.dataset(split)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            **loader_sampling(self, dataset, shuffle, self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
