"""MLflow tracking for seqbench: runs that always end, provenance tags, epoch metrics, models.

Names are imported lazily, so a stage script that imports this package pays for MLflow (and
Lightning, for :class:`MLflowEpochLogger`) only when it actually tracks.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "runs": (
        "DEFAULT_TRACKING_URI",
        "RunTerminated",
        "artifact_location",
        "close_orphaned_runs",
        "configure",
        "find_runs",
        "flatten_params",
        "get_or_create_experiment",
        "log_params",
        "run",
    ),
    "provenance": ("dvc_md5", "git_commit", "git_dirty", "provenance_tags", "runtime_tags"),
    "artifacts": ("LengthPrefixed", "load_model", "log_dict", "log_figure", "log_model"),
    "callbacks": ("MLflowEpochLogger",),
    "datasets": ("log_datasets", "split_files"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
