"""Data-parallel training with Lightning DDP on the CPU (gloo, 2 processes): every process
reads its own share, rank 0 alone tracks and writes, and a rerun gives the same result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqbench.data.replicas import deal, eval_sampler, lead_process
from seqbench.data.text import BucketBatchSampler
from seqbench.tasks.predictions import example_ids

TESTS = Path(__file__).parent


def test_training_batches_are_dealt_evenly_and_evaluation_covers_every_example_once():
    lengths = np.arange(103) % 17 + 1
    one = BucketBatchSampler(lengths, 8, seed=3)
    shares = [list(BucketBatchSampler(lengths, 8, seed=3, rank=r, world=2)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == len(one) // 2  # same steps on every process
    assert shares[0] + shares[1] != [] and not set(map(tuple, shares[0])) & set(
        map(tuple, shares[1])
    )
    whole = one.batches(0)
    assert sorted(map(tuple, shares[0] + shares[1])) == sorted(map(tuple, whole[:12]))
    for world in (2, 3):
        seen = [i for r in range(world) for i in eval_sampler(10, r, world)]
        assert sorted(seen) == list(range(10))  # evaluation: each example exactly once
    assert deal(list(range(7)), 1, 2, even=False) == [1, 3, 5]
    assert deal(list(range(7)), 1, 2, even=True) == [1, 3, 5]
    assert deal(list(range(7)), 0, 2, even=True) == [0, 2, 4]


def test_a_range_sampler_gives_the_ids_of_its_share():
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    dataset = TensorDataset(torch.zeros(9, 1))
    dataset.starts = np.arange(100, 109)  # window starts, as the series datasets keep them
    loader = DataLoader(dataset, batch_size=4, sampler=eval_sampler(9, 1, 2))
    assert example_ids(loader).tolist() == [101, 103, 105, 107]


def test_only_global_rank_zero_leads(monkeypatch):
    for name in ("RANK", "NODE_RANK", "LOCAL_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    assert lead_process()
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("NODE_RANK", "1")  # local rank 0 of the second node
    assert not lead_process()
    monkeypatch.setenv("NODE_RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert not lead_process()
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("RANK", "0")
    assert lead_process()


SCRIPT = textwrap.dedent(
    """
    import sys
    from dataclasses import replace
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from pipeline_outputs import params
    from seqbench.training.run import resolve_run
    from seqbench.training.seeds import train_all_seeds

    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    settings = {{
        "train.strategy": "ddp", "train.devices": 2, "train.accelerator": "cpu",
        "train.threads": 1, "train.max_epochs": 3,
    }}
    spec = replace(resolve_run(params(), "toy", "gru", settings, data_dir=data), seeds=(0,))
    train_all_seeds(
        spec, models_dir=out / "models", metrics_path=out / "metrics.json",
        curves_path=out / "curves.csv", inputs=[str(data)],
    )
    """
)


@pytest.mark.slow
def test_a_two_process_ddp_fit_logs_one_run_and_reruns_identically(tmp_path_factory, tmp_path):
    from mlflow import MlflowClient
    from pipeline_outputs import cached_outputs

    out = cached_outputs(tmp_path_factory.getbasetemp())
    script = tmp_path / "ddp_fit.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(TESTS)}
    for name in ("RANK", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "SLURM_PROCID"):
        env.pop(name, None)
    client = MlflowClient(uri)
    metrics = []
    for i, run in enumerate(("a", "b"), start=1):
        done = subprocess.run(
            [sys.executable, str(script), str(out.processed / "toy"), str(tmp_path / run)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        written = json.loads((tmp_path / run / "metrics.json").read_text())
        metrics.append(written["seeds"]["s0"])
        runs = client.search_runs([client.get_experiment_by_name("toy").experiment_id])
        assert len(runs) == i  # one MLflow run per fit, from rank 0 only
        assert runs[0].data.tags["seqbench.processes"] == "2"
        assert runs[0].info.status == "FINISHED"
        info = json.loads((tmp_path / run / "models" / "seed0.json").read_text())
        curves = pd.read_csv(tmp_path / run / "curves.csv")
        assert len(curves) == 3  # every epoch recorded once (rank 0's record)
        assert info["best_val"] == pytest.approx(curves["val/mae"].min())  # best-state logic
        assert info["best_epoch"] == int(curves["epoch"][curves["val/mae"].idxmin()])
    assert metrics[0] == metrics[1]  # seeded: the rerun gives the same test metrics
    # the test predictions were gathered from both processes: every test window, once
    ddp = np.load(tmp_path / "a" / "models" / "seed0.predictions.npz")["ids"]
    single = np.load(out.models / "toy-gru" / "seed0.predictions.npz")["ids"]
    assert len(ddp) == len(set(ddp.tolist())) and sorted(ddp.tolist()) == sorted(single.tolist())
