"""Forecasting data: strict CSV parsing, leak-free splits, gap-aware windows, a DataModule."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from seqbench.data.config import CsvSeriesConfig, SplitConfig, WindowConfig
from seqbench.data.replicas import loader_sampling
from seqbench.data.subset import split_index
from seqbench.errors import SeqbenchError
from seqbench.io import SPLITS, atomic_path, load_splits, read_json, write_json

log = logging.getLogger(__name__)

TIMESTAMP = "timestamp"
SCALER_FILE = "scaler.json"
WINDOWS_FILE = "windows.json"
_MISSING = {"", "nan", "na", "n/a", "null", "none"}


class TimeSeriesDataError(SeqbenchError):
    """A time-series file is malformed, or a split cannot hold a single forecasting window."""


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def read_series(path: Path, cfg: CsvSeriesConfig) -> pd.DataFrame:
    """Read one CSV into ``timestamp`` + the value columns (short names), rejecting any defect.

    Missing columns, unparseable or duplicate timestamps, timestamps out of order, empty cells and
    text or infinities in value columns raise :class:`TimeSeriesDataError` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise TimeSeriesDataError(f"{path}: file not found; run the fetch stage first")
    try:
        raw = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TimeSeriesDataError(f"{path}: not a readable CSV ({reason})") from None
    for column in [cfg.timestamp.column, *cfg.renames]:
        if column not in raw.columns:
            raise TimeSeriesDataError(
                f"{path}: missing column {column!r}; found {', '.join(map(repr, raw.columns))}"
            )
    if raw.empty:
        raise TimeSeriesDataError(f"{path}: no data rows")
    out = pd.DataFrame({TIMESTAMP: _timestamps(raw[cfg.timestamp.column], path, cfg)})
    for source, short in cfg.renames.items():
        out[short] = _numbers(raw[source], path, source)
    _check_order(out[TIMESTAMP], path)
    return out


def _line(index: int) -> int:
    """The file line of data row ``index`` (line 1 is the header)."""
    return int(index) + 2


def _timestamps(text: pd.Series, path: Path, cfg: CsvSeriesConfig) -> pd.Series:
    fmt = cfg.timestamp.format or "ISO8601"
    text = text.str.strip()
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        i = bad[0]
        raise TimeSeriesDataError(
            f"{path}: line {_line(i)}: unparseable timestamp {text.iloc[i]!r} in column "
            f"{cfg.timestamp.column!r} (expected format {fmt!r})"
        )
    return parsed.astype("datetime64[ns]")


def _numbers(text: pd.Series, path: Path, column: str) -> pd.Series:
    text = text.str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy() | text.str.lower().isin(_MISSING).to_numpy())
    if len(bad):
        i = bad[0]
        cell = text.iloc[i]
        problem = "missing value" if cell.lower() in _MISSING else "not a number"
        raise TimeSeriesDataError(
            f"{path}: line {_line(i)}: {problem} {cell!r} in column {column!r}"
        )
    infinite = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=np.float64)))
    if len(infinite):
        i = infinite[0]
        raise TimeSeriesDataError(
            f"{path}: line {_line(i)}: infinite value {text.iloc[i]!r} in column {column!r}"
        )
    return values.astype(np.int64 if pd.api.types.is_integer_dtype(values) else np.float64)


def _check_order(timestamps: pd.Series, path: Path) -> None:
    duplicated = np.flatnonzero(timestamps.duplicated().to_numpy())
    if len(duplicated):
        i = duplicated[0]
        first = int(np.flatnonzero((timestamps == timestamps.iloc[i]).to_numpy())[0])
        raise TimeSeriesDataError(
            f"{path}: line {_line(i)}: duplicate timestamp {timestamps.iloc[i]} "
            f"(first at line {_line(first)})"
        )
    backwards = np.flatnonzero(np.diff(timestamps.to_numpy()) <= np.timedelta64(0))
    if len(backwards):
        i = backwards[0] + 1
        raise TimeSeriesDataError(
            f"{path}: line {_line(i)}: timestamp {timestamps.iloc[i]} is earlier than the one "
            f"before it ({timestamps.iloc[i - 1]}); rows must be in time order"
        )


