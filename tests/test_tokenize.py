"""tokenize@imdb: train-only vocabulary, normalization, truncation modes and the on-disk format."""

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import TEST_ONLY_SCRIPT, TEST_ONLY_WORD

from seqbench.data.config import TokenizerConfig
from seqbench.data.tokenize import (
    TextEncoder,
    TokenizeError,
    head_length,
    load_encoded,
    tokenize_dataset,
    train_tokenizer,
    truncate,
)
from seqbench.typed import ConfigError, build
from seqbench.validation.core import DataValidationError, require_passed

ROOT = Path(__file__).resolve().parents[1]
CFG = TokenizerConfig(vocab_size=200, min_frequency=1, max_length=16, truncation="head_tail")


@pytest.fixture
def passed_report(tmp_path) -> Path:
    """A validation report that says the data passed (the GX run itself is tested elsewhere)."""
    report = tmp_path / "report"
    report.mkdir()
    (report / "summary.json").write_text(json.dumps({"suite": "imdb", "success": True}))
    return report


@pytest.fixture
def tokenized(tmp_path, imdb_processed, passed_report) -> Path:
    tokenize_dataset(CFG, imdb_processed, tmp_path / "tokenized")
    return tmp_path / "tokenized"


def test_output_format_matches_the_parquet_splits(tokenized, imdb_processed):
    assert sorted(p.name for p in tokenized.iterdir()) == [
        "meta.json",
        "test.npz",
        "tokenizer.json",
        "train.npz",
        "val.npz",
    ]
    meta = json.loads((tokenized / "meta.json").read_text())
    assert (meta["pad_id"], meta["unk_id"], meta["max_length"]) == (0, 1, 16)
    for split in ("train", "val", "test"):
        with np.load(tokenized / f"{split}.npz") as raw:
            assert sorted(raw.files) == ["ids", "labels", "offsets"]
        data = load_encoded(tokenized, split)
        frame = pd.read_parquet(imdb_processed / f"{split}.parquet")
        assert data.ids.dtype == np.int32 and data.offsets.dtype == np.int64
        assert data.labels.dtype == np.int64
        assert data.offsets.shape == (len(frame) + 1,) and data.offsets[0] == 0
        assert data.offsets[-1] == len(data.ids)
        np.testing.assert_array_equal(data.labels, frame["label"].to_numpy())
        assert data.lengths.max() <= 16 and data.lengths.min() > 0
        assert data.ids.min() >= 0 and data.ids.max() < meta["vocab_size"]
        assert not np.isin(data.ids, [0]).any()  # no padding stored
        stats = meta["splits"][split]
        assert stats["count"] == len(frame)
        assert stats["mean_length"] == pytest.approx(data.lengths.mean(), abs=0.01)
        assert stats["truncated_fraction"] > 0  # synthetic reviews have 8-40 words
    encoder = TextEncoder.from_dir(tokenized)
    test = pd.read_parquet(imdb_processed / "test.parquet")
    stored = load_encoded(tokenized, "test")
    encoded = encoder.encode_batch(test["text"].tolist()[:5])
    for i, ids in enumerate(encoded):
        assert ids == stored.ids[stored.offsets[i] : stored.offsets[i + 1]].tolist()


def test_tokenizer_never_sees_test_or_val_text(tokenized, imdb_processed):
    encoder = TextEncoder.from_dir(tokenized)
    vocab = encoder.tokenizer.get_vocab()
    assert TEST_ONLY_WORD not in vocab
    assert not any(ch in token for token in vocab for ch in TEST_ONLY_SCRIPT)
    # characters never seen in training cannot be spelled from sub-words: unknown
    assert encoder.encode_batch([TEST_ONLY_SCRIPT]) == [[1]]
    test = load_encoded(tokenized, "test")
    assert (test.ids == 1).any()
    assert not (load_encoded(tokenized, "train").ids == 1).any()
    # ...whereas a tokenizer trained on the test split would have learned them
    texts = pd.read_parquet(imdb_processed / "test.parquet")["text"].tolist()
    leaky = train_tokenizer(CFG, texts)
    assert TEST_ONLY_SCRIPT[0] in leaky.get_vocab()


