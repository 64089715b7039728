"""Recomputed MedCalc-Bench labels: run a row's ``Relevant Entities`` through clinrl's calculators.

Used by the MedCalc task's ``labels="recomputed"`` mode and by ``clinrl calc audit``, so the rows a
recomputed data set changes are exactly the rows the audit lists as disagreements.

*Agreement* is judged with the benchmark's own rule: the calculator's answer, scored against the
row's official target (dates exact, gestational age exact, integers rounded, decimals inside the
row's ±5 % bounds), is correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from clinrl.tasks.medcalc.scoring import check_value

#: ± fraction of the decimal bounds, as MedCalc-Bench builds them
DECIMAL_TOLERANCE = 0.05


def format_answer(result: Any) -> tuple[str, str, str]:
    """``(ground truth, lower limit, upper limit)`` of a :class:`~clinrl.calculators.CalcResult`
    in MedCalc-Bench's spelling: decimals with ±5 % bounds (ordered for negative values), every other
    kind exact (``MM/DD/YYYY``; ``('W weeks', 'D days')``; an integer)."""
    from clinrl.calculators import fmt

    kind = result.output_kind
    if kind == "decimal":
        value = float(result.value)
        low, high = sorted((value * (1 - DECIMAL_TOLERANCE), value * (1 + DECIMAL_TOLERANCE)))
        return fmt(value), fmt(low, 6), fmt(high, 6)
    if kind == "gestational_age":
        weeks, days = result.value
        text = f"('{weeks} weeks', '{days} days')"
        return text, text, text
    text = str(result.value)
    return text, text, text


@dataclass(frozen=True)
class Recomputed:
    """The calculator's verdict on one row. ``agrees`` is ``None`` when it could not compute."""

    calculator_id: int
    answer: Any = None
    ground_truth: str | None = None
    lower_limit: str | None = None
    upper_limit: str | None = None
    agrees: bool | None = None
    error: str = ""
    explanation: str = ""

    @property
    def target(self) -> dict[str, Any]:
        return {"calculator_id": self.calculator_id, "ground_truth": self.ground_truth,
                "lower_limit": self.lower_limit, "upper_limit": self.upper_limit}


def recompute(calculator_id: int, entities: Mapping[str, Any] | str | None,
              official_target: Mapping[str, Any]) -> Recomputed:
    """Compute the row's answer from its entities and compare it with the official target."""
    from clinrl.calculators import compute
    from clinrl.calculators.entities import inputs_from_relevant_entities
    from clinrl.errors import ClinrlError

    if entities is None or (isinstance(entities, str) and not entities.strip()):
        return Recomputed(calculator_id, error="no Relevant Entities")
    try:
        result = compute(calculator_id, inputs_from_relevant_entities(calculator_id, entities))
    except ClinrlError as exc:
        return Recomputed(calculator_id, error=f"{exc.__class__.__name__}: {exc}")
    truth, lower, upper = format_answer(result)
    try:
        agrees, _ = check_value(calculator_id, result.answer, dict(official_target))
    except ValueError as exc:  # an unreadable official ground truth
        return Recomputed(calculator_id, result.answer, truth, lower, upper, None,
                          f"official ground truth unreadable: {exc}", result.explanation)
    return Recomputed(calculator_id, result.answer, truth, lower, upper, bool(agrees), "", result.explanation)
