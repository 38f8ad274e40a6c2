"""Shared plumbing for the DVC stage entry points in ``pipelines/``.

A stage script parses its argv (paths come from ``dvc.yaml``), loads ``params.yaml`` and calls the
library. User errors surface here, once, as a single ``error: ...`` line and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from seqbench.errors import SeqbenchError


def run(main: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser) -> None:
    """Parse argv with ``parser`` and run ``main``; print user errors as one line and exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parser.parse_args()
    try:
        main(args)
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
