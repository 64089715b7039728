"""The absent-finding convention, checked calculator by calculator.

MedCalc-Bench's convention: a finding the note does not mention is absent, a measurement it does not
give is normal. The convention holds inside a criterion phrased as an absence too: FeverPAIN's "no cough
or coryza" and Centor's "cough absent" are *met* when the note does not mention cough, as MedCalc-Bench's
maintained calculators (September 2025) and MedCalc-Bench-Verified score them. (The v1.0 labels withheld
that point; clinrl recognises those labels as a documented convention defect in
:mod:`clinrl.tasks.medcalc.known_defects` and reproduces the v1.0 reading nowhere else: ``labels="official"``
keeps the dataset's answers as written, and a caller who wants the v1.0 score passes the criterion as ``false``.)

:func:`audit` lists every registered calculator with its criteria phrased as an absence and what an
unmentioned input gives; ``clinrl calc audit`` renders it into ``docs/medcalc_label_audit.md``. A test
keeps it complete: any field whose wording marks an absence ("absent", "no", "none", "normal", ...) is an
absence criterion here or carries a reviewed note saying why it is not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: calculator id -> the yes/no field phrased as an absence (met when the finding is not mentioned)
ABSENCE_FIELDS: dict[int, str] = {20: "cough_absent", 33: "no_cough_or_coryza"}

#: what changed when the convention was applied inside negated criteria
CHANGES: dict[int, str] = {
    20: "Changed: an unmentioned cough now gives the 'cough absent' point (before: 0 points). No v1.0 test row "
        "lacks the key, so no v1.0 label is affected.",
    33: "Changed: unmentioned cough and coryza now give the 'no cough or coryza' point (before: 0 points). 13 "
        "of the 20 v1.0 test rows lack the key; their v1.0 labels withhold the point (a documented convention "
        "defect, recognised by its rule in any file).",
}

#: words that may mark a criterion phrased as an absence, in a field's help, entity keys, choices or default
ABSENCE_WORDS = re.compile(r"\b(absent|absence|no|none|not|without|afebrile|normal|negative|denies)\b",
                           re.IGNORECASE)

#: (calculator id, field) -> why a field whose wording matches :data:`ABSENCE_WORDS` is not an absence criterion
REVIEWED: dict[tuple[int, str], str] = {
    (7, "normal_albumin"): "the reference albumin (4 g/dL), a constant of the formula, not a finding",
    (13, "cycle_length"): "a measurement (28 days when not given), not a finding",
    (68, "cycle_length"): "a measurement (28 days when not given), not a finding",
    (15, "ascites"): "graded finding; 'absent' is its lowest grade and the default (1 point)",
    (15, "encephalopathy"): "graded finding; 'none' is its lowest grade and the default (1 point)",
    (17, "age"): "listed by the dataset, not scored",
    (18, "ecg"): "graded finding; 'Normal' is the default (0 points)",
    (18, "troponin"): "graded finding; '<= normal limit' is the default (0 points)",
    (21, "eye"): "'no eye opening' is a grade of a required response; a missing response is an error",
    (21, "verbal"): "'no verbal response' is a grade of a required response; a missing response is an error",
    (21, "motor"): "'no motor response' is a grade of a required response; a missing response is an error",
    (25, "liver_disease"): "phrased as a presence ('> 2x normal' is part of its definition)",
    (28, "chronic_renal_failure"): "phrased as a presence (recorded, not scored separately)",
    (32, "liver_disease"): "graded finding; 'none' is the default (0 points)",
    (32, "diabetes"): "graded finding; 'none or diet-controlled' is the default (0 points)",
    (32, "solid_tumor"): "graded finding; 'none' is the default (0 points)",
    (36, "sex"): "not scored without the pregnancy items",
    (36, "surgery_type"): "graded; 'none' is the default (0 points)",
    (36, "mobility"): "graded; 'normal' (ambulatory) is the default (0 points)",
    (43, "hypotension"): "phrased as a presence (MAP < 70 mm Hg when no pressure is given)",
    (43, "cvvhd"): "phrased as a presence (recorded, not a SOFA item)",
}


@dataclass(frozen=True)
class AbsenceCheck:
    calculator_id: int
    name: str
    absence_criteria: str  # the criteria phrased as an absence, or "none"
    unmentioned: str  # what inputs the note does not mention give
    change: str


def _describe_unmentioned(calc) -> str:
    presence = [f for f in calc.fields if f.kind == "bool" and not f.required and f.name != ABSENCE_FIELDS.get(calc.id)]
    graded = [f for f in calc.fields if f.kind == "choice" and not f.required and f.default is not None]
    measured = [f for f in calc.fields if f.kind in ("quantity", "int", "float") and not f.required]
    parts = []
    if calc.id in ABSENCE_FIELDS:
        parts.append(f"'{calc.field(ABSENCE_FIELDS[calc.id]).help.split(' (')[0]}' met (+1)")
    if presence:
        parts.append(f"{len(presence)} yes/no finding(s) absent (0 points)")
    if graded:
        parts.append("graded: " + ", ".join(f"{f.name} = '{f.default}'" for f in graded))
    if measured:
        parts.append(f"{len(measured)} measurement(s) normal or at their default")
    return "; ".join(parts) if parts else "every input is required (an unmentioned one is an error)"


def audit() -> list[AbsenceCheck]:
    """One :class:`AbsenceCheck` per registered calculator, in id order."""
    from clinrl.calculators import list_calculators

    checks = []
    for calc in sorted(list_calculators(), key=lambda c: c.id):
        field = ABSENCE_FIELDS.get(calc.id)
        criteria = f"{field} ('{calc.field(field).entity_keys[0]}')" if field else "none"
        notes = [f"{name}: {why}" for (cid, name), why in REVIEWED.items() if cid == calc.id]
        if notes:
            criteria += "; reviewed, not absence criteria: " + "; ".join(notes)
        checks.append(AbsenceCheck(calc.id, calc.name, criteria, _describe_unmentioned(calc),
                                   CHANGES.get(calc.id, "Unchanged.")))
    return checks


def worded_as_absence(calc) -> list[str]:
    """Fields of ``calc`` whose wording matches :data:`ABSENCE_WORDS` (for the completeness test)."""
    found = []
    for f in calc.fields:
        texts = [f.help, *f.entity_keys, *f.choices, str(f.default or "")]
        if any(ABSENCE_WORDS.search(t) for t in texts):
            found.append(f.name)
    return found


def render_markdown() -> list[str]:
    """The audit as markdown lines (a section of ``docs/medcalc_label_audit.md``)."""
    checks = audit()
    lines = [
        "## Absent-finding convention: every calculator checked",
        "",
        "An unmentioned finding is absent, including inside a criterion phrased as an absence (FeverPAIN \"no "
        "cough or coryza\", Centor \"cough absent\": the point is given when cough is not mentioned, as "
        "MedCalc-Bench's maintained calculators (2025-09) and MedCalc-Bench-Verified score it). A measurement not "
        "given is normal. Every calculator was checked for criteria phrased as an absence (\"no history of\", "
        "\"afebrile\", \"absent\", \"none\", \"normal\"); the v1.0 reading (no point) is reproduced only to recognise "
        f"the v1.0 labels (`known_defects`), never by the calculators. {len(checks)} calculators checked; "
        f"{sum(c.change != 'Unchanged.' for c in checks)} changed.",
        "",
        "| id | calculator | criteria phrased as an absence | unmentioned inputs give | change |",
        "|---:|---|---|---|---|",
    ]
    for c in checks:
        lines.append(f"| {c.calculator_id} | {c.name} | {c.absence_criteria} | {c.unmentioned} | {c.change} |")
    return lines
