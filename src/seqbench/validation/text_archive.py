"""The IMDB expectation suite: counts, labels, balance, rating/label agreement, text, keys."""

from __future__ import annotations

from seqbench.data.config import TextArchiveConfig
from seqbench.validation.core import Check

COLUMNS = ["id", "rating", "label", "text"]
NEG_RATINGS = [1, 2, 3, 4]
POS_RATINGS = [7, 8, 9, 10]


def suite(cfg: TextArchiveConfig) -> list[Check]:
    """The checks gating ``data/processed/imdb``; every threshold comes from ``cfg``."""
    import great_expectations.expectations as gxe

    low, high = 0.5 - cfg.balance_tolerance, 0.5 + cfg.balance_tolerance
    checks: list[Check] = []
    for split, rows in cfg.expected_rows.items():
        checks += [
            Check(gxe.ExpectTableColumnsToMatchOrderedList(column_list=COLUMNS), split),
            Check(gxe.ExpectTableRowCountToEqual(value=rows), split),
            # the share of positive reviews: balanced classes within the tolerance
            Check(
                gxe.ExpectColumnMeanToBeBetween(column="label", min_value=low, max_value=high),
                split,
            ),
        ]
    checks += [
        Check(gxe.ExpectColumnValuesToBeOfType(column=c, type_="int64")) for c in COLUMNS[:3]
    ]
    checks += [Check(gxe.ExpectColumnValuesToNotBeNull(column=c)) for c in COLUMNS]
    checks += [
        Check(gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1])),
        Check(gxe.ExpectColumnValuesToBeBetween(column="id", min_value=0)),
        Check(
            gxe.ExpectColumnValuesToBeInSet(
                column="rating",
                value_set=NEG_RATINGS,
                row_condition="label==0",
                condition_parser="pandas",
            )
        ),
        Check(
            gxe.ExpectColumnValuesToBeInSet(
                column="rating",
                value_set=POS_RATINGS,
                row_condition="label==1",
                condition_parser="pandas",
            )
        ),
        Check(gxe.ExpectColumnValuesToNotMatchRegex(column="text", regex=r"^\s*$")),
        Check(gxe.ExpectCompoundColumnsToBeUnique(column_list=["split", "label", "id"])),
    ]
    return checks
