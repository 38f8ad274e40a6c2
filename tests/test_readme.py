"""The README's generated results section and the per-stage timing records behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqbench import stage
from seqbench.data.kinds import train_tasks
from seqbench.report.readme import (
    END,
    START,
    ReadmeError,
    comparison_body,
    group_of,
    pipeline_stages,
    read_timings,
    results_section,
    splice,
)

ROOT = Path(__file__).resolve().parents[1]

PARAMS = {
    "datasets": {"imdb": {"kind": "text_archive"}, "pems": {"kind": "csv_series"}},
    "tokenize": {"imdb": {}},
    "train": {
        "tasks": {"text": ["imdb"], "series": ["pems"]},
        "architectures": {"text": ["lstm", "gru"], "series": ["lstm", "gru"]},
    },
}

COMPARISON = """# Model comparison

Intro text.

## imdb

| Architecture | test/acc |
|---|---|
| **lstm** | 88.10 ± 0.20 |

- Ranked by `test/acc`.

![imdb: bars](figures/imdb-bars.png)

## pems

| Architecture | test/mae |
|---|---|
| gru | 7.10 ± 0.05 |
"""


def _write_timing(directory: Path, name: str, seconds: float, started: str = "2026-11-25T12:00:00"):
    machine = {"cpu": "Test CPU", "cpus": 2, "memory_gib": 24.0, "gpu": None, "system": "Linux 6"}
    machine["python"] = "3.11.7"
    directory.mkdir(parents=True, exist_ok=True)
    record = {"stage": name, "seconds": seconds, "started": started, "machine": machine}
    (directory / f"{name}.json").write_text(json.dumps(record))


def test_pipeline_stages_follow_params_in_run_order():
    stages = pipeline_stages(PARAMS)
    assert stages[:3] == ["fetch@imdb", "fetch@pems", "prepare@imdb"]
    assert "tokenize@imdb" in stages
    assert stages.index("tune_series@pems-gru") < stages.index("train_text@imdb-lstm")
    assert stages[-2:] == ["compare", "register"]
    assert len(stages) == 6 + 1 + 4 + 4 + 2


def test_group_of_splits_matrix_stages_by_task():
    tasks = ["imdb", "pems"]
    assert group_of("tune_text@imdb-lstm", tasks) == "tune imdb"
    assert group_of("train_series@pems-gru", tasks) == "train pems"
    assert group_of("fetch@pems", tasks) == "fetch"
    assert group_of("compare", tasks) == "compare"


def test_results_section_sums_timings_and_counts_missing(tmp_path):
    stages = pipeline_stages(PARAMS)
    runs = [("train_text@imdb-lstm", 600), ("train_text@imdb-gru", 300), ("compare", 65)]
    for name, seconds in runs:
        _write_timing(tmp_path, name, seconds)
    timings = read_timings(tmp_path, stages)
    section = results_section(COMPARISON, timings, stages, train_tasks(PARAMS))
    assert "| train imdb | 2 | 15 min 00 s |" in section
    assert "| compare | 1 | 1 min 05 s |" in section
    assert "| **total** | 3 | **16 min 05 s** |" in section
    assert f"{len(stages) - 3} of {len(stages)} stages left no timing record" in section
    assert "Test CPU (2 logical CPUs, 24 GiB RAM, no GPU)" in section


def test_the_claims_lab_is_one_group_and_its_verdicts_reach_the_readme(tmp_path):
    params = {
        **PARAMS,
        "claims": {"tasks": ["adding", "copy"], "families": ["rnn", "lstm"]},
        "learning": {"tasks": ["pems"], "architectures": ["lstm", "transformer"]},
        "text_lengths": {"tasks": ["imdb"], "architectures": ["gru"]},
    }
    stages = pipeline_stages(params)
    lab = [s for s in stages if s.startswith("claims_")]
    assert lab == [
        *(f"claims_train@{t}-{f}" for t in ("adding", "copy") for f in ("rnn", "lstm")),
        "claims_gradients@rnn",
        "claims_gradients@lstm",
        "claims_cost@rnn",
        "claims_cost@lstm",
        "claims_learning@pems-lstm",
        "claims_learning@pems-transformer",
        "claims_lengths@imdb-gru",
        "claims_report",
    ]
    _write_timing(tmp_path, "claims_train@adding-rnn", 90)
    _write_timing(tmp_path, "claims_report", 30)
    claims = (
        "# Claims lab\n\n| seed's row | family | claim | verdict | figure | from |\n"
        "|---|---|---|---|---|---|\n"
        "| disadvantages | rnn | Limited memory span | **holds** | "
        "[adding against T](claims/figures/claims-adding.png) | [runs](../metrics/claims) |\n"
        "\n## adding\n| x |\n"
    )
    section = results_section(
        COMPARISON, read_timings(tmp_path, stages), stages, train_tasks(params), claims_md=claims
    )
    assert "| claims | 2 | 2 min 00 s |" in section  # the timed stages
    # the table's links, relative to reports/claims.md, now point from the project root
    assert (
        "| disadvantages | rnn | Limited memory span | **holds** | "
        "[adding against T](reports/claims/figures/claims-adding.png) | "
        "[runs](metrics/claims) |" in section
    )
    assert "| x |" not in section and "[reports/claims.md](reports/claims.md)" in section


def test_comparison_body_keeps_tables_and_drops_figures():
    body = comparison_body(COMPARISON, link_prefix="reports/")
    assert body.startswith("### imdb")
    assert "### pems" in body
    assert "| **lstm** | 88.10 ± 0.20 |" in body
    assert "![" not in body and "Intro text" not in body


def test_comparison_without_task_sections_is_an_error():
    with pytest.raises(ReadmeError, match="no '## <task>' section"):
        comparison_body("# Model comparison\n\nnothing\n", link_prefix="")


def test_splice_replaces_only_between_markers():
    readme = f"# title\n\nintro\n{START}\nold\n{END}\n\n## After\ntext\n"
    once = splice(readme, "new section")
    assert once == f"# title\n\nintro\n{START}\nnew section\n{END}\n\n## After\ntext\n"
    assert splice(once, "new section") == once  # idempotent


@pytest.mark.parametrize("text", ["no markers", f"{END}\n{START}\n", f"{START} only"])
def test_splice_without_markers_names_the_file(text):
    with pytest.raises(ReadmeError, match=r"docs/README.md: expected the markers"):
        splice(text, "x", "docs/README.md")


def test_record_timing_writes_machine_and_duration(tmp_path):
    stage.record_timing("train_text@imdb-lstm", 1_700_000_000.0, 12.345, tmp_path)
    record = json.loads((tmp_path / "train_text@imdb-lstm.json").read_text())
    assert record["stage"] == "train_text@imdb-lstm"
    assert record["seconds"] == 12.35
    assert record["started"] == "2023-11-14T22:13:20+00:00"
    assert record["machine"]["cpus"] == os.cpu_count()


def _readme_stage(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "readme.py"),
            "reports/comparison.md",
            "reports/timings",
            "reports/results.md",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "DVC_STAGE": "readme"},
    )


def test_readme_stage_updates_readme_and_records_its_own_timing(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "comparison.md").write_text(COMPARISON)
    _write_timing(tmp_path / "reports" / "timings", "train_series@pems-gru", 90)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**PARAMS, "readme": {"file": "R.md"}}))
    (tmp_path / "R.md").write_text(f"# x\n{START}\nold\n{END}\nkept\n")
    done = _readme_stage(tmp_path)
    assert done.returncode == 0, done.stderr
    readme = (tmp_path / "R.md").read_text()
    assert "| train pems | 1 | 1 min 30 s |" in readme and readme.endswith(f"{END}\nkept\n")
    assert (tmp_path / "reports" / "results.md").read_text().strip() in readme
    assert (tmp_path / "reports" / "timings" / "readme.json").is_file()


def test_readme_stage_with_file_null_leaves_readme_alone(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "comparison.md").write_text(COMPARISON)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**PARAMS, "readme": {"file": None}}))
    (tmp_path / "README.md").write_text("untouched\n")
    done = _readme_stage(tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "README.md").read_text() == "untouched\n"
    assert "### imdb" in (tmp_path / "reports" / "results.md").read_text()


def test_readme_stage_without_markers_fails_in_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "comparison.md").write_text(COMPARISON)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**PARAMS, "readme": {"file": "R.md"}}))
    (tmp_path / "R.md").write_text("# no markers\n")
    done = _readme_stage(tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: R.md: expected the markers {START} and then {END}"
    assert not (tmp_path / "reports" / "results.md").exists()
    assert not (tmp_path / "reports" / "timings").exists()
