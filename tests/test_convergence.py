"""Time to a common validation target, from the main run's curves and timings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from seqbench.claims.convergence import time_to_target


def write_row(root: Path, arch: str, curves: dict[int, list[float]], spe: dict[int, float]):
    rows = [
        {"seed": seed, "epoch": e, "val/mae": v}
        for seed, values in curves.items()
        for e, v in enumerate(values)
    ]
    (root / "curves").mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(root / "curves" / f"pems-{arch}.csv", index=False)
    timing = {"seeds": {f"s{s}": {"seconds_per_epoch": t} for s, t in spe.items()}}
    (root / "metrics" / "timing").mkdir(parents=True, exist_ok=True)
    (root / "metrics" / "timing" / f"pems-{arch}.json").write_text(json.dumps(timing))


def test_the_target_is_the_worst_best_mean_and_times_count_epochs_from_one(tmp_path) -> None:
    # lstm's mean curve bottoms at 8.0, gru's at 7.0: the common target is 8.0 (lower is better)
    write_row(tmp_path, "lstm", {0: [9.0, 8.0, 8.5], 1: [9.0, 8.0, 8.2]}, {0: 2.0, 1: 4.0})
    write_row(tmp_path, "gru", {0: [8.5, 7.9, 7.0], 1: [10.0, 9.0, 7.0]}, {0: 1.0, 1: 1.0})
    write_row(tmp_path, "rnn", {0: [9.9, 9.9, 9.9]}, {0: 1.0})  # never reaches 8.0 ...
    found = time_to_target(
        "pems", ["lstm", "gru"], "val/mae", "min", tmp_path / "curves", tmp_path / "metrics"
    )
    assert found is not None and found.target == pytest.approx(8.0)
    assert found.epochs == {"lstm": 2.0, "gru": pytest.approx(2.5)}  # epoch 1 (→2) and 2 (→3)
    assert found.seconds == {"lstm": pytest.approx((2 * 2.0 + 2 * 4.0) / 2), "gru": 2.5}
    assert found.reached == {"lstm": (2, 2), "gru": (2, 2)}
    three = time_to_target(
        "pems", ["lstm", "gru", "rnn"], "val/mae", "min", tmp_path / "curves", tmp_path / "metrics"
    )
    assert three.target == pytest.approx(9.9)  # ... so the common target is its best
    assert math.isfinite(three.seconds["rnn"]) and three.epochs["rnn"] == 1.0
    write_row(tmp_path, "gru", {0: [8.5, 7.9, 7.0], 1: [10.0, 10.0, 10.0]}, {0: 1.0, 1: 1.0})
    one_of_two = time_to_target(
        "pems", ["lstm", "gru"], "val/mae", "min", tmp_path / "curves", tmp_path / "metrics"
    )
    assert one_of_two.target == pytest.approx(8.5)  # gru's mean curve now bottoms at 8.5
    assert one_of_two.reached["gru"] == (1, 2) and one_of_two.epochs["gru"] == 1.0
    none = time_to_target("pems", ["lstm"], "val/mae", "min", tmp_path / "curves", tmp_path)
    assert none is None  # one row: nothing to compare
