"""A new task kind, defined here only, runs through fit, the comparison and registration.

The toy kind ``sequence_sum`` regresses the mean of a sequence of uniform values. Everything
specific to it (its dataset config, DataModule, LightningModule, saved predictions, paired test,
serving bundle and predictor) lives in this module; it is registered in ``TASKS`` and in the
dataset-kind table, and no other seqbench module changes.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from seqbench.data.kinds import DATASET_KINDS, DatasetKind
from seqbench.models import ForecastSpec
from seqbench.report.build import build_report
from seqbench.report.compare import Paths
from seqbench.serving.config import register_config
from seqbench.serving.register import register_arch
from seqbench.stats import diebold_mariano
from seqbench.tasks import TASKS
from seqbench.tasks.base import Column, ServingSchema, Task
from seqbench.tasks.modules import SequenceModule
from seqbench.tasks.predictions import PredictionRecorder
from seqbench.tasks.predictors import MANIFEST, load_network
from seqbench.training.outputs import best_seed
from seqbench.training.run import resolve_run
from seqbench.training.seeds import train_all_seeds

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class SumsConfig:
    """``datasets.<name>`` of the toy kind: ``n`` sequences of ``length`` values."""

    kind: str
    length: int = 10
    n: int = 48


class SumsData(L.LightningDataModule):
    """``(x (B, T, 1), y (B,))`` from ``data.npz``; 60/20/20 split in file order."""

    def __init__(self, data_dir: Path, batch_size: int, seed: int) -> None:
        super().__init__()
        with np.load(Path(data_dir) / "data.npz") as data:
            x, y = torch.as_tensor(data["x"]), torch.as_tensor(data["y"])
        n = len(y)
        cut = [0, int(0.6 * n), int(0.8 * n), n]
        self.parts = [TensorDataset(x[a:b], y[a:b]) for a, b in itertools.pairwise(cut)]
        self.batch_size, self.seed = batch_size, seed

    def train_dataloader(self) -> DataLoader:
        gen = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.parts[0], self.batch_size, shuffle=True, generator=gen)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.parts[1], self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.parts[2], self.batch_size)


class SumsModule(SequenceModule):
    """MSE of the predicted mean; ``test/mse`` is the reported metric."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, 0, 0]  # (B,)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> torch.Tensor:
        x, y = batch
        loss = F.mse_loss(self(x), y)
        self.log_loss(split, loss, len(y))
        self.log(f"{split}/mse", loss, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self.step(batch, "train")
        self.check_finite(loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.step(batch, "test")


class SumsPredictor:
    """Columns ``v0..v<T-1>`` of raw values → ``mean``."""

    def __init__(self, bundle: Path) -> None:
        self.manifest = json.loads((bundle / MANIFEST).read_text())
        self.model = load_network(bundle, self.manifest)

    def predict(self, model_input: pd.DataFrame) -> pd.DataFrame:
        columns = [f"v{i}" for i in range(self.manifest["length"])]
        x = torch.as_tensor(model_input[columns].to_numpy(np.float32))[..., None]  # (B, T, 1)
        with torch.inference_mode():
            return pd.DataFrame({"mean": self.model(x)[:, 0, 0].double().numpy()})


class SequenceSum(Task):
    name = "sequence_sum"
    losses = ("mse",)
    unit = "values"

    def datamodule(self, spec, seed):
        return SumsData(spec.data_dir, spec.train.batch_size, seed)

    def model_spec(self, spec, dm):
        return ForecastSpec(input_features=1, horizon=1, targets=1)

    def load_model_spec(self, dims):
        return ForecastSpec(**{**dims, "target_indices": tuple(dims["target_indices"])})

    def module(self, spec, model, dm):
        return SumsModule(model, spec.task, spec.optim)

    def input_example(self, batch):
        return batch[0][:2]

    def recorder(self):
        return PredictionRecorder(
            lambda out, y, _: {"pred": out[:, 0, 0].numpy(), "true": y.numpy()}
        )

    def paired_test(self, metric, a, b, exact_below):
        return diebold_mariano((a["pred"] - a["true"]) ** 2, (b["pred"] - b["true"]) ** 2)

    def test_description(self, exact_below):
        return "Diebold-Mariano test on squared errors"

    def input_length(self, info, data_dir):
        return int(info["dataset"]["length"])

    def latency_input(self, spec, batch_size, length, seed=0):
        gen = torch.Generator().manual_seed(seed)
        return torch.rand(batch_size, length, 1, generator=gen), None

    def write_bundle(self, seed, out_dir, data_dir):
        return {"length": int(seed.info["dataset"]["length"])}

    def serving_schema(self, manifest, cfg, data_dir):
        columns = [f"v{i}" for i in range(manifest["length"])]
        example = pd.DataFrame({c: [0.5] for c in columns})
        return ServingSchema(
            [Column("double", c) for c in columns], [Column("double", "mean")], example
        )

    def predictor(self, bundle):
        return SumsPredictor(bundle)


@pytest.fixture
def toy_kind(monkeypatch):
    monkeypatch.setitem(TASKS, SequenceSum.name, SequenceSum())
    row = DatasetKind(
        SumsConfig, "unused:prepare", "unused:suite", SequenceSum.name, "series", "processed"
    )
    monkeypatch.setitem(DATASET_KINDS, "sequences", row)


def test_a_task_kind_defined_in_a_test_runs_through_fit_compare_and_register(
    toy_kind, tmp_path, monkeypatch
):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(48, 10, 1)).astype(np.float32)
    (tmp_path / "processed" / "sums").mkdir(parents=True)
    np.savez(tmp_path / "processed" / "sums" / "data.npz", x=x, y=x.mean(axis=(1, 2)))
    params = {
        "datasets": {"sums": {"kind": "sequences", "length": 10, "n": 48}},
        "models": {"gru": {"hidden_size": 8}, "lstm": {"hidden_size": 8}},
        "train": {
            "tasks": {"series": ["sums"]},
            "architectures": {"series": ["gru", "lstm"]},
            "seeds": [0, 1],
            "defaults": {
                "optim": {"lr": 0.01},
                "train": {"max_epochs": 3, "patience": 0, "batch_size": 8, "threads": 1},
            },
            "sums": {"task": {"loss": "mse", "primary": "test/mse"}},
        },
        "compare": {"latency": {"batch_sizes": [1, 4], "repeats": 1, "warmup": 0}},
        "register": {},
    }
    for arch in ("gru", "lstm"):
        spec = resolve_run(params, "sums", arch, data_dir=tmp_path / "processed" / "sums")
        assert spec.kind.name == "sequence_sum"
        summary = train_all_seeds(
            spec,
            models_dir=tmp_path / "models" / f"sums-{arch}",
            metrics_path=tmp_path / "metrics" / f"sums-{arch}.json",
            curves_path=tmp_path / "curves" / f"sums-{arch}.csv",
            track=False,
        )
        assert set(summary["seeds"]) == {"s0", "s1"}
        assert 0 <= summary["mean"]["test/mse"] < 0.05  # the mean of 10 uniforms has variance 1/120
        saved = np.load(tmp_path / "models" / f"sums-{arch}" / "seed0.predictions.npz")
        assert saved["pred"].shape == saved["true"].shape == (10,)  # the 10 test sequences

    paths = Paths(
        metrics=tmp_path / "metrics",
        models=tmp_path / "models",
        curves=tmp_path / "curves",
        tuning=tmp_path / "tuning",
        tokenized=tmp_path / "tokenized",
        processed=tmp_path / "processed",
    )
    (cmp,) = build_report(
        params, paths, markdown=tmp_path / "comparison.md", figures_dir=tmp_path / "figures"
    )
    assert cmp.kind.name == "sequence_sum" and cmp.seq_len == 10
    assert {r.arch for r in cmp.rows} == {"gru", "lstm"} and cmp.best in ("gru", "lstm")
    other = next(r for r in cmp.rows if r.arch != cmp.best)
    assert other.test is not None and 0.0 <= other.test.p_value <= 1.0 and other.test.n == 10
    assert all(r.flops and r.latency[1] > 0 for r in cmp.rows)
    text = (tmp_path / "comparison.md").read_text()
    assert "full input length of 10 values" in text and "Diebold-Mariano test on squared" in text

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    done = register_arch(
        "sums",
        cmp.best,
        register_config(params),
        models_dir=tmp_path / "models",
        data_dir=tmp_path / "processed" / "sums",
    )
    assert done.created and done.version == "1"
    served = mlflow.pyfunc.load_model("models:/seqbench-sums/1")
    raw = pd.DataFrame(x[:3, :, 0], columns=[f"v{i}" for i in range(10)])
    seed = best_seed(tmp_path / "models" / f"sums-{cmp.best}")
    with torch.inference_mode():
        direct = seed.load()(torch.as_tensor(x[:3]))[:, 0, 0].numpy()
    assert np.allclose(served.predict(raw)["mean"].to_numpy(), direct, atol=1e-6)
