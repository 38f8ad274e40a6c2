"""IMDB reviews: safe reading of the aclImdb archive into train/val/test parquet tables."""

from __future__ import annotations

import gzip
import re
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seqbench.data.config import TextArchiveConfig
from seqbench.errors import SeqbenchError
from seqbench.io import atomic_path

LABELS = {"neg": 0, "pos": 1}
SCHEMA = pa.schema(
    [("id", pa.int64()), ("rating", pa.int64()), ("label", pa.int64()), ("text", pa.string())]
)
# aclImdb/<official split>/<pos|neg>/<id>_<rating>.txt
_REVIEW = re.compile(r"^aclImdb/(train|test)/(pos|neg)/([^/]+)$")
_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")
_CHUNK = 1 << 20


class ArchiveError(SeqbenchError):
    """The archive is corrupt, truncated, unsafe or not in the aclImdb layout."""


Reviews = dict[str, list[tuple[int, int, int, str]]]  # official split -> (id, rating, label, text)


def prepare(cfg: TextArchiveConfig, raw_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write ``out_dir/{train,val,test}.parquet`` from the archive in ``raw_dir``; return counts.

    ``val`` is a stratified, seeded ``cfg.val_fraction`` of the official train split; ``test`` is
    the official test split untouched. ``out_dir`` appears whole or not at all.
    """
    archive = _archive_path(cfg, Path(raw_dir))
    reviews = read_archive(archive)
    for split in ("train", "test"):
        if not reviews[split]:
            raise ArchiveError(f"{archive}: no reviews under aclImdb/{split}/{{pos,neg}}/")
    train, val = split_stratified(reviews["train"], cfg.val_fraction, cfg.seed)
    tables = {"train": train, "val": val, "test": sorted(reviews["test"], key=_order)}
    with atomic_path(out_dir) as staged:
        staged.mkdir(parents=True)
        for split, rows in tables.items():
            pq.write_table(_table(rows), staged / f"{split}.parquet")
    return {split: len(rows) for split, rows in tables.items()}


def read_archive(archive: str | Path) -> Reviews:
    """Read every labelled review of ``archive`` into memory, refusing unsafe members.

    Members are streamed from the gzip stream instead of being extracted: 50,000 small files
    then cost one sequential read and no disk writes, and nothing can be written outside any
    folder. Each member still goes through :func:`tarfile.data_filter` (the policy Python applies
    to ``extractall(filter="data")``), checked against a throw-away destination, plus explicit
    checks so that a refusal is one line naming the archive and the member. One unsafe member
    refuses the whole archive.
    """
    archive = Path(archive)
    reviews: Reviews = {"train": [], "test": []}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="seqbench-imdb-") as dest,
            gzip.open(archive, "rb") as stream,
            tarfile.open(fileobj=stream, mode="r|") as tar,
        ):
            for member in _safe_members(tar, archive, dest):
                match = _REVIEW.match(member.name.removeprefix("./"))
                if not (match and member.isfile()):
                    continue
                split, folder, filename = match.groups()
                name = _NAME.match(filename)
                if not name:
                    raise ArchiveError(
                        f"{archive}: member {member.name!r} is not named <id>_<rating>.txt"
                    )
                fh = tar.extractfile(member)
                data = fh.read() if fh is not None else b""
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ArchiveError(
                        f"{archive}: member {member.name!r} is not valid UTF-8 ({exc.reason} "
                        f"at byte {exc.start})"
                    ) from None
                reviews[split].append((int(name[1]), int(name[2]), LABELS[folder], text))
            # Read to the end of the gzip stream so that its length and CRC are verified: an
            # archive cut at a member boundary would otherwise pass with reviews missing.
            while stream.read(_CHUNK):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, FileNotFoundError) and not archive.exists():
            raise ArchiveError(f"{archive}: file not found; run the fetch stage first") from None
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArchiveError(f"{archive}: corrupt or truncated archive ({reason})") from None
    return reviews


def _safe_members(tar: tarfile.TarFile, archive: Path, dest: str) -> Iterator[tarfile.TarInfo]:
    """Yield the members of ``tar``, raising on the first one that would be unsafe to extract."""
    for member in tar:
        name = member.name
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            problem = "an absolute path"
        elif ".." in re.split(r"[/\\]", name):
            problem = "a '..' path component"
        elif member.issym() or member.islnk():
            problem = f"a link to {member.linkname!r}"
        elif not (member.isfile() or member.isdir()):
            problem = "a device, fifo or other special file"
        else:
            problem = None
        if problem is None:
            try:
                tarfile.data_filter(member, dest)
            except tarfile.FilterError as exc:
                problem = f"refused by the tarfile data filter ({exc})"
        if problem:
            raise ArchiveError(f"{archive}: unsafe member {name!r}: {problem}")
        yield member


def split_stratified(
    rows: list[tuple[int, int, int, str]], fraction: float, seed: int
) -> tuple[list, list]:
    """Split ``rows`` into (rest, held-out), holding out ``round(fraction * n)`` rows per label.

    Rows are sorted first, so the split depends only on the data and ``seed``, never on the
    order of the archive's members.
    """
    rng = np.random.default_rng(seed)
    rest, held = [], []
    for label in sorted({r[2] for r in rows}):
        group = sorted((r for r in rows if r[2] == label), key=_order)
        chosen = set(rng.permutation(len(group))[: round(fraction * len(group))].tolist())
        for i, row in enumerate(group):
            (held if i in chosen else rest).append(row)
    return sorted(rest, key=_order), sorted(held, key=_order)


def _order(row: tuple[int, int, int, str]) -> tuple[int, int]:
    return row[2], row[0]  # (label, id)


def _table(rows: list[tuple[int, int, int, str]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, SCHEMA, strict=True)], schema=SCHEMA
    )


def _archive_path(cfg: TextArchiveConfig, raw_dir: Path) -> Path:
    names = [s.name for s in cfg.sources if s.name.endswith((".tar.gz", ".tgz"))]
    if len(names) != 1:
        raise ArchiveError(f"sources: expected exactly one .tar.gz archive, got {names or 'none'}")
    return raw_dir / names[0]
