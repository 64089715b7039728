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
        19, (284,), "entity",
        "The note's 'thrombocytopenia (119x10^6/L)' is a unit typo for 119 x10^9/L; the dataset reads 0.119 "
        "x10^9/L and reports FIB-4 37,493. clinrl rejects a platelet count below 1 x10^9/L as impossible.",
        "Row 284 Relevant Entities: 'Platelet count': [119000000.0, 'L']; answer 37492.904 (FIB-4 > 3.25 already "
        "means advanced fibrosis)."),
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
    # --- risk / severity / diagnosis scores. Each cause below is reproduced row by row (the dataset's
    # value recomputed from clinrl's inputs with the defect applied) by tests/test_calculators_scores_conformance.py.
    KnownDefect(
        15, (200, 201, 202, 203, 204, 205, 208, 209, 210, 212, 213, 214, 216, 217, 218), "label",
        "Child-Pugh: an ascites grade given in the entities is never scored (ascites counts only when missing, as "
        "'absent' = 1 point); in addition bilirubin exactly 3.0 mg/dL gets 3 points (Pugh: 2-3 mg/dL = 2; row 203), "
        "bilirubin exactly 2.0 mg/dL gets no points (row 214), albumin exactly 2.8 g/dL gets 3 points (Pugh: "
        "2.8-3.5 = 2; row 209) and encephalopathy 'Grade 0' is not scored (row 203).",
        "Row 205 entities 'Ascites': 'moderate' yet its explanation sums INR 1 + bilirubin 1 + albumin 2 + "
        "encephalopathy 1 = 5 with no ascites line; row 207 (ascites missing) says 'we will assume it to be absent. "
        "This means we add 1 point'; row 214: 'The concentration of bilirubin is 2.0 mg/dL. The concentration of "
        "albumin is ...' (no bilirubin points)."),
    KnownDefect(
        17, (240, 241, 242, 243, 245, 246, 249, 250, 251, 253, 255, 256, 259), "label",
        "RCRI: the rows carry two cerebrovascular keys, 'History of cerebrovascular disease': True and "
        "'Cerebrovascular disease history': False; the ground truth reads neither and scores no cerebrovascular "
        "point although the note documents a stroke or TIA. clinrl counts a history documented under either key.",
        "Row 240 note: 'history of ... ischemic stroke with mild residual aphasia'; row 259 note: 'a transient "
        "ischemic attack four years ago'; every row's explanation: 'The patient note does not mention about "
        "cerebrovascular disease and is assumed to be absent'."),
    KnownDefect(
        21, tuple(range(848, 868)), "label",
        "GCS: the verbal response is added twice (eye + 2 x verbal + motor), and a 'not testable' verbal response "
        "adds 4 points each time although the explanation says it is assumed 'oriented' (5).",
        "Row 848 explanation: 'the best verbal response for the patient is 'inappropriate words', and so we add 3 "
        "points' appears twice, total 2 + 3 + 3 + 4 = 12 (Teasdale 1974: 2 + 3 + 4 = 9)."),
    KnownDefect(
        27, (389, 390, 399), "label",
        "Glasgow-Blatchford: hemoglobin on a band edge is put in the lower band: 13.0 g/dL in a man scores 1 "
        "(Blatchford 2000: >= 12 and < 13 g/dL = 1, >= 13 = 0) and 12.0 g/dL in a woman scores 1 (>= 10 and < 12 = "
        "1, >= 12 = 0).",
        "Row 389: 'the patient is a male and the hemoglobin concentration is between 12 and 13 g/dL, we add one "
        "point' for 13.0 g/dL; rows 390 and 399: 'the patient is a female and the hemoglobin concentration is "
        "between 10 and 12 mg/dL, we add one point' for 12.0 g/dL."),
    KnownDefect(
        28, tuple(range(868, 888)), "label",
        "APACHE II: the ground truth adds the GCS itself instead of 15 - GCS (all rows); scores every white count "
        "given per microlitre as > 40 x 10^9/L (+4, all rows); reads the unit typo 'degrees celsisus' as Fahrenheit "
        "(temperature ~2 C, +4; the 18 rows with that spelling); and drops chronic-health points and some "
        "creatinine and pH points (e.g. rows 870, 873, 877).",
        "Row 868 explanation: 'The patient's Glasgow Coma Score is 12.0, and so we add 12.0 points'; 'white blood "
        "cell count is above 40 x10^9/L' for 9103/uL; 'The patient's temperature is 34.9 degrees fahrenheit' for "
        "entity [34.9, 'degrees celsisus']. Row 870: 'reported to have an organ failure of immunocompromise' but no "
        "chronic-health points are added."),
    KnownDefect(
        29, (829, 831), "label",
        "PSI: the unit typo 'degrees celsisus' is read as Fahrenheit, so a normal 38 C becomes 3.3 C and scores "
        "the < 35 C finding (+15).",
        "Row 829 explanation: 'The patient's temperature is 38.0 degrees fahrenheit ... 3.333 degrees celsius ... "
        "we add 15 points' for entity [38.0, 'degrees celsisus']."),
    KnownDefect(
        32, (427, 428, 430, 431, 432, 433, 434, 435, 436, 437, 439, 440, 442, 443, 445, 446), "label",
        "Charlson: graded conditions score 1 point whatever the grade: moderate-to-severe liver disease 1 "
        "(Charlson: 3), diabetes with end-organ damage 1 (2), metastatic solid tumor 1 (6), localized solid tumor 1 "
        "(2); and 'None or diet-controlled' diabetes scores 1 (0).",
        "Row 428 explanation: 'The issue,'Solid tumor,' is present for the patient and so we add 1 point' for "
        "'Solid tumor': 'Metastatic'; row 427: 'The issue,'Diabetes mellitus,' is present ... add 1 point' for "
        "'None or Diet-controlled'."),
    KnownDefect(
        36, tuple(range(908, 928)), "label",
        "Caprini: only age, type of surgery and mobility reach the total. Every other criterion is announced "
        "('Hence, we add 5 to the total') but the running total is not carried, and BMI > 25 is never scored "
        "(12 of the 20 rows have BMI > 25).",
        "Row 908 explanation: 'we add 5 to the total, making the current total 5 + 4 = 9' followed by '... keeping "
        "the total at 4'; answer 6 = age 2 + surgery 2 + mobility 2, while the entities also list fracture (5), "
        "multiple trauma (5), previous DVT (3), family history (3), homocysteine (3), varicose veins (1), BMI 27.1."),
    KnownDefect(
        43, (888, 890, 891, 892, 893, 894, 895, 896, 897, 898, 899, 900, 901, 902, 903, 904, 905, 906, 907),
        "label",
        "SOFA: PaO2/FiO2 is computed with FiO2 in percent (a ratio near 1.5 instead of ~150); the cardiovascular "
        "points take the first vasopressor rule that matches ('<= 5 or any dobutamine' = 2) even when "
        "norepinephrine or epinephrine doses require 3 or 4, and give 2 points with no vasopressor (row 888); the "
        "renal system is omitted in most rows although creatinine or urine output is given.",
        "Row 888 explanation: 'partial pressure of oxygen to FiO2 ratio is 1.267' for 76 mm Hg / 60 %; 'For two "
        "points to be given, the patient must be taking less than or equal to 5 micrograms/kg/min or any amount of "
        "dobutamine' with no drug in the entities. Row 896: creatinine 2.1 mg/dL and urine 900 mL/day but no "
        "renal line."),
    KnownDefect(
        51, (588, 591, 592, 593, 595, 596, 598, 599, 602, 606, 607), "label",
        "SIRS: a white count given per microlitre or per litre is multiplied to count/m3 and compared with "
        "12,000, so any count meets the criterion (rows 588, 591, 592, 595, 599, 602); and a heart rate <= 90 "
        "still increments the hidden count while the text says the total 'remains' (rows 592, 593, 596, 598, "
        "599, 606, 607).",
        "Row 599 explanation: '7000.0 count/uL ... = 7000000000000.0 white blood cell count/m^3. Because the white "
        "blood cell count is greater than 12000' and, after 'heart rate is less than 90 ... remains at 0', "
        "'making the current total 1 + 1 = 2'."),
)

_INDEX: dict[tuple[int, int], KnownDefect] = {
    (d.calculator_id, row): d for d in KNOWN_DEFECTS for row in d.rows
}


def defect_for(calculator_id: int, row_number: int) -> KnownDefect | None:
    """The documented defect of this test row, if any."""
    return _INDEX.get((int(calculator_id), int(row_number)))
