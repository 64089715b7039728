"""MedCalc-Bench ``Relevant Entities`` → calculator inputs.

The dataset stores, per row, a Python-literal dict of the values the ground truth was computed from:
``{'age': [67, 'years'], 'sex': 'Male', 'creatinine': [97.0, 'µmol/L'], 'Hypertension history': True}``.
Keys vary across releases and carry typos ("Congestive Heart Faliure", "degrees celsisus"); each
calculator declares the keys it reads (``Field.entity_keys``) and the matching ignores case, spacing,
punctuation and subscripts. Keys no field claims are reported by :func:`unmatched_entity_keys`, never
silently dropped from view.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from clinrl.errors import DataError


def parse_relevant_entities(entities: str | Mapping[str, Any], *, source: str | None = None,
                            row: int | str | None = None) -> dict[str, Any]:
    """The entities as a dict: ``ast.literal_eval`` of the dataset's text (never ``eval``)."""
    if isinstance(entities, Mapping):
        return dict(entities)
    try:
        value = ast.literal_eval(str(entities))
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise DataError(f"not a Python-literal dict ({exc.__class__.__name__})", source=source, row=row,
                        field="Relevant Entities") from None
    if not isinstance(value, dict):
        raise DataError(f"expected a dict, got {type(value).__name__}", source=source, row=row,
                        field="Relevant Entities")
    return value


def inputs_from_relevant_entities(calculator_id: int | str, entities: str | Mapping[str, Any]) -> dict[str, Any]:
    """Canonical inputs for :func:`clinrl.calculators.compute` from a row's ``Relevant Entities``."""
    from clinrl.calculators import get_calculator

    return get_calculator(calculator_id).from_entities(parse_relevant_entities(entities))


def unmatched_entity_keys(calculator_id: int | str, entities: str | Mapping[str, Any]) -> list[str]:
    """Entity keys the calculator does not read (for audits: nothing disappears unseen)."""
    from clinrl.calculators import get_calculator

    return get_calculator(calculator_id).unmatched_entities(parse_relevant_entities(entities))
