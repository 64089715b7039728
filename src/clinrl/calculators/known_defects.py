"""Rows of the MedCalc-Bench v1.0 test set where clinrl's calculators disagree with the dataset on purpose.

Each entry names the rows (the dataset's ``Row Number``), the cause and the evidence. ``kind``:

* ``label``: the ground truth applies the formula wrongly (the dataset's own explanation shows the step);
* ``entity``: the ``Relevant Entities`` value is impossible or carries a unit typo copied from the note,
  so clinrl rejects it (``CalculatorInputError``) or reads it differently;
* ``convention``: the dataset follows a simplification the published method does not make.

The conformance tests assert that every listed row still disagrees (so the list cannot go stale) and
that every other row agrees.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownDefect:
    calculator_id: int
    rows: tuple[int, ...]
    kind: str
    cause: str
    evidence: str


KNOWN_DEFECTS: tuple[KnownDefect, ...] = (
    KnownDefect(
        3, (23, 25), "label",
        "CKD-EPI 2021 for a man with creatinine <= 0.9 mg/dL uses kappa = 0.7 (the female constant) instead of 0.9.",
        "Row 25 explanation: 'the patient's gender is male and the creatinine concentration is less than or equal "
        "to 0.9 mg/dL, A = 0.7 and B = -0.302' then 142 * (0.87/0.7)**-0.302 ...; Inker 2021 gives kappa 0.9 for "
        "men."),
    KnownDefect(
        7, (114, 117), "label",
        "Calcium in mmol/L is converted to mg/dL after rounding the moles to 3 decimals (2.26 mmol/L -> 0.002 mol "
        "-> 8.0 mg/dL instead of 9.06 mg/dL).",
        "Row 114 explanation: '2.26 mmol Calcium * 0.001 mol/mmol = 0.002 mol Calcium' ... 'converts to 8.0 mg "
        "Calcium/dL'; 2.26 x 4.008 = 9.06 mg/dL."),
    KnownDefect(
        13, (928, 929, 930, 931, 932, 935, 936, 937, 938, 940, 943, 944, 945, 946, 947), "label",
        "For cycles shorter than 28 days the due date adds |cycle - 28| days instead of subtracting them.",
        "Row 928 explanation: 'cycle length is 22 days, this means that we must subtract 6 days' yet the answer "
        "09/23/2014 is LMP + 40 weeks (09/17/2014) + 6 days; every short-cycle row is 280 + |cycle - 28| days "
        "after the LMP."),
    KnownDefect(
        23, (340, 341, 342, 343), "label",
        "MELD(i) is rounded to the nearest integer (then x 10) instead of to the tenth (OPTN policy), and the "
        "unscaled MELD(i) enters the sodium term.",
        "Row 340 explanation: 'MELD(i) = ... = 1.8257 ... Rounding to the nearest tenth makes the MELD (i) score "
        "2. We then multiply by 10, making the MELD(i) score 20'; to the tenth it is 1.8 -> 18."),
    KnownDefect(
        44, (513, 521), "label",
        "Cholesterol in mmol/L is converted to mg/dL after rounding the moles to 3 decimals; triglycerides use "
        "861.3 g/mol.",
        "Row 513 explanation: '4.75 mmol ... = 0.005 mol ... converts to 193.3 mg total cholestrol/dL' (4.75 x "
        "38.67 = 183.7 mg/dL)."),
    KnownDefect(
        46, (552, 553, 554, 555, 556, 557, 558, 559, 560, 561, 562, 563, 564, 565, 566, 567), "label",
        "Total and HDL cholesterol are converted to mmol/L before the logarithms of the ATP III model, whose "
        "coefficients are for mg/dL, and the risk is reported as the raw fraction (not x 100) while labelled %.",
        "Row 556 explanation: '22.465206 * ln(4.32)' (167 mg/dL as mmol/L) and '1 - 0.98767^exp(2.2) = 0.1 %'. "
        "ATP III point tables (JAMA 2001) give 25% for row 552's man (54 y, smoker, TC 235, HDL 26, SBP 139: 16 "
        "points); clinrl gives 29.0%, the dataset 0."),
    KnownDefect(
        64, (753,), "entity",
        "The note's 'serum sodium 137 mg/dL' is a unit typo (137 mEq/L); the dataset converts it literally to "
        "59.6 mEq/L. clinrl rejects 59.6 mEq/L as impossible.",
        "Row 753 note: 'serum sodium 137 mg/dL, potassium 3.0 mg/dL, chloride 95 mmol/L'."),
    KnownDefect(
        66, (794,), "entity",
        "Same note as row 753: sodium '137 mg/dL' converted literally to 59.6 mEq/L; clinrl rejects it.",
        "Row 794 note: 'serum sodium 137 mg/dL'."),
    KnownDefect(
        65, (772,), "entity",
        "Albumin 17.1 g/dL is not in the note and is physiologically impossible (normal 3.5-5.0 g/dL).",
        "Row 772 Relevant Entities: 'Albumin': [17.1, 'g/dL']; the note reports no albumin."),
    KnownDefect(
        65, (780,), "entity",
        "The note's 'S.albumin 3.2 mg/dl' is a unit typo (3.2 g/dL); the dataset converts it to 0.0032 g/dL.",
        "Row 780 note: 'S.albumin 3.2 mg/dl, and alkaline phosphatase 837 mg/dl'."),
    KnownDefect(
        67, (824,), "entity",
        "The note's 'Albumin 3.5 mg/ dL' is a unit typo (3.5 g/dL); the dataset converts it to 0.0035 g/dL.",
        "Row 824 note: 'Albumin 3.5 mg/ dL Urea nitrogen 28 mg/dL'."),
    KnownDefect(
        68, (1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 1017, 1018, 1019, 1021, 1022, 1023, 1024, 1025,
             1026, 1027), "convention",
        "The conception date is always LMP + 14 days, ignoring the cycle length the question asks to use; "
        "ovulation is ~14 days before the next menses, so conception = LMP + cycle length - 14 (= the due date "
        "- 266 days, consistent with calculator 13).",
        "Row 1008 explanation: 'computed by adding to 2 weeks to the patient's last menstrual period date' for a "
        "21-day cycle; the only agreeing row (1020) has a 28-day cycle."),
)

_INDEX: dict[tuple[int, int], KnownDefect] = {
    (d.calculator_id, row): d for d in KNOWN_DEFECTS for row in d.rows
}


def defect_for(calculator_id: int, row_number: int) -> KnownDefect | None:
    """The documented defect of this test row, if any."""
    return _INDEX.get((int(calculator_id), int(row_number)))