# ---------------------------------------------------------------------------------------------
# Splits and frequency
# ---------------------------------------------------------------------------------------------


def split_frames(cfg: CsvSeriesConfig, raw_dir: Path) -> dict[str, pd.DataFrame]:
    """Read the sources in ``raw_dir`` and cut them into chronological train/val/test frames."""
    raw_dir = Path(raw_dir)
    rule = cfg.split
    if rule.method == "files_and_last_days":
        train = read_series(raw_dir / rule.files["train"], cfg)
        test = read_series(raw_dir / rule.files["test"], cfg)
        return {**_last_days(train, rule, raw_dir / rule.files["train"]), "test": test}
    path = raw_dir / (rule.file or cfg.sources[0].name)
    frame = read_series(path, cfg)
    n = len(frame)
    if rule.method == "rows":
        sizes = [int(rule.train), int(rule.val), int(rule.test)]
        if sum(sizes) > n:
            raise TimeSeriesDataError(
                f"{path}: has {n} rows; split needs {sum(sizes)} ({'+'.join(map(str, sizes))})"
            )
    else:
        n_train, n_test = int(n * rule.train), int(n * rule.test)
        sizes = [n_train, n - n_train - n_test, n_test]
    bounds = np.cumsum([0, *sizes])
    return {
        name: frame.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True)
        for i, name in enumerate(SPLITS)
    }


def _last_days(frame: pd.DataFrame, rule: SplitConfig, path: Path) -> dict[str, pd.DataFrame]:
    """Train = the earlier days, val = the last ``val_fraction`` of the days (rounded half up)."""
    days = frame[TIMESTAMP].dt.normalize()
    unique = np.sort(days.unique())
    n_val = max(1, math.floor(rule.val_fraction * len(unique) + 0.5))
    if n_val >= len(unique):
        raise TimeSeriesDataError(
            f"{path}: {len(unique)} day(s) cannot give {n_val} validation day(s) and keep one for "
            "training"
        )
    is_val = (days >= unique[-n_val]).to_numpy()
    return {
        "train": frame[~is_val].reset_index(drop=True),
        "val": frame[is_val].reset_index(drop=True),
    }


def frequency(cfg: CsvSeriesConfig, train: pd.DataFrame) -> pd.Timedelta:
    """The series' step: ``cfg.frequency`` if set, else the commonest step between train rows."""
    if cfg.frequency is not None:
        return pd.Timedelta(cfg.frequency)
    steps = train[TIMESTAMP].diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    if steps.empty:
        raise TimeSeriesDataError(
            "frequency: cannot infer it from fewer than two train rows; set it in params.yaml"
        )
    return pd.Timedelta(steps.mode().iloc[0])


def frequency_name(step: pd.Timedelta) -> str:
    """A pandas frequency string for ``step`` (``5min``, ``h``)."""
    return pd.tseries.frequencies.to_offset(step).freqstr


# ---------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------


def segment_ids(timestamps: np.ndarray, step: pd.Timedelta) -> np.ndarray:
    """Number of each row's contiguous segment: a new one starts wherever a step is not ``step``."""
    breaks = np.diff(timestamps) != step.to_timedelta64()  # (N-1,)
    return np.concatenate([[0], np.cumsum(breaks)]).astype(np.int64)  # (N,)


