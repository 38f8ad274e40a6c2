"""Time-series data: parsing errors, leak-free splits, gap-aware windows, scaler, DataModule."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from seqbench.data import timeseries as ts
from seqbench.data.config import CsvSeriesConfig
from seqbench.io import read_json
from seqbench.typed import ConfigError, build

ROOT = Path(__file__).resolve().parents[1]
FMT = "%d/%m/%Y %H:%M"
DAY = pd.Timedelta("1D")
START = pd.Timestamp("2016-01-04")  # a Monday


def params(**overrides) -> dict:
    """A toy hourly dataset shaped like PeMS: train/test files, last days of train are val."""
    raw = {
        "kind": "csv_series",
        "sources": [
            {
                "name": name,
                "url": f"https://example.org/{name}",
                "sha256": "0" * 64,
                "mirror": f"toy/{name}",
            }
            for name in ("train.csv", "test.csv")
        ],
        "timestamp": {"column": "5 Minutes", "format": FMT},
        "columns": {"Lane 1 Flow": "flow", "% Observed": "observed"},
        "features": ["flow"],
        "targets": ["flow"],
        "frequency": "1h",
        "split": {
            "method": "files_and_last_days",
            "files": {"train": "train.csv", "test": "test.csv"},
            "val_fraction": 0.25,
        },
        "window": {"input_length": 3, "horizon": 2},
        "scaler": "standard",
        "min_value": {"flow": 0},
        "max_value": {"observed": 100},
        "expected_rows": {"train+val": 96, "test": 48},
    }
    raw.update(overrides)
    return raw


def config(**overrides) -> CsvSeriesConfig:
    return build(CsvSeriesConfig, params(**overrides), "datasets.toy")


def day_times(days: list[int]) -> pd.DatetimeIndex:
    """Hourly timestamps of whole days, ``days`` counted from START."""
    return pd.DatetimeIndex(
        [t for d in days for t in pd.date_range(START + d * DAY, periods=24, freq="h")]
    )


def write_csv(path: Path, times: pd.DatetimeIndex, flow: np.ndarray) -> Path:
    """A CSV in the PeMS layout (UTF-8 BOM, DD/MM/YYYY H:MM timestamps)."""
    frame = pd.DataFrame(
        {
            "5 Minutes": [
                f"{t.day:02d}/{t.month:02d}/{t.year} {t.hour}:{t.minute:02d}" for t in times
            ],
            "Lane 1 Flow": flow,
            "# Lane Points": 1,
            "% Observed": 100,
        }
    )
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


# train: days 0, 1, (2 missing), 3, 4 -> train = days 0, 1, 3 and val = day 4 (last 25% of days)
TRAIN_DAYS, TEST_DAYS = [0, 1, 3, 4], [7, 8]


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    train_times, test_times = day_times(TRAIN_DAYS), day_times(TEST_DAYS)
    write_csv(raw / "train.csv", train_times, (np.arange(len(train_times)) * 7) % 50)
    write_csv(raw / "test.csv", test_times, 100 + np.arange(len(test_times)) % 30)
    return raw


def test_splits_are_chronological_and_val_is_the_last_days(raw_dir: Path) -> None:
    frames = ts.split_frames(config(), raw_dir)
    assert [len(frames[s]) for s in ts.SPLITS] == [72, 24, 48]
    assert set(frames["val"]["timestamp"].dt.normalize()) == {START + 4 * DAY}
    assert frames["train"]["timestamp"].max() < frames["val"]["timestamp"].min()
    assert frames["val"]["timestamp"].max() < frames["test"]["timestamp"].min()
    assert frames["train"]["flow"].dtype == np.int64


def test_no_window_spans_the_missing_day(raw_dir: Path) -> None:
    cfg = config()
    frames = ts.split_frames(cfg, raw_dir)
    windows = ts.make_windows(frames, cfg.window, pd.Timedelta("1h"), borrow_context=False)
    train = windows["train"]
    times = train.rows["timestamp"].to_numpy()
    span = np.arange(cfg.window.input_length + cfg.window.horizon)
    covered = times[train.starts[:, None] + span]  # (W, L+H)
    assert (np.diff(covered, axis=1) == np.timedelta64(1, "h")).all()
    missing_day = START + 2 * DAY
    assert not ((covered[:, 0] < missing_day) & (covered[:, -1] > missing_day)).any()
    assert train.segments == 2  # days 0-1 and day 3


def test_window_counts_match_a_hand_computation(raw_dir: Path, tmp_path: Path) -> None:
    counts = ts.prepare(config(), raw_dir, tmp_path / "out")
    assert counts == {"train": 72, "val": 24, "test": 48}
    info = read_json(tmp_path / "out" / "windows.json")
    # span 5: train segments of 48 and 24 rows -> 44 + 20; val 24 rows -> 20; test 48 rows -> 44
    assert {s: info["splits"][s]["windows"] for s in ts.SPLITS} == {
        "train": 64,
        "val": 20,
        "test": 44,
    }
    assert info["frequency"] == "h"
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "train.parquet",
        "val.parquet",
        "test.parquet",
        "scaler.json",
        "windows.json",
    }


def test_window_starts_respect_stride_within_each_segment() -> None:
    times = np.concatenate([day_times([0, 1]).to_numpy(), day_times([3]).to_numpy()])
    starts = ts.window_starts(times, pd.Timedelta("1h"), span=5, stride=2)
    assert len(starts) == 22 + 10  # 0, 2, ..., 42 in the first segment; 48, ..., 66 in the second
    assert starts[21] == 42 and starts[22] == 48 and starts[-1] == 66


def test_scaler_statistics_are_those_of_the_train_rows(raw_dir: Path, tmp_path: Path) -> None:
    ts.prepare(config(), raw_dir, tmp_path / "std")
    train = pd.read_parquet(tmp_path / "std" / "train.parquet")
    stats = read_json(tmp_path / "std" / "scaler.json")["columns"]["flow"]
    flow = (np.arange(96) * 7) % 50
    assert stats["mean"] == pytest.approx(flow[:72].mean())
    assert stats["std"] == pytest.approx(flow[:72].std())
    assert stats["mean"] != pytest.approx(flow.mean())  # val rows were left out
    assert train["flow"].mean() == pytest.approx(stats["mean"])

    ts.prepare(config(scaler="minmax"), raw_dir, tmp_path / "mm")
    stats = read_json(tmp_path / "mm" / "scaler.json")["columns"]["flow"]
    assert (stats["min"], stats["max"]) == (flow[:72].min(), flow[:72].max())


def rows_config(**overrides) -> CsvSeriesConfig:
    """A single-file dataset split by row counts (Informer/TSLib style) with borrowed context."""
    base = {
        "sources": [params()["sources"][0]],
        "split": {"method": "rows", "train": 20, "val": 10, "test": 10},
        "window": {"input_length": 4, "horizon": 2},
        "borrow_context": True,
    }
    return config(**{**base, **overrides})


def write_rows(raw: Path, times: pd.DatetimeIndex) -> None:
    raw.mkdir(exist_ok=True)
    write_csv(raw / "train.csv", times, np.arange(len(times)))


def test_rows_split_borrows_contiguous_context_and_keeps_targets_inside(tmp_path: Path) -> None:
    cfg = rows_config()
    write_rows(tmp_path / "raw", pd.date_range(START, periods=45, freq="h"))
    frames = ts.split_frames(cfg, tmp_path / "raw")
    assert [len(frames[s]) for s in ts.SPLITS] == [20, 10, 10]  # the last 5 rows are unused
    windows = ts.make_windows(frames, cfg.window, pd.Timedelta("1h"), cfg.borrow_context)
    assert [len(windows[s].starts) for s in ts.SPLITS] == [15, 9, 9]  # TSLib: n - L - H + 1
    for split in ("val", "test"):
        w = windows[split]
        assert w.context_rows == 4
        own = set(frames[split]["timestamp"])
        times = w.rows["timestamp"].to_numpy()
        targets = times[w.starts[:, None] + 4 + np.arange(2)]  # (W, H)
        assert all(pd.Timestamp(t) in own for t in targets.ravel())
    # the first val window reads the last 4 train rows and predicts the first 2 val rows
    val = windows["val"]
    assert list(val.rows["flow"].iloc[:4]) == [16, 17, 18, 19]
    assert val.starts[0] == 0

    dm = ts.ForecastDataModule(tmp_path / "out", cfg, batch_size=4, seed=0)
    ts.prepare(cfg, tmp_path / "raw", tmp_path / "out")
    x, y = next(iter(dm.val_dataloader()))
    assert dm.inverse_transform(x[0, :, 0]).round().tolist() == [16, 17, 18, 19]
    assert dm.inverse_transform(y[0, :, 0]).round().tolist() == [20, 21]


def test_borrowed_context_stops_at_a_gap(tmp_path: Path) -> None:
    cfg = rows_config()
    hours = np.r_[0:17, 19:22, 22:42]  # gap before train row 17: only 3 train rows touch val
    write_rows(tmp_path / "raw", pd.DatetimeIndex(START + pd.to_timedelta(hours, unit="h")))
    frames = ts.split_frames(cfg, tmp_path / "raw")
    val = ts.make_windows(frames, cfg.window, pd.Timedelta("1h"), True)["val"]
    assert val.context_rows == 3
    assert len(val.starts) == 8  # 13 contiguous rows, span 6
    first_target = val.rows["timestamp"].iloc[val.starts[0] + 4]
    assert first_target == frames["val"]["timestamp"].iloc[1]

    hours = np.r_[0:20, 23:43]  # val starts after a gap: nothing may be borrowed
    write_rows(tmp_path / "raw", pd.DatetimeIndex(START + pd.to_timedelta(hours, unit="h")))
    frames = ts.split_frames(cfg, tmp_path / "raw")
    val = ts.make_windows(frames, cfg.window, pd.Timedelta("1h"), True)["val"]
    assert (val.context_rows, len(val.starts)) == (0, 5)


def test_fractions_split_follows_tslib(tmp_path: Path) -> None:
    cfg = rows_config(split={"method": "fractions", "train": 0.7, "test": 0.2})
    write_rows(tmp_path / "raw", pd.date_range(START, periods=45, freq="h"))
    frames = ts.split_frames(cfg, tmp_path / "raw")
    assert [len(frames[s]) for s in ts.SPLITS] == [31, 5, 9]


def test_frequency_is_inferred_when_not_given(raw_dir: Path) -> None:
    cfg = config(frequency=None)
    assert ts.frequency(cfg, ts.split_frames(cfg, raw_dir)["train"]) == pd.Timedelta("1h")


MALFORMED = {
    "missing column": (
        lambda t: t.drop(columns=["Lane 1 Flow"]),
        r"train\.csv: missing column 'Lane 1 Flow'",
    ),
    "text in a number column": (
        lambda t: t.assign(
            **{"Lane 1 Flow": t["Lane 1 Flow"].astype(str).where(t.index != 3, "x")}
        ),
        r"train\.csv: line 5: not a number 'x' in column 'Lane 1 Flow'",
    ),
    "NaN": (
        lambda t: t.assign(**{"Lane 1 Flow": t["Lane 1 Flow"].astype(str).where(t.index != 6, "")}),
        r"train\.csv: line 8: missing value '' in column 'Lane 1 Flow'",
    ),
    "duplicate timestamp": (
        lambda t: t.assign(**{"5 Minutes": t["5 Minutes"].where(t.index != 2, t["5 Minutes"][1])}),
        r"train\.csv: line 4: duplicate timestamp 2016-01-04 01:00:00 \(first at line 3\)",
    ),
    "unparseable timestamp": (
        lambda t: t.assign(**{"5 Minutes": t["5 Minutes"].where(t.index != 9, "31/02/2016 1:00")}),
        r"train\.csv: line 11: unparseable timestamp '31/02/2016 1:00' in column '5 Minutes'",
    ),
    "out of order": (
        lambda t: t.iloc[[0, 1, 3, 2, *range(4, len(t))]],
        r"train\.csv: line 5: timestamp 2016-01-04 02:00:00 is earlier than the one before it",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_csv_raises_one_line_naming_file_and_line(raw_dir: Path, case: str) -> None:
    edit, message = MALFORMED[case]
    path = raw_dir / "train.csv"
    edit(pd.read_csv(path, encoding="utf-8-sig")).to_csv(path, index=False, encoding="utf-8-sig")
    with pytest.raises(ts.TimeSeriesDataError, match=message) as info:
        ts.split_frames(config(), raw_dir)
    assert "\n" not in str(info.value)


def test_prepare_stage_exits_1_with_one_error_line(raw_dir: Path, tmp_path: Path) -> None:
    path = raw_dir / "train.csv"
    text = path.read_text(encoding="utf-8-sig").splitlines()
    fields = text[4].split(",")
    text[4] = ",".join([fields[0], "oops", *fields[2:]])  # line 5, column "Lane 1 Flow"
    path.write_text("\n".join(text) + "\n", encoding="utf-8-sig")
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({"datasets": {"toy": params()}}))
    out = tmp_path / "processed"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines/prepare.py"),
            "toy",
            str(raw_dir),
            str(out),
            "--params",
            str(params_file),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "train.csv: line 5: not a number 'oops' in column 'Lane 1 Flow'" in errors[0]
    assert not out.exists()


def test_prepare_rejects_a_split_without_windows(raw_dir: Path, tmp_path: Path) -> None:
    cfg = config(window={"input_length": 20, "horizon": 5})  # val: one day of 24 rows
    with pytest.raises(ts.TimeSeriesDataError, match=r"split 'val' \(24 rows\) holds no window"):
        ts.prepare(cfg, raw_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.fixture
def prepared(raw_dir: Path, tmp_path: Path) -> Path:
    ts.prepare(config(), raw_dir, tmp_path / "processed")
    return tmp_path / "processed"


def test_datamodule_batches_have_window_shapes(prepared: Path) -> None:
    cfg = config(
        features=["observed", "flow"], targets=["flow"], window={"input_length": 6, "horizon": 3}
    )
    dm = ts.ForecastDataModule(prepared, cfg, batch_size=8, seed=0)
    assert (dm.input_features, dm.horizon, dm.input_length) == (2, 3, 6)
    assert dm.targets == ["flow"] and dm.target_indices == [1]
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 6, 2) and y.shape == (8, 3, 1)
    assert x.dtype == y.dtype == torch.float32
    x1, y1 = dm.dataset("test")[0]
    assert x1.shape == (6, 2) and y1.shape == (3, 1)
    assert len(dm.dataset("train")) == (48 - 8) + (24 - 8)


def test_inverse_transform_round_trips_to_original_values(prepared: Path) -> None:
    dm = ts.ForecastDataModule(prepared, config(), batch_size=1000, seed=0)
    x, y = next(iter(dm.test_dataloader()))
    flow = pd.read_parquet(prepared / "test.parquet")["flow"].to_numpy()
    starts = np.arange(44)  # one contiguous 48-row segment, span 5
    expected_y = flow[starts[:, None] + 3 + np.arange(2)]  # (W, H)
    assert torch.allclose(
        dm.inverse_transform(y)[..., 0], torch.tensor(expected_y).float(), atol=1e-4
    )
    assert torch.allclose(
        dm.inverse_transform(x)[..., 0],
        torch.tensor(flow[starts[:, None] + np.arange(3)]).float(),
        atol=1e-4,
    )
    stats = dm.scaler.stats["flow"]
    assert y.mean().item() == pytest.approx(
        (expected_y.mean() - stats["mean"]) / stats["std"], rel=1e-4
    )


def epoch_order(dm: ts.ForecastDataModule, epochs: int = 2) -> list[torch.Tensor]:
    loader = dm.train_dataloader()
    return [torch.cat([x[:, 0, 0] for x, _ in loader]) for _ in range(epochs)]


def test_seeded_shuffling_is_reproducible(prepared: Path) -> None:
    first = epoch_order(ts.ForecastDataModule(prepared, config(), batch_size=16, seed=7))
    again = epoch_order(ts.ForecastDataModule(prepared, config(), batch_size=16, seed=7))
    other = epoch_order(ts.ForecastDataModule(prepared, config(), batch_size=16, seed=8))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], first[1])  # a new order each epoch
    assert not torch.equal(first[0], other[0])
    assert torch.equal(first[0].sort().values, other[0].sort().values)  # same windows


def test_fraction_takes_a_subset_that_does_not_depend_on_the_run_seed(prepared: Path) -> None:
    def starts(seed: int, split: str = "train") -> np.ndarray:
        dm = ts.ForecastDataModule(prepared, config(), batch_size=4, seed=seed, fraction=0.25)
        return dm.dataset(split).starts.numpy()

    assert len(starts(1)) == 16  # 25% of 64
    assert (np.diff(starts(1)) > 0).all()
    full = ts.ForecastDataModule(prepared, config(), batch_size=4, seed=0).dataset("test")
    for split in ("train", "val", "test"):  # every seed evaluates on the same windows
        assert np.array_equal(starts(1, split), starts(2, split))
    assert 0 < len(starts(1, "test")) < len(full.starts)
    with pytest.raises(ts.TimeSeriesDataError, match="fraction"):
        ts.ForecastDataModule(prepared, config(), batch_size=4, seed=0, fraction=0.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"targets": ["flow", "observed"]},
            r"datasets\.toy\.targets: expected names among features",
        ),
        (
            {"features": ["speed"]},
            r"datasets\.toy\.features: expected distinct names among columns",
        ),
        (
            {"split": {"method": "rows", "train": 1}},
            r"datasets\.toy\.split\.val: expected a positive",
        ),
        ({"frequency": "often"}, r"datasets\.toy\.frequency: expected a positive pandas frequency"),
        ({"expected_rows": {"train+dev": 3}}, r"datasets\.toy\.expected_rows\.train\+dev"),
    ],
)
def test_config_errors_name_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**overrides)


def test_real_params_sections_build() -> None:
    from seqbench.data.kinds import dataset_config
    from seqbench.typed import load_params

    raw = load_params(ROOT / "params.yaml")
    pems, etth1 = dataset_config(raw, "pems"), dataset_config(raw, "etth1")
    assert isinstance(pems, CsvSeriesConfig) and isinstance(etth1, CsvSeriesConfig)
    assert (pems.window.input_length, pems.window.horizon) == (12, 1)
    assert (etth1.window.input_length, etth1.split.train) == (96, 8640)
    assert dataclasses.replace(etth1, features=etth1.value_columns).features[-1] == "OT"
