"""validate@imdb: the GX core (report, one-line failure, gate) and the IMDB suite."""

import json
import subprocess
import sys
from pathlib import Path

import great_expectations.expectations as gxe
import pandas as pd
import pytest
import yaml
from conftest import IMDB_PARAMS

from seqbench.io import load_splits
from seqbench.validation.core import (
    Check,
    DataValidationError,
    require_passed,
    validate_frames,
)
from seqbench.validation.text_archive import suite

ROOT = Path(__file__).resolve().parents[1]


def _frames() -> dict[str, pd.DataFrame]:
    return {
        "train": pd.DataFrame({"id": [0, 1, 2], "label": [0, 1, 1]}),
        "test": pd.DataFrame({"id": [0, 1], "label": [0, 1]}),
    }


def test_core_writes_summary_and_data_docs_and_returns_summary(tmp_path):
    checks = [
        Check(gxe.ExpectTableRowCountToEqual(value=3), "train"),
        Check(gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1])),
        Check(gxe.ExpectCompoundColumnsToBeUnique(column_list=["split", "id"])),
    ]
    summary = validate_frames("toy", _frames(), checks, tmp_path / "report")
    assert summary["success"] is True
    assert [(c["expectation"], c["split"], c["column"]) for c in summary["checks"]] == [
        ("expect_table_row_count_to_equal", "train", None),
        ("expect_column_values_to_be_in_set", None, "label"),
        ("expect_compound_columns_to_be_unique", None, "split,id"),
    ]
    assert summary["checks"][0]["observed"] == 3
    on_disk = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert on_disk == summary
    docs = tmp_path / "report" / "data_docs"
    assert (docs / "index.html").is_file()
    assert list(docs.glob("validations/toy/train/**/*.html"))
    assert require_passed(tmp_path / "report") == summary


def test_core_failure_is_one_line_listing_each_broken_expectation(tmp_path):
    checks = [
        Check(gxe.ExpectTableRowCountToEqual(value=5), "test"),
        Check(gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0])),
        Check(gxe.ExpectColumnValuesToBeBetween(column="id", min_value=0), "train"),
    ]
    with pytest.raises(DataValidationError) as err:
        validate_frames("toy", _frames(), checks, tmp_path / "report")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("toy: 2 expectation(s) failed: ")
    assert "expect_table_row_count_to_equal on test: 2" in message
    assert "expect_column_values_to_be_in_set(label) on all splits: 3 unexpected of 5" in message
    assert "between" not in message
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())  # written anyway
    assert summary["success"] is False
    assert [c["success"] for c in summary["checks"]] == [False, False, True]
    with pytest.raises(DataValidationError, match=r"did not pass \(2 expectation\(s\) failed\)"):
        require_passed(tmp_path / "report")


def test_core_rejects_a_check_on_an_unknown_split(tmp_path):
    with pytest.raises(DataValidationError, match="unknown split 'val'"):
        validate_frames(
            "toy",
            _frames(),
            [Check(gxe.ExpectTableRowCountToEqual(value=1), "val")],
            tmp_path / "report",
        )
    assert not (tmp_path / "report").exists()


def test_require_passed_refuses_missing_or_broken_reports(tmp_path):
    with pytest.raises(DataValidationError, match=r"summary\.json: missing"):
        require_passed(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(DataValidationError, match="not valid JSON"):
        require_passed(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps({"success": "yes", "checks": []}))
    with pytest.raises(DataValidationError, match="did not pass"):
        require_passed(tmp_path)


@pytest.fixture
def imdb_frames(imdb_processed) -> dict[str, pd.DataFrame]:
    return load_splits(imdb_processed)


def test_imdb_suite_passes_on_good_data(tmp_path, imdb_cfg, imdb_frames):
    summary = validate_frames("imdb", imdb_frames, suite(imdb_cfg), tmp_path / "report")
    assert summary["success"] and len(summary["checks"]) >= 15
    assert summary["splits"] == {"train": 36, "val": 4, "test": 40}


def _set(frame: pd.DataFrame, label: int, column: str, value) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[frame.label == label][0], column] = value
    return frame


def test_imdb_suite_names_each_broken_expectation(tmp_path, imdb_cfg, imdb_frames):
    train = _set(imdb_frames["train"], 1, "label", 2).astype({"id": "float64"})
    val = _set(_set(imdb_frames["val"], 0, "rating", 9), 1, "text", "  ")
    test = _set(imdb_frames["test"], 1, "rating", 5)
    test = pd.concat([test, test.iloc[:1]], ignore_index=True)  # a duplicate id, one row too many
    with pytest.raises(DataValidationError) as err:
        validate_frames(
            "imdb", {"train": train, "val": val, "test": test}, suite(imdb_cfg), tmp_path / "r"
        )
    message = str(err.value)
    assert "\n" not in message
    expected = [
        "expect_table_row_count_to_equal on test: 41",
        "expect_column_mean_to_be_between(label) on train: 0.527",  # 19/36: unbalanced
        "expect_column_values_to_be_of_type(id) on all splits: float64",
        "expect_column_values_to_be_in_set(label) on all splits: 1 unexpected of 81, e.g. [2]",
        "expect_column_values_to_be_in_set(rating where label==0) on all splits: 1 unexpected "
        "of 41, e.g. [9]",  # 41 negatives: the duplicate is one
        "expect_column_values_to_be_in_set(rating where label==1) on all splits: 1 unexpected "
        "of 39, e.g. [5]",  # 39 positives: one became label 2
        "expect_column_values_to_not_match_regex(text) on all splits: 1 unexpected of 81",
        "expect_compound_columns_to_be_unique(split,label,id) on all splits: 2 unexpected",
    ]
    assert message.startswith(f"imdb: {len(expected)} expectation(s) failed: ")
    for part in expected:
        assert part in message


def _stage(tmp_path: Path, processed: Path) -> subprocess.CompletedProcess:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"datasets": {"imdb": IMDB_PARAMS}}))
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "validate.py"),
            "imdb",
            str(processed),
            str(tmp_path / "report"),
            "--params",
            str(params),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )


def test_stage_script_passes_then_fails_with_one_error_line(tmp_path, imdb_processed):
    done = _stage(tmp_path, imdb_processed)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["success"] is True
    frame = pd.read_parquet(imdb_processed / "val.parquet")
    frame.loc[0, "label"] = 3
    frame.to_parquet(imdb_processed / "val.parquet", index=False)
    failed = _stage(tmp_path, imdb_processed)
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1
    assert failed.stderr.startswith("error: imdb: ")
    assert "expect_column_values_to_be_in_set(label)" in failed.stderr
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["success"] is False


def test_a_passing_gate_stops_passing_when_the_data_it_validated_changes(tmp_path, imdb_processed):
    from seqbench.validation.core import require_passed

    done = _stage(tmp_path, imdb_processed)
    assert done.returncode == 0, done.stderr
    summary = require_passed(tmp_path / "report")
    assert set(summary["data"]["sha256"]) == {"train.parquet", "val.parquet", "test.parquet"}
    # a later prepare that fails leaves no (or other) data behind: the old report must not pass
    (imdb_processed / "test.parquet").unlink()
    with pytest.raises(DataValidationError, match=r"validated .*test\.parquet, which is missing"):
        require_passed(tmp_path / "report")
    pd.DataFrame({"x": [1]}).to_parquet(imdb_processed / "test.parquet")
    with pytest.raises(DataValidationError, match="re-run the prepare and validate stages"):
        require_passed(tmp_path / "report")
