"""Typed dataclass configs from TOML, YAML and JSON files, with dotted command-line overrides.

The usual flow is ``file -> dict -> overrides -> dataclass``::

    raw = load_config_file("run.toml")                       # {"model": {"hidden": 128}, ...}
    raw = apply_overrides(raw, ["model.hidden=256", "train.lr=1e-3"])
    cfg = from_dict(RunConfig, raw)                           # types checked, __post_init__ runs
    save_config(cfg, "out/config.json")                       # JSON, written atomically

or ``load_config(RunConfig, "run.toml", overrides)`` in one call. Every problem is reported as a one-line
:class:`ConfigError` (a ``ValueError``) that names the file or the dotted key and says what was expected.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
import json
import os
import pathlib
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, Union

import yaml

from unrolled._fs import open_temp_file
from unrolled.errors import UnrolledError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

T = TypeVar("T")


class ConfigError(UnrolledError, ValueError):
    """A bad config file, override or value. The message is one line."""


class ConfigFileNotFoundError(ConfigError, FileNotFoundError):
    """The config file does not exist (catchable as ``ValueError`` or ``FileNotFoundError``)."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# --- files ----------------------------------------------------------------------------------------------
def _parse_toml(text: str, path: pathlib.Path) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # the message already ends with "(at line L, column C)"
        raise ConfigError(f"could not parse TOML config {path}: {_one_line(e)}") from None


def _parse_yaml(text: str, path: pathlib.Path) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or e
        raise ConfigError(f"could not parse YAML config {path}{where}: {_one_line(problem)}") from None


def _parse_json(text: str, path: pathlib.Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"could not parse JSON config {path} at line {e.lineno}, column {e.colno}: {e.msg}") from None


#: Config file readers by file extension.
READERS: dict[str, Callable[[str, pathlib.Path], Any]] = {
    ".toml": _parse_toml,
    ".yaml": _parse_yaml,
    ".yml": _parse_yaml,
    ".json": _parse_json,
}


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file into a dict (an empty YAML file gives ``{}``).

    Raises:
        ConfigFileNotFoundError: the file does not exist.
        ConfigError: unknown extension, unreadable file, parse error (with line and column), or a top level
            that is not a table/mapping.
    """
    p = pathlib.Path(path)
    reader = READERS.get(p.suffix.lower())
    if reader is None:
        raise ConfigError(f"expected a config file ending in {', '.join(READERS)}, got {p}")
    if not p.exists():
        raise ConfigFileNotFoundError(f"config file not found: {p}")
    if not p.is_file():
        raise ConfigError(f"expected a config file, got a directory or special file: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"could not read config file {p}: {_one_line(e)}") from None
    data = reader(text, p)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a table/mapping at the top level of {p}, got {type(data).__name__}")
    return data


# --- overrides ------------------------------------------------------------------------------------------
_NULLS = {"null", "Null", "NULL", "~"}


def parse_value(text: str) -> Any:
    """Parse an override value the way a config file would.

    Tried in order: a TOML value (``256``, ``1e-3``, ``true``, ``"quoted"``, ``[1, 2]``, ``{a = 1}``, ``inf``);
    ``True``/``False`` in any case; YAML ``null``/``~`` (-> ``None``); a YAML flow list or mapping
    (``[a, b]``, ``{a: 1}``); anything else is the string itself (``foo.txt``). An empty value is ``""``.
    Quote a value to force a string: ``name="1"``.
    """
    s = text.strip()
    if s == "":
        return ""
    try:
        value = tomllib.loads(f"v = {s}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    else:
        if not isinstance(value, (datetime.date, datetime.time)):  # dates stay strings
            return value
        return s
    if s.lower() in ("true", "false"):
        return s.lower() == "true"
    if s in _NULLS:
        return None
    if s[0] in "[{":
        try:
            value = yaml.safe_load(s)
        except yaml.YAMLError:
            return s
        if isinstance(value, (list, dict)):
            return value
    return s


def apply_overrides(d: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a deep copy of ``d`` with dotted ``key=value`` overrides applied, e.g. ``"model.hidden=256"``.

    Missing intermediate tables are created (so :func:`from_dict` can then name an unknown key); values are
    parsed by :func:`parse_value`. The input dict is not modified.
    """
    if isinstance(overrides, (str, bytes)) or not isinstance(overrides, Sequence):
        raise ConfigError(f"expected a list of 'key=value' overrides, got {type(overrides).__name__}")
    out = copy.deepcopy(dict(d))
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(f"expected an override of the form 'key.sub=value', got {item!r}")
        key, _, raw = item.partition("=")
        parts = key.strip().split(".")
        if not all(part.strip() for part in parts):
            raise ConfigError(f"expected a dotted key like 'model.hidden' before '=', got {item!r}")
        parts = [part.strip() for part in parts]
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(parts[: i + 1])
                raise ConfigError(
                    f"cannot apply override {item!r}: {prefix!r} is a {type(child).__name__}, not a table"
                )
            node = child
        node[parts[-1]] = parse_value(raw)
    return out


