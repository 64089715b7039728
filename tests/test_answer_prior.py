"""The reader-free baseline (clinrl.training.health.answer_prior): the held-out score of a guesser that answers
each group's most common training answer without reading the input, and the warning for a trained model that does
no better. Real tasks, synthetic samples generated in memory."""

from __future__ import annotations

from collections import Counter

import pytest

from clinrl.metrics import format_prior
from clinrl.registry import get_task
from clinrl.training import health
from clinrl.types import Sample


def _medcalc(calculators: str, split: str, n: int, seed: int):
    task = get_task("medcalc", prompt_style="compact")
    return task, task.load(f"synthetic:calculators={calculators};n=600;difficulty=template", split, limit=n, seed=seed)


def test_medcalc_guesses_each_calculators_mode():
    task, train = _medcalc("51,45,20", "train", 150, 0)
    _, heldout = _medcalc("51,45,20", "test", 60, 1)
    modes = {}
    for cid in {s.target["calculator_id"] for s in train}:
        modes[cid] = Counter(s.target["ground_truth"] for s in train if s.target["calculator_id"] == cid).most_common(1)[0][0]
    expected = sum(s.target["ground_truth"] == modes[s.target["calculator_id"]] for s in heldout) / len(heldout)
    prior = health.answer_prior(task, train, heldout)
    assert prior["value"] == pytest.approx(expected)
    assert 0.15 < prior["value"] < 0.6  # a score's mode is often right, never always
    assert (prior["metric"], prior["group"], prior["n"], prior["n_train"]) == ("accuracy", "calculator", 60, 150)
    assert prior["guess"] == "each calculator's most common training answer"
    text = format_prior(prior)
    assert text.startswith("reader-free baseline on medcalc: accuracy ") and "without reading the input; n=60" in text


def test_a_group_unseen_in_training_gets_the_overall_mode():
    task, train = _medcalc("51", "train", 80, 0)          # SIRS only
    _, heldout = _medcalc("45", "test", 40, 1)            # CURB-65 only: no training sample of its calculator
    overall = Counter(s.target["ground_truth"] for s in train).most_common(1)[0][0]
    expected = sum(s.target["ground_truth"] == overall for s in heldout) / len(heldout)
    assert health.answer_prior(task, train, heldout)["value"] == pytest.approx(expected)


def test_ehr_prior_is_a_coin_on_balanced_accuracy():
    task = get_task("ehr")
    prior = health.answer_prior(task, task.load("synthetic", "train", limit=60, seed=0),
                                task.load("synthetic", "test", limit=40, seed=1))
    assert (prior["metric"], prior["value"], prior["group"]) == ("balanced accuracy", 0.5, "labeling_task")
    assert prior["guess"] == "each labeling task's most common training answer"


def test_trials_prior_answers_one_label_to_every_pair():
    task = get_task("trials")
    train, heldout = task.load("synthetic", "train", limit=60, seed=0), task.load("synthetic", "test", limit=40, seed=1)
    prior = health.answer_prior(task, train, heldout)
    guess = Counter(s.target["trial_label"] for s in train).most_common(1)[0][0]
    share = sum(s.target["trial_label"] == guess for s in heldout) / len(heldout)
    # one class predicted everywhere: its F1 is 2p / (1 + p), the other two classes score 0
    assert prior["metric"] == "macro-F1" and prior["value"] == pytest.approx(2 * share / (1 + share) / 3)
    assert prior["guess"] == "the most common training answer for every input"


def test_no_prior_for_open_answers_or_missing_samples():
    assert health.answer_prior(get_task("rubric"), [Sample("a", [], {})], [Sample("b", [], {})]) is None
    task, train = _medcalc("51", "train", 5, 0)
    assert health.answer_prior(task, train, []) is None and health.answer_prior(task, [], train) is None


def test_below_prior_warns_only_at_or_under_the_baseline():
    prior = {"task": "medcalc", "metric": "accuracy", "value": 0.374, "group": "calculator",
             "guess": "each calculator's most common training answer", "n": 222}
    assert health.below_prior({"accuracy": 0.55}, prior, "grpo") is None
    warning = health.below_prior({"accuracy": 0.311}, prior, "grpo")
    assert warning.kind == "below_prior" and warning.stage == "grpo"
    assert warning.message == ("the grpo model's held-out accuracy on medcalc (31.1%) is no better than a "
                               "reader-free guess (37.4%: each calculator's most common training answer): it "
                               "learned the answers' distribution, not to read the input")
    assert health.below_prior({"accuracy": 0.374}, prior, "sft").kind == "below_prior"  # equal is no better
    # the task's own headline wins over accuracy: a constant "no" has high accuracy and balanced accuracy 0.5
    coin = {**prior, "metric": "balanced accuracy", "value": 0.5}
    row = {"accuracy": 0.92, "headline": {"name": "balanced accuracy", "value": 0.5}}
    assert "held-out balanced accuracy" in health.below_prior(row, coin, "grpo").message
    assert health.below_prior({"accuracy": None}, prior, "grpo") is None


def test_report_shows_the_baseline_and_its_warning():
    from clinrl.evaluation.render import health_section

    prior = {"task": "medcalc", "metric": "accuracy", "value": 0.374, "group": "calculator",
             "guess": "each calculator's most common training answer", "n": 222}
    warning = health.below_prior({"accuracy": 0.311}, prior, "grpo").to_dict()
    html, md = health_section({"health": [warning], "answer_prior": [prior]})
    assert "no better than a reader-free guess" in html and "no better than a reader-free guess" in md[0]
    assert md[-1] == ("Reader-free baseline on medcalc: accuracy 37.4% (each calculator's most common training "
                      "answer, without reading the input; n=222).")
    assert md[1] == ""  # a paragraph, not a continuation of the warning's list item
    assert "Reader-free baseline on medcalc" in html
    _, md_clean = health_section({"health": [], "answer_prior": [prior]})
    assert md_clean[0] == "No health warnings." and md_clean[-1].startswith("Reader-free baseline")
