"""Parameter profiles: YAML overlays deep-merged over ``params.yaml`` (``make smoke``, GPU runs).

``python -m seqbench.profiles PROFILE -- COMMAND...`` writes the merged parameters to
``params.yaml``, runs COMMAND (e.g. ``dvc repro``) and always restores the original file, so
``dvc.lock`` records the profile's parameters and a later plain run re-runs what they changed.
"""

from __future__ import annotations

import argparse
import copy
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from seqbench.typed import ConfigError, load_params


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``overlay`` merged in (dicts merged, anything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in (overlay or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merged_params(params_path: str | Path, profile_path: str | Path) -> dict[str, Any]:
    """``params.yaml`` with the profile overlaid.

    The profile's first two levels (``train.seeds``, ``models.lstm``) must exist in
    ``params.yaml``, so a typo fails here; deeper keys are checked by the typed configs.
    """
    base = load_params(params_path)
    overlay = load_params(profile_path)
    _check_known(base, overlay, str(profile_path), "", depth=2)
    return deep_merge(base, overlay)


def _check_known(base: Any, overlay: Any, path: str, prefix: str, depth: int) -> None:
    """Reject profile keys absent from params.yaml (typos would silently do nothing)."""
    if depth == 0 or not isinstance(overlay, dict) or not isinstance(base, dict):
        return
    for key, value in overlay.items():
        if key not in base:
            raise ConfigError(f"{path}: {prefix}{key}: unknown key (not in params.yaml)")
        _check_known(base[key], value, path, f"{prefix}{key}.", depth - 1)


def run_with_profile(
    profile: str | Path, command: list[str], params_path: str | Path = "params.yaml"
) -> int:
    """Run ``command`` with the profile applied to ``params_path``; restore it afterwards.

    The original file is put back unless someone else changed it meanwhile (then it is left
    alone and the original is saved beside it).
    """
    params_path = Path(params_path)
    original = params_path.read_bytes()
    merged = yaml.safe_dump(merged_params(params_path, profile), sort_keys=False).encode()
    header = f"# TEMPORARY: params.yaml merged with {profile}; restored when the run ends.\n"
    merged = header.encode() + merged
    params_path.write_bytes(merged)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return subprocess.call(command)
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


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="YAML overlay, e.g. profiles/smoke.yaml")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command to run")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("expected a command after --")
    try:
        return run_with_profile(args.profile, command, args.params)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
