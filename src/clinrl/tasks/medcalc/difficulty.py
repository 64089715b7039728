"""How close a note's findings sit to its calculator's cut-offs: a model-free difficulty for curricula.

A point score is a sum of threshold decisions (temperature > 38 °C, age ≥ 65, …). A finding far from its
cut-off is read the same way whatever small slip a reader makes in comparing numbers; one just beside it is
where a model that has half-learned the threshold goes wrong. Both functions here measure that from a row's
own ``Relevant Entities`` and clinrl's calculators, without a model, by shifting one numeric finding at a time
by a growing share of its plausible range (the synthetic generator's):

* :func:`cutoff_margin` — the note's smallest shift that changes the answer (a curriculum's sort key);
* :func:`finding_margins` — per finding, the smallest shift that changes the worked tally, and which tally step
  it changes (to read a model's decisions against how near their cut-offs they were).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

#: shifts tried, as shares of a finding's plausible range (1 % … 30 %)
SHIFTS = tuple(round(0.01 * k, 2) for k in range(1, 31))


def _numeric(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float))
            and not isinstance(value[0], bool))


def _widths(calculator_id: int, entities: Mapping[str, Any]) -> dict[str, float]:
    """The numeric findings the generator has a range for, in the range's unit: key → range width."""
    from clinrl.tasks.medcalc.catalog import OVERRIDES
    from clinrl.tasks.medcalc.notes import Quantity, spec_for

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
    return widths


def _shifted(entities: Mapping[str, Any], widths: Mapping[str, float], keys: list[str]
             ) -> Iterator[tuple[float, str, dict[str, Any]]]:
    """(share, key, entities with that finding moved down or up by share × its range), smallest shares first."""
    for share in SHIFTS:
        for key in keys:
            value, unit = entities[key]
            for sign in (-1.0, 1.0):
                yield share, key, {**entities, key: [value + sign * share * widths[key], unit]}


def _result(calculator_id: int) -> Callable[[Mapping[str, Any]], Any]:
    from clinrl.calculators import compute
    from clinrl.calculators.entities import inputs_from_relevant_entities

    return lambda ents: compute(calculator_id, inputs_from_relevant_entities(calculator_id, dict(ents)))


def cutoff_margin(calculator_id: int, entities: Mapping[str, Any] | None) -> float | None:
    """The smallest shift of one numeric finding, as a share of its plausible range, that changes the
    calculator's answer; ``None`` when the row has no numeric finding with a known range, its answer cannot be
    computed, or no shift up to 30 % changes it (every finding far from its cut-offs)."""
    if not entities:
        return None
    result = _result(calculator_id)
    try:
        base = result(entities).value
    except Exception:  # noqa: BLE001 - a row the calculator cannot read has no margin to measure
        return None
    widths = _widths(calculator_id, entities)
    for share, _, shifted in _shifted(entities, widths, list(widths)):
        try:
            if result(shifted).value != base:
                return share
        except Exception:  # noqa: BLE001 - a shift outside what the calculator accepts changes nothing
            continue
    return None


def calculator_tally(calculator_id: int, entities: Mapping[str, Any]) -> list[str]:
    """The calculator's own worked tally for these findings, as each step's points (``+1``, ``+0``, ``-1``), in
    order; empty for a formula. Raises what the calculator raises for findings it cannot read."""
    from clinrl.data.sft import tally_points, tally_steps

    return [tally_points(step) for step in tally_steps(_result(calculator_id)(entities).explanation)]


def finding_margins(calculator_id: int, entities: Mapping[str, Any] | None) -> dict[str, tuple[float, int]]:
    """Per numeric finding of a point score: ``(share, step)``, the smallest shift (as a share of its plausible
    range, up to 30 %) that changes the worked tally, and the index of the first tally step it changes — the
    decision that finding feeds. Findings no shift up to 30 % moves, and formula calculators (no tally), are
    left out."""
    if not entities:
        return {}
    try:
        base = calculator_tally(calculator_id, entities)
    except Exception:  # noqa: BLE001 - a row the calculator cannot read has no decisions to locate
        return {}
    if not base:
        return {}
    widths = _widths(calculator_id, entities)
    out: dict[str, tuple[float, int]] = {}
    for key in widths:
        for share, _, shifted in _shifted(entities, widths, [key]):
            try:
                moved = calculator_tally(calculator_id, shifted)
            except Exception:  # noqa: BLE001 - as in cutoff_margin
                continue
            changed = [i for i, (a, b) in enumerate(zip(base, moved)) if a != b]
            if changed:
                out[key] = (share, changed[0])
                break
    return out