def window_starts(timestamps: np.ndarray, step: pd.Timedelta, span: int, stride: int) -> np.ndarray:
    """First rows of every window of ``span`` contiguous rows, every ``stride`` rows of a segment.

    A window never crosses a gap: its first and last row must lie in the same segment.
    """
    n = len(timestamps)
    if n < span:
        return np.zeros(0, dtype=np.int64)
    segment = segment_ids(timestamps, step)  # (N,)
    segment_start = np.flatnonzero(np.diff(segment, prepend=-1))  # (S,) first row per segment
    start = np.arange(n - span + 1)  # (N-span+1,)
    ok = segment[start] == segment[start + span - 1]
    ok &= (start - segment_start[segment[start]]) % stride == 0
    return start[ok]


@dataclass(frozen=True)
class SplitWindows:
    """One split's rows, led by ``context_rows`` rows borrowed from the previous split."""

    rows: pd.DataFrame  # context rows, then the split's own rows
    context_rows: int
    starts: np.ndarray  # (W,) row of each window's first input step
    segments: int


def _contiguous_tail(
    previous: pd.DataFrame, rows: pd.DataFrame, step: pd.Timedelta, limit: int
) -> pd.DataFrame:
    """The last rows of ``previous`` (at most ``limit``) that run without a gap into ``rows``."""
    if previous.empty or rows.empty:
        return previous.iloc[:0]
    if rows[TIMESTAMP].iloc[0] - previous[TIMESTAMP].iloc[-1] != step:
        return previous.iloc[:0]
    segment = segment_ids(previous[TIMESTAMP].to_numpy(), step)
    run = int(np.sum(segment == segment[-1]))
    return previous.iloc[len(previous) - min(run, limit) :]


def make_windows(
    frames: dict[str, pd.DataFrame], window: WindowConfig, step: pd.Timedelta, borrow_context: bool
) -> dict[str, SplitWindows]:
    """Gap-aware windows per split; with ``borrow_context``, val/test inputs may begin in the
    previous split's contiguous last rows, but every target row lies in the split itself."""
    span = window.input_length + window.horizon
    out: dict[str, SplitWindows] = {}
    previous: pd.DataFrame | None = None
    for name in SPLITS:
        rows = frames[name]
        if borrow_context and previous is not None:
            context = _contiguous_tail(previous, rows, step, window.input_length)
        else:
            context = rows.iloc[:0]
        combined = pd.concat([context, rows], ignore_index=True)
        times = combined[TIMESTAMP].to_numpy()
        starts = window_starts(times, step, span, window.stride)
        starts = starts[starts + window.input_length >= len(context)]  # targets inside the split
        segments = int(segment_ids(times, step)[-1] + 1) if len(times) else 0
        out[name] = SplitWindows(combined, len(context), starts, segments)
        previous = rows
    return out