def test_normalization_lowercases_and_drops_br_tags():
    tok = train_tokenizer(CFG, ["Good movie.<br /><br />Great plot", "good MOVIE great"])
    encoder = TextEncoder(tok, max_length=100, head=100)
    (with_tags,) = encoder.encode_batch(["GOOD<br />movie"])
    assert with_tags == encoder.encode_batch(["good movie"])[0]
    assert "br" not in tok.get_vocab() and "<" not in tok.get_vocab()
    keep_case = train_tokenizer(replace(CFG, lowercase=False, strip_html=False), ["Good <br />"])
    assert {"Good", "br", "<"} <= set(keep_case.get_vocab())


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("head", [0, 1, 2, 3, 4, 5, 6, 7]),
        ("tail", [12, 13, 14, 15, 16, 17, 18, 19]),
        ("head_tail", [0, 1, 14, 15, 16, 17, 18, 19]),  # head_fraction 0.25 of 8 -> 2
    ],
)
def test_truncation_modes(mode, expected):
    cfg = replace(CFG, max_length=8, truncation=mode)
    assert truncate(range(20), cfg.max_length, head_length(cfg)) == expected
    assert truncate(range(5), cfg.max_length, head_length(cfg)) == [0, 1, 2, 3, 4]
    assert truncate(range(8), cfg.max_length, head_length(cfg)) == list(range(8))


def test_truncation_mode_reaches_the_stored_ids(tmp_path, imdb_processed, passed_report):
    texts = pd.read_parquet(imdb_processed / "train.parquet")["text"].tolist()
    longest = max(range(len(texts)), key=lambda i: len(texts[i]))
    for mode in ("head", "tail", "head_tail"):
        cfg = replace(CFG, max_length=8, truncation=mode)
        tokenize_dataset(cfg, imdb_processed, tmp_path / mode)
        (whole,) = TextEncoder.from_dir(tmp_path / mode).encode_full([texts[longest]])
        assert len(whole) > 8
        expected = {"head": whole[:8], "tail": whole[-8:], "head_tail": whole[:2] + whole[-6:]}
        data = load_encoded(tmp_path / mode, "train")
        stored = data.ids[data.offsets[longest] : data.offsets[longest + 1]].tolist()
        assert stored == expected[mode]


def test_bpe_model_also_trains_and_roundtrips(tmp_path, imdb_processed, passed_report):
    cfg = replace(CFG, model="bpe")
    meta = tokenize_dataset(cfg, imdb_processed, tmp_path / "bpe")
    assert meta["model"] == "bpe" and (meta["pad_id"], meta["unk_id"]) == (0, 1)
    encoder = TextEncoder.from_dir(tmp_path / "bpe")
    ids = encoder.encode_batch(["the movie was good"])[0]
    assert encoder.tokenizer.decode(ids) == "the movie was good"


def test_the_validation_gate_refuses_missing_and_failed_reports(tmp_path):
    with pytest.raises(DataValidationError, match=r"summary\.json: missing"):
        require_passed(tmp_path / "nowhere")
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "summary.json").write_text(json.dumps({"success": False, "checks": []}))
    with pytest.raises(DataValidationError, match="did not pass"):
        require_passed(failed)


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError, match=r"tokenize\.imdb\.truncation: expected one of"):
        build(TokenizerConfig, {"truncation": "middle"}, "tokenize.imdb")
    with pytest.raises(ConfigError, match=r"tokenize\.imdb\.head_fraction"):
        build(TokenizerConfig, {"head_fraction": 1.5}, "tokenize.imdb")


def test_load_encoded_missing_split_is_one_line(tmp_path):
    with pytest.raises(TokenizeError, match=r"val\.npz: missing; run the tokenize stage first"):
        load_encoded(tmp_path, "val")


