"""Profiles run in a copy of the checkout (make smoke) and leave the checkout untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqbench.profiles import WORKSPACE_MARK, make_workspace
from seqbench.typed import ConfigError


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    return done.stdout.decode()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    (repo / ".gitignore").write_text(".smoke/\nignored.txt\n")
    for name in ("params.yaml", "kept.txt", "gone.txt"):
        (repo / name).write_text(f"{name} committed\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    (repo / "kept.txt").write_text("kept.txt changed in the working tree\n")
    (repo / "gone.txt").unlink()
    (repo / "new.txt").write_text("not yet added\n")
    (repo / "ignored.txt").write_text("ignored\n")
    return repo


def test_the_workspace_has_the_working_changes_and_the_checkout_stays_as_it_was(checkout):
    before = git(checkout, "status", "--porcelain"), git(checkout, "diff", "--cached")
    copy = make_workspace(checkout, checkout / ".smoke")
    assert (copy / "kept.txt").read_text() == "kept.txt changed in the working tree\n"
    assert (copy / "new.txt").is_file() and not (copy / "gone.txt").exists()
    assert not (copy / "ignored.txt").exists()
    assert git(copy, "rev-parse", "HEAD") == git(checkout, "rev-parse", "HEAD")
    # what a run does in the copy (rewrite results, stage them) never reaches the checkout
    (copy / "kept.txt").write_text("rewritten by the run\n")
    git(copy, "add", "kept.txt")
    assert (git(checkout, "status", "--porcelain"), git(checkout, "diff", "--cached")) == before
    assert make_workspace(checkout, checkout / ".smoke") == copy  # a rerun starts afresh
    assert (copy / "kept.txt").read_text() == "kept.txt changed in the working tree\n"


def test_a_workspace_at_the_top_need_not_be_ignored(checkout):
    (checkout / "vendor").mkdir()  # an untracked nested repository is left out like the copy
    git(checkout / "vendor", "init", "-q")
    copy = make_workspace(checkout, checkout / ".check")  # not in .gitignore
    assert (copy / "new.txt").is_file() and not (copy / ".check").exists()
    assert not (copy / "vendor").exists()
    assert make_workspace(checkout, checkout / ".check") == copy  # again, over the old copy


def test_the_workspace_never_replaces_a_folder_it_did_not_make(checkout, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "runs.db").write_text("a user's runs")
    with pytest.raises(ConfigError, match="is not a seqbench workspace"):
        make_workspace(checkout, precious)
    assert (precious / "runs.db").read_text() == "a user's runs"
    assert (make_workspace(checkout, tmp_path / "elsewhere") / WORKSPACE_MARK).is_file()
    with pytest.raises(ConfigError, match="outside the checkout or at its top"):
        make_workspace(checkout, checkout / "a" / "b")


def test_the_command_runs_in_the_workspace_with_the_profile(checkout):
    (checkout / "params.yaml").write_text("train:\n  seeds: [0, 1, 2]\n")
    (checkout / "src").mkdir()
    (checkout / "src" / "probe_module.py").write_text("")
    profile = checkout / "p.yaml"
    profile.write_text("train: {seeds: [0]}\n")
    code = subprocess.call(
        [sys.executable, "-m", "seqbench.profiles", "--workspace", ".smoke",
         "--params", str(checkout / "params.yaml"), str(profile), "--", "cp", "params.yaml",
         "seen.yaml"],
        cwd=checkout,
    )  # fmt: skip
    assert code == 0
    assert "seeds:\n  - 0\n" in (checkout / ".smoke" / "seen.yaml").read_text()
    # the copy's sources run, not the checkout's (which an editable install would import)
    probe = (
        "import pathlib, probe_module; pathlib.Path('seen.txt').write_text(probe_module.__file__)"
    )
    code = subprocess.call(
        [sys.executable, "-m", "seqbench.profiles", "--workspace", ".smoke",
         "--params", str(checkout / "params.yaml"), str(profile), "--", sys.executable, "-c",
         probe],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout / "src")},
    )  # fmt: skip
    assert code == 0
    seen = (checkout / ".smoke" / "seen.txt").read_text()
    assert seen == str(checkout / ".smoke" / "src" / "probe_module.py")
    assert not (checkout / "seen.yaml").exists()
    assert (checkout / "params.yaml").read_text() == "train:\n  seeds: [0, 1, 2]\n"


def test_a_profiled_run_records_its_profile_and_the_overlay_does_not_make_it_dirty(tmp_path):
    import json

    repo = tmp_path / "clean"
    (repo / "profiles").mkdir(parents=True)
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    (repo / "params.yaml").write_text("train:\n  seeds: [0, 1, 2]\n")
    (repo / "profiles" / "p.yaml").write_text("train: {seeds: [0]}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    show = "import json; from seqbench.tracking import provenance_tags; print(json.dumps(provenance_tags('s')))"  # noqa: E501

    def tags(*profile: str) -> dict:
        command = [sys.executable, "-m", "seqbench.profiles", *profile, "--"] if profile else []
        done = subprocess.run(
            [*command, sys.executable, "-c", show], cwd=repo, capture_output=True, check=True
        )
        return json.loads(done.stdout.decode().splitlines()[-1])

    profiled = tags("profiles/p.yaml")
    assert profiled["seqbench.git_dirty"] == "false"  # params.yaml is the overlay, nothing else
    assert profiled["seqbench.profile"] == "profiles/p.yaml"
    assert len(profiled["seqbench.profile_sha256"]) == 64
    plain = tags()
    assert plain["seqbench.git_dirty"] == "false" and "seqbench.profile" not in plain
    (repo / "params.yaml").write_text("train:\n  seeds: [0, 1]\n")  # a change of its own
    assert tags("profiles/p.yaml")["seqbench.git_dirty"] == "true"
    assert tags()["seqbench.git_dirty"] == "true"
