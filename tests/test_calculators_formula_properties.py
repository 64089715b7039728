"""Properties of the formula calculators: monotone where the formula is monotone, unit invariance,
explanations that carry the answer, and Framingham against the ATP III point tables."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clinrl.calculators import compute, fmt
from clinrl.calculators.units import convert

SETTINGS = settings(max_examples=40, deadline=None)
SEX = st.sampled_from(["Male", "Female"])


def _pair(lo, hi):
    return st.tuples(st.floats(lo, hi), st.floats(lo, hi)).map(sorted)


def value(calc, inputs):
    return compute(calc, inputs).value


# (calculator, field that varies, range, other inputs, +1 increasing / -1 decreasing)
MONOTONE = [
    (5, "sbp", (100, 250), {"dbp": 60}, 1),
    (6, "weight", (20, 300), {"height": 170}, 1),
    (6, "height", (100, 230), {"weight": 70}, -1),
    (10, "height", (140, 220), {"sex": "Female"}, 1),
    (60, "weight", (3, 300), {"height": 170}, 1),
    (61, "target_bmi", (15, 45), {"height": 170}, 1),
    (22, "weight", (1, 200), {}, 1),
    (2, "creatinine", (0.3, 15), {"age": 50, "sex": "Male", "weight": 70}, -1),
    (2, "age", (18, 120), {"sex": "Female", "weight": 70, "creatinine": 1}, -1),
    (3, "creatinine", (0.2, 15), {"age": 50, "sex": "Female"}, -1),
    (3, "age", (18, 120), {"sex": "Male", "creatinine": 1.1}, -1),
    (9, "creatinine", (0.2, 15), {"age": 50, "sex": "Male"}, -1),
    (40, "urine_sodium", (1, 200), {"serum_sodium": 140, "serum_creatinine": 1, "urine_creatinine": 80}, 1),
    (39, "sodium", (110, 170), {"chloride": 100, "bicarbonate": 20}, 1),
    (65, "albumin", (0.5, 6), {"sodium": 140, "chloride": 100, "bicarbonate": 20}, -1),
    (7, "albumin", (0.5, 6), {"calcium": 8.5}, -1),
    (26, "glucose", (50, 2000), {"sodium": 130}, 1),
    (30, "glucose", (50, 2000), {"sodium": 140, "bun": 14}, 1),
    (38, "sodium", (120, 190), {"age": 50, "sex": "Male", "weight": 70}, 1),
    (11, "qt", (200, 700), {"heart_rate": 80}, 1),
    (11, "heart_rate", (30, 200), {"qt": 400}, 1),
    (56, "heart_rate", (30, 200), {"qt": 400}, 1),
    (57, "heart_rate", (30, 200), {"qt": 400}, 1),
    (58, "heart_rate", (30, 200), {"qt": 400}, 1),
    (59, "heart_rate", (30, 200), {"qt": 400}, 1),
    (19, "platelets", (10, 800), {"age": 50, "ast": 40, "alt": 30}, -1),
    (19, "ast", (5, 2000), {"age": 50, "alt": 30, "platelets": 200}, 1),
    (23, "bilirubin", (0.3, 40), {"creatinine": 1.5, "inr": 1.4, "sodium": 130}, 1),
    (23, "sodium", (120, 145), {"creatinine": 1.5, "bilirubin": 4, "inr": 1.4}, -1),
    (31, "insulin", (1, 300), {"glucose": 100}, 1),
    (44, "triglycerides", (20, 399), {"total_cholesterol": 220, "hdl": 50}, -1),
    (46, "sbp", (90, 220), {"age": 55, "sex": "Male", "total_cholesterol": 210, "hdl": 45, "smoker": True}, 1),
    (46, "hdl", (20, 100), {"age": 60, "sex": "Female", "total_cholesterol": 210, "sbp": 130}, -1),
    (49, "methadone_dose", (1, 200), {"methadone_doses_per_day": 2}, 1),
    (24, "dose", (0.5, 500), {"input_steroid": "PredniSONE PO", "target_steroid": "Hydrocortisone IV"}, 1),
]


@pytest.mark.parametrize(("calc", "field", "bounds", "others", "direction"), MONOTONE,
                         ids=[f"{m[0]}-{m[1]}" for m in MONOTONE])
def test_monotone(calc, field, bounds, others, direction):
    @SETTINGS
    @given(pair=_pair(*bounds))
    def check(pair):
        lo, hi = pair
        a, b = value(calc, {**others, field: lo}), value(calc, {**others, field: hi})
        # rounding to 3 decimals (or to integers for MELD) may tie; it must never reverse
        assert (b - a) * direction >= -1e-9

    check()


@SETTINGS
@given(weight=st.floats(30, 250), height=st.floats(140, 210), age=st.floats(18, 100), sex=SEX,
       creatinine=st.floats(0.3, 10))
def test_cockcroft_gault_units_invariant(weight, height, age, sex, creatinine):
    metric = value(2, {"age": age, "sex": sex, "weight": weight, "height": height, "creatinine": creatinine})
    us = value(2, {"age": age, "sex": sex, "weight": (convert(weight, "kg", "lb"), "lb"),
                   "height": (convert(height, "cm", "in"), "in"),
                   "creatinine": (convert(creatinine, "mg/dL", "umol/L", "creatinine"), "µmol/L")})
    assert us == pytest.approx(metric, rel=1e-6, abs=2e-3)


@SETTINGS
@given(weight=st.floats(30, 250), height=st.floats(140, 210), sex=SEX)
def test_adjusted_weight_between_ideal_and_actual(weight, height, sex):
    ibw = value(10, {"sex": sex, "height": height})
    abw = value(62, {"sex": sex, "height": height, "weight": weight})
    assert min(ibw, weight) - 2e-3 <= abw <= max(ibw, weight) + 2e-3


@SETTINGS
@given(na=st.floats(120, 160), cl=st.floats(80, 120), hco3=st.floats(2, 40), alb=st.floats(1, 5))
def test_anion_gap_family_consistent(na, cl, hco3, alb):
    assume(abs(24 - hco3) > 0.5)
    base = {"sodium": na, "chloride": cl, "bicarbonate": hco3}
    gap = value(39, base)
    assert value(63, base) == pytest.approx(gap - 12, abs=2e-3)
    assert value(64, base) == pytest.approx((gap - 12) / (24 - hco3), abs=5e-3)
    corrected = value(65, {**base, "albumin": alb})
    assert corrected == pytest.approx(gap + 2.5 * (4 - alb), abs=2e-3)
    assert value(66, {**base, "albumin": alb}) == pytest.approx(corrected - 12, abs=2e-3)


@SETTINGS
@given(days=st.integers(0, 300), cycle=st.integers(21, 35))
def test_pregnancy_dates_consistent(days, cycle):
    import datetime as dt

    lmp = dt.date(2023, 3, 10)
    today = lmp + dt.timedelta(days=days)
    weeks, rest = compute(69, {"lmp": lmp, "current_date": today}).value
    assert weeks * 7 + rest == days and 0 <= rest <= 6
    due = dt.datetime.strptime(compute(13, {"lmp": lmp, "cycle_length": cycle}).value, "%m/%d/%Y").date()
    conception = dt.datetime.strptime(compute(68, {"lmp": lmp, "cycle_length": cycle}).value, "%m/%d/%Y").date()
    assert (due - conception).days == 266  # 38 weeks from conception, for every cycle length


def test_explanations_state_the_answer():
    cases = {6: {"weight": 70, "height": 175}, 39: {"sodium": 140, "chloride": 100, "bicarbonate": 24},
             11: {"qt": 350, "heart_rate": 100}, 38: {"age": 40, "sex": "Male", "weight": 70, "sodium": 160}}
    for calc, inputs in cases.items():
        result = compute(calc, inputs)
        assert fmt(result.value) in result.explanation
    converted = compute(3, {"age": 60, "sex": "Male", "creatinine": (88.4, "µmol/L")})
    assert "88.4 µmol/L = 1 mg/dL" in converted.explanation


# ATP III (JAMA 2001) point tables: total points -> 10-year hard CHD risk band.
@pytest.mark.parametrize(("inputs", "low", "high", "why"), [
    ({"age": 54, "sex": "Male", "total_cholesterol": 235, "hdl": 26, "sbp": 139, "smoker": True}, 20, 35,
     "men: age 50-54 6 + TC 200-239 4 + smoker 3 + HDL<40 2 + SBP 130-139 1 = 16 points -> 25%"),
    ({"age": 40, "sex": "Female", "total_cholesterol": 180, "hdl": 65, "sbp": 115}, 0, 1,
     "women: age 40-44 3 + TC 160-199 3 + HDL>=60 -1 + SBP<120 0 = 5 points -> <1%"),
    ({"age": 67, "sex": "Female", "total_cholesterol": 167, "hdl": 40, "sbp": 170, "bp_treated": True}, 8, 17,
     "women: age 65-69 12 + TC 2 + HDL 40-49 1 + treated SBP>=160 6 = 21 points -> 14%"),
    ({"age": 45, "sex": "Male", "total_cholesterol": 190, "hdl": 50, "sbp": 125}, 1, 5,
     "men: age 45-49 3 + TC 160-199 3 + HDL 50-59 0 + SBP 120-129 0 = 6 points -> 2%"),
])
def test_framingham_matches_point_tables(inputs, low, high, why):
    assert low <= value(46, inputs) <= high, why
