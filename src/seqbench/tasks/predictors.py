"""Raw-input predictors over a serving bundle: review text → label, recent values → forecast.

A *bundle* folder holds everything a prediction needs: ``manifest.json`` (task kind,
architecture, sizes, columns), ``weights.pt`` (state dict) and the preprocessing state —
``tokenizer/`` (the tokenize stage's ``tokenizer.json`` + ``meta.json``) for text,
``scaler.json`` for series. The predictors work without MLflow; ``seqbench.serving.pyfunc``
wraps the one a bundle's task kind names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqbench.models import ModelConfig, build_model
from seqbench.tasks.base import PredictInputError
from seqbench.typed import build

MANIFEST = "manifest.json"
WEIGHTS = "weights.pt"
TOKENIZER_DIR = "tokenizer"
SCALER = "scaler.json"
TEXT_COLUMN = "text"
WINDOW_COLUMN = "window"


def load_network(bundle: Path, manifest: dict[str, Any]) -> torch.nn.Module:
    """The bundle's network with its weights, on CPU, in eval mode."""
    from seqbench.tasks.registry import TASKS

    cfg = build(ModelConfig, manifest["model"], f"{bundle / MANIFEST}:model")
    model = build_model(cfg, TASKS[manifest["kind"]].load_model_spec(manifest["model_spec"]))
    model.load_state_dict(torch.load(bundle / WEIGHTS, map_location="cpu", weights_only=True))
    return model.eval()


