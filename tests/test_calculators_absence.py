"""The absent-finding convention audit covers every calculator and every criterion worded as an absence."""

from __future__ import annotations

from clinrl.calculators import compute, list_calculators
from clinrl.calculators.absence import ABSENCE_FIELDS, REVIEWED, audit, render_markdown, worded_as_absence


def test_every_calculator_is_checked():
    ids = [c.id for c in list_calculators()]
    checks = audit()
    assert sorted(ids) == [c.calculator_id for c in checks] and len(checks) == 55
    section = "\n".join(render_markdown())
    for check in checks:
        assert f"| {check.calculator_id} | {check.name} |" in section


def test_every_field_worded_as_an_absence_is_an_absence_criterion_or_reviewed():
    """A new criterion such as 'afebrile' or 'no history of ...' cannot slip in without a decision."""
    unreviewed = []
    for calc in list_calculators():
        for name in worded_as_absence(calc):
            if ABSENCE_FIELDS.get(calc.id) != name and (calc.id, name) not in REVIEWED:
                unreviewed.append((calc.id, name))
    assert not unreviewed, unreviewed
    stale = [key for key in REVIEWED if key[1] not in worded_as_absence(next(c for c in list_calculators()
                                                                                if c.id == key[0]))]
    assert not stale, stale


def test_absence_criteria_are_met_when_not_mentioned_and_not_when_stated_present():
    for cid, name in ABSENCE_FIELDS.items():
        calc = next(c for c in list_calculators() if c.id == cid)
        base = {"age": 30} if any(f.name == "age" and f.required for f in calc.fields) else {}
        unmentioned = compute(cid, base).value
        assert compute(cid, {**base, name: True}).value == unmentioned
        assert compute(cid, {**base, name: False}).value == unmentioned - 1
