"""Tiny train-stage outputs for the report, registry and serving tests (built once per session).

Two tasks × two architectures × two seeds on synthetic data: ``imdb`` (reviews tokenized by the
real tokenize code) and ``toy`` (an hourly series around 10 ± 5 prepared by the real prepare code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import imdb_review, toy_datasets

ARCHS = ["gru", "transformer"]
TASKS = ["imdb", "toy"]


def params() -> dict:
    return {
        "datasets": toy_datasets(),
        "models": {
            "gru": {"hidden_size": 12},
            "transformer": {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "ff_size": 32},
        },
        "train": {
            "tasks": {"text": ["imdb"], "series": ["toy"]},
            "architectures": {"text": ARCHS, "series": ARCHS},
            "seeds": [0, 1],
            "defaults": {
                "optim": {"lr": 0.01},
                "train": {"max_epochs": 2, "patience": 0, "batch_size": 16, "threads": 1},
            },
            "imdb": {
                "task": {
                    "monitor": "val/acc",
                    "mode": "max",
                    "primary": "test/acc",
                    "labels": ["negative", "positive"],
                }
            },
            "toy": {
                "task": {
                    "loss": "mse",
                    "monitor": "val/mae",
                    "mode": "min",
                    "primary": "test/mae",
                    "report_scaled": True,
                }
            },
        },
        "compare": {
            "latency": {"batch_sizes": [1, 4], "repeats": 2, "warmup": 1, "threads": 1},
            "secondary": {"imdb": ["test/f1"], "toy": ["test/rmse"]},
            "references": {
                "imdb": [
                    {
                        "model": "Maas et al. 2011",
                        "source": "Maas et al. 2011",
                        "metrics": {"test/acc": 0.8889},
                    }
                ],
                "toy": [
                    {
                        "model": "LSTM",
                        "source": "a README",
                        "metrics": {"test/mae": 7.16, "test/rmse": 9.71},
                        "setting": "12-step lag",
                    }
                ],
            },
        },
        "register": {
            "text_examples": ["A wonderful, moving film."],
        },
    }


@dataclass(frozen=True)
class Outputs:
    root: Path
    params: dict

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def curves(self) -> Path:
        return self.root / "curves"

    @property
    def tokenized(self) -> Path:
        return self.root / "tokenized"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def tuning(self) -> Path:
        return self.root / "tuning"


def write_reviews(processed: Path) -> None:
    processed.mkdir(parents=True)
    counts = {"train": 60, "val": 12, "test": 20}
    for split, n in counts.items():
        rows = [
            {"id": i * 2 + label, "rating": 9 if label else 2, "label": label, "text": text}
            for i in range(n)
            for label in (0, 1)
            for text in [imdb_review(split, label, i)]
        ]
        pd.DataFrame(rows).to_parquet(processed / f"{split}.parquet")


def write_series(root: Path, cfg_params: dict) -> Path:
    from seqbench.data.config import CsvSeriesConfig
    from seqbench.data.timeseries import prepare
    from seqbench.typed import build

    t = np.arange(470)
    noise = 0.1 * np.random.default_rng(0).standard_normal(len(t))
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=len(t), freq="h").strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "a": np.cos(t / 5.0),
            "OT": 10 + 5 * np.sin(t / 4.0) + noise,
        }
    )
    raw = root / "raw-toy"
    raw.mkdir()
    frame.to_csv(raw / "toy.csv", index=False)
    cfg = build(CsvSeriesConfig, cfg_params["datasets"]["toy"], "datasets.toy")
    prepare(cfg, raw, root / "processed" / "toy")
    return root / "processed" / "toy"


def build_outputs(root: Path) -> Outputs:
    """Tokenize, prepare and train everything (no MLflow) into ``root``."""
    from seqbench.data.config import TokenizerConfig
    from seqbench.data.kinds import dataset_kind
    from seqbench.data.tokenize import tokenize_dataset
    from seqbench.training.run import resolve_run
    from seqbench.training.seeds import train_all_seeds

    out = Outputs(root, params())
    write_reviews(out.processed / "imdb")
    tokenize_dataset(
        TokenizerConfig(vocab_size=200, min_frequency=1, max_length=24),
        out.processed / "imdb",
        out.tokenized / "imdb",
    )
    write_series(root, out.params)
    out.tuning.mkdir()
    (out.tuning / "imdb-gru.json").write_text(
        json.dumps({"best_params": {"optim.lr": 0.01, "model.hidden_size": 64}})
    )
    for task in TASKS:
        data = {"tokenized": out.tokenized, "processed": out.processed}[
            dataset_kind(out.params, task).input
        ] / task
        for arch in ARCHS:
            spec = resolve_run(out.params, task, arch, data_dir=data)
            train_all_seeds(
                spec,
                models_dir=out.models / f"{task}-{arch}",
                metrics_path=out.metrics / f"{task}-{arch}.json",
                curves_path=out.curves / f"{task}-{arch}.csv",
                track=False,
            )
    return out


def cached_outputs(base: Path) -> Outputs:
    """Build the outputs once under ``base`` (pytest's session temp folder), then reuse them."""
    root = base / "seqbench-trained"
    if not (root / "done").is_file():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        build_outputs(root)
        (root / "done").write_text("ok")
    return Outputs(root, params())