class TextPredictor:
    """Review strings → ``label``, ``label_id``, ``probability`` (of that label), ``p_<label>``."""

    def __init__(self, bundle: str | Path, batch_size: int = 64) -> None:
        from seqbench.data.tokenize import TextEncoder

        bundle = Path(bundle)
        self.manifest = json.loads((bundle / MANIFEST).read_text())
        self.labels: list[str] = list(self.manifest["labels"])
        self.encoder = TextEncoder.from_dir(bundle / TOKENIZER_DIR)
        self.pad_id = int(self.manifest["model_spec"].get("pad_id", 0))
        self.model = load_network(bundle, self.manifest)
        self.batch_size = batch_size

    @staticmethod
    def texts(model_input: Any) -> list[str]:
        """Accept a DataFrame (column ``text`` or a single column), a Series, list or string."""
        if isinstance(model_input, str):
            return [model_input]
        if isinstance(model_input, pd.DataFrame):
            if TEXT_COLUMN in model_input.columns:
                column = model_input[TEXT_COLUMN]
            elif model_input.shape[1] == 1:
                column = model_input.iloc[:, 0]
            else:
                raise PredictInputError(
                    f"input: expected a '{TEXT_COLUMN}' column, got {list(model_input.columns)}"
                )
            return [str(t) for t in column.tolist()]
        if isinstance(model_input, dict) and TEXT_COLUMN in model_input:
            return TextPredictor.texts(list(model_input[TEXT_COLUMN]))
        if isinstance(model_input, pd.Series | np.ndarray | list | tuple):
            return [str(t) for t in np.asarray(model_input, dtype=object).ravel().tolist()]
        raise PredictInputError(f"input: expected review strings, got {type(model_input).__name__}")

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Class probabilities ``(N, C)``; batches of similar length, each row padded alone."""
        encoded = self.encoder.encode_batch(texts)
        lengths = np.array([max(len(ids), 1) for ids in encoded])
        order = np.argsort(lengths, kind="stable")
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                size = int(lengths[rows].max())
                x = torch.full((len(rows), size), self.pad_id, dtype=torch.int64)  # (B, T)
                for i, r in enumerate(rows):
                    x[i, : len(encoded[r])] = torch.as_tensor(encoded[r], dtype=torch.int64)
                logits = self.model(x, torch.as_tensor(lengths[rows]))  # (B, C)
                probs[rows] = logits.float().softmax(-1).numpy()
        return probs

    def predict(self, model_input: Any) -> pd.DataFrame:
        texts = self.texts(model_input)
        if not texts:
            raise PredictInputError("input: expected at least one review")
        probs = self.probabilities(texts)  # (N, C)
        ids = probs.argmax(-1)  # (N,)
        out = pd.DataFrame(
            {
                "label": [self.labels[i] for i in ids],
                "label_id": ids.astype(np.int64),
                "probability": probs[np.arange(len(ids)), ids],
            }
        )
        for c, name in enumerate(self.labels):
            out[f"p_{name}"] = probs[:, c]
        return out


class ForecastPredictor:
    """Recent values in original units → the next ``horizon`` steps in original units.

    Input: a DataFrame with the feature columns, time-ordered; its last ``input_length`` rows
    form one window, or a ``window`` column groups several windows (each ≥ ``input_length``
    rows, the last ones used). Output: one row per window and step with each target column.
    """

    def __init__(self, bundle: str | Path) -> None:
        from seqbench.data.timeseries import Scaler

        bundle = Path(bundle)
        self.manifest = json.loads((bundle / MANIFEST).read_text())
        self.features: list[str] = list(self.manifest["features"])
        self.targets: list[str] = list(self.manifest["targets"])
        self.input_length = int(self.manifest["input_length"])
        self.horizon = int(self.manifest["horizon"])
        self.scaler = Scaler.load(bundle / SCALER)
        self.model = load_network(bundle, self.manifest)

    def windows(self, model_input: Any) -> tuple[np.ndarray, list[Any]]:
        """``(B, L, F)`` raw windows and their ids from a DataFrame or an array."""
        if isinstance(model_input, np.ndarray | list):
            arr = np.asarray(model_input, dtype=np.float64)
            arr = arr[None] if arr.ndim == 2 else arr
            if arr.ndim != 3 or arr.shape[1:] != (self.input_length, len(self.features)):
                raise PredictInputError(
                    f"input: expected windows of shape (B, {self.input_length}, "
                    f"{len(self.features)}), got {arr.shape}"
                )
            return arr, list(range(len(arr)))
        if not isinstance(model_input, pd.DataFrame):
            raise PredictInputError(f"input: expected a DataFrame, got {type(model_input)}")
        missing = [c for c in self.features if c not in model_input.columns]
        if missing:
            raise PredictInputError(
                f"input: missing feature column {missing[0]!r}; expected {self.features}"
            )
        if WINDOW_COLUMN in model_input.columns and model_input[WINDOW_COLUMN].notna().any():
            groups = list(model_input.groupby(WINDOW_COLUMN, sort=False))
        else:
            groups = [(0, model_input)]
        out, ids = [], []
        for key, frame in groups:
            if len(frame) < self.input_length:
                raise PredictInputError(
                    f"input: window {key!r} has {len(frame)} rows; expected at least "
                    f"{self.input_length} (the model's input_length)"
                )
            values = frame[self.features].to_numpy(dtype=np.float64)[-self.input_length :]
            if not np.isfinite(values).all():
                raise PredictInputError(f"input: window {key!r} holds missing or infinite values")
            out.append(values)
            ids.append(key.item() if hasattr(key, "item") else key)
        return np.stack(out), ids

    def forecast(self, windows: np.ndarray) -> np.ndarray:
        """Raw windows ``(B, L, F)`` → forecasts ``(B, H, T)`` in original units."""
        b, length, f = windows.shape
        scaled = self.scaler.transform(windows.reshape(-1, f), self.features).reshape(b, length, f)
        with torch.inference_mode():
            pred = self.model(torch.as_tensor(scaled, dtype=torch.float32))  # (B, H, T)
            return self.scaler.inverse(pred.double(), self.targets).numpy()

    def predict(self, model_input: Any) -> pd.DataFrame:
        windows, ids = self.windows(model_input)
        pred = self.forecast(windows)  # (B, H, T)
        rows = {
            WINDOW_COLUMN: np.repeat(np.asarray(ids, dtype=np.int64), self.horizon),
            "step": np.tile(np.arange(1, self.horizon + 1, dtype=np.int64), len(ids)),
        }
        for t, name in enumerate(self.targets):
            rows[name] = pred[:, :, t].reshape(-1)
        return pd.DataFrame(rows)
