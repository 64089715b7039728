"""Conformance on the real MedCalc-Bench v1.0 test set (1,047 rows) and train sample (98 rows)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from clinrl import get_task
from clinrl.tasks.medcalc.scoring import output_kind, parse_ground_truth

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def samples(medcalc_test_csv):
    return get_task("medcalc").load(str(medcalc_test_csv))


def test_loads_all_rows_with_counts(samples):
    assert len(samples) == 1047
    counts = {}
    for s in samples:
        counts[s.category] = counts.get(s.category, 0) + 1
    assert counts == {"lab": 327, "risk": 240, "physical": 240, "severity": 80, "diagnosis": 60, "date": 60,
                      "dosage": 40}
    assert len({s.target["calculator_id"] for s in samples}) == 55
    assert len({s.id for s in samples}) == 1047


def _official_reply(ground_truth: str) -> str:
    return json.dumps({"step_by_step_thinking": "...", "answer": ground_truth})


def test_ground_truth_scores_correct_in_both_modes(samples):
    task = get_task("medcalc")
    failures = []
    for s in samples:
        gt = s.target["ground_truth"]
        strict = task.score("<think>x</think><answer>" + json.dumps({"answer": gt}) + "</answer>", s.target)
        oracle = task.score(task.oracle_completion(s), s.target)
        official = task.score(_official_reply(gt), s.target, contract="official")
        if not (strict.correct and oracle.correct and official.correct):
            failures.append((s.id, gt, strict.explanation, official.explanation))
    assert failures == []


def _perturb(calculator_id: int, ground_truth: str):
    kind = output_kind(calculator_id)
    value = parse_ground_truth(calculator_id, ground_truth)
    if kind == "date":
        return (value + dt.timedelta(days=1)).strftime("%m/%d/%Y")
    if kind == "gestational_age":
        weeks, days = value
        weeks, days = (weeks + 1, 0) if days == 6 else (weeks, days + 1)
        return [f"{weeks} weeks", f"{days} days"]
    if kind == "integer":
        return value + 1
    # ×1.2 moves any non-zero decimal outside its ±5% bounds; a zero answer is moved to 1.0
    return value * 1.2 if value != 0 else 1.0


def test_perturbed_answers_score_correct_on_no_row(samples):
    task = get_task("medcalc")
    wrongly_correct = []
    for s in samples:
        answer = _perturb(s.target["calculator_id"], s.target["ground_truth"])
        for mode, text in (
            ("ehrmind", "<think>x</think><answer>" + json.dumps({"answer": answer}) + "</answer>"),
            ("official", json.dumps({"answer": answer if isinstance(answer, str) else str(answer)})),
        ):
            if task.score(text, s.target, contract=mode).correct:
                wrongly_correct.append((s.id, mode, s.target["ground_truth"], answer))
    assert wrongly_correct == []


def test_train_sample_category_spellings_normalised(shared_data):
    samples = get_task("medcalc").load(str(shared_data / "medcalc-bench" / "train_sample_98.csv"))
    assert len(samples) == 98
    assert {s.category for s in samples} <= {"lab", "physical", "date", "dosage", "risk", "severity", "diagnosis"}
    assert all(isinstance(s.metadata["relevant_entities"], dict) for s in samples)
