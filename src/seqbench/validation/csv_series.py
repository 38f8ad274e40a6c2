"""Great Expectations suite for prepared forecasting datasets (PeMS, ETT, ...), defined in code.

GX has no expectation for "constant frequency inside each segment", "finite" or "later than the
previous split", so :func:`add_facts` computes those facts as boolean columns and the suite checks
them with standard expectations; they appear in the GX report like any other check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqbench.data.config import CsvSeriesConfig
from seqbench.data.timeseries import SPLITS, TIMESTAMP, frequency
from seqbench.io import load_splits
from seqbench.validation.core import Check, validate_frames

STEP_FACT = "step_in_whole_periods"  # the step from the previous row is a positive multiple of
# the frequency: exactly one period inside a segment, several across a gap, never off the grid
FINITE_FACT = "values_finite"  # every value column of the row is finite
ORDER_FACT = "after_previous_split"  # later than every timestamp of the previous split
NUMERIC_TYPES = ["int64", "int32", "float64", "float32", "Int64", "Float64"]
DATETIME_TYPES = ["datetime64", "datetime64[ns]", "datetime64[us]", "Timestamp"]


def add_facts(cfg: CsvSeriesConfig, splits: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The prepared ``splits`` with the fact columns the suite checks added."""
    step = frequency(cfg, splits["train"])
    previous_last = None
    out = {}
    for name in SPLITS:
        df = splits[name].copy()
        times = df[TIMESTAMP]
        gaps = times.diff().iloc[1:]
        whole = (gaps > pd.Timedelta(0)) & (gaps % step == pd.Timedelta(0))
        df[STEP_FACT] = np.concatenate([[True], whole.to_numpy(dtype=bool)])
        values = df[[c for c in cfg.value_columns if c in df.columns]]
        numeric = values.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        df[FINITE_FACT] = np.isfinite(numeric).all(axis=1)
        df[ORDER_FACT] = (times > previous_last).to_numpy() if previous_last is not None else True
        if len(times):
            previous_last = times.max()
        out[name] = df
    return out


def suite(cfg: CsvSeriesConfig) -> list[Check]:
    """Expectations every prepared time-series dataset must meet (bounds and counts from params)."""
    from great_expectations import expectations as E

    checks: list[Check] = []
    for split in SPLITS:
        checks += [
            Check(
                E.ExpectTableColumnsToMatchSet(
                    column_set=[TIMESTAMP, *cfg.value_columns], exact_match=False
                ),
                split,
            ),
            Check(E.ExpectColumnValuesToNotBeNull(column=TIMESTAMP), split),
            Check(
                E.ExpectColumnValuesToBeInTypeList(column=TIMESTAMP, type_list=DATETIME_TYPES),
                split,
            ),
            Check(E.ExpectColumnValuesToBeIncreasing(column=TIMESTAMP, strictly=True), split),
            Check(E.ExpectColumnValuesToBeInSet(column=STEP_FACT, value_set=[True]), split),
            Check(E.ExpectColumnValuesToBeInSet(column=FINITE_FACT, value_set=[True]), split),
        ]
        for column in cfg.value_columns:
            checks += [
                Check(E.ExpectColumnValuesToNotBeNull(column=column), split),
                Check(
                    E.ExpectColumnValuesToBeInTypeList(column=column, type_list=NUMERIC_TYPES),
                    split,
                ),
            ]
            low, high = cfg.min_value.get(column), cfg.max_value.get(column)
            if low is not None or high is not None:
                checks.append(
                    Check(
                        E.ExpectColumnValuesToBeBetween(
                            column=column, min_value=low, max_value=high
                        ),
                        split,
                    )
                )
        if split != SPLITS[0]:
            checks.append(
                Check(E.ExpectColumnValuesToBeInSet(column=ORDER_FACT, value_set=[True]), split)
            )
    checks.append(Check(E.ExpectColumnValuesToBeUnique(column=TIMESTAMP)))  # no overlap
    for key, count in cfg.expected_rows.items():
        group = key.split("+")
        if len(group) == 1:
            checks.append(Check(E.ExpectTableRowCountToEqual(value=count), key))
        else:
            checks.append(
                Check(
                    E.ExpectTableRowCountToEqual(
                        value=count, row_condition=f"split in {group!r}", condition_parser="pandas"
                    )
                )
            )
    return checks


def validate(name: str, cfg: CsvSeriesConfig, processed_dir: Path, report_dir: Path) -> dict:
    """Run :func:`suite` on the prepared splits of dataset ``name``; write the report."""
    frames = add_facts(cfg, load_splits(processed_dir))
    return validate_frames(name, frames, suite(cfg), Path(report_dir))
