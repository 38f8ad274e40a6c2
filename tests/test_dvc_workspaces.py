"""DVC experiments run in temporary and queued workspaces (``.dvc/tmp/exps/...``): a fresh git
checkout of the commit plus DVC's cache. What a stage needs there must come from one of them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = {
    "key": "pems",
    "item": "lstm",
    "item.task": "pems",
    "item.arch": "lstm",
    "item.family": "lstm",
    "claims.gradients.task": "adding",
}


def dvc_yaml() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())


def outputs(stage: dict) -> list[tuple[str, dict]]:
    body = stage.get("do", stage)
    found = []
    for kind in ("outs", "metrics", "plots"):
        for entry in body.get(kind, []):
            path, opts = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
            found.append((re.sub(r"\$\{([^}]+)\}", lambda m: EXAMPLE[m.group(1)], path), opts))
    return found


def test_no_stage_output_is_both_uncached_and_ignored_by_git():
    # An uncached output reaches a temporary workspace only through git; an ignored one never
    # does, and every stage downstream of it fails there ("No such file or directory").
    for name, stage in dvc_yaml()["stages"].items():
        for path, opts in outputs(stage):
            if (opts or {}).get("cache", True) is False:
                ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", path])
                assert ignored.returncode == 1, f"{name}: {path} is cache: false and git-ignored"


def test_the_python_of_a_dvc_experiment_workspace_is_the_repositorys_venv(tmp_path):
    snippet = dvc_yaml()["vars"][0]["py"]
    repo = tmp_path / "repo"
    workspace = repo / ".dvc" / "tmp" / "exps" / "standalone" / "tmpab12"
    workspace.mkdir(parents=True)
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")
    (repo / ".venv" / "bin" / "python").chmod(0o755)

    def resolved(cwd: Path) -> str:
        done = subprocess.run(["sh", "-c", f"echo {snippet}"], cwd=cwd, capture_output=True)
        return done.stdout.decode().strip()

    assert resolved(workspace) == f"{repo}/.venv/bin/python"
    assert resolved(repo) == f"{repo}/.venv/bin/python"
    assert resolved(tmp_path) == "python"  # no venv: whichever python is active
