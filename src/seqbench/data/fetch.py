"""Integrity-checked fetching: an existing output, else a local mirror, else an HTTPS download.

A source is a canonical URL, a pinned sha256 and a path inside a mirror folder (the folder named by
``$SEQBENCH_MIRROR``, which carries its own ``SHA256SUMS``). Whatever the origin, the bytes are
checked before they are written, and written atomically: a failed fetch leaves no file behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from seqbench.data.config import SourceConfig
from seqbench.errors import SeqbenchError
from seqbench.io import atomic_path

MIRROR_ENV = "SEQBENCH_MIRROR"
SUMS_FILE = "SHA256SUMS"
_CHUNK = 1 << 20


class FetchError(SeqbenchError):
    """A file could not be obtained with the expected checksum."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_sha256sums(mirror: Path) -> dict[str, str]:
    """Parse ``mirror/SHA256SUMS`` (``<hex>  <relative path>`` per line) into path -> sha256."""
    sums_path = mirror / SUMS_FILE
    if not sums_path.is_file():
        raise FetchError(f"{sums_path}: missing; a mirror folder must list its files' sha256 there")
    sums: dict[str, str] = {}
    for lineno, line in enumerate(sums_path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise FetchError(f"{sums_path}:{lineno}: expected '<sha256>  <path>', got {line!r}")
        sums[parts[1].strip().lstrip("*")] = parts[0].lower()
    return sums


def mirror_dir() -> Path | None:
    value = os.environ.get(MIRROR_ENV)
    return Path(value).expanduser() if value else None


def fetch(source: SourceConfig, out_dir: str | Path, mirror: Path | None = None) -> Path:
    """Place ``source`` at ``out_dir/source.name`` with a verified checksum and return that path.

    Order: an already-present file with a trusted checksum; else ``mirror/source.mirror`` if it
    matches the mirror's ``SHA256SUMS`` (a mirror may hold a documented variant of the canonical
    file, such as IMDB without ``unsup/``); else an HTTPS download checked against the pinned
    sha256.
    A mirror file that fails its checksum is an error, not a reason to try the network.
    """
    mirror = mirror if mirror is not None else mirror_dir()
    target = Path(out_dir) / source.name
    trusted = {source.sha256: "pinned"}  # sha256 -> where that value comes from
    mirror_file: Path | None = None
    if mirror is not None:
        candidate = mirror / source.mirror
        if candidate.is_file():
            mirror_file = candidate
            listed = read_sha256sums(mirror).get(source.mirror)
            if listed is None and sha256_file(candidate) != source.sha256:
                raise FetchError(
                    f"{candidate}: not listed in {mirror / SUMS_FILE} and its sha256 differs from "
                    f"the pinned {source.sha256}"
                )
            if listed:
                trusted.setdefault(listed, str(mirror / SUMS_FILE))

    if target.is_file() and sha256_file(target) in trusted:
        return target

    if mirror_file is not None:
        _copy_verified(mirror_file, target, trusted)
        return target
    _download_verified(source, target, mirror)
    return target


def _copy_verified(src: Path, target: Path, trusted: dict[str, str]) -> None:
    with atomic_path(target) as tmp:
        digest = hashlib.sha256()
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while chunk := fin.read(_CHUNK):
                digest.update(chunk)
                fout.write(chunk)
        got = digest.hexdigest()
        if got not in trusted:
            expected = " or ".join(f"{sha} ({origin})" for sha, origin in trusted.items())
            raise FetchError(f"{src}: sha256 mismatch: expected {expected}, got {got}")


def _download_verified(source: SourceConfig, target: Path, mirror: Path | None) -> None:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TransferSpeedColumn,
    )

    hint = (
        f"; or put the file at {mirror / source.mirror}"
        if mirror
        else f"; or set {MIRROR_ENV} to a folder holding {source.mirror}"
    )
    try:
        response = urllib.request.urlopen(source.url, timeout=60)  # https only (SourceConfig)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"{source.url}: download failed ({reason}){hint}") from None
    total = int(response.headers.get("Content-Length") or 0) or None
    with atomic_path(target) as tmp, response, open(tmp, "wb") as fout:
        digest = hashlib.sha256()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task(source.name, total=total)
            try:
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    fout.write(chunk)
                    bar.advance(task, len(chunk))
            except (urllib.error.URLError, OSError) as exc:
                raise FetchError(f"{source.url}: download interrupted ({exc}){hint}") from None
        got = digest.hexdigest()
        if got != source.sha256:
            raise FetchError(
                f"{source.url}: sha256 mismatch: expected {source.sha256} (pinned), got {got}"
            )


def fetch_all(sources: list[SourceConfig], out_dir: str | Path) -> list[Path]:
    """Fetch every source into ``out_dir``; on failure, files fetched by this call are removed."""
    out_dir = Path(out_dir)
    if not sources:  # a generated dataset: an empty folder keeps the stage's output declared
        out_dir.mkdir(parents=True, exist_ok=True)
        return []
    existed = {s.name for s in sources if (out_dir / s.name).exists()}
    done: list[Path] = []
    try:
        for source in sources:
            done.append(fetch(source, out_dir))
    except BaseException:
        for path in done:
            if path.name not in existed:
                path.unlink(missing_ok=True)
        if out_dir.is_dir() and not any(out_dir.iterdir()):
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return done
