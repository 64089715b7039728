"""Hand-worked examples for the score calculators, from each score's published point table.

Every expected value below is worked by hand from the publication named in the calculator's ``reference``
(the arithmetic is in the comment), never taken from MedCalc-Bench. Bad inputs must be rejected with an
error that names the field.
"""

from __future__ import annotations

import pytest

from clinrl.calculators import CalculatorInputError, compute, get_calculator

EXAMPLES = [
    # (calculator, inputs, expected, why)
    (4, {"age": (76, "years"), "sex": "Female", "hypertension": True, "diabetes": True}, 5,
     "age >= 75: 2 + female 1 + hypertension 1 + diabetes 1"),
    (4, {"age": 40, "sex": "Male"}, 0, "no risk factor"),
    (4, {"age": 68, "sex": "Male", "tia": True, "stroke": True, "chf": True}, 4,
     "age 65-74: 1 + stroke/TIA 2 (counted once) + CHF 1"),
    (8, {"clinical_dvt": True, "heart_rate": (110, "beats/min"), "hemoptysis": True}, 5.5, "3 + 1.5 + 1"),
    (8, {"previous_dvt": True, "previous_pe": True, "heart_rate": 100}, 1.5,
     "previous PE/DVT is one item; heart rate must exceed 100"),
    (8, {"pe_most_likely": True, "immobilization": True, "recent_surgery": True, "malignancy": True}, 5.5,
     "3 + 1.5 (immobilization or surgery, once) + 1"),
    (15, {"bilirubin": (1.5, "mg/dL"), "albumin": (3.8, "g/dL"), "inr": 1.2}, 5, "1 + 1 + 1 + 1 + 1 (class A)"),
    (15, {"bilirubin": (68, "µmol/L"), "albumin": (25, "g/L"), "inr": 2.5, "ascites": "moderate",
          "encephalopathy": "Grade 3-4"}, 15, "bilirubin 3.98 mg/dL: 3, albumin 2.5 g/dL: 3, INR > 2.3: 3, 3, 3"),
    (15, {"bilirubin": (2.5, "mg/dL"), "albumin": (3.0, "g/dL"), "inr": 1.8, "ascites": "slight",
          "encephalopathy": "Grade 1-2"}, 10, "2 + 2 + 2 + 2 + 2 (class C)"),
    (16, {"active_cancer": True, "calf_swelling": True, "pitting_edema": True, "alternative_diagnosis": True}, 1,
     "1 + 1 + 1 - 2"),
    (16, {"bedridden": True, "major_surgery": True}, 1, "bedridden or recent surgery is one criterion"),
    (16, {"alternative_diagnosis": True}, -2, "only the alternative diagnosis"),
    (17, {"elevated_risk_surgery": True, "ischemic_heart_disease": True, "creatinine": (2.5, "mg/dL")}, 3,
     "1 + 1 + creatinine > 2: 1"),
    (17, {"creatinine": (221, "µmol/L"), "insulin": True}, 2, "221 µmol/L = 2.5 mg/dL: 1 + insulin 1"),
    (17, {"creatinine": (2.0, "mg/dL")}, 0, "creatinine must exceed 2 mg/dL"),
    (18, {"history": "Highly suspicious", "ecg": "Significant ST deviation", "age": 70, "hypertension": True,
          "diabetes": True, "smoking": True, "troponin": "greater than three times normal limit"}, 10,
     "2 + 2 + 2 + (3 risk factors) 2 + 2"),
    (18, {"history": "Moderately suspicious", "age": 50, "obesity": True}, 3, "1 + 0 + 1 + 1 risk factor: 1 + 0"),
    (18, {"age": 30, "atherosclerotic_disease": True}, 2, "known atherosclerotic disease scores 2 alone"),
    (20, {"age": 10, "temperature": (38.5, "degC"), "cough_absent": True, "tonsillar_exudate": True}, 4,
     "age 3-14: 1 + fever 1 + no cough 1 + exudate 1"),
    (20, {"age": 50, "temperature": (100.4, "degF"), "tender_nodes": True, "cough_absent": False}, 0,
     "age >= 45: -1; 100.4 F = 38.0 C is not > 38; cough present 0; nodes 1"),
    (20, {"age": 50, "temperature": (100.4, "degF"), "tender_nodes": True}, 1,
     "cough not mentioned = absent: the 'cough absent' point is given"),
    (21, {"eye": "eyes open spontaneously", "verbal": "oriented", "motor": "obeys commands"}, 15, "4 + 5 + 6"),
    (21, {"eye": "no eye opening", "verbal": "no verbal response", "motor": "no motor response"}, 3, "1 + 1 + 1"),
    (21, {"eye": "eye opening to pain", "verbal": "incomprehensible sounds", "motor": "flexion to pain"}, 7,
     "2 + 2 + 3"),
    (25, {"age": 70, "hypertension": True, "bleeding_medication": True, "alcohol_drinks_per_week": 10}, 4,
     "elderly 1 + H 1 + drugs 1 + alcohol 1"),
    (25, {"age": 65, "alcohol_drinks_per_week": 7}, 0, "age must exceed 65; alcohol needs >= 8 drinks"),
    (27, {"sex": "Male", "bun": (30, "mg/dL"), "hemoglobin": (11, "g/dL"), "systolic_bp": 95,
          "heart_rate": 110, "melena": True}, 11, "BUN 28-70: 4 + Hb 10-12 (men): 3 + SBP 90-99: 2 + 1 + 1"),
    (27, {"sex": "Female", "bun": (9, "mmol/L"), "hemoglobin": (11, "g/dL"), "systolic_bp": 120,
          "syncope": True}, 6, "urea 9 mmol/L (BUN 25.2 mg/dL): 3 + Hb 10-12 (women): 1 + syncope 2"),
    (28, {"age": 60, "temperature": (39.5, "degC"), "systolic_bp": 90, "diastolic_bp": 50, "heart_rate": 120,
          "respiratory_rate": 30, "fio2": (40, "%"), "pao2": 65, "ph": 7.30, "sodium": (150, "mEq/L"),
          "potassium": 3.2, "creatinine": (1.8, "mg/dL"), "hematocrit": 48, "wbc": (18, "10^3/uL"), "gcs": 13},
     22, "3 + 3 + MAP 63.3: 2 + 2 + 1 + PaO2 61-70: 1 + 2 + 1 + 1 + 2 + 1 + 1 + (15 - 13) 2"),
    (28, {"age": 40, "creatinine": (1.8, "mg/dL"), "acute_renal_failure": True, "chronic_health": True,
          "surgery_type": "Elective postoperative"}, 6, "creatinine 2 doubled: 4 + chronic health (elective) 2"),
    (28, {"age": 80, "fio2": 60, "aa_gradient": 400, "chronic_health": True}, 14,
     "age >= 75: 6 + A-a 350-499: 3 + chronic health (nonoperative) 5"),
    (28, {"age": 40, "pao2": 70.5}, 0, "PaO2 > 70 on room air: 0"),
    (28, {"age": 40, "fio2": 30, "pao2": 70}, 1, "PaO2 61-70: 1"),
    (28, {"age": 40, "pao2": 54}, 4, "PaO2 < 55: 4"),
    (29, {"age": 70, "sex": "Female", "nursing_home": True, "chf": True, "respiratory_rate": 32, "ph": 7.30,
          "bun": (35, "mg/dL")}, 150, "70 - 10 + 10 + 10 + 20 + 30 + 20"),
    (29, {"age": 50, "sex": "Male"}, 50, "age only"),
    (32, {"age": 72, "mi": True, "diabetes": "end-organ damage", "solid_tumor": "metastatic"}, 12,
     "age 70-79: 3 + 1 + 2 + 6"),
    (32, {"age": 45, "liver_disease": "mild", "aids": True}, 7, "0 + 1 + 6"),
    (32, {"age": 55, "cva": True, "tia": True, "liver_disease": "moderate to severe"}, 5,
     "age 50-59: 1 + CVA/TIA once 1 + 3"),
    (33, {"fever": True, "purulence": True, "attend_rapidly": True, "inflamed_tonsils": True,
          "no_cough_or_coryza": True}, 5, "all five"),
    (33, {}, 1, "nothing mentioned: only 'no cough or coryza' is met (an unmentioned cough is absent)"),
    (33, {"fever": True, "purulence": True, "inflamed_tonsils": True}, 4,
     "3 findings + no cough or coryza (not mentioned) 1"),
    (33, {"fever": True, "purulence": True, "inflamed_tonsils": True, "no_cough_or_coryza": False}, 3,
     "cough or coryza present: 0 for that criterion"),
    (36, {"age": 65, "surgery_type": "major", "bmi": (30, "kg/m^2"), "previous_dvt": True,
          "mobility": "confined to bed >72 hours"}, 10, "2 + 2 + 1 + 3 + 2"),
    (36, {"age": 30, "previous_dvt": True, "previous_pe": True, "fracture": True}, 8,
     "history of DVT/PE is one 3-point item + fracture 5"),
    (43, {"pao2": 80, "fio2": (50, "%"), "mechanical_ventilation": True, "platelets": (80, "10^3/uL"),
          "bilirubin": (2.5, "mg/dL"), "norepinephrine": 0.2, "gcs": 12, "creatinine": (2.5, "mg/dL")}, 15,
     "P/F 160 ventilated: 3 + 2 + 2 + norepinephrine > 0.1: 4 + 2 + 2"),
    (43, {"pao2": 80, "fio2": 50, "urine_output": (150, "mL/day")}, 6,
     "P/F 160 without ventilation capped at 2 + urine < 200 mL/day: 4"),
    (43, {"systolic_bp": 80, "diastolic_bp": 60, "dobutamine": 5}, 2, "any dobutamine: 2 (over MAP < 70)"),
    (45, {"age": 70, "confusion": True, "bun": (25, "mg/dL"), "respiratory_rate": 32, "systolic_bp": 85,
          "diastolic_bp": 70}, 5, "all five"),
    (45, {"age": 40, "bun": (8, "mmol/L"), "diastolic_bp": 60}, 2, "urea 8 mmol/L (BUN 22.4): 1 + DBP <= 60: 1"),
    (48, {"age": 55, "heart_rate": 110, "oxygen_saturation": (92, "%"), "hormone_use": True}, 4, "1 + 1 + 1 + 1"),
    (48, {"age": 30, "heart_rate": 99, "oxygen_saturation": 95}, 0, "PERC negative"),
    (51, {"temperature": (38.5, "degC"), "heart_rate": 100, "respiratory_rate": 24, "wbc": (15, "10^3/uL")}, 4,
     "all four"),
    (51, {"temperature": (35.5, "degC"), "respiratory_rate": 18, "paco2": 30, "wbc": (3500, "/uL")}, 3,
     "hypothermia 1 + PaCO2 < 32: 1 + WBC < 4: 1"),
]