# ---------------------------------------------------------------------------------------------
# Scaling
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scaler:
    """Per-column affine scaling ``(x - center) / scale``, fit on the train rows only."""

    kind: str
    stats: dict[str, dict[str, float]]  # column -> {"center", "scale", and mean/std or min/max}

    @classmethod
    def fit(cls, train: pd.DataFrame, columns: list[str], kind: str) -> Scaler:
        stats = {}
        for column in columns:
            x = train[column].to_numpy(dtype=np.float64)
            if kind == "standard":
                mean, std = float(x.mean()), float(x.std())
                stats[column] = {
                    "mean": mean,
                    "std": std,
                    "center": mean,
                    "scale": std if std > 0 else 1.0,
                }
            else:
                lo, hi = float(x.min()), float(x.max())
                stats[column] = {
                    "min": lo,
                    "max": hi,
                    "center": lo,
                    "scale": hi - lo if hi > lo else 1.0,
                }
        return cls(kind, stats)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "fit_on": "train", "columns": self.stats}

    @classmethod
    def load(cls, path: Path) -> Scaler:
        if not Path(path).is_file():
            raise TimeSeriesDataError(f"{path}: missing; run the prepare stage first")
        data = read_json(path)
        return cls(data["kind"], data["columns"])

    def _affine(self, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
        missing = [c for c in columns if c not in self.stats]
        if missing:
            raise TimeSeriesDataError(f"{SCALER_FILE}: no statistics for column {missing[0]!r}")
        center = np.array([self.stats[c]["center"] for c in columns])  # (C,)
        scale = np.array([self.stats[c]["scale"] for c in columns])  # (C,)
        return center, scale

    def transform(self, values: np.ndarray, columns: list[str]) -> np.ndarray:
        """Scale ``values`` (N, C) whose columns are ``columns``."""
        center, scale = self._affine(columns)
        return (values - center) / scale

    def inverse(self, values: torch.Tensor, columns: list[str]) -> torch.Tensor:
        """Undo the scaling of ``values`` (..., C) whose last axis is ``columns``."""
        center, scale = self._affine(columns)
        center_t = torch.as_tensor(center, dtype=values.dtype, device=values.device)
        scale_t = torch.as_tensor(scale, dtype=values.dtype, device=values.device)
        return values * scale_t + center_t


# ---------------------------------------------------------------------------------------------
# The prepare stage
# ---------------------------------------------------------------------------------------------


def prepare(cfg: CsvSeriesConfig, raw_dir: Path, out_dir: Path) -> dict[str, int]:
    """Write ``{train,val,test}.parquet`` (timestamp + values in original units), ``scaler.json``
    (fit on train rows) and ``windows.json`` (window counts per split) to ``out_dir``, atomically.
    Returns the rows per split.
    """
    frames = split_frames(cfg, Path(raw_dir))
    step = frequency(cfg, frames["train"])
    windows = make_windows(frames, cfg.window, step, cfg.borrow_context)
    for name in SPLITS:
        if len(windows[name].starts) == 0:
            raise TimeSeriesDataError(
                f"{raw_dir}: split {name!r} ({len(frames[name])} rows) holds no window of "
                f"{cfg.window.input_length}+{cfg.window.horizon} contiguous steps of {step}"
            )
    scaler = Scaler.fit(frames["train"], cfg.value_columns, cfg.scaler)
    summary = {
        "frequency": frequency_name(step),
        "input_length": cfg.window.input_length,
        "horizon": cfg.window.horizon,
        "stride": cfg.window.stride,
        "borrow_context": cfg.borrow_context,
        "splits": {
            name: {
                "rows": len(frames[name]),
                "first": str(frames[name][TIMESTAMP].iloc[0]) if len(frames[name]) else None,
                "last": str(frames[name][TIMESTAMP].iloc[-1]) if len(frames[name]) else None,
                "segments": windows[name].segments,
                "context_rows": windows[name].context_rows,
                "windows": len(windows[name].starts),
            }
            for name in SPLITS
        },
    }
    with atomic_path(Path(out_dir)) as staged:
        staged.mkdir(parents=True)
        for name in SPLITS:
            frames[name].to_parquet(staged / f"{name}.parquet", index=False)
        write_json(staged / SCALER_FILE, scaler.to_dict())
        write_json(staged / WINDOWS_FILE, summary)
    for name, info in summary["splits"].items():
        log.info(
            "%s: %d rows, %d segment(s), %d windows",
            name,
            info["rows"],
            info["segments"],
            info["windows"],
        )
    return {name: info["rows"] for name, info in summary["splits"].items()}


# ---------------------------------------------------------------------------------------------
# Training data
# ---------------------------------------------------------------------------------------------


class WindowDataset(Dataset):
    """Windows over one split: inputs ``x`` (L, F) and targets ``y`` (H, T), both scaled.

    Windows are strided views of the value matrix (``unfold``); a batch is gathered with one
    index operation (``__getitems__``), never a Python loop over windows.
    """

    def __init__(
        self,
        values: torch.Tensor,
        starts: torch.Tensor,
        input_length: int,
        horizon: int,
        feature_idx: list[int],
        target_idx: list[int],
    ) -> None:
        self.input_length = input_length
        self.starts = starts  # (W,)
        self.inputs = values[:, feature_idx].unfold(0, input_length, 1)  # (N-L+1, F, L)
        self.outputs = values[:, target_idx].unfold(0, horizon, 1)  # (N-H+1, T, H)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        start = self.starts[torch.as_tensor(indices, dtype=torch.long)]  # (B,)
        x = self.inputs[start].transpose(1, 2).contiguous()  # (B, L, F)
        y = self.outputs[start + self.input_length].transpose(1, 2).contiguous()  # (B, H, T)
        return x, y

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]  # (L, F), (H, T)


