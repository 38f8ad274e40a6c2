"""Raw-input predictors over a serving bundle: review text → label, recent values → forecast.

A *bundle* folder holds everything a prediction needs: ``manifest.json`` (task kind,
architecture, sizes, columns), ``weights.pt`` (state dict) and the preprocessing state —
``tokenizer/`` (the tokenize stage's ``tokenizer.json`` + ``meta.json``) for text,
``scaler.json`` for series, and ``encoder/`` (its ``config.json``) for a model built on a
pre-trained encoder, whose fine-tuned weights are in ``weights.pt`` like every other. The
predictors work without MLflow; ``seqbench.serving.pyfunc`` wraps the one a bundle's task
kind names.
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
ESTIMATOR = "estimator.joblib"  # a text baseline's fitted scikit-learn pipeline (raw text in)
TOKENIZER_DIR = "tokenizer"
ENCODER_DIR = "encoder"
SCALER = "scaler.json"
TEXT_COLUMN = "text"
WINDOW_COLUMN = "window"


def load_network(bundle: Path, manifest: dict[str, Any]) -> torch.nn.Module:
    """The bundle's network with its weights, on CPU, in eval mode."""
    from seqbench.tasks.registry import TASKS

    cfg = build(ModelConfig, manifest["model"], f"{bundle / MANIFEST}:model")
    dims = dict(manifest["model_spec"])
    if dims.get("encoder"):  # built from the bundle's config; weights.pt holds every weight
        dims |= {"encoder": str(bundle / ENCODER_DIR), "encoder_weights": False}
    model = build_model(cfg, TASKS[manifest["kind"]].load_model_spec(dims))
    model.load_state_dict(torch.load(bundle / WEIGHTS, map_location="cpu", weights_only=True))
    return model.eval()


class TextPredictor:
    """Review strings → ``label``, ``label_id``, ``probability`` (of that label), ``p_<label>``."""

    def __init__(self, bundle: str | Path, batch_size: int = 64) -> None:
        from seqbench.data.tokenize import TextEncoder

        bundle = Path(bundle)
        self.manifest = json.loads((bundle / MANIFEST).read_text())
        self.labels: list[str] = list(self.manifest["labels"])
        self.batch_size = batch_size
        self.estimator = None
        if self.manifest.get("model_format") == "joblib":  # a bag-of-n-grams baseline
            import joblib

            self.estimator = joblib.load(bundle / ESTIMATOR)
            return
        self.encoder = TextEncoder.from_dir(bundle / TOKENIZER_DIR)
        self.pad_id = int(self.manifest["model_spec"].get("pad_id", 0))
        self.model = load_network(bundle, self.manifest)

    @staticmethod
    def texts(model_input: Any) -> list[str]:
        """The reviews of a request: a DataFrame with a ``text`` column (what the served model's
        signature names), or, for local use, a Series, list or string. Every value must be a
        review string: nulls, numbers and other types are refused naming their row."""
        if isinstance(model_input, str):
            values: list[Any] = [model_input]
        elif isinstance(model_input, pd.DataFrame):
            if TEXT_COLUMN not in model_input.columns:
                raise PredictInputError(
                    f"input: expected a '{TEXT_COLUMN}' column of reviews, got columns "
                    f"{[str(c) for c in model_input.columns]}"
                )
            values = model_input[TEXT_COLUMN].tolist()
        elif isinstance(model_input, dict) and TEXT_COLUMN in model_input:
            values = list(model_input[TEXT_COLUMN])
        elif isinstance(model_input, pd.Series | np.ndarray | list | tuple):
            values = np.asarray(model_input, dtype=object).ravel().tolist()
        else:
            raise PredictInputError(
                f"input: expected review strings, got {type(model_input).__name__}"
            )
        if not values:
            raise PredictInputError(
                f"input: column '{TEXT_COLUMN}': expected at least one review, got 0 rows"
            )
        for row, value in enumerate(values):
            problem = _not_a_review(value)
            if problem:
                where = f"input: column '{TEXT_COLUMN}' row {row}"
                raise PredictInputError(f"{where}: expected a review string, got {problem}")
        return values

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Class probabilities ``(N, C)``; batches of similar length, each row padded alone.

        A review with no token left after preprocessing (empty, blank, only markup such as
        ``<br />``) is refused: the model would score it with confidence from nothing."""
        if self.estimator is not None:
            analyze = self.estimator[0].build_analyzer()
            self._refuse_empty(texts, [analyze(t) for t in texts])
            return self.estimator.predict_proba(texts).astype(np.float64)
        encoded = self.encoder.encode_batch(texts)
        self._refuse_empty(texts, encoded)
        lengths = np.array([len(ids) for ids in encoded])
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

    @staticmethod
    def _refuse_empty(texts: list[str], tokens: list[Any]) -> None:
        for row, ids in enumerate(tokens):
            if not len(ids):
                raise PredictInputError(
                    f"input: column '{TEXT_COLUMN}' row {row}: expected review text, got "
                    f"{_short(texts[row])}, which is empty after preprocessing (markup and white "
                    "space removed)"
                )

    def predict(self, model_input: Any) -> pd.DataFrame:
        texts = self.texts(model_input)
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


# What JSON null and numbers become when MLflow's "inputs" format coerces them to a string column.
_COERCED_NULLS = ("None", "nan", "NaN", "null")


def _not_a_review(value: Any) -> str | None:
    """Why ``value`` is not a review string (None when it is one)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "null"
    if not isinstance(value, str):
        return f"{value!r} ({type(value).__name__})"
    if value in _COERCED_NULLS:
        return f"null ({value!r})"
    try:
        float(value)
    except ValueError:
        return None
    return f"the number {value!r}"


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