@pytest.mark.parametrize("cid, inputs, expected, why", EXAMPLES)
def test_published_point_tables(cid, inputs, expected, why):
    result = compute(cid, inputs)
    assert result.value == expected, f"{get_calculator(cid).slug}: {why}\n{result.explanation}"


def test_every_score_calculator_has_examples():
    assert {e[0] for e in EXAMPLES} == {4, 8, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51}


@pytest.mark.parametrize("cid", sorted({e[0] for e in EXAMPLES}))
def test_explanation_lists_criteria_and_total(cid):
    inputs = next(e[1] for e in EXAMPLES if e[0] == cid)
    result = compute(cid, inputs)
    text = result.explanation
    assert text.count("\n- ") >= 3, text  # one line per criterion
    assert "point" in text and "Hence" in text
    assert text.rstrip(".").endswith(str(result.value).removesuffix(".0")) or str(result.value) in text.splitlines()[-1]
    assert result.reference and result.unit


BAD_INPUTS = [
    # (calculator, inputs, field the error must name)
    (4, {"sex": "Female"}, "age"),
    (4, {"age": -3, "sex": "Female"}, "age"),
    (4, {"age": 70, "sex": "Female", "diabetes": "maybe"}, "diabetes"),
    (15, {"bilirubin": (2, "furlongs"), "albumin": 3.5, "inr": 1.0}, "bilirubin"),
    (15, {"bilirubin": 2, "albumin": 3.5, "inr": 1.0, "ascites": "enormous"}, "ascites"),
    (21, {"eye": "blinking", "verbal": "oriented", "motor": "obeys commands"}, "eye"),
    (25, {"age": 70, "alcohol_drinks_per_week": -1}, "alcohol_drinks_per_week"),
    (27, {"sex": "Male", "bun": 20, "hemoglobin": (40, "g/dL"), "systolic_bp": 120}, "hemoglobin"),
    (28, {"age": 50, "gcs": 2}, "gcs"),
    (43, {"pao2": 80, "fio2": (150, "%")}, "fio2"),
    (28, {"age": 50, "fio2": 0.5}, "fio2"),  # a fraction without its unit reads as 0.5 %: below room air
    (51, {"heart_rate": (-10, "/min")}, "heart_rate"),
    (29, {"age": 60, "sex": "Male", "sodium": (140, "mg/kg")}, "sodium"),
    (8, {"heartrate": 120}, "heartrate"),
]


