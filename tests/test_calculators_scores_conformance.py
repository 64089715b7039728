"""Conformance of the score calculators with the MedCalc-Bench v1.0 test rows.

Every test row of the 19 score calculators goes through ``inputs_from_relevant_entities`` -> ``compute`` and
is checked with the benchmark's own rule (``round(x) == ground truth``; Wells PE inside the row's bounds).
A row may disagree only if ``clinrl.tasks.medcalc.known_defects`` documents it, and a documented row must
still disagree. Where a documented cause is mechanical, a *reproduction* re-applies it to clinrl's inputs and
must give the dataset's value on every row of the calculator: the evidence is checked, not just written.
"""

from __future__ import annotations

import csv
from collections import Counter
from functools import lru_cache

import pytest

from clinrl.calculators import compute
from clinrl.calculators.entities import inputs_from_relevant_entities, parse_relevant_entities, unmatched_entity_keys
from clinrl.tasks.medcalc.known_defects import defect_for
from clinrl.calculators.scores_icu import _EYE, _MOTOR, _VERBAL, NOT_TESTABLE
from clinrl.calculators.scores_vte import _MOBILITY, _SURGERY_POINTS
from clinrl.tasks.medcalc.scoring import check_value

SCORE_IDS = (4, 8, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51)
# Keys of another calculator (PECARN) that the dataset's extraction left in some FeverPAIN rows.
FOREIGN_KEYS = {33: {"Occipital, parietal or temporal scalp hematoma; history of level of conciousness (LOC) ≥5 sec; "
                     "not acting normally per parent or severe mechanism of injury?",
                     "Altered mental status for PECARN head injury criteria"}}

pytestmark = pytest.mark.conformance


@lru_cache(maxsize=1)
def _all_rows(path: str) -> tuple[dict, ...]:
    with open(path, newline="", encoding="utf-8") as handle:
        return tuple(r for r in csv.DictReader(handle) if int(r["Calculator ID"]) in SCORE_IDS)


def _rows(path, cid: int) -> list[dict]:
    return [r for r in _all_rows(str(path)) if int(r["Calculator ID"]) == cid]


def _result(row):
    cid = int(row["Calculator ID"])
    return compute(cid, inputs_from_relevant_entities(cid, row["Relevant Entities"]))


# --- reproductions of the documented dataset defects (dataset value from clinrl's inputs) -------------------
def _child_pugh(row, res):
    entities, v, value = parse_relevant_entities(row["Relevant Entities"]), res.inputs, res.value
    if "Ascites" in entities:  # a given ascites grade is never scored
        value -= ("absent", "slight", "moderate").index(v["ascites"]) + 1
    bilirubin = round(v["bilirubin"], 1)
    value += (bilirubin == 3.0) - 2 * (bilirubin == 2.0) + (v["albumin"] == 2.8)
    value -= entities.get("Encephalopathy") == "Grade 0"
    return value


def _rcri(row, res):
    entities = parse_relevant_entities(row["Relevant Entities"])
    return res.value - res.inputs["cerebrovascular_disease"] + bool(entities.get("Cerebrovascular disease history"))


def _gcs(row, res):
    def points(value, scale, not_testable):
        return not_testable if value == NOT_TESTABLE else scale.index(value) + 1
    v = res.inputs
    return points(v["eye"], _EYE, 4) + 2 * points(v["verbal"], _VERBAL, 4) + points(v["motor"], _MOTOR, 6)


def _blatchford(row, res):
    v = res.inputs
    edge = v["hemoglobin"] == (13.0 if v["sex"] == "Male" else 12.0)
    return res.value + edge


def _psi(row, res):
    entities = parse_relevant_entities(row["Relevant Entities"])
    as_fahrenheit = "celsisus" in entities["Temperature"][1]
    normal = 35 <= res.inputs["temperature"] < 40
    return res.value + 15 * (as_fahrenheit and normal)


def _charlson(row, res):
    entities, v = parse_relevant_entities(row["Relevant Entities"]), res.inputs
    liver = {"none": 0, "mild": 1, "moderate to severe": 3}[v["liver_disease"]]
    diabetes = ("none or diet-controlled", "uncomplicated", "end-organ damage").index(v["diabetes"])
    tumor = {"none": 0, "localized": 2, "metastatic": 6}[v["solid_tumor"]]
    given_diabetes = any("diabetes" in key.casefold() for key in entities)
    return res.value - liver - diabetes - tumor + (liver > 0) + given_diabetes + (tumor > 0)


