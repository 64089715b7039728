"""Diagnostics: the MedCalc failure taxonomy against a hand-labelled sample, and RLVR viability.

The completions below were written for this test (none comes from a dataset); each carries the label a
reader gives it from the EHRMIND definitions: *missing knowledge* = wrong or absent formula / criteria;
*misapplied knowledge* = the right rule with wrong values or wrong arithmetic.
"""

from __future__ import annotations

import pytest

from clinrl.evaluation.diagnostics import ADVISED, NEEDS, VIABLE, rlvr_viability
from clinrl.registry import get_task
from clinrl.tasks.medcalc.taxonomy import agreement, arithmetic_slips, classify_failure, failure_taxonomy

CG = dict(calculator_id=2, name="Creatinine Clearance (Cockcroft-Gault Equation)", gt="50.69", lo="48.16", hi="53.22",
          entities={"age": [67, "years"], "sex": "Male", "weight": [70, "kg"], "creatinine": [1.4, "mg/dL"]})
MAP = dict(calculator_id=5, name="Mean Arterial Pressure (MAP)", gt="96.67", lo="91.84", hi="101.5",
           entities={"Systolic Blood Pressure": [130, "mm hg"], "Diastolic Blood Pressure": [80, "mm hg"]})
CHA = dict(calculator_id=4, name="CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk", gt="4", lo="4", hi="4",
           entities=None)
EDD = dict(calculator_id=13, name="Estimated Due Date", gt="10/17/2023", lo="", hi="", entities=None)


def wrap(think: str, answer: str) -> str:
    return f"{think}</think>\n<answer>{{\"answer\": {answer}}}</answer>"


HAND_LABELLED = [
    (CG, wrap("Cockcroft-Gault: CrCl = (140 - age) x weight / (72 x creatinine). Age 67, weight 70 kg, creatinine "
              "1.4 mg/dL. (140 - 67) x 70 = 5110; 72 x 1.4 = 100.8; 5110 / 100.8 = 50.7", "50.7"), "correct"),
    (CG, "The clearance is about 50 mL/min.", "format_failure"),
    (CG, wrap("Kidney function seems moderately reduced.", '"fifty"'), "format_failure"),
    (CG, wrap("Using Cockcroft-Gault. Age is 67 years, weight is 70 kg, creatinine is 1.2 mg/dL. "
              "(140 - 67) * 70 / (72 * 1.2) = 59.1", "59.1"), "misapplied_knowledge"),
    (CG, wrap("Cockcroft-Gault with age 67, weight 70 kg, creatinine 1.4 mg/dL. (140 - 67) x 70 = 5110; "
              "72 x 1.4 = 100.8; 5110 / 100.8 = 60.7", "60.7"), "misapplied_knowledge"),
    (CG, wrap("I will use eGFR = 186 × creatinine^-1.154 × age^-0.203 with creatinine 1.4 mg/dL and age 67. "
              "That gives 88.2.", "88.2"), "missing_knowledge"),
    (CG, wrap("The patient is elderly with kidney problems, so the clearance is reduced; I estimate it.", "30"),
     "missing_knowledge"),
    (CG, wrap("Apply Cockcroft-Gault with the patient's age, weight and creatinine; the clearance comes to about "
              "seventy-five.", "75"), "misapplied_knowledge"),
    (MAP, wrap("MAP = (2 × DBP + SBP) / 3. Systolic 140 mmHg, diastolic 90 mmHg. (2 × 90 + 140) / 3 = 106.7",
               "106.7"), "misapplied_knowledge"),
    (MAP, wrap("MAP is the average of systolic and diastolic pressure: (130 + 80) / 2 = 105", "105"),
     "missing_knowledge"),
    (MAP, wrap("MAP = (2 × 80 + 130) / 3 = 96.7", "96.7"), "correct"),
    (MAP, "<think>MAP = (2 × 80 + 130) / 3 = 96.7</think>\n<answer>{\"value\": 96.7}</answer>", "format_failure"),
    (CHA, wrap("The patient has hypertension and is old, so the risk is moderate.", "2"), "missing_knowledge"),
    (CHA, wrap("CHA2DS2-VASc: age 78 gives 2 points, female sex 1 point, hypertension 1 point, diabetes 1 point. "
               "Total 2 + 1 + 1 + 1 = 5.", "5"), "misapplied_knowledge"),
    (CHA, wrap("CHA2DS2-VASc: age over 75 gives 2 points, female sex 1, hypertension 1. Total = 2 + 1 + 1 = 5",
               "5"), "misapplied_knowledge"),
    (CHA, wrap("CHA2DS2-VASc: age 78 gives 2, female 1, hypertension 1: 2 + 1 + 1 = 4.", "4"), "correct"),
    (EDD, wrap("A pregnancy lasts nine months, so I add nine months to the LMP of 01/10/2023.", '"10/10/2023"'),
     "missing_knowledge"),
    (EDD, wrap("Naegele's rule: LMP 01/10/2023 plus 280 days, with the cycle-length correction.", '"10/24/2023"'),
     "misapplied_knowledge"),
    (EDD, wrap("The due date is some time next autumn.", '"next autumn"'), "format_failure"),
]


def _scored(case, text):
    task = get_task("medcalc")
    target = {"calculator_id": case["calculator_id"], "ground_truth": case["gt"], "lower_limit": case["lo"],
              "upper_limit": case["hi"]}
    score = task.score(text, target)
    completion = {"text": text, "answer": score.answer, "correct": score.correct, "format_ok": score.format_ok,
                  "explanation": score.explanation}
    metadata = {"calculator_name": case["name"], "relevant_entities": case["entities"]}
    return completion, target, metadata