def _as_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Collate function for :class:`WindowDataset`, whose ``__getitems__`` already batches."""
    return batch


class ForecastDataModule(L.LightningDataModule):
    """Scaled forecasting windows of a prepared dataset, with seeded shuffling and subsets."""

    def __init__(
        self,
        processed_dir: Path,
        cfg: CsvSeriesConfig,
        batch_size: int,
        seed: int,
        num_workers: int = 0,
        fraction: float = 1.0,
        train_share: float = 1.0,
    ) -> None:
        super().__init__()
        for key, value in (("fraction", fraction), ("train_share", train_share)):
            if not 0.0 < value <= 1.0:
                raise TimeSeriesDataError(f"{key}: expected a number in (0, 1], got {value!r}")
        self.processed_dir = Path(processed_dir)
        self.cfg = cfg
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers
        self.fraction = fraction
        self.train_share = train_share
        self.input_features = len(cfg.features)
        self.targets = list(cfg.targets)
        self.horizon = cfg.window.horizon
        self.input_length = cfg.window.input_length
        self.target_indices = [cfg.features.index(t) for t in cfg.targets]
        self._scaler: Scaler | None = None
        self._datasets: dict[str, WindowDataset] = {}

    @property
    def scaler(self) -> Scaler:
        if self._scaler is None:
            self._scaler = Scaler.load(self.processed_dir / SCALER_FILE)
        return self._scaler

    def setup(self, stage: str | None = None) -> None:
        if self._datasets:
            return
        frames = load_splits(self.processed_dir)
        step = frequency(self.cfg, frames["train"])
        windows = make_windows(frames, self.cfg.window, step, self.cfg.borrow_context)
        columns = self.cfg.features
        for name in SPLITS:
            rows = windows[name].rows
            missing = [c for c in columns if c not in rows.columns]
            if missing:
                raise TimeSeriesDataError(
                    f"{self.processed_dir / name}.parquet: missing column {missing[0]!r}"
                )
            scaled = self.scaler.transform(rows[columns].to_numpy(dtype=np.float64), columns)
            if len(windows[name].starts) == 0:
                raise TimeSeriesDataError(
                    f"{self.processed_dir / name}.parquet: no window of {self.input_length}+"
                    f"{self.horizon} contiguous steps"
                )
            starts = self._subset(windows[name].starts, name)
            self._datasets[name] = WindowDataset(
                torch.as_tensor(scaled, dtype=torch.float32),  # (N, F)
                torch.as_tensor(starts, dtype=torch.long),
                self.input_length,
                self.horizon,
                list(range(len(columns))),
                self.target_indices,
            )

    def _subset(self, starts: np.ndarray, split: str) -> np.ndarray:
        """A seeded, order-preserving share ``fraction`` of the windows (all when 1.0), and of
        the training windows a share ``train_share`` drawn with the run's seed."""
        index = split_index(len(starts), split, self.fraction, self.train_share, self.seed)
        return starts if index is None else starts[index]

    def dataset(self, split: str) -> WindowDataset:
        self.setup()
        return self._datasets[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self.dataset(split)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            **loader_sampling(self, dataset, shuffle, self.seed),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=_as_batch,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def inverse_transform(self, y: torch.Tensor) -> torch.Tensor:
        """Targets ``y`` (..., T) in scaled units back to original units."""
        return self.scaler.inverse(y, self.targets)