@pytest.mark.parametrize("cid, inputs, field", BAD_INPUTS)
def test_bad_inputs_name_the_field(cid, inputs, field):
    with pytest.raises(CalculatorInputError) as info:
        compute(cid, inputs)
    assert info.value.field == field
    assert repr(field) in str(info.value)


def test_entity_variants_are_normalised():
    """Spellings seen in MedCalc-Bench rows reach the right fields."""
    calc = get_calculator(32)
    inputs = calc.from_entities({"age": [60.0, "years"], "Solid tumor": True, "Liver disease severity": "Severe",
                                 "Moderate to severe Chronic Kidney Disease": "Severe",
                                 "Congestive Heart Faliure": True})
    assert inputs["solid_tumor"] == "localized" and inputs["moderate_severe_ckd"] is True and inputs["chf"] is True
    assert compute(32, inputs).value == 2 + 2 + 3 + 2 + 1
    sirs = get_calculator(51).from_entities({"White blood cell count": [9400.0, "m^3"]})
    assert compute(51, sirs).inputs["wbc"] == pytest.approx(9.4)
    shorthand = get_calculator(51).from_entities({"White blood cell count": [4.1, "µL"]})
    assert compute(51, shorthand).inputs["wbc"] == pytest.approx(4.1)
    apache = get_calculator(28).from_entities({"age": [50, "years"], "Chronic Renal Failure": "Not mentinoed",
                                               "Surgery Type": "Nonoperative "})
    assert "chronic_renal_failure" not in apache and compute(28, apache).value == 2


