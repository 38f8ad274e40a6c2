"""The typed-config builder: plain dicts from ``params.yaml`` → frozen, validated dataclasses.

Every section of ``params.yaml`` maps onto a frozen dataclass defined beside the code it
configures. :func:`build` turns a plain dict into such a dataclass, checking keys and types, so
that a typo or a wrong value fails at load time with the dotted key that is wrong
(``datasets.imdb.val_fraction: expected ...``), never deep inside a training loop. This module is
a leaf: it knows no schema.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Iterable
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


def plain(value: Any) -> Any:
    """``value`` as JSON-ready plain data: dataclasses and mappings become dicts, other iterables
    lists, numpy/torch scalars and arrays numbers and lists, anything else its string."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):  # numpy scalars and arrays, tensors
        return plain(value.tolist())
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        return [plain(v) for v in value]
    return str(value)


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``overlay`` merged in (dicts merged, anything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in (overlay or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
