"""prepare@imdb: safe archive reading, parsing, the stratified seeded split and parquet output."""

import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import IMDB_EXPECTED_ROWS, IMDB_PARAMS, IMDB_PER_LABEL, imdb_members, imdb_review

from seqbench.data.text_archive import ArchiveError, prepare, read_archive, split_stratified

ROOT = Path(__file__).resolve().parents[1]


def _read(processed: Path) -> dict[str, pd.DataFrame]:
    return {s: pd.read_parquet(processed / f"{s}.parquet") for s in ("train", "val", "test")}


def test_prepare_writes_three_splits_with_schema_and_counts(imdb_processed):
    assert sorted(p.name for p in imdb_processed.iterdir()) == [
        "test.parquet",
        "train.parquet",
        "val.parquet",
    ]
    for split, rows in IMDB_EXPECTED_ROWS.items():
        schema = pq.read_schema(imdb_processed / f"{split}.parquet")
        assert schema.names == ["id", "rating", "label", "text"]
        assert [str(t) for t in schema.types] == ["int64", "int64", "int64", "string"]
        assert pq.read_metadata(imdb_processed / f"{split}.parquet").num_rows == rows


def test_prepare_parses_id_rating_label_and_utf8_text(imdb_processed):
    frames = _read(imdb_processed)
    train_all = pd.concat([frames["train"], frames["val"]])
    row = train_all[(train_all.label == 1) & (train_all.id == 5)].iloc[0]
    assert row.rating == 8  # pos/5_8.txt
    assert row.text == imdb_review("train", 1, 5)
    assert "café" in row.text  # decoded as UTF-8, not Latin-1
    neg = train_all[train_all.label == 0]
    assert set(neg.rating) == {1, 2, 3, 4}
    assert set(train_all[train_all.label == 1].rating) == {7, 8, 9, 10}


def test_val_is_stratified_disjoint_and_test_is_untouched(imdb_processed):
    frames = _read(imdb_processed)
    assert frames["val"].label.value_counts().to_dict() == {0: 2, 1: 2}
    keys = {s: set(zip(f.label, f.id, strict=True)) for s, f in frames.items()}
    assert not keys["train"] & keys["val"]
    assert keys["train"] | keys["val"] == {(lab, i) for lab in (0, 1) for i in range(20)}
    test = frames["test"]
    assert len(test) == 2 * IMDB_PER_LABEL
    assert test.set_index(["label", "id"]).loc[(0, 3)].text == imdb_review("test", 0, 3)


def test_split_is_seeded_and_independent_of_member_order():
    rows = [(i, 1 if lab else 8, lab, f"r{i}") for lab in (0, 1) for i in range(100)]
    _, held = split_stratified(rows, 0.1, seed=1)
    _, held_shuffled = split_stratified(list(reversed(rows)), 0.1, seed=1)
    _, held_other = split_stratified(rows, 0.1, seed=2)
    assert held == held_shuffled
    assert held != held_other
    assert sum(r[2] for r in held) == 10 and len(held) == 20


@pytest.mark.parametrize("keep", [0.02, 0.5, 0.999])
def test_truncated_gzip_is_one_line_error_and_writes_nothing(
    tmp_path, imdb_archive, imdb_cfg, keep
):
    archive = imdb_archive()
    data = archive.read_bytes()
    archive.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ArchiveError) as err:
        prepare(imdb_cfg, archive.parent, tmp_path / "processed")
    message = str(err.value)
    assert "\n" not in message
    assert str(archive) in message and "corrupt or truncated" in message
    assert not (tmp_path / "processed").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no temp folders left behind


def test_not_a_gzip_file_is_refused(tmp_path, imdb_cfg):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "aclImdb_v1.tar.gz").write_text("not a tarball")
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        prepare(imdb_cfg, tmp_path / "raw", tmp_path / "processed")


def _info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = 3 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (_info("../evil.txt"), "'..'"),
        (_info("aclImdb/train/pos/../../../evil.txt"), "'..'"),
        (_info("/tmp/seqbench-evil.txt"), "absolute path"),
        (_info("aclImdb/train/pos/99_9.txt", tarfile.SYMTYPE, "/etc/passwd"), "link"),
        (_info("aclImdb/evil", tarfile.LNKTYPE, "aclImdb/README"), "link"),
        (_info("aclImdb/dev", tarfile.CHRTYPE), "device"),
        (_info("aclImdb/fifo", tarfile.FIFOTYPE), "device"),
    ],
)
def test_unsafe_members_refuse_the_archive(tmp_path, imdb_archive, imdb_cfg, member, problem):
    archive = imdb_archive(extra=[member])
    with pytest.raises(ArchiveError) as err:
        prepare(imdb_cfg, archive.parent, tmp_path / "out" / "processed")
    message = str(err.value)
    assert "\n" not in message
    assert str(archive) in message and repr(member.name) in message and problem in message
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/seqbench-evil.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_badly_named_review_and_invalid_utf8_are_refused(tmp_path, imdb_archive, imdb_cfg):
    members = imdb_members()
    members["aclImdb/train/pos/notes.txt"] = b"hello"
    archive = imdb_archive(members=members)
    with pytest.raises(ArchiveError, match=r"notes\.txt' is not named <id>_<rating>\.txt"):
        read_archive(archive)
    members = imdb_members()
    members["aclImdb/test/neg/0_1.txt"] = "caf\xe9".encode("latin-1")
    archive = imdb_archive(members=members)
    with pytest.raises(ArchiveError, match=r"0_1\.txt' is not valid UTF-8"):
        read_archive(archive)


def test_archive_without_test_reviews_is_refused(tmp_path, imdb_archive, imdb_cfg):
    members = {k: v for k, v in imdb_members().items() if "/test/" not in k}
    archive = imdb_archive(members=members)
    with pytest.raises(ArchiveError, match=r"no reviews under aclImdb/test/"):
        prepare(imdb_cfg, archive.parent, tmp_path / "processed")


def _stage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"datasets": {"imdb": IMDB_PARAMS}}))
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "prepare.py"),
            "imdb",
            *args,
            "--params",
            str(params),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )


def test_stage_script_prepares_and_fails_with_one_error_line(tmp_path, imdb_archive):
    archive = imdb_archive()
    done = _stage(tmp_path, str(archive.parent), str(tmp_path / "processed"))
    assert done.returncode == 0, done.stderr
    assert "train 36, val 4, test 40" in done.stdout
    archive.write_bytes(archive.read_bytes()[:200])
    failed = _stage(tmp_path, str(archive.parent), str(tmp_path / "processed2"))
    assert failed.returncode == 1
    assert failed.stderr.strip().count("\n") == 0
    assert failed.stderr.startswith(f"error: {archive}: corrupt or truncated archive")
    assert not (tmp_path / "processed2").exists()
