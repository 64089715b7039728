"""How close a note's findings sit to its calculator's cut-offs: a model-free difficulty for curricula.

A point score is a sum of threshold decisions (temperature > 38 °C, age ≥ 65, …). A finding far from its
cut-off is read the same way whatever small slip a reader makes in comparing numbers; one just beside it is
where a model that has half-learned the threshold goes wrong. :func:`cutoff_margin` measures that from a
row's own ``Relevant Entities`` and clinrl's calculators, without a model: the smallest shift of one numeric
finding, as a share of that finding's plausible range (the synthetic generator's), that changes the answer.
"""

from __future__ import annotations

from typing import Any, Mapping

#: shifts tried, as shares of a finding's plausible range (1 % … 30 %)
SHIFTS = tuple(round(0.01 * k, 2) for k in range(1, 31))


def _numeric(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float))
            and not isinstance(value[0], bool))


def cutoff_margin(calculator_id: int, entities: Mapping[str, Any] | None) -> float | None:
    """The smallest shift of one numeric finding, as a share of its plausible range, that changes the
    calculator's answer; ``None`` when the row has no numeric finding with a known range, its answer cannot be
    computed, or no shift up to 30 % changes it (every finding far from its cut-offs)."""
    from clinrl.calculators import compute
    from clinrl.calculators.entities import inputs_from_relevant_entities
    from clinrl.tasks.medcalc.catalog import OVERRIDES
    from clinrl.tasks.medcalc.notes import Quantity, spec_for

    if not entities:
        return None

    def answer(ents: Mapping[str, Any]) -> Any:
        return compute(calculator_id, inputs_from_relevant_entities(calculator_id, dict(ents))).value

    try:
        base = answer(entities)
    except Exception:  # noqa: BLE001 - a row the calculator cannot read has no margin to measure
        return None
    widths: dict[str, float] = {}
    for key, value in entities.items():
        if not _numeric(value):
            continue
        try:
            spec = spec_for(key, OVERRIDES.get(calculator_id) or None)
        except KeyError:
            continue
        if isinstance(spec, Quantity) and spec.high > spec.low and value[1] == spec.unit:
            widths[key] = spec.high - spec.low
    for share in SHIFTS:
        for key, width in widths.items():
            value, unit = entities[key]
            for sign in (-1.0, 1.0):
                shifted = dict(entities)
                shifted[key] = [value + sign * share * width, unit]
                try:
                    if answer(shifted) != base:
                        return share
                except Exception:  # noqa: BLE001 - a shift outside what the calculator accepts changes nothing
                    continue
    return None
