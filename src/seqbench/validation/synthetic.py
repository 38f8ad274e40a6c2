"""The claims lab's expectation suite: counts, the adding problem's marks and sums, the copy
layout's symbols, and no example in two splits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seqbench.data.config import SyntheticConfig
from seqbench.data.synthetic import RECALL, SYMBOLS, example_keys

MARKS_FACT = "marks_one_per_half"  # first mark in [0, T/2), second in [T/2, T)
SUM_FACT = "target_is_the_marked_sum"
VALUES_FACT = "values_are_T_uniforms"  # T values, each in [0, 1)
SYMBOLS_FACT = "ten_symbols_in_1_to_8"
KEY = "example"  # the length and content of an example, for the cross-split uniqueness rule


def add_facts(cfg: SyntheticConfig, splits: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The splits with the fact columns the suite checks, and without the array columns."""
    out = {}
    for name, df in splits.items():
        facts = pd.DataFrame({"length": df["length"], KEY: example_keys(df, cfg.problem)})
        if cfg.problem == "adding":
            values = df["values"].map(np.asarray)
            half = df["length"] // 2
            facts[MARKS_FACT] = (
                (df["first"] >= 0)
                & (df["first"] < half)
                & (df["second"] >= half)
                & (df["second"] < df["length"])
            )
            marked = [
                float(v[a] + v[b]) if 0 <= a < len(v) and 0 <= b < len(v) else np.nan
                for v, a, b in zip(values, df["first"], df["second"], strict=True)
            ]
            facts[SUM_FACT] = np.isclose(df["target"], marked, atol=1e-5)
            facts[VALUES_FACT] = [
                len(v) == t and bool(((v >= 0) & (v < 1)).all())
                for v, t in zip(values, df["length"], strict=True)
            ]
            facts["target"] = df["target"]
        else:
            facts[SYMBOLS_FACT] = [
                len(s) == RECALL and bool(((s >= 1) & (s <= SYMBOLS)).all())
                for s in df["symbols"].map(np.asarray)
            ]
        out[name] = facts
    return out


def suite(cfg: SyntheticConfig) -> list:
    """The checks gating ``data/processed/<adding|copy>``; counts and the grid come from ``cfg``."""
    import great_expectations.expectations as gxe

    from seqbench.validation.core import Check

    checks = [
        Check(gxe.ExpectTableRowCountToEqual(value=rows * len(cfg.lengths)), split)
        for split, rows in cfg.sizes.items()
    ]
    checks.append(Check(gxe.ExpectColumnValuesToBeInSet(column="length", value_set=cfg.lengths)))
    facts = [MARKS_FACT, SUM_FACT, VALUES_FACT] if cfg.problem == "adding" else [SYMBOLS_FACT]
    checks += [Check(gxe.ExpectColumnValuesToBeInSet(column=f, value_set=[True])) for f in facts]
    if cfg.problem == "adding":
        checks.append(
            Check(gxe.ExpectColumnValuesToBeBetween(column="target", min_value=0, max_value=2))
        )
    checks.append(Check(gxe.ExpectColumnValuesToBeUnique(column=KEY)))  # over all splits
    return checks
