"""Shared plumbing for the DVC stage entry points in ``pipelines/``.

A stage script parses its argv (paths come from ``dvc.yaml``), loads ``params.yaml`` and calls the
library. User errors surface here, once, as a single ``error: ...`` line and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seqbench import runtime
from seqbench.data.replicas import lead_process
from seqbench.errors import SeqbenchError

# Where each DVC stage leaves its wall-clock record (read by the readme stage); relative to the
# repository root, which is the working directory DVC runs stage commands in.
TIMINGS_DIR = Path("reports/timings")


def machine() -> dict[str, Any]:
    """The machine running this process: CPU model, logical CPUs, memory, GPU if torch sees one."""
    cpu = platform.processor() or platform.machine()
    with_model = Path("/proc/cpuinfo")
    if with_model.is_file():
        for line in with_model.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = None
    gpu = None
    torch = sys.modules.get("torch")  # only a stage that trained has imported it
    if torch is not None and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": None if memory is None else round(memory, 1),
        "gpu": gpu,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def current() -> str | None:
    """The DVC stage running this process (``$DVC_STAGE`` under ``dvc repro``), if any."""
    return os.environ.get("DVC_STAGE") or None


def run_label(default: str) -> str:
    """``<stage> @ <commit>``: this run's name where a tool asks for one (the Data Docs'
    validation runs); ``default`` stands in for the stage outside ``dvc repro``."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=30
        )
        commit = done.stdout.strip() if done.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{current() or default} @ {commit or 'no commit'}"


def record_timing(name: str, started: float, seconds: float, directory: Path = TIMINGS_DIR) -> None:
    """Write ``directory/<name>.json``: how long stage ``name`` ran, when, and on what machine."""
    from seqbench.io import write_json

    stamp = datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
    write_json(
        directory / f"{name}.json",
        {"stage": name, "seconds": round(seconds, 2), "started": stamp, "machine": machine()},
    )


def run(main: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser) -> None:
    """Parse argv with ``parser`` and run ``main``; print user errors as one line and exit 1.

    Under ``dvc repro`` (``$DVC_STAGE`` set) a successful stage records its wall-clock time in
    ``reports/timings/<stage>.json``, so the README's results can say how long the run took.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parser.parse_args()
    if "torch" in sys.modules:  # a stage that computes with torch (the others never load it)
        runtime.configure()
    started, clock = time.time(), time.perf_counter()
    try:
        main(args)
        if os.environ.get("DVC_STAGE") and lead_process():
            record_timing(os.environ["DVC_STAGE"], started, time.perf_counter() - clock)
    except SeqbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)


def parser(description: str, *positional: tuple[str, str]) -> argparse.ArgumentParser:
    """An argument parser with the given ``(name, help)`` positionals and ``--params``."""
    p = argparse.ArgumentParser(description=description)
    for name, help_text in positional:
        p.add_argument(name, help=help_text)
    p.add_argument("--params", default="params.yaml", help="parameters file (default params.yaml)")
    return p