class ForecastPredictor:
    """Recent values in original units → the next ``horizon`` steps in original units.

    Input: a DataFrame with the feature columns, time-ordered; its last ``input_length`` rows
    form one window, or a ``window`` column groups several windows (each ≥ ``input_length``
    rows, the last ones used). Every value must be a finite number within the dataset's declared
    range (``datasets.<name>.min_value``/``max_value``, the rules its validation suite applies);
    forecasts are kept within the targets' declared range. Output: one row per window and step
    with each target column.
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
        self.low: dict[str, float] = dict(self.manifest.get("min_value") or {})
        self.high: dict[str, float] = dict(self.manifest.get("max_value") or {})

    def windows(self, model_input: Any) -> tuple[np.ndarray, list[Any]]:
        """``(B, L, F)`` raw windows and their ids from a DataFrame or an array."""
        if isinstance(model_input, np.ndarray | list):
            try:
                arr = np.asarray(model_input, dtype=np.float64)
            except (TypeError, ValueError):
                raise PredictInputError("input: expected windows of numbers") from None
            arr = arr[None] if arr.ndim == 2 else arr
            if arr.ndim != 3 or arr.shape[1:] != (self.input_length, len(self.features)):
                raise PredictInputError(
                    f"input: expected windows of shape (B, {self.input_length}, "
                    f"{len(self.features)}), got {arr.shape}"
                )
            self._check_range(arr.reshape(-1, arr.shape[-1]))
            return arr, list(range(len(arr)))
        if not isinstance(model_input, pd.DataFrame):
            raise PredictInputError(f"input: expected a DataFrame, got {type(model_input)}")
        missing = [c for c in self.features if c not in model_input.columns]
        if missing:
            raise PredictInputError(
                f"input: missing feature column {missing[0]!r}; expected {self.features}"
            )
        values = self._numbers(model_input)
        self._check_range(values)
        model_input = model_input.assign(**{f: values[:, i] for i, f in enumerate(self.features)})
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
            out.append(frame[self.features].to_numpy(dtype=np.float64)[-self.input_length :])
            ids.append(key.item() if hasattr(key, "item") else key)
        return np.stack(out), ids

    def _numbers(self, frame: pd.DataFrame) -> np.ndarray:
        """The feature columns as finite floats ``(N, F)``; the first bad cell is named."""
        if len(frame) == 0:
            raise PredictInputError(
                f"input: expected at least {self.input_length} rows (the model's input_length), "
                "got 0 rows"
            )
        out = np.empty((len(frame), len(self.features)), dtype=np.float64)
        for i, name in enumerate(self.features):
            column = pd.to_numeric(frame[name], errors="coerce")
            bad = ~np.isfinite(column.to_numpy(dtype=np.float64, na_value=np.nan))
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                value = frame[name].iloc[row]
                value = value.item() if isinstance(value, np.generic) else value
                raise PredictInputError(
                    f"input: column {name!r} row {row}: expected a finite number, got {value!r}"
                )
            out[:, i] = column.to_numpy(dtype=np.float64)
        return out

    def _check_range(self, values: np.ndarray) -> None:
        """Refuse values outside the dataset's declared bounds of their column."""
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            raise PredictInputError(f"input: row {row}: expected finite numbers")
        for i, name in enumerate(self.features):
            for bound, limit, wrong in (
                ("min_value", self.low.get(name), values[:, i] < self.low.get(name, -np.inf)),
                ("max_value", self.high.get(name), values[:, i] > self.high.get(name, np.inf)),
            ):
                if wrong.any():
                    row = int(np.flatnonzero(wrong)[0])
                    side = "at least" if bound == "min_value" else "at most"
                    raise PredictInputError(
                        f"input: column {name!r} row {row}: expected a value {side} {limit:g} "
                        f"(the dataset's {bound}), got {values[row, i]:g}"
                    )

    def forecast(self, windows: np.ndarray) -> np.ndarray:
        """Raw windows ``(B, L, F)`` → forecasts ``(B, H, T)`` in original units, kept within
        each target's declared range."""
        b, length, f = windows.shape
        scaled = self.scaler.transform(windows.reshape(-1, f), self.features).reshape(b, length, f)
        with torch.inference_mode():
            pred = self.model(torch.as_tensor(scaled, dtype=torch.float32))  # (B, H, T)
            out = self.scaler.inverse(pred.double(), self.targets).numpy()
        low = np.array([self.low.get(t, -np.inf) for t in self.targets])  # (T,)
        high = np.array([self.high.get(t, np.inf) for t in self.targets])
        return np.clip(out, low, high)

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
