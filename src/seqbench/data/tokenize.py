"""Subword tokenization of IMDB reviews: train on the train split only, encode every split.

A pre-trained encoder brings its own tokenizer instead (:func:`tokenize_pretrained`): nothing is
fit, its special tokens wrap every review, and the output folder has the same layout.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.data.config import PretrainedTokenizerConfig, TokenizerConfig, TruncationConfig
from seqbench.errors import SeqbenchError
from seqbench.io import atomic_path, load_splits, write_json

PAD, UNK = "[PAD]", "[UNK]"  # ids 0 and 1: the trainers assign special tokens first
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "meta.json"
_BPE_SUFFIX = "</w>"


class TokenizeError(SeqbenchError):
    """Tokenized data is missing or does not have the expected layout."""


@dataclass(frozen=True)
class EncodedSplit:
    """One split as a ragged array: review ``i`` is ``ids[offsets[i]:offsets[i + 1]]``."""

    ids: np.ndarray  # (total_tokens,) int32
    offsets: np.ndarray  # (N + 1,) int64
    labels: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)  # (N,)


def head_length(cfg: TruncationConfig, length: int | None = None) -> int:
    """Tokens kept from the start of a long review (the rest of ``length``, by default
    ``max_length``, is its end)."""
    length = cfg.max_length if length is None else length
    if cfg.truncation == "head":
        return length
    if cfg.truncation == "tail":
        return 0
    return round(cfg.head_fraction * length)


def truncate(ids: Sequence[int], max_length: int, head: int) -> list[int]:
    """Keep the first ``head`` and the last ``max_length - head`` tokens of a long sequence."""
    ids = list(ids)
    if len(ids) <= max_length:
        return ids
    tail = max_length - head
    return ids[:head] + (ids[len(ids) - tail :] if tail else [])


def _html_rule():  # -> tokenizers.normalizers.Normalizer
    """IMDB's literal ``<br />`` line breaks become spaces."""
    from tokenizers import Regex, normalizers

    return normalizers.Replace(Regex(r"<br\s*/?>"), " ")


