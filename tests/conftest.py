"""Shared fixtures: every test works in a temporary folder on tiny synthetic data."""

import io
import random
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

# --- IMDB: a few dozen reviews in the canonical aclImdb tar layout ------------------------------

IMDB_PER_LABEL = 20  # reviews per (official split, label): train 40 -> 36 train + 4 val, test 40
IMDB_EXPECTED_ROWS = {"train": 36, "val": 4, "test": 40}
TEST_ONLY_WORD = "florbix"  # appears in test reviews only
TEST_ONLY_SCRIPT = "жжж"  # characters that appear in test reviews only
_COMMON = [
    "the",
    "movie",
    "film",
    "story",
    "actor",
    "plot",
    "scene",
    "was",
    "is",
    "and",
    "a",
    "of",
    "to",
    "it",
    "this",
]
_SENTIMENT = {
    0: ["bad", "awful", "boring", "terrible", "waste", "worst", "dull"],
    1: ["good", "great", "wonderful", "superb", "loved", "best", "moving"],
}


def imdb_review(split: str, label: int, i: int) -> str:
    """A deterministic synthetic review; some have ``<br />`` tags and non-ASCII text."""
    rng = random.Random(f"{split}-{label}-{i}")
    words = [rng.choice(_COMMON + _SENTIMENT[label] * 2) for _ in range(rng.randint(8, 40))]
    if i % 3 == 0:
        words.insert(len(words) // 2, "<br /><br />")
    if i % 5 == 0:
        words.append("café")
    if split == "test" and i % 4 == 0:
        words += [TEST_ONLY_WORD, TEST_ONLY_SCRIPT]
    return " ".join(words).capitalize() + "."


def imdb_members(per_label: int = IMDB_PER_LABEL) -> dict[str, bytes]:
    """``aclImdb/<split>/<pos|neg>/<id>_<rating>.txt`` -> UTF-8 bytes, plus the usual extras."""
    members = {"aclImdb/README": b"synthetic", "aclImdb/imdb.vocab": b"the\nmovie\n"}
    for split in ("train", "test"):
        for folder, label, ratings in (("neg", 0, (1, 2, 3, 4)), ("pos", 1, (7, 8, 9, 10))):
            for i in range(per_label):
                name = f"aclImdb/{split}/{folder}/{i}_{ratings[i % 4]}.txt"
                members[name] = imdb_review(split, label, i).encode()
            members[f"aclImdb/{split}/urls_{folder}.txt"] = b"http://example.com\n"
    return members


def write_tar(path: Path, members: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> Path:
    """Write a .tar.gz of regular files (``members``) followed by raw ``extra`` entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


@pytest.fixture
def imdb_archive(tmp_path: Path) -> Callable[..., Path]:
    """Factory: write a synthetic ``aclImdb_v1.tar.gz`` (default ``tmp_path/raw``)."""

    def make(
        raw_dir: Path | None = None,
        members: dict[str, bytes] | None = None,
        extra: list[tarfile.TarInfo] = (),
    ) -> Path:
        raw_dir = raw_dir or tmp_path / "raw"
        return write_tar(raw_dir / "aclImdb_v1.tar.gz", members or imdb_members(), extra)

    return make


IMDB_PARAMS = {
    "kind": "text_archive",
    "sources": [
        {
            "name": "aclImdb_v1.tar.gz",
            "url": "https://example.com/aclImdb_v1.tar.gz",
            "sha256": "0" * 64,
            "mirror": "imdb/aclImdb_v1.tar.gz",
        }
    ],
    "val_fraction": 0.1,
    "seed": 7,
    "expected_rows": IMDB_EXPECTED_ROWS,
    "balance_tolerance": 0.02,
}


@pytest.fixture
def imdb_cfg():
    from seqbench.data.config import TextArchiveConfig
    from seqbench.typed import build

    return build(TextArchiveConfig, IMDB_PARAMS, "datasets.imdb")


@pytest.fixture
def imdb_processed(tmp_path: Path, imdb_archive, imdb_cfg) -> Path:
    """``tmp_path/processed`` holding the synthetic train/val/test parquet files."""
    from seqbench.data.text_archive import prepare

    imdb_archive()
    prepare(imdb_cfg, tmp_path / "raw", tmp_path / "processed")
    return tmp_path / "processed"


def toy_datasets() -> dict:
    """The ``datasets`` params of the tiny test pipelines: an IMDB-like text task and an
    ETTh1-like hourly series ``toy`` (columns ``a`` and ``OT``, 300/80/80 rows, 8 → 3 windows)."""
    source = {"url": "https://example.org/x", "sha256": "0" * 64}
    return {
        "imdb": {
            "kind": "text_archive",
            "sources": [{"name": "a.tgz", "mirror": "a.tgz", **source}],
        },
        "toy": {
            "kind": "csv_series",
            "sources": [{"name": "toy.csv", "mirror": "toy.csv", **source}],
            "timestamp": {"column": "date"},
            "columns": ["a", "OT"],
            "features": ["a", "OT"],
            "targets": ["OT"],
            "frequency": "1h",
            "split": {"method": "rows", "train": 300, "val": 80, "test": 80},
            "window": {"input_length": 8, "horizon": 3},
            "borrow_context": True,
            "min_value": {"OT": 0},  # the served model refuses and clips below it
        },
    }


# --- PostgreSQL: the scale-out tests' real engine ----------------------------------------------


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on 127.0.0.1: the one `.ci/run` started (``$SEQBENCH_TEST_PGROOT``
    and ``$SEQBENCH_TEST_PGPORT``), else one started here for the session, stopped at its end
    (and by itself if the test run is killed). Never skipped: no PostgreSQL is a failure."""
    import os
    import shutil
    import tempfile

    from seqbench.tracking.postgres import LocalPostgres, free_port

    root, port = os.environ.get("SEQBENCH_TEST_PGROOT"), os.environ.get("SEQBENCH_TEST_PGPORT")
    if root and port:
        yield LocalPostgres(Path(root), int(port))
        return
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="seqbench-pg-")), free_port()).start()
    watcher = server.stop_with(os.getpid())
    try:
        yield server
    finally:
        server.stop()
        watcher.kill()
        shutil.rmtree(server.root, ignore_errors=True)


_POSTGRES_RESULTS: dict[str, str] = {}


def pytest_configure(config) -> None:
    """The tests compute under the same process-wide settings as the pipeline's stages."""
    from seqbench import runtime

    runtime.configure()


def pytest_runtest_logreport(report) -> None:
    """Remember how every PostgreSQL-backed test ended (for the summary below)."""
    if "postgres" in report.keywords and (report.when == "call" or report.outcome != "passed"):
        _POSTGRES_RESULTS[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter) -> None:
    """Name the tests that ran against the real PostgreSQL server, and how they ended."""
    if not _POSTGRES_RESULTS:
        return
    counts: dict[str, int] = {}
    for outcome in _POSTGRES_RESULTS.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    tally = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    terminalreporter.section("PostgreSQL-backed tests")
    for nodeid, outcome in _POSTGRES_RESULTS.items():
        terminalreporter.write_line(f"{outcome.upper():8} {nodeid}")
    terminalreporter.write_line(f"{len(_POSTGRES_RESULTS)} ran against PostgreSQL: {tally}")
