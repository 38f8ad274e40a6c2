"""fetch@<dataset>: present output, mirror + SHA256SUMS, HTTPS; checksums; no half-written files."""

import hashlib
import io
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from seqbench.data.config import SourceConfig
from seqbench.data.fetch import FetchError, fetch, fetch_all

ROOT = Path(__file__).resolve().parents[1]
GOOD = b"review archive bytes\n" * 50
MIRROR_VARIANT = b"a documented variant of the archive\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _source(name: str = "aclImdb_v1.tar.gz", data: bytes = GOOD) -> SourceConfig:
    return SourceConfig(
        name=name,
        url=f"https://example.invalid/{name}",
        sha256=_sha(data),
        mirror=f"imdb/{name}",
    )


def _mirror(tmp_path: Path, files: dict[str, bytes], sums: dict[str, str] | None = None) -> Path:
    mirror = tmp_path / "mirror"
    for rel, data in files.items():
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(data)
    sums = sums if sums is not None else {rel: _sha(data) for rel, data in files.items()}
    mirror.mkdir(exist_ok=True)
    (mirror / "SHA256SUMS").write_text("".join(f"{h}  {rel}\n" for rel, h in sums.items()))
    return mirror


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything tries the network; record the URLs tried."""
    tried: list[str] = []

    def refuse(url, *args, **kwargs):
        tried.append(url)
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv("SEQBENCH_MIRROR", raising=False)
    return tried


def test_fetch_from_mirror_verifies_against_its_sha256sums(tmp_path, no_network):
    # the mirror holds a variant: its SHA256SUMS, not the pinned sha, vouches for it
    mirror = _mirror(tmp_path, {"imdb/aclImdb_v1.tar.gz": MIRROR_VARIANT})
    path = fetch(_source(), tmp_path / "raw", mirror=mirror)
    assert path == tmp_path / "raw" / "aclImdb_v1.tar.gz"
    assert path.read_bytes() == MIRROR_VARIANT
    assert no_network == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["aclImdb_v1.tar.gz"]


def test_mirror_env_variable_is_used(tmp_path, no_network, monkeypatch):
    mirror = _mirror(tmp_path, {"imdb/aclImdb_v1.tar.gz": GOOD})
    monkeypatch.setenv("SEQBENCH_MIRROR", str(mirror))
    assert fetch(_source(), tmp_path / "raw").read_bytes() == GOOD
    assert no_network == []


def test_present_output_short_circuits(tmp_path, no_network):
    target = tmp_path / "raw" / "aclImdb_v1.tar.gz"
    target.parent.mkdir()
    target.write_bytes(GOOD)
    os.utime(target, (1_000_000, 1_000_000))
    assert fetch(_source(), tmp_path / "raw") == target  # no mirror, network refused
    assert target.stat().st_mtime == 1_000_000  # not rewritten
    assert no_network == []


def test_present_but_wrong_output_is_replaced_from_mirror(tmp_path, no_network):
    target = tmp_path / "raw" / "aclImdb_v1.tar.gz"
    target.parent.mkdir()
    target.write_bytes(b"stale")
    mirror = _mirror(tmp_path, {"imdb/aclImdb_v1.tar.gz": GOOD})
    assert fetch(_source(), tmp_path / "raw", mirror=mirror).read_bytes() == GOOD


def test_mirror_checksum_mismatch_names_file_and_both_checksums(tmp_path, no_network):
    listed = _sha(GOOD)
    mirror = _mirror(tmp_path, {"imdb/aclImdb_v1.tar.gz": b"corrupted"}, {
        "imdb/aclImdb_v1.tar.gz": listed})  # fmt: skip
    with pytest.raises(FetchError) as err:
        fetch(_source(), tmp_path / "raw", mirror=mirror)
    message = str(err.value)
    assert "\n" not in message
    assert str(mirror / "imdb" / "aclImdb_v1.tar.gz") in message
    assert listed in message and _sha(b"corrupted") in message
    assert not (tmp_path / "raw" / "aclImdb_v1.tar.gz").exists()
    assert not any((tmp_path / "raw").iterdir())  # no temp files left either
    assert no_network == []  # a bad mirror file is an error, not a reason to download


def test_unlisted_mirror_file_must_match_the_pinned_sha(tmp_path, no_network):
    mirror = _mirror(tmp_path, {"imdb/aclImdb_v1.tar.gz": b"other"}, sums={})
    with pytest.raises(FetchError, match=r"not listed in .*SHA256SUMS"):
        fetch(_source(), tmp_path / "raw", mirror=mirror)
    mirror = _mirror(tmp_path, {"imdb/aclImdb_v1.tar.gz": GOOD}, sums={})
    assert fetch(_source(), tmp_path / "raw", mirror=mirror).read_bytes() == GOOD


def test_download_failure_without_mirror_is_one_line(tmp_path, no_network):
    with pytest.raises(FetchError) as err:
        fetch(_source(), tmp_path / "raw")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("https://example.invalid/aclImdb_v1.tar.gz: download failed")
    assert "SEQBENCH_MIRROR" in message
    assert no_network == ["https://example.invalid/aclImdb_v1.tar.gz"]
    assert not (tmp_path / "raw" / "aclImdb_v1.tar.gz").exists()


class _Response(io.BytesIO):
    headers: ClassVar[dict] = {}


@pytest.mark.parametrize(("served", "ok"), [(GOOD, True), (b"tampered", False)])
def test_download_is_checked_against_the_pinned_sha(tmp_path, monkeypatch, served, ok):
    monkeypatch.delenv("SEQBENCH_MIRROR", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _Response(served))
    target = tmp_path / "raw" / "aclImdb_v1.tar.gz"
    if ok:
        assert fetch(_source(), tmp_path / "raw").read_bytes() == GOOD
    else:
        with pytest.raises(FetchError, match=f"expected {_sha(GOOD)} \\(pinned\\), got "):
            fetch(_source(), tmp_path / "raw")
        assert not target.exists()


def test_fetch_all_removes_what_it_fetched_when_a_later_source_fails(
    tmp_path, no_network, monkeypatch
):
    first, second = _source("a.csv", b"a"), _source("b.csv", b"b")
    monkeypatch.setenv("SEQBENCH_MIRROR", str(_mirror(tmp_path, {"imdb/a.csv": b"a"})))
    with pytest.raises(FetchError, match=r"b\.csv: download failed"):
        fetch_all([first, second], tmp_path / "raw")
    assert no_network == ["https://example.invalid/b.csv"]
    assert not (tmp_path / "raw").exists()


def test_stage_script_fails_with_one_error_line_and_no_output(tmp_path):
    source = _source()
    mirror = _mirror(tmp_path, {"imdb/aclImdb_v1.tar.gz": b"corrupted"}, {
        "imdb/aclImdb_v1.tar.gz": _sha(MIRROR_VARIANT)})  # fmt: skip
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"datasets": {"imdb": {
        "kind": "text_archive", "sources": [vars(source)]}}}))  # fmt: skip
    env = {**os.environ, "SEQBENCH_MIRROR": str(mirror)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "fetch.py"), "imdb", str(tmp_path / "raw"),
         "--params", str(params)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "sha256 mismatch" in done.stderr and _sha(MIRROR_VARIANT) in done.stderr
    assert not (tmp_path / "raw" / "aclImdb_v1.tar.gz").exists()
