"""Run Great Expectations suites defined in code over data splits and gate downstream stages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from seqbench.errors import SeqbenchError
from seqbench.io import atomic_path, file_sha256, read_json, write_json
from seqbench.typed import plain

SUMMARY_FILE = "summary.json"
DOCS_DIR = "data_docs"
ALL_SPLITS = "all"  # asset name of the concatenated splits, for checks with split=None
_MAX_EXAMPLES = 3

# GX logs its own plumbing at INFO when imported; stage scripts log at INFO.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


class DataValidationError(SeqbenchError):
    """The data broke one or more expectations, or its validation report is missing or failed."""


@dataclass(frozen=True)
class Check:
    """One expectation evaluated on one split, or (``split=None``) on all splits concatenated.

    The concatenated frame carries an extra ``split`` column, so cross-split rules (such as a key
    unique over ``(split, label, id)``) are ordinary GX expectations.
    """

    expectation: Any  # great_expectations.expectations.Expectation (kept lazy: GX imports slowly)
    split: str | None = None


def validate_frames(
    suite_name: str,
    frames: dict[str, pd.DataFrame],
    checks: list[Check],
    report_dir: Path,
    *,
    source_dir: Path | None = None,
    run_name: str | None = None,
) -> dict:
    """Validate ``frames`` against ``checks``, write the report, and return its summary.

    The report (``summary.json`` plus GX Data Docs under ``data_docs/``) replaces ``report_dir``
    atomically. It is written before :class:`DataValidationError` is raised, so a failed run can
    be inspected in the browser. With ``source_dir`` (the folder ``frames`` were read from) the
    summary records each file's sha256, and :func:`require_passed` accepts the report only
    while those files are unchanged: a later failed or partial prepare leaves no passing gate.
    ``run_name`` names the validation runs in the Data Docs (the stage and commit).
    """
    report_dir = Path(report_dir)
    unknown = sorted({c.split for c in checks if c.split is not None} - set(frames))
    if unknown:
        raise DataValidationError(
            f"{suite_name}: check on unknown split {unknown[0]!r}; "
            f"expected one of {', '.join(frames)}"
        )
    with atomic_path(report_dir) as staged:
        staged.mkdir(parents=True)
        rows = _run_gx(suite_name, frames, checks, staged / DOCS_DIR, run_name)
        summary = {
            "suite": suite_name,
            "success": all(r["success"] for r in rows),
            "splits": {name: len(df) for name, df in frames.items()},
            "checks": rows,
        }
        if source_dir is not None:
            summary["data"] = {
                "dir": Path(source_dir).as_posix(),
                "sha256": data_digests(source_dir),
            }
        write_json(staged / SUMMARY_FILE, summary)
    if not summary["success"]:
        raise DataValidationError(failure_message(summary))
    return summary


def failure_message(summary: dict) -> str:
    """The one-line error: ``<suite>: N expectation(s) failed: <name>(<column>) on <split>: ...``"""
    failed = [c for c in summary["checks"] if not c["success"]]
    parts = []
    for c in failed:
        where = f" where {c['condition']}" if c.get("condition") else ""
        column = f"({c['column'] or ''}{where})" if c["column"] or where else ""
        parts.append(f"{c['expectation']}{column} on {c['split'] or 'all splits'}: {c['observed']}")
    return f"{summary['suite']}: {len(failed)} expectation(s) failed: " + "; ".join(parts)


def data_digests(directory: str | Path) -> dict[str, str]:
    """sha256 of every file directly in ``directory``, by name."""
    return {p.name: file_sha256(p) for p in sorted(Path(directory).iterdir()) if p.is_file()}


def require_passed(report_dir: str | Path) -> dict:
    """Return the validation summary in ``report_dir``; raise unless it exists, passed, and the
    data it validated (when it recorded them) is still the data on disk."""
    path = Path(report_dir) / SUMMARY_FILE
    if not path.is_file():
        raise DataValidationError(f"{path}: missing; run the validate stage for this dataset first")
    try:
        summary = read_json(path)
    except ValueError as exc:
        raise DataValidationError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(summary, dict) or summary.get("success") is not True:
        failed = (
            sum(1 for c in summary.get("checks", []) if not c.get("success"))
            if isinstance(summary, dict)
            else "?"
        )
        raise DataValidationError(
            f"{path}: data validation did not pass ({failed} expectation(s) failed); "
            "fix the data and re-run the validate stage"
        )
    data = summary.get("data")
    if isinstance(data, dict):
        directory = Path(data["dir"])
        now = data_digests(directory) if directory.is_dir() else {}
        changed = sorted(n for n, d in data["sha256"].items() if now.get(n) != d)
        if changed:
            raise DataValidationError(
                f"{path}: validated {directory / changed[0]}, which is missing or has changed "
                "since; re-run the prepare and validate stages"
            )
    return summary


def _context(docs_dir: Path) -> Any:
    """An ephemeral GX context whose only Data Docs site is the folder ``docs_dir``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars={"globally": False, "metric_calculations": False},
        analytics_enabled=False,
        data_docs_sites={
            "local": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),  # GX needs it absolute
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _run_gx(
    suite_name: str,
    frames: dict[str, pd.DataFrame],
    checks: list[Check],
    docs_dir: Path,
    run_name: str | None = None,
) -> list[dict]:
    """Validate each split (and the concatenation) as one GX batch; return one row per check."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context(docs_dir)
    source = context.data_sources.add_pandas(suite_name)
    targets = [*frames, ALL_SPLITS] if any(c.split is None for c in checks) else list(frames)
    results: dict[int, dict] = {}
    for target in targets:
        mine = [(i, c) for i, c in enumerate(checks) if (c.split or ALL_SPLITS) == target]
        if not mine:
            continue
        suite = context.suites.add(gx.ExpectationSuite(name=f"{suite_name}.{target}"))
        by_id: dict[str, list[int]] = {}
        for i, check in mine:
            added = suite.add_expectation(check.expectation.copy(update={"id": None}))
            by_id.setdefault(str(added.id), []).append(i)
        batch = source.add_dataframe_asset(target).add_batch_definition_whole_dataframe(target)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite_name}.{target}", data=batch, suite=suite)
        )
        frame = _concat(frames) if target == ALL_SPLITS else frames[target]
        outcome = definition.run(
            batch_parameters={"dataframe": frame},
            result_format="SUMMARY",
            run_id=RunIdentifier(run_name=run_name or f"validate@{suite_name}"),
        )
        for result in outcome.results:
            for i in by_id.get(str(result.expectation_config.id), []):
                results[i] = _row(checks[i], result)
    context.build_data_docs()
    missing = [i for i in range(len(checks)) if i not in results]
    if missing:
        raise DataValidationError(
            f"{suite_name}: GX returned no result for {_name(checks[missing[0]].expectation)}"
        )
    return [results[i] for i in range(len(checks))]


def _concat(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(
        [df.assign(split=name) for name, df in frames.items()], ignore_index=True, sort=False
    )


def _name(expectation: Any) -> str:
    return str(expectation.expectation_type)


def _column(expectation: Any) -> str | None:
    for key in ("column", "column_list", "column_A"):
        value = getattr(expectation, key, None)
        if value is None:
            continue
        if key == "column_A":
            return f"{value},{expectation.column_B}"
        return ",".join(value) if isinstance(value, list | tuple) else str(value)
    return None


def _condition(expectation: Any) -> str | None:
    condition = getattr(expectation, "row_condition", None)
    if not condition:
        return None
    return str(getattr(condition, "pass_through_filter", None) or condition)  # GX wraps strings


def _row(check: Check, result: Any) -> dict:
    return {
        "expectation": _name(check.expectation),
        "split": check.split,
        "column": _column(check.expectation),
        "condition": _condition(check.expectation),
        "success": bool(result.success),
        "observed": _observed(result),
    }


def _observed(result: Any) -> Any:
    """A short JSON-safe description of what GX saw (an observed value or unexpected examples)."""
    info = result.result or {}
    if result.exception_info and result.exception_info.get("raised_exception"):
        message = str(result.exception_info.get("exception_message") or "exception")
        return f"error: {message.splitlines()[0] if message else message}"
    if "observed_value" in info:
        return plain(info["observed_value"])
    if "unexpected_count" in info:
        count = info["unexpected_count"]
        if not count:
            return "0 unexpected"
        examples = [_short(v) for v in plain(list(info.get("partial_unexpected_list") or []))][
            :_MAX_EXAMPLES
        ]
        return f"{count} unexpected of {info.get('element_count')}, e.g. {examples}"
    return plain(info) if info else None


def _short(value: Any, limit: int = 40) -> Any:
    """Shorten long strings (review texts) so the one-line error stays readable."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 3] + "..."
    return value
