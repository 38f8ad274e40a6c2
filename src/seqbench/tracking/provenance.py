"""Provenance tags: which code (git), data (DVC hashes), stage and machine produced a run."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import posixpath
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

import yaml

import seqbench

UNKNOWN = "unknown"
MISSING = "missing"
DATA_TAG_PREFIX = "seqbench.data."
DVC_LOCK = "dvc.lock"
# Untracked files here are pipeline byproducts, not code: they do not make the tree dirty.
UNTRACKED_BYPRODUCTS = ("mlruns/", "data/")
PARAMS_FILE = "params.yaml"
# Set by seqbench.profiles for the command it runs with a profile merged over params.yaml.
ENV_PROFILE = "SEQBENCH_PROFILE"  # the profile's path
ENV_PROFILE_SHA256 = "SEQBENCH_PROFILE_SHA256"
ENV_PARAMS_SHA256 = "SEQBENCH_PROFILE_PARAMS_SHA256"  # the merged params.yaml it wrote
ENV_BASE_DIRTY = "SEQBENCH_PROFILE_BASE_DIRTY"  # params.yaml differed from HEAD before merging


def provenance_tags(
    stage: str, inputs: Iterable[str | Path] = (), *, root: str | Path | None = None
) -> dict[str, str]:
    """Tags that tie a run to its code, data, stage and machine.

    ``inputs`` are data paths relative to the project ``root`` (default: the current directory,
    which is the project root when DVC runs a stage). Each gets ``seqbench.data.<path>``: its md5
    from ``dvc.lock``, else computed the way DVC does (see :func:`dvc_md5`).
    """
    root = Path(root) if root is not None else Path.cwd()
    lock = dvc_lock_outs(root / DVC_LOCK)
    commit = git_commit(root)
    ignore = [*lock, DVC_LOCK]
    profile = active_profile(root)
    if profile:  # params.yaml is the profile's overlay: the profile is recorded instead
        ignore.append(PARAMS_FILE)
    dirty = git_dirty(root, ignore=ignore)
    if profile and profile[ENV_BASE_DIRTY] == "true" and dirty == "false":
        dirty = "true"  # params.yaml had changes of its own before the profile was merged
    tags = {
        "seqbench.stage": stage,
        "seqbench.version": seqbench.__version__,
        "seqbench.git_commit": commit,
        "seqbench.git_dirty": dirty,
        **runtime_tags(),
    }
    if profile:
        tags["seqbench.profile"] = profile[ENV_PROFILE]
        tags["seqbench.profile_sha256"] = profile[ENV_PROFILE_SHA256]
    if commit != UNKNOWN:
        tags["mlflow.source.git.commit"] = commit  # shown by the MLflow UI
    for path in inputs:
        key = relative_path(Path(path), root)
        tags[DATA_TAG_PREFIX + key] = lock.get(key) or dvc_md5(root / key)
    return tags


def active_profile(root: Path) -> dict[str, str] | None:
    """The profile ``seqbench.profiles`` merged over ``root/params.yaml`` for this process (its
    environment), when the file still holds exactly that overlay; else None."""
    env = {k: os.environ.get(k) for k in (ENV_PROFILE, ENV_PROFILE_SHA256, ENV_PARAMS_SHA256)}
    params = root / PARAMS_FILE
    if not all(env.values()) or not params.is_file():
        return None
    if hashlib.sha256(params.read_bytes()).hexdigest() != env[ENV_PARAMS_SHA256]:
        return None
    return {
        **{k: str(v) for k, v in env.items()},
        ENV_BASE_DIRTY: os.environ.get(ENV_BASE_DIRTY, "true"),
    }


def runtime_tags() -> dict[str, str]:
    """Python/torch versions, host, device and thread count: what timings depend on."""
    import torch

    if torch.cuda.is_available():
        device = f"cuda:{torch.cuda.get_device_name(0)}"
    elif torch.backends.mps.is_available():
        device = "mps"
    else:
        device = "cpu"
    return {
        "seqbench.python": platform.python_version(),
        "seqbench.torch": torch.__version__,
        "seqbench.host": socket.gethostname(),
        "seqbench.device": device,
        "seqbench.threads": str(torch.get_num_threads()),
    }


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit(root: str | Path = ".") -> str:
    """``git rev-parse HEAD`` in ``root``, or ``"unknown"`` outside a repository."""
    out = _git(Path(root), "rev-parse", "HEAD")
    return out.strip() if out else UNKNOWN


def git_dirty(root: str | Path = ".", ignore: Iterable[str] = ()) -> str:
    """``"true"`` when the working tree differs from HEAD, ``"false"`` if not, else unknown.

    Not counted: untracked files under ``mlruns/`` and ``data/``, and any change to the paths in
    ``ignore`` (DVC outputs and ``dvc.lock``, which the pipeline itself rewrites) or to the
    ``.gitignore`` files DVC writes beside its outputs.
    """
    out = _git(Path(root), "status", "--porcelain", "-z", "--untracked-files=all")
    if out is None:
        return UNKNOWN
    ignored = [p.rstrip("/") for p in ignore]
    out_dirs = {posixpath.dirname(p) for p in ignored}
    entries = iter(out.split("\0"))
    for entry in entries:
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        if status[0] in "RC":
            next(entries, None)  # the rename/copy source follows as its own entry
        if status == "??" and path.startswith(UNTRACKED_BYPRODUCTS):
            continue
        if any(path.rstrip("/") == p or path.startswith(p + "/") for p in ignored):
            continue
        if posixpath.basename(path) == ".gitignore" and posixpath.dirname(path) in out_dirs:
            continue
        return "true"
    return "false"


def dvc_lock_outs(lock_file: str | Path) -> dict[str, str]:
    """``{out path: md5}`` over every stage's ``outs`` in ``dvc.lock`` (empty if absent)."""
    lock_file = Path(lock_file)
    if not lock_file.is_file():
        return {}
    data = yaml.safe_load(lock_file.read_text()) or {}
    outs: dict[str, str] = {}
    for stage in (data.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if "path" in out and "md5" in out:
                outs[posixpath.normpath(out["path"])] = out["md5"]
    return outs


def dvc_md5(path: str | Path) -> str:
    """The md5 DVC 3 would record for ``path``; ``"missing"`` if it does not exist.

    A file: md5 of its bytes. A directory: md5 of the JSON list of ``{"md5", "relpath"}`` of its
    files sorted by path, plus ``".dir"`` (dvc_data's tree digest). ``.dvcignore`` is not honoured.
    """
    path = Path(path)
    if path.is_file():
        return _file_md5(path)
    if not path.is_dir():
        return MISSING
    entries = [
        {"md5": _file_md5(f), "relpath": f.relative_to(path).as_posix()}
        for f in path.rglob("*")
        if f.is_file()
    ]
    entries.sort(key=lambda e: e["relpath"])
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing).hexdigest() + ".dir"


def _file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as dvc.lock writes it; absolute if it lies outside ``root``
    (a ``..`` in a tag key is rejected by MLflow)."""
    full = os.path.normpath(root.absolute() / path)
    inside = os.path.relpath(full, root.absolute())
    if inside == ".." or inside.startswith(".." + os.sep):
        return Path(full).as_posix()
    return Path(inside).as_posix()
