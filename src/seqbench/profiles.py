"""Parameter profiles: YAML overlays deep-merged over ``params.yaml`` (``make smoke``, GPU runs).

``python -m seqbench.profiles PROFILE -- COMMAND...`` writes the merged parameters to
``params.yaml``, runs COMMAND (e.g. ``dvc repro``) and always restores the original file, so
``dvc.lock`` records the profile's parameters and a later plain run re-runs what they changed.

With ``--workspace DIR`` (``make smoke``) the command runs in a fresh copy of this checkout at
DIR instead: the committed tree plus the working changes, the same virtual environment and DVC
cache. The checkout's files, its git index and its committed results stay exactly as they were;
the copy keeps the run's outputs (reports, ``mlruns/``) for inspection until the next run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from seqbench.data.config import TokenizerConfig
from seqbench.data.kinds import dataset_config, task_architectures, train_tasks
from seqbench.report.config import compare_config
from seqbench.serving.config import register_config
from seqbench.tracking.provenance import (
    ENV_BASE_DIRTY,
    ENV_PARAMS_SHA256,
    ENV_PROFILE,
    ENV_PROFILE_SHA256,
)
from seqbench.training.run import resolve_run
from seqbench.tuning.config import tune_config
from seqbench.typed import ConfigError, build, deep_merge, load_params


def merged_params(params_path: str | Path, profile_path: str | Path) -> dict[str, Any]:
    """``params.yaml`` with the profile overlaid, checked at every level before anything runs.

    The profile's first two levels (``train.seeds``, ``models.lstm``) must exist in
    ``params.yaml``; then every section of the merged parameters is built as the stages build it
    (datasets, tokenizers, each task × architecture's run and study, compare, register), so a
    misspelt key at any depth (``train.pems.train.max_epoch``) fails here, naming the profile.
    """
    base = load_params(params_path)
    overlay = load_params(profile_path)
    _check_known(base, overlay, str(profile_path), "", depth=2)
    merged = deep_merge(base, overlay)
    try:
        check_params(merged)
    except ConfigError as exc:
        raise ConfigError(f"{profile_path} (merged over {params_path}): {exc}") from None
    return merged


def check_params(params: dict[str, Any]) -> None:
    """Build every typed section the pipeline's stages build (those present); raise the first
    ConfigError."""
    for name in params.get("datasets") or {}:
        dataset_config(params, name)
    for name, raw in (params.get("tokenize") or {}).items():
        build(TokenizerConfig, raw, f"tokenize.{name}")
    train = params.get("train") or {}
    if "tasks" in train:
        for task in train_tasks(params):
            for arch in task_architectures(params, task) if "architectures" in train else []:
                resolve_run(params, task, arch)
                if "tune" in params:
                    tune_config(params, task, arch)
    compare_config(params)
    register_config(params)
    if "claims" in params:
        from seqbench.claims.config import claims_config

        claims_config(params)


def _check_known(base: Any, overlay: Any, path: str, prefix: str, depth: int) -> None:
    """Reject profile keys absent from params.yaml (typos would silently do nothing)."""
    if depth == 0 or not isinstance(overlay, dict) or not isinstance(base, dict):
        return
    for key, value in overlay.items():
        if key not in base:
            raise ConfigError(f"{path}: {prefix}{key}: unknown key (not in params.yaml)")
        _check_known(base[key], value, path, f"{prefix}{key}.", depth - 1)


WORKSPACE_MARK = ".seqbench-workspace"


def run_with_profile(
    profile: str | Path,
    command: list[str],
    params_path: str | Path = "params.yaml",
    workspace: Path | None = None,
) -> int:
    """Run ``command`` with the profile applied to ``params_path``; restore it afterwards.

    The original file is put back unless someone else changed it meanwhile (then it is left
    alone and the original is saved beside it). In a ``workspace`` the copy's ``src/`` goes
    first on ``PYTHONPATH``: the shared ``.venv`` installs the checkout's sources in editable
    mode, and edits made there during the run must not reach the copy's stages.
    """
    params_path = Path(params_path)
    original = params_path.read_bytes()
    merged = yaml.safe_dump(merged_params(params_path, profile), sort_keys=False).encode()
    header = f"# TEMPORARY: params.yaml merged with {profile}; restored when the run ends.\n"
    merged = header.encode() + merged
    env = profile_env(profile, params_path, original, merged)
    if workspace is not None and (workspace / "src").is_dir():
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(workspace / "src"), env.get("PYTHONPATH")) if p
        )
    params_path.write_bytes(merged)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return subprocess.call(command, env=env)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if params_path.read_bytes() == merged:
            params_path.write_bytes(original)
        else:
            backup = params_path.with_suffix(".yaml.orig")
            backup.write_bytes(original)
            print(
                f"warning: {params_path} changed during the run; original kept in {backup}",
                file=sys.stderr,
            )


def profile_env(
    profile: str | Path, params_path: Path, original: bytes, merged: bytes
) -> dict[str, str]:
    """The command's environment: which profile was merged (recorded by the runs' provenance),
    the merged file's digest (so the overlay alone does not mark the tree dirty) and whether
    ``params.yaml`` differed from the committed one before the overlay."""
    root = params_path.resolve().parent
    name = Path(profile).resolve()
    shown = name.relative_to(root).as_posix() if root in name.parents else name.as_posix()
    committed = subprocess.run(
        ["git", "-C", str(root), "show", f"HEAD:./{params_path.name}"],
        capture_output=True,
        check=False,
    )
    base_dirty = committed.returncode != 0 or committed.stdout != original
    return {
        **os.environ,
        ENV_PROFILE: shown,
        ENV_PROFILE_SHA256: hashlib.sha256(Path(profile).read_bytes()).hexdigest(),
        ENV_PARAMS_SHA256: hashlib.sha256(merged).hexdigest(),
        ENV_BASE_DIRTY: "true" if base_dirty else "false",
    }


def make_workspace(root: str | Path, target: str | Path) -> Path:
    """A fresh copy of the git checkout ``root`` at ``target``: a local clone of HEAD, then the
    working changes (modified, deleted and untracked-but-not-ignored files) applied over it.
    ``.venv`` is linked, and the DVC cache is the checkout's own (content-addressed, shared)."""
    root, target = Path(root).resolve(), Path(target).resolve()
    if target == root or (root in target.parents and target.parent != root):
        raise ConfigError(
            f"--workspace {target}: expected a folder outside the checkout or at its top"
        )
    if target.exists():
        if not (target / WORKSPACE_MARK).is_file():  # never delete a folder we did not make
            raise ConfigError(f"--workspace {target}: exists and is not a seqbench workspace")
        shutil.rmtree(target)
    git = ["git", "-C", str(root)]
    subprocess.run(["git", "clone", "--quiet", "--local", str(root), str(target)], check=True)
    (target / WORKSPACE_MARK).write_text(f"a copy of {root} made by seqbench.profiles\n")

    def listed(*flags: str) -> list[str]:
        out = subprocess.run([*git, "ls-files", "-z", *flags], check=True, capture_output=True)
        return [name for name in out.stdout.decode().split("\0") if name]

    deleted = set(listed("--deleted"))
    for name in listed("--modified", "--others", "--exclude-standard"):
        source = root / name
        if name in deleted or source == target or target in source.parents:
            continue  # the workspace itself, when it sits untracked at the checkout's top
        if name.endswith("/"):  # a nested git repository: git lists it, not its files
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target / name)
    for name in deleted:
        (target / name).unlink(missing_ok=True)
    if (root / ".venv").is_dir():
        (target / ".venv").symlink_to(root / ".venv", target_is_directory=True)
    if not (target / ".dvc").is_dir():
        return target
    cache = root / ".dvc" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["dvc", "config", "--local", "cache.dir", str(cache)],
        cwd=target,
        check=True,
        env={**os.environ, "PATH": f"{root / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"},
    )
    return target


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="YAML overlay, e.g. profiles/smoke.yaml")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command to run")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--workspace",
        help="run in a fresh copy of this checkout at this folder (leaves the checkout untouched)",
    )
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("expected a command after --")
    try:
        if args.workspace:
            merged_params(args.params, args.profile)  # fail before copying anything
            where = make_workspace(Path(args.params).resolve().parent, args.workspace)
            print(f"workspace: {where} (a copy of this checkout with its working changes)")
            profile = Path(args.profile).resolve()
            return _in(where, lambda: run_with_profile(profile, command, "params.yaml", where))
        return run_with_profile(args.profile, command, args.params)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _in(directory: Path, call: Any) -> int:
    previous = Path.cwd()
    os.chdir(directory)
    try:
        return call()
    finally:
        os.chdir(previous)


if __name__ == "__main__":
    sys.exit(main())
