"""clinrl's clinical calculator library: the 55 MedCalc-Bench calculators, with explanations.

    >>> from clinrl.calculators import compute
    >>> compute("bmi", {"weight": (70, "kg"), "height": (175, "cm")}).value
    22.857

Calculators are addressed by MedCalc-Bench calculator id (``6``, ``"6"``) or by slug (``"bmi"``).
Every module of this package that is not part of the framework (see ``_FRAMEWORK``) is a calculator
family and is imported the first time the registry is used, so adding a family is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from clinrl.calculators.base import (
    _BY_SLUG,
    _REGISTRY,
    CalcResult,
    Calculator,
    Field,
    Values,
    fmt,
    register,
)
from clinrl.calculators.errors import CalculatorInputError, UnknownCalculatorError

__all__ = [
    "CalcResult", "Calculator", "CalculatorInputError", "Field", "UnknownCalculatorError", "Values",
    "compute", "fmt", "get_calculator", "list_calculators", "register",
]

# Modules that are not calculator families (never imported by discovery).
_FRAMEWORK = frozenset({"base", "errors", "units", "entities"})
_loaded = False


def _discover() -> None:
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _FRAMEWORK or info.ispkg:
            continue
        importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


def get_calculator(id_or_slug: int | str) -> Calculator:
    """The calculator with MedCalc-Bench id ``id_or_slug`` (int or digit string) or that slug."""
    _discover()
    key = id_or_slug
    if isinstance(key, str) and key.strip().isdigit():
        key = int(key.strip())
    if isinstance(key, int) and not isinstance(key, bool) and key in _REGISTRY:
        return _REGISTRY[key]
    if isinstance(key, str):
        slug = key.strip().casefold().replace(" ", "-")
        if slug in _BY_SLUG:
            return _BY_SLUG[slug]
        if slug.replace("-", "_") in _BY_SLUG:
            return _BY_SLUG[slug.replace("-", "_")]
    raise UnknownCalculatorError(
        f"no calculator {id_or_slug!r}; `clinrl calc list` shows the {len(_REGISTRY)} ids and slugs")


def list_calculators() -> list[Calculator]:
    """Every registered calculator, by id."""
    _discover()
    return [_REGISTRY[i] for i in sorted(_REGISTRY)]


def compute(id_or_slug: int | str, inputs: Mapping[str, Any]) -> CalcResult:
    """Validate ``inputs`` (field name → value, ``(value, unit)``, bool, choice or date) and compute."""
    return get_calculator(id_or_slug).compute(inputs)
