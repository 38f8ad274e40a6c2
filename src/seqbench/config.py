"""Typed, validated configuration objects built from ``params.yaml``.

Every section of ``params.yaml`` maps onto a frozen dataclass. :func:`build` turns a plain dict
into such a dataclass, checking keys and types, so that a typo or a wrong value fails at load time
with the dotted key that is wrong (``datasets.imdb.val_fraction: expected ...``), never deep inside
a training loop.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml

from seqbench.errors import SeqbenchError

T = TypeVar("T")

PARAMS_FILE = "params.yaml"


class ConfigError(SeqbenchError):
    """A value in ``params.yaml`` (or an override) is missing, unknown or of the wrong type."""


def _fail(where: str, expected: str, got: Any) -> typing.NoReturn:
    raise ConfigError(f"{where}: expected {expected}, got {got!r}")


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Check (and minimally coerce) ``value`` against the annotation ``tp``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        _fail(where, " or ".join(_describe(o) for o in options), value)
    if origin is Literal:
        if value not in get_args(tp):
            _fail(where, "one of " + ", ".join(map(repr, get_args(tp))), value)
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            _fail(where, f"a mapping for {tp.__name__}", value)
        return build(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            _fail(where, "a list", value)
        (item_tp, *_rest) = get_args(tp) or (Any,)
        items = [_convert(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            _fail(where, "a mapping", value)
        key_tp, val_tp = get_args(tp) or (Any, Any)
        return {
            _convert(key_tp, k, f"{where}"): _convert(val_tp, v, f"{where}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            _fail(where, "true or false", value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, "an integer", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            _fail(where, "a number", value)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            _fail(where, "a string", value)
        return value
    raise TypeError(f"unsupported config annotation {tp!r} at {where}")


def _describe(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(map(repr, get_args(tp)))
    return getattr(tp, "__name__", str(tp))


def build(cls: type[T], data: dict[str, Any] | None, where: str = "") -> T:
    """Build the dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types.

    ``where`` is the dotted key of ``data`` inside ``params.yaml``; it prefixes every error.
    Validation specific to a class lives in its ``__post_init__`` and raises :class:`ConfigError`.
    """
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    prefix = f"{where}." if where else ""
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}: unknown key; expected one of {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], f"{prefix}{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{prefix}{name}: required key is missing")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        if where and not str(exc).startswith(where):
            raise ConfigError(f"{prefix}{exc}") from None
        raise


def check(condition: bool, key: str, expected: str, got: Any) -> None:
    """Raise :class:`ConfigError` for ``key`` unless ``condition`` holds (for ``__post_init__``)."""
    if not condition:
        _fail(key, expected, got)


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """Read ``params.yaml`` as a plain dict (sections are then built with :func:`build`)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def section(params: dict[str, Any], dotted: str) -> Any:
    """Return ``params[a][b]...`` for ``dotted = "a.b"``, naming the missing key if absent."""
    node: Any = params
    for i, part in enumerate(dotted.split(".")):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"{'.'.join(dotted.split('.')[: i + 1])}: required key is missing")
        node = node[part]
    return node


# ---------------------------------------------------------------------------------------------
# Data sections
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
class ImdbConfig:
    """The IMDB dataset: source archive, validation split and the expectations that gate it."""

    kind: Literal["imdb"]
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
class TokenizerConfig:
    """A Hugging Face ``tokenizers`` model trained on the train split only."""

    model: Literal["wordpiece", "bpe"] = "wordpiece"
    vocab_size: int = 20000
    min_frequency: int = 2
    lowercase: bool = True
    strip_html: bool = True
    max_length: int = 256
    truncation: Literal["head", "tail", "head_tail"] = "head_tail"
    head_fraction: float = 0.25  # head_tail: share of max_length taken from the review's start

    def __post_init__(self) -> None:
        check(self.vocab_size >= 100, "vocab_size", "an integer >= 100", self.vocab_size)
        check(self.max_length >= 8, "max_length", "an integer >= 8", self.max_length)
        check(self.min_frequency >= 1, "min_frequency", "an integer >= 1", self.min_frequency)
        check(
            0.0 <= self.head_fraction <= 1.0,
            "head_fraction",
            "a number in [0, 1]",
            self.head_fraction,
        )


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
class TimeSeriesConfig:
    """A forecasting dataset: CSV sources, parsing, splits, windows, scaling and expectations.

    ``columns`` lists the value columns kept (a list of names, or a mapping from the CSV's name to
    a short name); ``features``, ``targets``, ``min_value``, ``max_value`` use the short names.
    ``expected_rows`` keys are split names or ``+``-joined groups (``train+val``).
    """

    kind: Literal["timeseries"]
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


DATASET_KINDS: dict[str, type] = {"imdb": ImdbConfig, "timeseries": TimeSeriesConfig}


def dataset_config(params: dict[str, Any], name: str) -> Any:
    """Build the typed config of ``datasets.<name>``, choosing its class by its ``kind`` key."""
    raw = section(params, f"datasets.{name}")
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in DATASET_KINDS:
        raise ConfigError(
            f"datasets.{name}.kind: expected one of {', '.join(sorted(DATASET_KINDS))}, "
            f"got {kind!r}"
        )
    return build(DATASET_KINDS[kind], raw, f"datasets.{name}")