def _caprini(row, res):
    v = res.inputs
    age = 0 if v["age"] < 41 else 1 if v["age"] < 61 else 2 if v["age"] < 75 else 3
    return age + _SURGERY_POINTS[v["surgery_type"]] + _MOBILITY.index(v["mobility"])


def _sirs(row, res):
    entities, v = parse_relevant_entities(row["Relevant Entities"]), res.inputs
    heart_rate_bug = v["heart_rate"] is not None and v["heart_rate"] <= 90
    met = v["wbc"] is not None and (v["wbc"] > 12 or v["wbc"] < 4)
    per_m3_bug = entities["White blood cell count"][1] in ("µL", "L") and not met
    return res.value + heart_rate_bug + per_m3_bug


def _feverpain(row, res):
    # v1.0 withholds the 'no cough or coryza' point when the entities do not mention cough or coryza
    return res.value - ("Absence of cough or coryza" not in parse_relevant_entities(row["Relevant Entities"]))


REPRODUCTIONS = {15: _child_pugh, 17: _rcri, 21: _gcs, 27: _blatchford, 29: _psi, 32: _charlson, 33: _feverpain,
                 36: _caprini, 51: _sirs}
# Causes too tangled to re-run (several bugs per row): each documented row must show the signature phrase.
SIGNATURES = {28: "Glasgow Coma Score is", 43: "partial pressure of oxygen to FiO₂ ratio is"}


@pytest.mark.parametrize("cid", SCORE_IDS)
def test_score_rows_agree_except_documented_defects(medcalc_test_csv, cid):
    rows = _rows(medcalc_test_csv, cid)
    assert len(rows) == 20
    unexpected, stale, outcome = [], [], Counter()
    for row in rows:
        number = int(row["Row Number"])
        res = _result(row)
        target = {"ground_truth": row["Ground Truth Answer"], "lower_limit": row["Lower Limit"],
                  "upper_limit": row["Upper Limit"]}
        ok, _ = check_value(cid, res.answer, target)
        defect = defect_for(cid, number)
        outcome["agree" if ok else "defect" if defect else "unexplained"] += 1
        if ok and defect:
            stale.append(number)
        if not ok and not defect:
            unexpected.append((number, res.value, row["Ground Truth Answer"]))
    print(f"\ncalculator {cid}: {dict(outcome)}")
    assert not unexpected, f"calculator {cid}: rows disagreeing without a documented defect: {unexpected}"
    assert not stale, f"calculator {cid}: documented defects that now agree (remove them): {stale}"


@pytest.mark.parametrize("cid", sorted(REPRODUCTIONS))
def test_documented_cause_reproduces_the_dataset_value(medcalc_test_csv, cid):
    """Applying the documented defect to clinrl's inputs gives the ground truth on every row."""
    wrong = []
    for row in _rows(medcalc_test_csv, cid):
        res = _result(row)
        expected = float(row["Ground Truth Answer"])
        if REPRODUCTIONS[cid](row, res) != expected:
            wrong.append((row["Row Number"], REPRODUCTIONS[cid](row, res), expected))
    assert not wrong, f"calculator {cid}: the documented cause does not explain {wrong}"


@pytest.mark.parametrize("cid", sorted(SIGNATURES))
def test_documented_rows_show_the_defect_in_their_explanation(medcalc_test_csv, cid):
    for row in _rows(medcalc_test_csv, cid):
        if defect_for(cid, int(row["Row Number"])):
            assert SIGNATURES[cid] in row["Ground Truth Explanation"], row["Row Number"]
    if cid == 28:  # the GCS is added as is: "... is 12.0, and so we add 12.0 points"
        for row in _rows(medcalc_test_csv, cid):
            gcs = parse_relevant_entities(row["Relevant Entities"])["Glasgow Coma Score"]
            assert f"Glasgow Coma Score is {float(gcs)}, and so we add {float(gcs)} points" in \
                row["Ground Truth Explanation"]


