"""Atomic file and directory writes, so a crash never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqbench.errors import SeqbenchError

if TYPE_CHECKING:
    import pandas as pd

SPLITS = ("train", "val", "test")


class MissingInputError(SeqbenchError):
    """A stage input that an upstream stage should have written is absent."""


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    Works for files and directories. On any exception the temporary path is removed and
    ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    staged = tmp / target.name
    try:
        yield staged
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def load_splits(
    processed_dir: str | Path, splits: tuple[str, ...] = SPLITS
) -> dict[str, pd.DataFrame]:
    """Read ``processed_dir/<split>.parquet`` for each split (the prepare stage's output)."""
    import pandas as pd

    frames = {}
    for split in splits:
        path = Path(processed_dir) / f"{split}.parquet"
        if not path.is_file():
            raise MissingInputError(f"{path}: missing; run the prepare stage first")
        frames[split] = pd.read_parquet(path)
    return frames


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