def test_taxonomy_agrees_with_hand_labels():
    predicted, gold, misses = [], [], []
    for case, text, label in HAND_LABELLED:
        cls, reason = classify_failure(*_scored(case, text))
        predicted.append(cls)
        gold.append(label)
        if cls != label:
            misses.append((text[:60], label, cls, reason))
    result = agreement(predicted, gold)
    # measured on this sample: 19/19 (see docs/evaluation.md); the bar leaves room for rule changes
    assert result["agreement"] >= 0.85 and result["kappa"] >= 0.8, misses
    assert result["n"] == len(HAND_LABELLED) == 19


def test_taxonomy_reasons_name_the_evidence():
    case, text, _ = HAND_LABELLED[4]
    cls, reason = classify_failure(*_scored(case, text))
    assert cls == "misapplied_knowledge" and reason.startswith("arithmetic") and "60.7" in reason
    case, text, _ = HAND_LABELLED[3]
    assert classify_failure(*_scored(case, text))[1].startswith("extraction")
    unscored = {"correct": None, "explanation": "generation failed: HTTP 500"}
    assert classify_failure(unscored, {"calculator_id": 2}) == ("unscored", "generation failed: HTTP 500")


def test_arithmetic_slip_detector():
    assert arithmetic_slips("(140 - 67) x 70 = 5110 and 5110 / 100.8 = 60.7") == ["5110 / 100.8 = 60.7 (is 50.69)"]
    assert arithmetic_slips("2 + 2 = 4; (3 * 4) = 12; 7 / 3 = 2.33; score = 5") == []
    assert arithmetic_slips("age (67 years) x 2 = 134") == []
    assert arithmetic_slips("1" * 5000 + " + 1 = 2") == []  # giant numbers are refused, not evaluated
    assert arithmetic_slips("__import__('os') = 1 + 1 = 3") == ["1 + 1 = 3 (is 2)"]


def test_failure_taxonomy_aggregates_with_examples():
    records = []
    for i, (case, text, _) in enumerate(HAND_LABELLED):
        completion, target, metadata = _scored(case, text)
        records.append({"id": str(i), "category": "lab" if case is CG else "other", "target": target,
                        "metadata": metadata, "completions": [completion]})
    tax = failure_taxonomy(records, max_examples=2)
    assert sum(tax["counts"].values()) == len(HAND_LABELLED)
    assert tax["counts"]["correct"] == 3 and tax["n_wrong"] == 16
    assert sum(v for v in tax["shares_of_wrong"].values()) == pytest.approx(1.0)
    assert set(tax["by_category"]) == {"lab", "other"}
    assert all(len(v) <= 2 for v in tax["examples"].values()) and tax["examples"]["missing_knowledge"][0]["text"]


def _rec(i, category, flags, answers=None):
    answers = answers or [int(f) for f in flags]
    return {"id": str(i), "groups": {"category": category},
            "completions": [{"correct": f, "answer": a} for f, a in zip(flags, answers)]}


def test_rlvr_viability_verdicts():
    records = ([_rec(i, "lab", [True, False, True, False]) for i in range(10)]            # pass@4 = 1
               + [_rec(10 + i, "risk", [False] * 4) for i in range(9)] + [_rec(19, "risk", [True, False, False, False])]
               + [_rec(20 + i, "date", [False] * 4) for i in range(30)])
    v = rlvr_viability(records)
    g = v["groups"]
    assert v["k"] == 4 and g["lab"]["verdict"] == VIABLE and g["lab"]["mixed_groups"] == 1.0
    assert g["risk"]["verdict"] == ADVISED and g["risk"]["pass_at_k"]["value"] == pytest.approx(0.1)
    assert g["date"]["verdict"] == NEEDS and g["date"]["n"] == 30
    # maj@4: lab's votes tie 2-2 between the right and a wrong answer (0.5); risk's one hit is always outvoted
    assert g["lab"]["majority_at_k"].value == pytest.approx(0.5) and g["risk"]["majority_at_k"].value == 0.0
    # with a 2-answer space, one lucky hit in 4 is not reliable
    reliable = rlvr_viability(records, n_choices=2)
    assert reliable["reliable"] and reliable["groups"]["risk"]["pass_at_k"]["value"] == 0.0
    with pytest.raises(ValueError, match="n-samples"):
        rlvr_viability([_rec(0, "lab", [True])])


def test_binary_tasks_discount_lucky_guesses_in_reliable_pass_at_k():
    from clinrl.evaluation.harness import compute_metrics
    from clinrl.registry import get_task

    task = get_task("ehr")
    samples = task.load("synthetic", "test", limit=4, seed=0)
    # 2 of 4 draws right on a yes/no question: pass@4 counts it, Reliable pass@4 (C = 2 → needs ≥ 4) does not
    records = [{"id": s.id, "groups": task.group_keys(s),
                "completions": [{"correct": c, "answer": {"label": int(c)}, "format_ok": True, "reward": 1.1 * c}
                                for c in (True, True, False, False)]} for s in samples]
    metrics = compute_metrics(task, samples, records)
    assert metrics["pass_at_k"]["4"]["overall"]["value"] == 1.0
    assert metrics["reliable_pass_at_k"]["4"]["overall"]["value"] == 0.0


def test_the_failure_taxonomy_is_a_task_hook():
    """The report asks the task: MedCalc has a taxonomy, a task without one says None (the section is left out)."""
    case, text, _ = HAND_LABELLED[3]
    completion, target, metadata = _scored(case, text)
    record = {"id": "1", "category": "lab", "completions": [completion], "target": target, "metadata": metadata}
    assert get_task("medcalc").failure_taxonomy([record]) == failure_taxonomy([record])
    assert get_task("trials").failure_taxonomy([record]) is None
