"""The seed outputs of a train stage, written and read here only.

``models/<task>-<arch>/`` holds per seed ``seed<k>.pt`` (state dict), ``seed<k>.json`` (the run
configuration and sizes to rebuild it) and ``seed<k>.predictions.npz`` (per-example test
predictions for the comparison's paired tests); ``metrics/<task>-<arch>.json`` the per-seed
numbers with mean and std (identical on a CPU rerun), ``metrics/timing/<task>-<arch>.json`` the
wall-clock numbers (which vary); ``plots/curves/<task>-<arch>.csv`` the per-epoch curves.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seqbench.errors import SeqbenchError
from seqbench.io import atomic_path, file_sha256, write_json
from seqbench.models import ModelConfig, build_model
from seqbench.tasks import Task, get_task
from seqbench.typed import build

TIMING_DIR = "timing"  # metrics/timing/<task>-<arch>.json beside metrics/<task>-<arch>.json
TAG_WEIGHTS = "seqbench.weights_sha256"  # MLflow tag of a training run: its saved weights
PREDICTIONS_ARTIFACT = "test_predictions.npz"  # a training run's artifact: its test predictions


class TrainedModelError(SeqbenchError):
    """A train stage's model folder is missing or does not hold the expected files."""


class PredictionsError(SeqbenchError):
    """A predictions file is missing or lacks the arrays the comparison needs."""


class MetricsError(SeqbenchError):
    """A train stage's metrics file is missing or malformed."""


