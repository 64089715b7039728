"""Typed settings: dataclass fields with help texts, built from nested dicts with named errors.

The lowest layer (it imports only :mod:`clinrl.errors`), so recipes (:mod:`clinrl.training.config`) and
task options (each task's ``SynthConfig``) are validated by the same code: unknown keys are named with
their dotted path, numbers written as strings (YAML reads ``1e-5`` as one) are coerced to the field's type.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import field
from typing import Any

from clinrl.errors import ConfigError


def setting(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with a ``help`` text. A list or dict default is copied per instance; a dataclass
    type as default means "a fresh instance of it" (nested settings)."""
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return field(default_factory=default, metadata={"help": help}, **kw)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


def choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(choices)}")


def hint_for(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def dataclass_in(hint: Any) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint  # type: ignore[return-value]
    for arg in typing.get_args(hint):
        if dataclasses.is_dataclass(arg):
            return arg
    return None


def from_dict(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass ``cls`` from nested dicts; unknown keys and wrong shapes raise ``ConfigError``.

    A class may define ``upgrade(data, where) -> data`` (a static method) to map deprecated keys first."""
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    upgrade = getattr(cls, "upgrade", None)
    if upgrade is not None:
        data = upgrade(dict(data), where)
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in known:
            raise ConfigError(f"unknown config field {path!r}; known fields here: {', '.join(known)}")
        hint = hint_for(cls, key)
        inner = dataclass_in(hint)
        origin = typing.get_origin(hint)
        if origin is list and value is not None:
            (item,) = typing.get_args(hint) or (Any,)
            if not isinstance(value, list):
                raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
            if dataclasses.is_dataclass(item):
                kwargs[key] = [from_dict(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
            else:
                kwargs[key] = list(value)
        elif inner is not None and value is not None:
            kwargs[key] = from_dict(inner, value, path)
        else:
            kwargs[key] = coerce(hint, value, path)
    return cls(**kwargs)


def coerce(hint: Any, value: Any, path: str) -> Any:
    """YAML reads ``1e-5`` as a string; numbers are coerced to the field's type, anything else checked."""
    options = [a for a in typing.get_args(hint)] if isinstance(hint, types.UnionType) or \
        typing.get_origin(hint) is typing.Union else [hint]
    if value is None:
        if type(None) in options:
            return None
        raise ConfigError(f"{path}: may not be empty")
    for option in options:
        if option is bool and isinstance(value, bool):
            return value
        if option in (int, float) and not isinstance(value, bool):
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if option is int:
                if number != int(number):
                    continue
                return int(number)
            return number
        if option is str and isinstance(value, str):
            return value
        if option is Any or typing.get_origin(option) is dict and isinstance(value, dict):
            return value
    raise ConfigError(f"{path}: {value!r} is not a valid {getattr(hint, '__name__', hint)}")


def field_help(cls: type, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, default, help) for every field, recursing into nested settings."""
    rows: list[tuple[str, str, str]] = []
    instance = cls()
    for f in dataclasses.fields(cls):
        name = f"{prefix}{f.name}"
        inner = dataclass_in(hint_for(cls, f.name))
        if inner is not None and typing.get_origin(hint_for(cls, f.name)) is not list:
            rows.extend(field_help(inner, f"{name}."))
            continue
        if inner is not None:
            rows.append((f"{name}[]", "", f.metadata.get("help", "")))
            rows.extend(field_help(inner, f"{name}[]."))
            continue
        rows.append((name, repr(getattr(instance, f.name)), f.metadata.get("help", "")))
    return rows
