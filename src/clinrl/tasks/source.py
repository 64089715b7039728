"""One grammar for source strings and one typed reading of their options.

A source is ``kind[:spec]``: ``synthetic``, ``synthetic:n=300;seed=1``, ``synthetic:hard;negation_rate=0.2``.
The spec is ``key=value`` pairs separated by ``;``; a value may hold ``,`` (``calculators=6,5,39``); a bare
word is a preset where the task has presets (trials' ``easy`` / ``medium`` / ``hard``). The older comma form
between pairs (``synthetic:hard,negation_rate=0.2``, which trials and EHR accepted) is still read, with a
``DeprecationWarning``.

Each task reads its options into a ``SynthConfig`` dataclass with :func:`synth_config`, which validates
them with :func:`clinrl.settings.from_dict` — the same code that validates recipes — so an unknown key or
a bad value is an error naming the source and the field. :func:`split_seed` gives each synthetic split its
own seed stream.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

from clinrl.errors import ConfigError
from clinrl.settings import from_dict

#: seed offsets of synthetic splits: a split never shares a generated item with another while n < 1,000,000
SPLIT_OFFSETS: Mapping[str, int] = {"train": 0, "validation": 1_000_000, "val": 1_000_000, "dev": 1_000_000,
                                    "test": 2_000_000}


def parse_source(source: str, *, presets: Sequence[str] = ()) -> tuple[str, dict[str, str]]:
    """``"synthetic:n=300;seed=1"`` → ``("synthetic", {"n": "300", "seed": "1"})``.

    Keys are lower-cased and values stripped (typing them is :func:`synth_config`'s job). A bare word is
    returned as ``{"preset": word}`` when it is one of ``presets``. Raises ``ConfigError`` naming the source
    and the offending part for a pair without ``=``, an empty key, a repeated key or an unknown preset."""
    kind, _, spec = str(source).partition(":")
    options: dict[str, str] = {}
    parts = [p.strip() for p in spec.split(";") if p.strip()]
    if any(_is_comma_form(p) for p in parts):
        warnings.warn(f"source {source!r}: separate options with ';' (e.g. 'synthetic:hard;negation_rate=0.2'); "
                      "',' between options is deprecated", DeprecationWarning, stacklevel=2)
        parts = [q.strip() for p in parts for q in (p.split(",") if _is_comma_form(p) else [p]) if q.strip()]
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep:
            if key in presets and "preset" not in options:
                options["preset"] = key
                continue
            hint = f" or a preset ({', '.join(presets)})" if presets else ""
            raise ConfigError(f"source {source!r}: expected key=value{hint}, got {part!r}")
        if not key:
            raise ConfigError(f"source {source!r}: {part!r} has no key before '='")
        if key in options:
            raise ConfigError(f"source {source!r}: option {key!r} is given twice")
        options[key] = value.strip()
    return kind.strip(), options


def _is_comma_form(part: str) -> bool:
    """``a=1,b=2`` or ``hard,b=2``: commas separating options, not inside one value."""
    if "," not in part:
        return False
    head, sep, value = part.partition("=")
    return "," in head or (bool(sep) and "=" in value)


def synth_config(cls: type, source: str, defaults: Mapping[str, Any] | None = None, *,
                 overrides: Mapping[str, Any] | None = None, presets: Mapping[str, Any] | None = None) -> Any:
    """The task's ``SynthConfig`` (dataclass ``cls``) for ``source``: ``defaults`` (or the named preset's
    fields), then the source's options, then ``overrides`` (task options); validated by
    :func:`clinrl.settings.from_dict`, errors prefixed with the source."""
    _, options = parse_source(source, presets=tuple(presets or ()))
    base: dict[str, Any] = dict(defaults or {})
    preset = options.pop("preset", None)
    if preset is not None:
        import dataclasses

        chosen = (presets or {})[preset]
        base = dataclasses.asdict(chosen) if dataclasses.is_dataclass(chosen) else dict(chosen)
    try:
        return from_dict(cls, {**base, **options, **dict(overrides or {})})
    except ConfigError as exc:
        raise ConfigError(f"source {source!r}: {exc}") from None


def split_seed(seed: int, split: str, offsets: Mapping[str, int] = SPLIT_OFFSETS, *,
               what: str = "synthetic source") -> int:
    """``seed`` shifted by the split's offset (:data:`SPLIT_OFFSETS` unless a task keeps its own table), so
    the splits of a synthetic source are disjoint; an unknown split is a ``ConfigError`` listing the splits."""
    offset = offsets.get(split)
    if offset is None:
        raise ConfigError(f"{what}: unknown split {split!r}; the splits are {', '.join(offsets)}")
    return seed + offset