def test_stage_script_exits_1_with_one_error_line(tmp_path, imdb_processed, passed_report):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"tokenize": {"imdb": {"vocab_size": 150, "max_length": 8}}}))

    def stage(report: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "pipelines" / "tokenize_text.py"), "imdb",
             str(imdb_processed), str(report), str(tmp_path / "tok"), "--params", str(params)],
            capture_output=True, text=True, cwd=tmp_path,
        )  # fmt: skip

    done = stage(passed_report)
    assert done.returncode == 0, done.stderr
    assert "train: 36 reviews" in done.stdout
    assert json.loads((tmp_path / "tok" / "meta.json").read_text())["max_length"] == 8
    shutil.rmtree(tmp_path / "tok")
    failed = stage(tmp_path / "missing")
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1
    assert failed.stderr.startswith(f"error: {tmp_path / 'missing' / 'summary.json'}: missing")
    assert not (tmp_path / "tok").exists()  # the gate runs before anything is written


def test_ids_are_canonical_and_files_byte_identical_for_equal_vocabularies(tokenized, tmp_path):
    # trainers number tokens in hash-map order; seqbench renumbers them (specials, then sorted)
    vocab = TextEncoder.from_dir(tokenized).tokenizer.get_vocab()
    by_id = sorted(vocab, key=vocab.get)
    assert by_id[:2] == ["[PAD]", "[UNK]"] and by_id[2:] == sorted(by_id[2:])
    # npz files carry no timestamps: equal arrays give equal bytes
    from seqbench.data.tokenize import _save_npz

    arrays = vars(load_encoded(tokenized, "val"))
    _save_npz(tmp_path / "again.npz", arrays)
    assert (tmp_path / "again.npz").read_bytes() == (tokenized / "val.npz").read_bytes()


@pytest.mark.parametrize("mode", ["head", "tail", "head_tail"])
def test_a_shortened_copy_is_what_encoding_at_the_shorter_length_gives(
    tmp_path, imdb_processed, passed_report, mode
):
    from seqbench.data.tokenize import shorten_encoded

    long, short = replace(CFG, truncation=mode), replace(CFG, max_length=9, truncation=mode)
    tokenize_dataset(long, imdb_processed, tmp_path / "long")
    meta = shorten_encoded(tmp_path / "long", tmp_path / "cut", 9)
    assert meta["max_length"] == 9 and meta["cut_from"] == 16
    assert meta["head_length"] == head_length(short)
    # the same tokenizer encoding every review at 9 tokens (a second training may number a
    # few tokens tied at the vocabulary cut-off differently: see _canonical_ids)
    tokenizer = TextEncoder.from_dir(tmp_path / "long").tokenizer
    direct = TextEncoder(tokenizer, 9, head_length(short))
    for split in ("train", "val", "test"):
        frame = pd.read_parquet(imdb_processed / f"{split}.parquet")
        cut = load_encoded(tmp_path / "cut", split)
        assert (load_encoded(tmp_path / "long", split).lengths > 9).any()
        expected = [direct.fit(ids) for ids in direct.encode_full(frame["text"].tolist())]
        got = [
            cut.ids[a:b].tolist() for a, b in zip(cut.offsets[:-1], cut.offsets[1:], strict=True)
        ]
        assert got == expected and max(map(len, got)) == 9
        np.testing.assert_array_equal(cut.labels, frame["label"].to_numpy())
    assert TextEncoder.from_dir(tmp_path / "cut").max_length == 9  # serving reads the cut


def test_a_copy_cannot_be_longer_than_its_source_or_need_tokens_it_dropped(tmp_path, tokenized):
    from seqbench.data.tokenize import shorten_encoded

    with pytest.raises(TokenizeError, match=r"meta.json: can cut reviews to .* at most 16 tokens"):
        shorten_encoded(tokenized, tmp_path / "x", 32)
    meta = json.loads((tokenized / "meta.json").read_text())
    (tokenized / "meta.json").write_text(json.dumps({**meta, "head_length": 0}))
    with pytest.raises(TokenizeError, match=r"keeps 0 \+ 16 tokens .* needs 2 \+ 6"):
        shorten_encoded(tokenized, tmp_path / "x", 8)
    assert not (tmp_path / "x").exists()