# --- dataclasses ----------------------------------------------------------------------------------------
def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert it (dict -> dataclass, list -> tuple...)."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            option = options[0]
            if typing.get_origin(option) is not None or dataclasses.is_dataclass(option):
                return _convert(option, value, where)  # the inner error is the more precise one
        for option in options:
            try:
                return _convert(option, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        for a in args:
            if value == a and type(value) is type(a):
                return a
        raise ConfigError(f"{where}: expected one of {list(args)}, got {_describe(value)}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list for {_type_name(tp)}, got {_describe(value)}")
        if origin is list or (len(args) == 2 and args[1] is Ellipsis) or not args:
            item_tp = args[0] if args else Any
            items = [_convert(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value)]
        else:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} items for {_type_name(tp)}, got {len(value)}")
            items = [_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value))]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table for {_type_name(tp)}, got {_describe(value)}")
        key_tp, val_tp = args if args else (Any, Any)
        return {_convert(key_tp, k, where): _convert(val_tp, v, f"{where}.{k}") for k, v in value.items()}
    if origin is not None:
        raise ConfigError(f"{where}: unsupported type annotation {_type_name(tp)}")
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{where}: expected null, got {_describe(value)}")
        return None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        return _from_dict(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected bool, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected int, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected float, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected str, got {_describe(value)}")
        return value
    if isinstance(tp, type) and issubclass(tp, pathlib.PurePath):
        if not isinstance(value, (str, pathlib.PurePath)):
            raise ConfigError(f"{where}: expected a path string, got {_describe(value)}")
        return tp(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if value == member.value or value == member.name or value is member:
                return member
        raise ConfigError(f"{where}: expected one of {[m.value for m in tp]}, got {_describe(value)}")
    if isinstance(tp, type):
        if not isinstance(value, tp):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {_describe(value)}")
        return value
    raise ConfigError(f"{where}: unsupported type annotation {_type_name(tp)}")


def _from_dict(cls: type[T], d: Any, where: str) -> T:
    label = f"{cls.__name__} at {where!r}" if where else cls.__name__
    if not isinstance(d, Mapping):
        raise ConfigError(f"expected a table/mapping for {label}, got {_describe(d)}")
    try:
        hints = typing.get_type_hints(cls)
    except Exception as e:  # unresolvable forward references in a user's dataclass
        raise ConfigError(f"cannot resolve the type annotations of {cls.__name__}: {_one_line(e)}") from None
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    prefix = f"{where}." if where else ""
    for key in d:
        if key not in fields:
            raise ConfigError(
                f"unknown key '{prefix}{key!s}' for {cls.__name__}; valid keys: {', '.join(fields) or '(none)'}"
            )
    kwargs = {}
    for name, f in fields.items():
        if name in d:
            kwargs[name] = _convert(hints.get(name, Any), d[name], f"{prefix}{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key '{prefix}{name}' for {cls.__name__}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"invalid {label}: {_one_line(e)}") from e


def from_dict(cls: type[T], d: Mapping[str, Any]) -> T:
    """Build the dataclass ``cls`` (possibly nested) from a dict, checking every value's type.

    Supported annotations: ``int``, ``float`` (an int is accepted and converted), ``bool``, ``str``,
    ``pathlib.Path``, enums, ``Optional[X]``/``X | None`` and other unions, ``Literal[...]``,
    ``tuple[X, ...]``/``tuple[X, Y]`` and ``list[X]`` (from lists), ``dict[K, V]``, nested dataclasses (from
    tables) and ``Any``. Keys that are not init fields are rejected, naming the key and listing the valid
    ones; fields left out take their defaults. Errors raised by ``__post_init__`` come back as
    :class:`ConfigError` naming the dataclass.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"expected a dataclass type, got {cls!r}")
    return _from_dict(cls, d, "")


def to_dict(obj: Any) -> Any:
    """A JSON-able copy of a dataclass (recursively): tuples become lists, paths strings, enums their values.

    Only ``init`` fields are written, so ``from_dict(type(obj), to_dict(obj)) == obj``.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ConfigError(f"expected string keys in a config mapping, got {_describe(k)}")
            out[k] = to_dict(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, enum.Enum):
        return to_dict(obj.value)
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return to_dict(obj.item())
    raise ConfigError(f"cannot write a value of type {type(obj).__name__} to a config file: {obj!r}")


def save_config(obj: Any, path: str | os.PathLike[str]) -> pathlib.Path:
    """Write a dataclass or dict as indented JSON to ``path`` (``.json``), atomically.

    The JSON goes to a temporary file in the same folder which then replaces ``path``, so readers never see a
    half-written file. Parent folders are created. Returns the path.
    """
    p = pathlib.Path(path)
    if p.suffix.lower() != ".json":
        raise ConfigError(f"expected a path ending in .json to save a config, got {p}")
    if not (isinstance(obj, Mapping) or (dataclasses.is_dataclass(obj) and not isinstance(obj, type))):
        raise TypeError(f"expected a dataclass instance or a dict to save, got {type(obj).__name__}")
    try:
        text = json.dumps(to_dict(obj), indent=2, allow_nan=False) + "\n"
    except ValueError as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"cannot save config to {p}: {_one_line(e)} (JSON has no nan/inf)") from None
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = open_temp_file(p.parent, p.name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return p


def load_config(cls: type[T], path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> T:
    """``from_dict(cls, apply_overrides(load_config_file(path), overrides))``; no path starts from ``{}``."""
    raw = load_config_file(path) if path is not None else {}
    return from_dict(cls, apply_overrides(raw, list(overrides)))