SCORE_IDS = sorted({e[0] for e in EXAMPLES})


def _valid(cid: int) -> dict:
    return dict(next(e[1] for e in EXAMPLES if e[0] == cid))


def _error_field(cid: int, inputs: dict) -> str | None:
    with pytest.raises(CalculatorInputError) as info:
        compute(cid, inputs)
    return info.value.field


@pytest.mark.parametrize("cid", SCORE_IDS)
def test_every_field_rejects_bad_input_by_name(cid):
    """For every field of every score: a missing required input, a wrong type, an unknown unit and an
    impossible measurement (below the field's physical minimum) are each rejected with an error naming it."""
    calc = get_calculator(cid)
    base = _valid(cid)
    assert _error_field(cid, {**base, "no_such_input": 1}) == "no_such_input"
    for f in calc.fields:
        if f.required:
            assert _error_field(cid, {k: v for k, v in base.items() if k != f.name}) == f.name
        if f.kind == "bool":
            assert _error_field(cid, {**base, f.name: "sometimes"}) == f.name
        elif f.kind == "choice":
            assert _error_field(cid, {**base, f.name: "not a listed option"}) == f.name
        elif f.kind == "quantity":
            assert _error_field(cid, {**base, f.name: (1.0, "furlongs")}) == f.name
            assert f.minimum is not None, f"{calc.slug}.{f.name} has no lower bound"
            assert _error_field(cid, {**base, f.name: (f.minimum - 1, f.unit)}) == f.name
        elif f.kind in ("int", "float"):
            assert _error_field(cid, {**base, f.name: "many"}) == f.name
            assert f.minimum is not None, f"{calc.slug}.{f.name} has no lower bound"
            assert _error_field(cid, {**base, f.name: f.minimum - 1}) == f.name


@pytest.mark.parametrize("cid, inputs, line", [
    (33, {"fever": True}, "No cough or coryza: cough or coryza not mentioned (taken as absent, so the criterion is "
                          "met) -> 1 point(s)"),
    (33, {"no_cough_or_coryza": True}, "No cough or coryza: no cough or coryza -> 1 point(s)"),
    (33, {"no_cough_or_coryza": False}, "No cough or coryza: cough or coryza present -> 0 points"),
    (20, {"age": 30}, "Cough absent: cough not mentioned (taken as absent, so the criterion is met) -> 1 point(s)"),
    (20, {"age": 30, "cough_absent": False}, "Cough absent: cough present -> 0 points"),
])
def test_negated_criteria_follow_the_absent_finding_convention(cid, inputs, line):
    """An unmentioned finding is absent inside a negated criterion too, and the explanation says so (it used to
    read 'Cough absent: absent or not mentioned -> 0 points')."""
    text = compute(cid, inputs).explanation
    assert line in text, text
    assert "absent or not mentioned -> 0" not in text.split("Cough absent")[-1].split("\n")[0]
