"""Reading what a train stage wrote: per-seed models (``seed<k>.pt`` + ``.json``), best seed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqbench.config import build
from seqbench.errors import SeqbenchError
from seqbench.models import ClassificationSpec, ForecastSpec, ModelConfig, build_model


class TrainedModelError(SeqbenchError):
    """A train stage's model folder is missing or does not hold the expected files."""


@dataclass(frozen=True)
class SeedModel:
    """One trained seed: its files and the run configuration saved beside the weights."""

    directory: Path
    seed: int
    info: dict[str, Any]  # the seed<k>.json written by seqbench.training.train_all_seeds

    @property
    def weights(self) -> Path:
        return self.directory / f"seed{self.seed}.pt"

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
    def kind(self) -> str:
        return self.info["task"]["kind"]

    @property
    def mode(self) -> str:
        return self.info["task"]["mode"]

    @property
    def best_val(self) -> float:
        return float(self.info["best_val"])

    @property
    def test(self) -> dict[str, float]:
        return dict(self.info.get("test") or {})

    def model_config(self) -> ModelConfig:
        where = f"{self.directory}/seed{self.seed}.json:model"
        return build(ModelConfig, self.info["model"], where)

    def spec(self) -> ClassificationSpec | ForecastSpec:
        dims = dict(self.info["model_spec"])
        if self.kind == "classification":
            return ClassificationSpec(**dims)
        dims["target_indices"] = tuple(dims.get("target_indices") or ())
        return ForecastSpec(**dims)

    def load(self) -> nn.Module:
        """The network with the saved best-validation weights, on CPU, in eval mode."""
        model = build_model(self.model_config(), self.spec())
        state = torch.load(self.weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return model.eval()

    def sha256(self) -> str:
        """Digest of the weights file (registry versions are de-duplicated by it)."""
        return file_sha256(self.weights)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
