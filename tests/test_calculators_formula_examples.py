"""Hand-worked examples for the formula calculators (from the publications or standard teaching, never
from the dataset), and the generic bad-input contract: missing field, unknown unit, negative or impossible
values are rejected with an error that names the field."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinrl.calculators import CalculatorInputError, compute, get_calculator

# (calculator, inputs, expected value, absolute tolerance, where the number comes from)
EXAMPLES = [
    (5, {"sbp": 120, "dbp": 80}, 93.333, 1e-3, "80 + (120 - 80)/3"),
    (6, {"weight": (70, "kg"), "height": (1.75, "m")}, 22.857, 1e-3, "70 / 1.75^2"),
    (6, {"weight": (154.324, "lb"), "height": (68.898, "in")}, 22.857, 2e-3, "same patient in US units"),
    (10, {"sex": "Male", "height": (70, "in")}, 73.0, 1e-3, "Devine: 50 + 2.3 x 10"),
    (10, {"sex": "Female", "height": (64, "in")}, 54.7, 1e-3, "Devine: 45.5 + 2.3 x 4"),
    (62, {"sex": "Female", "height": (64, "in"), "weight": 100}, 72.82, 1e-3, "54.7 + 0.4 x 45.3"),
    (60, {"weight": 80, "height": 180}, 2.0, 1e-9, "Mosteller sqrt(80 x 180 / 3600)"),
    (61, {"target_bmi": 22, "height": (180, "cm")}, 71.28, 1e-3, "22 x 1.8^2"),
    (22, {"weight": 8}, 32.0, 1e-9, "4-2-1: 4 x 8"),
    (22, {"weight": 15}, 50.0, 1e-9, "4-2-1: 40 + 2 x 5"),
    (22, {"weight": 25}, 65.0, 1e-9, "4-2-1: 40 + 20 + 5"),
    (2, {"age": 60, "sex": "Male", "weight": 72, "creatinine": 1.0}, 80.0, 1e-9,
     "Cockcroft-Gault 1976: (140 - 60) x 72 / (72 x 1.0), no height so actual weight"),
    (2, {"age": 60, "sex": "Female", "weight": 72, "creatinine": 1.0}, 68.0, 1e-9, "x 0.85 for women"),
    (2, {"age": 40, "sex": "Male", "weight": 100, "height": (70, "in"), "creatinine": 1.2}, 96.991, 1e-3,
     "BMI 31.6: ABW 73 + 0.4 x 27 = 83.8; 100 x 83.8 / 86.4"),
    (2, {"age": 40, "sex": "Male", "weight": 80, "height": (70, "in"), "creatinine": 1.0}, 105.278, 1e-3,
     "BMI 25.3 -> ABW 73 + 0.4 x 7 = 75.8; 100 x 75.8 / 72"),
    (2, {"age": 40, "sex": "Male", "weight": 70, "height": (70, "in"), "creatinine": 1.0}, 97.222, 1e-3,
     "BMI 22.1 normal -> min(IBW 73, 70) = 70"),
    (3, {"age": 50, "sex": "Female", "creatinine": 0.8}, 89.71, 0.05, "CKD-EPI 2021 (Inker 2021)"),
    (3, {"age": 60, "sex": "Male", "creatinine": 1.0}, 86.16, 0.05, "CKD-EPI 2021 (Inker 2021)"),
    (3, {"age": 60, "sex": "Male", "creatinine": (88.4, "umol/L")}, 86.16, 0.05, "same in SI units"),
    (9, {"age": 60, "sex": "Male", "creatinine": 1.0}, 76.22, 0.01, "175 x 60^-0.203"),
    (9, {"age": 60, "sex": "Female", "creatinine": 1.0, "race": "Black"}, 68.55, 0.01, "x 0.742 x 1.212"),
    (40, {"serum_sodium": 140, "urine_sodium": 20, "serum_creatinine": 2.0, "urine_creatinine": 100}, 0.286, 1e-3,
     "100 x (2 x 20) / (140 x 100)"),
    (39, {"sodium": 140, "chloride": 100, "bicarbonate": 24}, 16.0, 1e-9, "140 - 124"),
    (63, {"sodium": 140, "chloride": 100, "bicarbonate": 14}, 14.0, 1e-9, "AG 26 - 12"),
    (64, {"sodium": 140, "chloride": 100, "bicarbonate": 14}, 1.4, 1e-9, "14 / (24 - 14)"),
    (65, {"sodium": 140, "chloride": 100, "bicarbonate": 14, "albumin": 2.0}, 31.0, 1e-9, "26 + 2.5 x 2"),
    (66, {"sodium": 140, "chloride": 100, "bicarbonate": 14, "albumin": (20, "g/L")}, 19.0, 1e-9, "31 - 12"),
    (67, {"sodium": 140, "chloride": 100, "bicarbonate": 14, "albumin": 2.0}, 1.9, 1e-9, "19 / 10"),
    (7, {"calcium": 8.0, "albumin": 2.0}, 9.6, 1e-9, "Payne: 8.0 + 0.8 x 2"),
    (7, {"calcium": (2.0, "mmol/L"), "albumin": (40, "g/L")}, 8.016, 1e-3, "2.0 mmol/L = 8.016 mg/dL"),
    (26, {"sodium": 130, "glucose": 600}, 142.0, 1e-9, "Hillier: 130 + 2.4 x 5"),
    (30, {"sodium": 140, "bun": 14, "glucose": 90}, 290.0, 1e-9, "280 + 5 + 5"),
    (30, {"sodium": (140, "mmol/L"), "bun": (5, "mmol/L"), "glucose": (5, "mmol/L")}, 290.0, 0.1, "SI: 280 + 5 + 5"),
    (38, {"age": 40, "sex": "Male", "weight": 70, "sodium": 160}, 6.0, 1e-9, "0.6 x 70 x (160/140 - 1)"),
    (38, {"age": 70, "sex": "Female", "weight": 60, "sodium": 154}, 2.7, 1e-9, "0.45 x 60 x 0.1"),
    (38, {"age": 10, "sex": "Female", "weight": 35, "sodium": 147}, 1.05, 1e-9, "child: 0.6 x 35 x 0.05"),
    (11, {"qt": 350, "heart_rate": 100}, 451.848, 1e-3, "Bazett 350 / sqrt(0.6)"),
    (56, {"qt": 350, "heart_rate": 100}, 414.971, 1e-3, "Fridericia 350 / 0.6^(1/3)"),
    (57, {"qt": 350, "heart_rate": 100}, 411.6, 1e-9, "Framingham 350 + 154 x 0.4"),
    (58, {"qt": 350, "heart_rate": 100}, 420.0, 1e-9, "Hodges 350 + 1.75 x 40"),
    (59, {"qt": 350, "heart_rate": 100}, 427.778, 1e-3, "Rautaharju 350 x 220 / 180"),
    (19, {"age": 50, "ast": 40, "alt": 25, "platelets": 200}, 2.0, 1e-9, "Sterling: 50 x 40 / (200 x 5)"),
    (19, {"age": 50, "ast": 40, "alt": 25, "platelets": (200_000, "/uL")}, 2.0, 1e-9, "platelets per µL"),
    (23, {"creatinine": 1.0, "bilirubin": 1.0, "inr": 1.0, "sodium": 140}, 6.0, 1e-9, "MELD(i) 0.643 -> 6, <= 11"),
    (23, {"creatinine": 2.0, "bilirubin": 3.0, "inr": 1.5, "sodium": 130}, 26.0, 1e-9,
     "MELD 22; 22 + 1.32 x 7 - 0.033 x 22 x 7 = 26.16"),
    (23, {"creatinine": 1.0, "bilirubin": 3.0, "inr": 1.5, "sodium": 130, "dialysis_twice_past_week": True}, 31.0,
     1e-9, "dialysis sets creatinine to 4: MELD(i) 2.839 -> 28; 28 + 9.24 - 6.468 = 30.77"),
    (31, {"insulin": 10, "glucose": 90}, 2.222, 1e-3, "Matthews: 10 x 90 / 405"),
    (31, {"insulin": (60, "pmol/L"), "glucose": (5, "mmol/L")}, 2.224, 2e-3, "SI: 10 µIU/mL x 5 mmol/L / 22.5"),
    (44, {"total_cholesterol": 200, "hdl": 50, "triglycerides": 150}, 120.0, 1e-9, "Friedewald 200 - 50 - 30"),
    (24, {"input_steroid": "PredniSONE PO", "dose": 50, "target_steroid": "Dexamethasone IV"}, 7.5, 1e-9,
     "5 mg prednisone = 0.75 mg dexamethasone"),
    (24, {"input_steroid": "hydrocortisone iv", "dose": 100, "target_steroid": "prednisone po"}, 25.0, 1e-9,
     "20 mg hydrocortisone = 5 mg prednisone"),
    (49, {"oxycodone_dose": 10, "oxycodone_doses_per_day": 4}, 60.0, 1e-9, "CDC 2022: 10 mg x 4 x 1.5"),
    (49, {"fentanyl_patch_dose": 25, "fentanyl_patch_doses_per_day": 1}, 60.0, 1e-9, "CDC 2022: 25 mcg/hr = 60 MME"),
    (49, {"morphine_dose": 30, "morphine_doses_per_day": 2, "tramadol_dose": 50, "tramadol_doses_per_day": 3},
     90.0, 1e-9, "60 + 150 x 0.2"),
]


@pytest.mark.parametrize(("calc_id", "inputs", "expected", "tol", "source"), EXAMPLES,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(EXAMPLES)])
def test_hand_worked_example(calc_id, inputs, expected, tol, source):
    result = compute(calc_id, inputs)
    assert result.value == pytest.approx(expected, abs=tol), source
    assert result.explanation and result.reference


def test_meld_caps_and_bounds():
    assert compute(23, {"creatinine": 12, "bilirubin": 40, "inr": 9, "sodium": 110}).value == 40.0
    low = compute(23, {"creatinine": 0.3, "bilirubin": 0.2, "inr": 0.8, "sodium": 150})
    assert low.value == 6.0 and "-> 1" in low.explanation


def test_dates():
    assert compute(13, {"lmp": "01/01/2024"}).value == "10/07/2024"  # + 280 days (leap year)
    assert compute(13, {"lmp": "01/01/2024", "cycle_length": 32}).value == "10/11/2024"
    assert compute(13, {"lmp": "2024-01-01", "cycle_length": 24}).value == "10/03/2024"
    assert compute(68, {"lmp": "01/01/2024"}).value == "01/15/2024"
    assert compute(68, {"lmp": "01/01/2024", "cycle_length": 35}).value == "01/22/2024"
    ga = compute(69, {"lmp": "01/01/2024", "current_date": "03/01/2024"})
    assert ga.value == (8, 4) and ga.answer == ["8 weeks", "4 days"]
    with pytest.raises(CalculatorInputError) as err:
        compute(69, {"lmp": "03/01/2024", "current_date": "01/01/2024"})
    assert err.value.field == "current_date"


def test_qtc_all_equal_qt_at_sixty_bpm():
    for calc_id in (11, 56, 57, 58, 59):
        assert compute(calc_id, {"qt": 400, "heart_rate": 60}).value == pytest.approx(400.0)


def test_delta_ratio_undefined_at_normal_bicarbonate():
    with pytest.raises(CalculatorInputError) as err:
        compute(64, {"sodium": 140, "chloride": 100, "bicarbonate": 24})
    assert err.value.field == "bicarbonate"


def test_map_rejects_diastolic_above_systolic():
    with pytest.raises(CalculatorInputError) as err:
        compute(5, {"sbp": 80, "dbp": 120})
    assert err.value.field == "dbp"


def test_mme_needs_a_dose_and_its_frequency():
    with pytest.raises(CalculatorInputError) as err:
        compute(49, {})
    assert err.value.field == "morphine_dose"
    with pytest.raises(CalculatorInputError) as err:
        compute(49, {"codeine_dose": 30})
    assert err.value.field == "codeine_doses_per_day"


# --- the bad-input contract, for every formula calculator ---------------------------------------------
VALID = {}
for _calc_id, _inputs, *_ in EXAMPLES:
    VALID.setdefault(_calc_id, _inputs)
VALID[13] = {"lmp": "01/01/2024", "cycle_length": 28}
VALID[68] = {"lmp": "01/01/2024", "cycle_length": 28}
VALID[69] = {"lmp": "01/01/2024", "current_date": "03/01/2024"}
VALID[46] = {"age": 55, "sex": "Male", "sbp": 130, "total_cholesterol": 200, "hdl": 45, "smoker": False}
FORMULA_IDS = sorted(VALID)


def test_every_formula_calculator_has_an_example():
    assert FORMULA_IDS == sorted({2, 3, 5, 6, 7, 9, 10, 11, 13, 19, 22, 23, 24, 26, 30, 31, 38, 39, 40, 44, 46, 49,
                                  56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69})


@pytest.mark.parametrize("calc_id", FORMULA_IDS)
def test_missing_required_field_named(calc_id):
    calc = get_calculator(calc_id)
    for f in calc.fields:
        if not f.required:
            continue
        inputs = {k: v for k, v in VALID[calc_id].items() if k != f.name}
        with pytest.raises(CalculatorInputError) as err:
            calc.compute(inputs)
        assert err.value.field == f.name and f"'{f.name}'" in str(err.value)


@pytest.mark.parametrize("calc_id", FORMULA_IDS)
def test_unknown_unit_and_impossible_values_named(calc_id):
    calc = get_calculator(calc_id)
    base = dict(VALID[calc_id])
    quantities = [f for f in calc.fields if f.kind == "quantity" and f.name in base]
    for f in quantities:
        with pytest.raises(CalculatorInputError) as err:
            calc.compute({**base, f.name: (1.0, "bananas/fortnight")})
        assert err.value.field == f.name and "bananas" in str(err.value)
        with pytest.raises(CalculatorInputError) as err:
            calc.compute({**base, f.name: (-5.0, f.unit)})
        assert err.value.field == f.name
        if f.maximum is not None:
            with pytest.raises(CalculatorInputError) as err:
                calc.compute({**base, f.name: (f.maximum * 10 + 1, f.unit)})
            assert err.value.field == f.name and "impossible" in str(err.value)


def test_negative_weight_rejected():
    for calc_id in (2, 6, 22, 38, 60, 62):
        inputs = {**VALID[calc_id], "weight": (-70, "kg")}
        with pytest.raises(CalculatorInputError) as err:
            compute(calc_id, inputs)
        assert err.value.field == "weight"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_one_corrupted_field_is_rejected_or_computed(data):
    """A valid input with one field replaced by junk: a finite result, or an error that names a field."""
    calc_id = data.draw(st.sampled_from(FORMULA_IDS))
    calc = get_calculator(calc_id)
    name = data.draw(st.sampled_from([f.name for f in calc.fields]))
    junk = data.draw(st.one_of(
        st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=10), st.tuples(st.floats(-1e6, 1e6), st.text(max_size=8)),
        st.tuples(st.floats(-1e6, 1e6), st.sampled_from(["kg", "lb", "mg/dL", "mmol/L", "µmol/L", "g/L", "%"])),
    ))
    try:
        result = calc.compute({**VALID[calc_id], name: junk})
    except CalculatorInputError as exc:
        assert exc.field and exc.calculator == calc.slug
        return
    if isinstance(result.value, float):
        assert math.isfinite(result.value)
