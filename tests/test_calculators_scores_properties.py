"""Property tests for the score calculators (hypothesis).

* Adding a positive criterion never lowers a score (every yes/no field except the ones that subtract).
* Scores that rise with age, or with worse physiology, never fall when it worsens.
* Unit conversions inside a score do not change it (the same patient in mg/dL or µmol/L, C or F).
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clinrl.calculators import compute, get_calculator

SCORE_IDS = (4, 8, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51)
# The fewest inputs each score needs; the yes/no criteria are drawn on top of these.
BASE = {
    4: {"age": 60, "sex": "Male"}, 15: {"bilirubin": 1.0, "albumin": 4.0, "inr": 1.0}, 18: {"age": 50},
    20: {"age": 30}, 21: {"eye": "eye opening to pain", "verbal": "confused", "motor": "localizes pain"},
    25: {"age": 60}, 27: {"sex": "Female", "bun": 15, "hemoglobin": 13, "systolic_bp": 120}, 28: {"age": 50},
    29: {"age": 60, "sex": "Male"}, 32: {"age": 60}, 36: {"age": 50}, 45: {"age": 50}, 48: {"age": 40},
}
SUBTRACTING = {(16, "alternative_diagnosis")}
SETTINGS = settings(max_examples=40, deadline=None)


def _flags(cid: int) -> list[str]:
    return [f.name for f in get_calculator(cid).fields if f.kind == "bool" and (cid, f.name) not in SUBTRACTING]


FLAG_CASES = [(cid, name) for cid in SCORE_IDS for name in _flags(cid)]


@pytest.mark.parametrize("cid", [c for c in SCORE_IDS if _flags(c)])
@SETTINGS
@given(data=st.data())
def test_adding_a_criterion_never_lowers_the_score(cid, data):
    flags = _flags(cid)
    chosen = data.draw(st.fixed_dictionaries({name: st.booleans() for name in flags}))
    switch = data.draw(st.sampled_from(flags))
    without = {**BASE.get(cid, {}), **chosen, switch: False}
    with_it = {**without, switch: True}
    assert compute(cid, with_it).value >= compute(cid, without).value, (switch, without)


@SETTINGS
@given(data=st.data())
def test_alternative_diagnosis_never_raises_wells_dvt(data):
    chosen = data.draw(st.fixed_dictionaries({name: st.booleans() for name in _flags(16)}))
    assert compute(16, {**chosen, "alternative_diagnosis": True}).value == \
        compute(16, {**chosen, "alternative_diagnosis": False}).value - 2


@pytest.mark.parametrize("cid", [4, 18, 25, 28, 29, 32, 36, 45, 48])
@SETTINGS
@given(young=st.integers(15, 100), older_by=st.integers(0, 30))
def test_scores_never_fall_with_age(cid, young, older_by):
    base = {**BASE.get(cid, {})}
    a = compute(cid, {**base, "age": young}).value
    b = compute(cid, {**base, "age": young + older_by}).value
    assert b >= a


@SETTINGS
@given(gcs_high=st.integers(3, 15), drop=st.integers(0, 12))
def test_lower_gcs_never_lowers_apache_or_sofa(gcs_high, drop):
    low = max(3, gcs_high - drop)
    assert compute(28, {"age": 50, "gcs": low}).value >= compute(28, {"age": 50, "gcs": gcs_high}).value
    assert compute(43, {"gcs": low}).value >= compute(43, {"gcs": gcs_high}).value


@SETTINGS
@given(bilirubin=st.floats(0.2, 30), worse=st.floats(0, 10), inr=st.floats(0.8, 6))
def test_child_pugh_worsens_with_bilirubin(bilirubin, worse, inr):
    base = {"albumin": 3.0, "inr": inr}
    worse_value = compute(15, {**base, "bilirubin": bilirubin + worse}).value
    assert worse_value >= compute(15, {**base, "bilirubin": bilirubin}).value


@SETTINGS
@given(creatinine=st.floats(0.3, 15), temp_c=st.floats(30, 42))
def test_unit_choice_does_not_change_the_score(creatinine, temp_c):
    assume(all(abs(creatinine - edge) > 1e-6 for edge in (1.2, 2.0, 3.5, 5.0)))  # a round trip may cross an edge
    mg = compute(43, {"creatinine": (creatinine, "mg/dL")}).value
    umol = compute(43, {"creatinine": (creatinine * 88.4017, "µmol/L")}).value
    assert mg == umol
    celsius = compute(51, {"temperature": (temp_c, "degC")}).value
    fahrenheit = compute(51, {"temperature": (temp_c * 9 / 5 + 32, "degF")}).value
    assert celsius == fahrenheit


@SETTINGS
@given(st.lists(st.sampled_from(["Male", "Female"]), min_size=1, max_size=1), st.integers(18, 100))
def test_psi_women_score_ten_less(sex, age):
    male = compute(29, {"age": age, "sex": "Male"}).value
    assert compute(29, {"age": age, "sex": sex[0]}).value == (male if sex[0] == "Male" else male - 10)
