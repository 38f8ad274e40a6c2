"""The time-series GX suite: passes on good prepared data, names each broken expectation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_timeseries import TEST_DAYS, TRAIN_DAYS, config, day_times, write_csv

from seqbench.data import timeseries as ts
from seqbench.io import read_json
from seqbench.validation import csv_series as vts
from seqbench.validation.core import DataValidationError


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    write_csv(raw / "train.csv", day_times(TRAIN_DAYS), np.arange(96) % 40)
    write_csv(raw / "test.csv", day_times(TEST_DAYS), np.arange(48) % 30)
    ts.prepare(config(), raw, tmp_path / "processed")
    return tmp_path / "processed"


def test_facts_flag_off_grid_steps_overlap_and_infinities(prepared: Path) -> None:
    splits = {s: pd.read_parquet(prepared / f"{s}.parquet") for s in ts.SPLITS}
    good = vts.add_facts(config(), splits)
    for split in ts.SPLITS:
        assert good[split][[vts.STEP_FACT, vts.FINITE_FACT, vts.ORDER_FACT]].all().all()

    splits["train"].loc[5, "timestamp"] += pd.Timedelta("7min")  # off the hourly grid
    splits["val"].loc[0, "timestamp"] = splits["train"]["timestamp"].iloc[-2]  # inside train
    splits["test"]["flow"] = splits["test"]["flow"].astype(float)
    splits["test"].loc[3, "flow"] = np.inf
    bad = vts.add_facts(config(), splits)
    assert np.flatnonzero(~bad["train"][vts.STEP_FACT]).tolist() == [5, 6]
    assert np.flatnonzero(~bad["val"][vts.ORDER_FACT]).tolist() == [0]
    assert np.flatnonzero(~bad["test"][vts.FINITE_FACT]).tolist() == [3]


def test_suite_passes_on_good_data(prepared: Path, tmp_path: Path) -> None:
    summary = vts.validate("toy", config(), prepared, tmp_path / "report")
    assert summary["success"] is True
    assert read_json(tmp_path / "report" / "summary.json")["success"] is True
    checked = {(c["expectation"], c["column"], c["split"]) for c in summary["checks"]}
    assert ("expect_column_values_to_be_in_set", vts.STEP_FACT, "train") in checked
    assert ("expect_column_values_to_be_in_set", vts.ORDER_FACT, "test") in checked
    assert ("expect_column_values_to_be_between", "flow", "val") in checked
    counts = [c for c in summary["checks"] if c["expectation"] == "expect_table_row_count_to_equal"]
    assert sorted(c["observed"] for c in counts) == [48, 96]  # test; train+val
    assert (tmp_path / "report" / "data_docs" / "index.html").is_file()


def test_suite_names_every_broken_expectation(prepared: Path, tmp_path: Path) -> None:
    train = pd.read_parquet(prepared / "train.parquet")
    train.loc[4, "flow"] = -3  # below min_value
    train.loc[10, "timestamp"] += pd.Timedelta("7min")  # off the hourly grid
    train.to_parquet(prepared / "train.parquet", index=False)
    val = pd.read_parquet(prepared / "val.parquet")
    val.loc[0, "timestamp"] = train["timestamp"].iloc[-1]  # overlaps train
    val.iloc[:-1].to_parquet(prepared / "val.parquet", index=False)  # and one row short

    with pytest.raises(DataValidationError) as info:
        vts.validate("toy", config(), prepared, tmp_path / "report")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("toy: 5 expectation(s) failed")
    for broken in [
        "expect_column_values_to_be_between(flow) on train",
        f"expect_column_values_to_be_in_set({vts.STEP_FACT}) on train",
        f"expect_column_values_to_be_in_set({vts.ORDER_FACT}) on val",
        "expect_column_values_to_be_unique(timestamp) on all splits",
        "expect_table_row_count_to_equal",
    ]:
        assert broken in message
    summary = read_json(tmp_path / "report" / "summary.json")
    assert summary["success"] is False
    failed = [c for c in summary["checks"] if not c["success"]]
    assert any(c["observed"] == 95 for c in failed)  # train+val rows