def build_tokenizer(cfg: TokenizerConfig):  # -> tokenizers.Tokenizer
    """An untrained tokenizer whose normalizer applies the lower-casing and ``<br />`` rules."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    steps = []
    if cfg.strip_html:
        steps.append(_html_rule())
    if cfg.lowercase:
        steps.append(normalizers.Lowercase())
    if cfg.model == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
        tokenizer.decoder = decoders.WordPiece()
    else:
        tokenizer = Tokenizer(models.BPE(unk_token=UNK, end_of_word_suffix=_BPE_SUFFIX))
        tokenizer.decoder = decoders.BPEDecoder(suffix=_BPE_SUFFIX)
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # words and punctuation
    return tokenizer


def train_tokenizer(cfg: TokenizerConfig, texts: Sequence[str]):  # -> tokenizers.Tokenizer
    """Train a tokenizer on ``texts`` (callers pass the train split only)."""
    from tokenizers import trainers

    tokenizer = build_tokenizer(cfg)
    common = {
        "vocab_size": cfg.vocab_size,
        "min_frequency": cfg.min_frequency,
        "special_tokens": [PAD, UNK],
        "show_progress": False,
    }
    if cfg.model == "wordpiece":
        trainer = trainers.WordPieceTrainer(**common)
    else:
        trainer = trainers.BpeTrainer(**common, end_of_word_suffix=_BPE_SUFFIX)
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    _canonical_ids(tokenizer, cfg)
    assert tokenizer.token_to_id(PAD) == 0 and tokenizer.token_to_id(UNK) == 1
    return tokenizer


def _canonical_ids(tokenizer, cfg: TokenizerConfig) -> None:
    """Renumber the vocabulary: special tokens first, then the others sorted as strings.

    The trainers number tokens in hash-map order, so two trainings on the same text give the
    same tokens different ids (huggingface/tokenizers#1794); ids in a sorted order make the
    encoded output reproducible. (That issue can also swap a few tokens tied at the vocabulary
    cut-off; this cannot fix that.)
    """
    from tokenizers import models

    vocab = tokenizer.get_vocab()
    order = [PAD, UNK, *sorted(t for t in vocab if t not in (PAD, UNK))]
    ids = {token: i for i, token in enumerate(order)}
    if cfg.model == "wordpiece":
        tokenizer.model = models.WordPiece(ids, unk_token=UNK)
    else:
        merges = json.loads(tokenizer.to_str())["model"]["merges"]
        pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
        tokenizer.model = models.BPE(ids, pairs, unk_token=UNK, end_of_word_suffix=_BPE_SUFFIX)


class TextEncoder:
    """Raw text -> truncated token ids, exactly as the tokenize stage encoded the datasets.

    ``prefix``/``suffix`` are special-token ids wrapped around every text after truncation
    ([CLS] ... [SEP] for a BERT encoder); ``max_length`` counts them, ``head`` does not.
    """

    def __init__(
        self,
        tokenizer,
        max_length: int,
        head: int,
        prefix: Sequence[int] = (),
        suffix: Sequence[int] = (),
    ) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.head = head
        self.prefix, self.suffix = list(prefix), list(suffix)
        self.budget = max_length - len(self.prefix) - len(self.suffix)  # text tokens kept

    def fit(self, ids: Sequence[int]) -> list[int]:
        """Untruncated text ids → what the model reads: truncated to the budget, wrapped."""
        return [*self.prefix, *truncate(ids, self.budget, self.head), *self.suffix]

    @classmethod
    def from_dir(cls, directory: str | Path) -> TextEncoder:
        """Load ``tokenizer.json`` and the truncation settings in ``meta.json`` of ``directory``."""
        from tokenizers import Tokenizer

        directory = Path(directory)
        for name in (TOKENIZER_FILE, META_FILE):
            if not (directory / name).is_file():
                raise TokenizeError(f"{directory / name}: missing; run the tokenize stage first")
        meta = json.loads((directory / META_FILE).read_text())
        tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        return cls(
            tokenizer,
            int(meta["max_length"]),
            int(meta["head_length"]),
            meta.get("prefix_ids", ()),
            meta.get("suffix_ids", ()),
        )

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text: truncated to ``max_length``, wrapped, no padding."""
        return [self.fit(ids) for ids in self.encode_full(texts)]

    def encode_full(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text before truncation, without special tokens."""
        encodings = self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [e.ids for e in encodings]


def tokenize_dataset(cfg: TokenizerConfig, processed_dir: str | Path, out_dir: str | Path) -> dict:
    """Train on ``train.parquet``, encode every split into ``out_dir``; return ``meta.json``.

    ``out_dir`` appears whole or not at all. (The tokenize stage runs it only on splits whose
    validation report passed.)
    """
    frames = _read_splits(processed_dir)
    tokenizer = train_tokenizer(cfg, frames["train"]["text"].tolist())
    encoder = TextEncoder(tokenizer, cfg.max_length, head_length(cfg))
    meta = {
        "vocab_size": tokenizer.get_vocab_size(),
        "pad_id": tokenizer.token_to_id(PAD),
        "unk_id": tokenizer.token_to_id(UNK),
        "max_length": cfg.max_length,
        "truncation": cfg.truncation,
        "head_fraction": cfg.head_fraction,
        "head_length": encoder.head,
        "model": cfg.model,
        "trained_on": "train",
    }
    return _write_encoded(encoder, frames, meta, out_dir)


def tokenize_pretrained(
    cfg: PretrainedTokenizerConfig,
    tokenizer,  # tokenizers.Tokenizer: the encoder's own, as it came with its weights
    special: dict[str, Any],
    processed_dir: str | Path,
    out_dir: str | Path,
) -> dict:
    """Encode every split with a pre-trained encoder's tokenizer (nothing is fit); return
    ``meta.json``, which records the encoder (``cfg.encoder``) and ``special``: ``prefix_ids``,
    ``suffix_ids``, ``pad_id``, ``unk_id``, ``model_max_length`` and provenance keys.

    With ``strip_html`` the ``<br />`` rule runs before the tokenizer's own normalizer; the saved
    ``tokenizer.json`` includes it, so that serving reads reviews the same way.
    """
    from tokenizers import normalizers

    where = "pretrained.<task>.max_length"
    limit = int(special["model_max_length"])
    wrap = len(special["prefix_ids"]) + len(special["suffix_ids"])
    if not wrap < cfg.max_length <= limit:
        raise TokenizeError(
            f"{where}: expected at most {limit} (the encoder's positions) and more than its "
            f"{wrap} special tokens, got {cfg.max_length}"
        )
    frames = _read_splits(processed_dir)
    if cfg.strip_html:
        own = tokenizer.normalizer
        tokenizer.normalizer = normalizers.Sequence([_html_rule(), *([own] if own else [])])
    budget = cfg.max_length - wrap
    encoder = TextEncoder(
        tokenizer,
        cfg.max_length,
        head_length(cfg, budget),
        special["prefix_ids"],
        special["suffix_ids"],
    )
    meta = {
        "vocab_size": tokenizer.get_vocab_size(),
        **special,
        "max_length": cfg.max_length,
        "truncation": cfg.truncation,
        "head_fraction": cfg.head_fraction,
        "head_length": encoder.head,
        "model": "pretrained",
        "encoder": cfg.encoder,
        "trained_on": "none (the encoder's own vocabulary)",
    }
    return _write_encoded(encoder, frames, meta, out_dir)


def _read_splits(processed_dir: str | Path) -> dict[str, pd.DataFrame]:
    frames = load_splits(processed_dir)
    for split, frame in frames.items():
        _require_columns(Path(processed_dir) / f"{split}.parquet", frame)
    return frames


def _write_encoded(
    encoder: TextEncoder, frames: dict[str, pd.DataFrame], meta: dict, out_dir: str | Path
) -> dict:
    """Write ``tokenizer.json``, ``{split}.npz`` and ``meta.json`` (``meta`` + per-split
    statistics) into ``out_dir``, which appears whole or not at all."""
    meta = {**meta, "splits": {}}
    with atomic_path(out_dir) as staged:
        staged.mkdir(parents=True)
        encoder.tokenizer.save(str(staged / TOKENIZER_FILE))
        for split, frame in frames.items():
            full = encoder.encode_full(frame["text"].tolist())
            encoded = _pack([encoder.fit(ids) for ids in full], frame["label"].to_numpy(np.int64))
            _save_npz(staged / f"{split}.npz", vars(encoded))
            meta["splits"][split] = _stats(
                encoded, np.array([len(x) for x in full]), meta["unk_id"], encoder.budget
            )
        write_json(staged / META_FILE, meta)
    return meta


def shorten_encoded(directory: str | Path, out_dir: str | Path, max_length: int) -> dict:
    """Copy the tokenized folder ``directory`` into ``out_dir`` with every review cut to
    ``max_length`` tokens by the rule it was tokenized with (its ``meta.json``); return the new
    ``meta.json``.

    The result is what tokenizing at ``max_length`` gives (the same tokenizer, fit on the same
    texts): both ends kept at the shorter length lie inside the ends kept at the longer one.
    """
    directory = Path(directory)
    meta = json.loads((directory / META_FILE).read_text())
    where = f"{directory / META_FILE}"
    if meta["truncation"] == "head_tail" and "head_fraction" not in meta:
        raise TokenizeError(f"{where}: no head_fraction; re-run the tokenize stage")
    prefix, suffix = list(meta.get("prefix_ids", ())), list(meta.get("suffix_ids", ()))
    wrap, longest = len(prefix) + len(suffix), int(meta["max_length"])
    if not wrap < max_length <= longest:
        raise TokenizeError(
            f"{where}: can cut reviews to more than {wrap} and at most {longest} tokens "
            f"(its max_length), not {max_length}"
        )
    rule = TruncationConfig(
        max_length=max_length,
        truncation=meta["truncation"],
        head_fraction=float(meta.get("head_fraction", 0.0)),
    )
    budget, kept = max_length - wrap, longest - wrap
    head, old_head = head_length(rule, budget), int(meta["head_length"])
    if head > old_head or budget - head > kept - old_head:
        raise TokenizeError(
            f"{where}: keeps {old_head} + {kept - old_head} tokens of the two ends; cutting to "
            f"{max_length} needs {head} + {budget - head} (tokenize at {max_length} instead)"
        )
    out = {**meta, "max_length": max_length, "head_length": head, "cut_from": longest}
    out["splits"] = {}
    with atomic_path(out_dir) as staged:
        staged.mkdir(parents=True)
        shutil.copyfile(directory / TOKENIZER_FILE, staged / TOKENIZER_FILE)
        for split in meta["splits"]:
            enc = load_encoded(directory, split)
            bodies = (
                enc.ids[a + len(prefix) : b - len(suffix)].tolist()
                for a, b in zip(enc.offsets[:-1], enc.offsets[1:], strict=True)
            )
            cut = _pack(
                [[*prefix, *truncate(x, budget, head), *suffix] for x in bodies], enc.labels
            )
            _save_npz(staged / f"{split}.npz", vars(cut))
            lengths = cut.lengths
            out["splits"][split] = {
                "count": len(cut),
                "tokens": int(lengths.sum()),
                "mean_length": round(float(lengths.mean()), 2) if len(lengths) else 0.0,
            }
        write_json(staged / META_FILE, out)
    return out


def load_encoded(directory: str | Path, split: str) -> EncodedSplit:
    """Read ``<directory>/<split>.npz`` written by :func:`tokenize_dataset`."""
    path = Path(directory) / f"{split}.npz"
    if not path.is_file():
        raise TokenizeError(f"{path}: missing; run the tokenize stage first")
    with np.load(path) as data:
        missing = {"ids", "offsets", "labels"} - set(data.files)
        if missing:
            raise TokenizeError(f"{path}: expected arrays ids, offsets, labels; missing {missing}")
        split_data = EncodedSplit(data["ids"], data["offsets"], data["labels"])
    if len(split_data.offsets) != len(split_data.labels) + 1:
        raise TokenizeError(f"{path}: expected len(offsets) == len(labels) + 1")
    return split_data


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` with fixed zip timestamps, so equal arrays give byte-identical files."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asarray(array), allow_pickle=False)


def _pack(sequences: list[list[int]], labels: np.ndarray) -> EncodedSplit:
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)  # (N + 1,)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter(
        (t for s in sequences for t in s), dtype=np.int32, count=int(offsets[-1])
    )  # (total_tokens,)
    return EncodedSplit(ids=ids, offsets=offsets, labels=labels)


def _stats(encoded: EncodedSplit, full_lengths: np.ndarray, unk_id: int, budget: int) -> dict:
    """Counts and lengths of a split; ``full_lengths`` are before truncation to ``budget``."""
    lengths = encoded.lengths
    return {
        "count": len(encoded),
        "tokens": int(lengths.sum()),
        "mean_length": round(float(lengths.mean()), 2) if len(lengths) else 0.0,
        "median_length": float(np.median(lengths)) if len(lengths) else 0.0,
        "mean_untruncated_length": round(float(full_lengths.mean()), 2) if len(lengths) else 0.0,
        "truncated_fraction": round(float((full_lengths > budget).mean()), 4)
        if len(lengths)
        else 0.0,
        "unk_fraction": round(float((encoded.ids == unk_id).mean()), 6)
        if len(encoded.ids)
        else 0.0,
    }


def _require_columns(path: Path, frame: pd.DataFrame) -> None:
    missing = {"text", "label"} - set(frame.columns)
    if missing:
        raise TokenizeError(f"{path}: expected columns text and label; missing {sorted(missing)}")