def test_every_score_entity_key_is_read(medcalc_test_csv):
    """No Relevant Entities key is ignored, except another calculator's keys left in by the dataset."""
    missed: dict[int, set[str]] = {}
    for row in _all_rows(str(medcalc_test_csv)):
        cid = int(row["Calculator ID"])
        keys = set(unmatched_entity_keys(cid, row["Relevant Entities"])) - FOREIGN_KEYS.get(cid, set())
        if keys:
            missed.setdefault(cid, set()).update(keys)
    assert not missed, missed


# One-shot exemplars (the benchmark's own worked examples) that clinrl does not reproduce, and why.
ONE_SHOT_EXCEPTIONS = {
    15: "ascites and encephalopathy 'Grade 0' are left out of the sum (see known_defects, calculator 15): 4 "
        "instead of 6",
    28: "the GCS is added as is and the white count scored > 40 x 10^9/L (see known_defects, calculator 28)",
    33: "the exemplar does not mention cough or coryza and withholds the 'no cough or coryza' point (the v1.0 "
        "convention, see known_defects, calculator 33): 1 instead of 2",
    36: "only age, surgery type and mobility reach the total (see known_defects, calculator 36): 1 instead of 18",
}


@pytest.fixture(scope="module")
def one_shot(shared_data) -> dict:
    import json

    path = shared_data / "medcalc-bench" / "one_shot_finalized_explanation.json"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("cid", SCORE_IDS)
def test_score_one_shot_exemplar(one_shot, cid):
    """The benchmark's worked example for the score agrees, or disagrees for its documented reason."""
    entry = one_shot[str(cid)]
    value = compute(cid, inputs_from_relevant_entities(cid, entry["input_parameters"])).value
    answer = float(entry["Response"]["answer"])
    assert (value == answer) != (cid in ONE_SHOT_EXCEPTIONS), (value, answer, ONE_SHOT_EXCEPTIONS.get(cid))


@pytest.mark.parametrize("version", ["2024-11", "2025-09"])
def test_score_entity_maps_of_both_releases_are_covered(shared_data, version):
    """Every key of both releases' entity maps, and its Python parameter name, reaches a field."""
    import json

    from clinrl.calculators import get_calculator
    from clinrl.calculators.base import entity_key

    path = shared_data / "medcalc-bench" / f"name_to_python_{version}.json"
    if not path.exists():
        pytest.skip(f"{path} not found")
    meta = {"file path", "explanation function", "calculator name", "type", "question"}
    maps, missing = json.loads(path.read_text(encoding="utf-8")), {}
    for cid in SCORE_IDS:
        index = get_calculator(cid)._entity_index()
        lost = [name for key, param in maps.get(str(cid), {}).items() if key not in meta
                for name in (key, param) if entity_key(name) not in index]
        if lost:
            missing[cid] = lost
    assert not missing, missing


def test_train_sample_score_rows_agree(shared_data):
    """The 98-row train sample (a different split) holds 42 rows of CHA2DS2-VASc, Centor and FeverPAIN; the only
    disagreements are FeverPAIN rows that do not mention cough or coryza, recognised by the documented rule."""
    from clinrl.tasks.medcalc.known_defects import RowFacts, match_defect

    path = shared_data / "medcalc-bench" / "train_sample_98.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if int(r["Calculator ID"]) in SCORE_IDS]
    assert len(rows) == 42
    wrong, documented = [], 0
    for r in rows:
        cid = int(r["Calculator ID"])
        if check_value(cid, _result(r).answer, {"ground_truth": r["Ground Truth Answer"],
                                                "lower_limit": r["Lower Limit"], "upper_limit": r["Upper Limit"]})[0]:
            continue
        facts = RowFacts(cid, r["Patient Note"], r["Ground Truth Answer"], r["Lower Limit"], r["Upper Limit"],
                         parse_relevant_entities(r["Relevant Entities"]), r["Ground Truth Explanation"],
                         _result(r).answer)
        defect = match_defect(facts)
        if defect is not None and defect.calculator_id == 33 and defect.kind == "convention":
            documented += 1
        else:
            wrong.append((cid, r["Row Number"], _result(r).value, r["Ground Truth Answer"]))
    assert not wrong, wrong
    assert documented == 9