@dataclass(frozen=True)
class SeedModel:
    """One trained seed: its files and the run configuration saved beside the weights."""

    directory: Path
    seed: int
    info: dict[str, Any]  # the seed<k>.json written by write_seed_outputs

    @property
    def format(self) -> str:
        """``pt`` (a network's state dict) or ``joblib`` (a scikit-learn pipeline)."""
        return str(self.info.get("model_format", "pt"))

    @property
    def weights(self) -> Path:
        return self.directory / f"seed{self.seed}.{self.format}"

    @property
    def predictions(self) -> Path:
        return self.directory / f"seed{self.seed}.predictions.npz"

    @property
    def task(self) -> str:
        return self.info["run"]["task"]

    @property
    def arch(self) -> str:
        return self.info["run"]["arch"]

    @property
    def kind(self) -> Task:
        """The task kind the seed was trained as."""
        return get_task(self.info["task"]["kind"])

    @property
    def mode(self) -> str:
        return self.info["task"]["mode"]

    @property
    def monitor(self) -> str:
        """The validation metric the seeds were selected by (``best_val`` is its value)."""
        return self.info["task"]["monitor"]

    @property
    def best_val(self) -> float:
        return float(self.info["best_val"])

    @property
    def test(self) -> dict[str, float]:
        return dict(self.info.get("test") or {})

    def model_config(self) -> ModelConfig:
        where = f"{self.directory}/seed{self.seed}.json:model"
        return build(ModelConfig, self.info["model"], where)

    def spec(self) -> Any:
        """The network's model spec (input kind and output shape)."""
        return self.kind.load_model_spec(dict(self.info["model_spec"]))

    def load(self) -> Any:
        """The network with the saved best-validation weights, on CPU, in eval mode (or the
        fitted scikit-learn pipeline of a text baseline)."""
        if self.format == "joblib":
            import joblib

            return joblib.load(self.weights)
        model = build_model(self.model_config(), self.spec())
        state = torch.load(self.weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return model.eval()

    def sha256(self) -> str:
        """Digest of the weights file (registry versions are de-duplicated by it)."""
        return file_sha256(self.weights)


def load_seeds(directory: str | Path) -> list[SeedModel]:
    """Every seed saved in a ``models/<task>-<arch>`` folder, ordered by seed."""
    directory = Path(directory)
    if not directory.is_dir():
        raise TrainedModelError(f"{directory}: missing; run the train stage first")
    seeds = []
    for meta in sorted(directory.glob("seed*.json")):
        info = json.loads(meta.read_text())
        seed = SeedModel(directory, int(info["seed"]), info)
        if not seed.weights.is_file():
            raise TrainedModelError(f"{seed.weights}: missing beside {meta.name}")
        seeds.append(seed)
    if not seeds:
        raise TrainedModelError(f"{directory}: expected seed<k>.json and seed<k>.pt files")
    return sorted(seeds, key=lambda s: s.seed)


def best_seed(directory: str | Path) -> SeedModel:
    """The seed with the best validation value (the run's own monitor and mode); ties: lowest."""
    seeds = load_seeds(directory)
    sign = -1.0 if seeds[0].mode == "max" else 1.0
    return min(seeds, key=lambda s: (sign * s.best_val, s.seed))


def mean_std(per_seed: dict[str, dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample standard deviation (n - 1; 0 for one seed) of each metric over seeds."""
    names = sorted({k for m in per_seed.values() for k in m})
    mean, std = {}, {}
    for name in names:
        values = [float(m[name]) for m in per_seed.values() if name in m]
        mean[name] = statistics.fmean(values)
        std[name] = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def write_curves(path: Path, rows: list[dict[str, float]], monitor: str | None = None) -> None:
    """Per-epoch curves of every seed as one CSV (``seed, epoch, [monitor,] metric...``) for
    DVC plots; ``monitor`` names the validation metric early stopping watched (a column that
    repeats it, so a plot template can draw that metric beside the loss)."""
    keys = ("seed", "epoch", "monitor")
    names = sorted({k for r in rows for k in r} - set(keys))
    columns = ["seed", "epoch", *(["monitor"] if monitor else []), *names]
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            out: dict[str, Any] = {k: int(row[k]) for k in ("seed", "epoch") if k in row}
            out |= {"monitor": monitor} if monitor else {}
            writer.writerow(out | {k: v for k, v in row.items() if k not in keys})


def write_seed_outputs(
    models_dir: str | Path,
    metrics_path: str | Path,
    curves_path: str | Path,
    config: dict[str, Any],
    seeds: Sequence[dict[str, Any]],
    *,
    timing_path: str | Path | None = None,
) -> dict[str, Any]:
    """Write every seed's files, the metrics summary, the timings and the curves; return the
    metrics summary.

    ``config`` is the run configuration (``RunConfig.config()``); each entry of ``seeds`` holds
    ``seed``, ``model`` (the network, or a scikit-learn pipeline), ``recorder`` (its test
    predictions, or ``predictions``: the arrays themselves), ``metrics`` (the
    per-seed numbers), ``timing`` (its wall-clock numbers, written to ``timing_path``),
    ``history`` (per-epoch rows) and the ``info`` saved in ``seed<k>.json``
    (``model_spec``, ``parameters``, ``test``, ``best_val``, ``best_epoch``).
    """
    with atomic_path(Path(models_dir)) as tmp:
        tmp.mkdir()
        for entry in seeds:
            seed, model = entry["seed"], entry["model"]
            info = {**config, "seed": seed, **entry["info"]}
            if isinstance(model, nn.Module):
                torch.save(model.state_dict(), tmp / f"seed{seed}.pt")
            else:  # a scikit-learn pipeline
                import joblib

                joblib.dump(model, tmp / f"seed{seed}.joblib")
                info["model_format"] = "joblib"
            predictions = tmp / f"seed{seed}.predictions.npz"
            if entry.get("predictions") is not None:
                np.savez_compressed(predictions, **entry["predictions"])
            else:
                entry["recorder"].save(predictions)
            (tmp / f"seed{seed}.json").write_text(json.dumps(info, indent=2) + "\n")
    per_seed = {f"s{e['seed']}": e["metrics"] for e in seeds}
    mean, std = mean_std(per_seed)
    summary = {
        "parameters": seeds[0]["info"]["parameters"],
        "mean": mean,
        "std": std,
        "seeds": per_seed,
    }
    write_json(metrics_path, summary)
    if timing_path is not None:
        timing = {f"s{e['seed']}": e.get("timing", {}) for e in seeds}
        mean, std = mean_std(timing)
        write_json(timing_path, {"mean": mean, "std": std, "seeds": timing})
    rows = [{"seed": float(e["seed"]), **row} for e in seeds for row in e["history"]]
    write_curves(Path(curves_path), rows, (config.get("task") or {}).get("monitor"))
    return summary


def timing_file(metrics_path: str | Path) -> Path:
    """Where the timings of ``metrics/<name>.json`` go: ``metrics/timing/<name>.json``."""
    return Path(metrics_path).parent / TIMING_DIR / Path(metrics_path).name


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A train stage's ``metrics/<task>-<arch>.json``: per-seed metrics with mean and std."""
    path = Path(path)
    if not path.is_file():
        raise MetricsError(f"{path}: missing; run the train stage first")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise MetricsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("seeds"), dict) or not data["seeds"]:
        raise MetricsError(f"{path}: expected a 'seeds' mapping of per-seed metrics")
    return data


def read_timing(metrics_path: str | Path) -> dict[str, dict[str, float]]:
    """Per-seed timings saved beside ``metrics/<task>-<arch>.json`` (empty when absent)."""
    path = timing_file(metrics_path)
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("seeds") or {})


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays saved by ``PredictionRecorder.save``, sorted by example id."""
    path = Path(path)
    if not path.is_file():
        raise PredictionsError(f"{path}: missing; the train stage saves test predictions there")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    if "ids" not in arrays:
        raise PredictionsError(f"{path}: expected an 'ids' array")
    order = np.argsort(arrays["ids"], kind="stable")
    return {k: v[order] for k, v in arrays.items()}
