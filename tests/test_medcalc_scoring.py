"""MedCalc scoring rules (official), answer extraction and adversarial answers."""

from __future__ import annotations

import json
import time

import pytest

from clinrl import get_task
from clinrl.tasks.medcalc.scoring import (
    check_value, locate_official_answer, output_kind, parse_date, parse_gestational_age,
)

DECIMAL = {"calculator_id": 2, "ground_truth": "25.238", "lower_limit": "23.9761", "upper_limit": "26.4999"}
INTEGER = {"calculator_id": 4, "ground_truth": "3", "lower_limit": "3", "upper_limit": "3"}
DATE = {"calculator_id": 13, "ground_truth": "09/23/2014", "lower_limit": "09/23/2014", "upper_limit": "09/23/2014"}
GA = {"calculator_id": 69, "ground_truth": "('14 weeks', '1 days')", "lower_limit": "", "upper_limit": ""}
NEGATIVE = {"calculator_id": 64, "ground_truth": "-2.0", "lower_limit": "-1.9", "upper_limit": "-2.1"}


@pytest.fixture(scope="module")
def task():
    return get_task("medcalc")


def completion(value) -> str:
    return "<think>work</think><answer>" + json.dumps({"answer": value}) + "</answer>"


def test_output_kinds():
    assert output_kind(13) == output_kind(68) == "date"
    assert output_kind(69) == "gestational_age"
    assert output_kind(4) == "integer" and output_kind(2) == "decimal"


@pytest.mark.parametrize("target, value, correct", [
    (DECIMAL, 25.238, True), (DECIMAL, "25.238", True), (DECIMAL, 24.0, True), (DECIMAL, 26.4999, True),
    (DECIMAL, 26.6, False), (DECIMAL, "25.2 mL/min", True), (DECIMAL, "(140-87)*48/(72*1.4)", True),
    (DECIMAL, "2523.8%", True),  # the official evaluator divides a % answer by 100 for decimals
    (INTEGER, 3, True), (INTEGER, 3.4, True), (INTEGER, "3 out of 9", True), (INTEGER, 4, False),
    (INTEGER, "3 points", True), (INTEGER, 2.5, False),  # round(2.5) == 2 (banker's rounding, as Python)
    (DATE, "09/23/2014", True), (DATE, "9/23/2014", True), (DATE, "2014-09-23", True),
    (DATE, "09/24/2014", False), (DATE, "23/09/2014", False),
    (GA, ["14 weeks", "1 days"], True), (GA, [14, 1], True), (GA, "(14 weeks, 1 day)", True),
    (GA, {"weeks": 14, "days": 1}, True), (GA, "14 weeks and 1 day", True), (GA, [14, 2], False),
    (NEGATIVE, -2.0, True), (NEGATIVE, -2.05, True), (NEGATIVE, 2.0, False),
])
def test_correctness(task, target, value, correct):
    score = task.score(completion(value), target)
    assert score.format_ok is True
    assert score.correct is correct, score
    assert score.value == (1.1 if correct else 0.0)


ADVERSARIAL_VALUES = [
    "25-26", "25 to 26", "24.5, 25.5", "between 24 and 26", [25.238, 30], {"answer": 25.238},
    "٢٥.٢٣٨", "２５", "__import__('math').pi * 8", "max(25, 26)", "25.238 or 99", True, None, "",
    "str(25.238)" if False else "abs(25.238)",
]


@pytest.mark.parametrize("value", ADVERSARIAL_VALUES)
def test_adversarial_values_never_correct(task, value):
    score = task.score(completion(value), DECIMAL)
    assert score.correct is not True


@pytest.mark.parametrize("text", [
    # two answer blocks / answer outside tags / duplicated keys / nested JSON
    "<think>a</think><answer>{\"answer\": 1}</answer><answer>{\"answer\": 25.238}</answer>",
    "<think>a</think> {\"answer\": 25.238}",
    "{\"answer\": 25.238}",
    "<think>a</think><answer>{\"answer\": 1, \"answer\": 25.238}</answer>",
    "<think>a</think><answer>{\"answer\": {\"answer\": 25.238}}</answer>",
    "<think>a</think><answer>{\"answer\": [1, 25.238]}</answer>",
    "<think>The answer is 25.238</think><answer>{\"answer\": \"unknown\"}</answer>",
])
def test_adversarial_completions_never_correct(task, text):
    assert task.score(text, DECIMAL).correct is not True


def test_integer_list_and_dates_adversarial(task):
    assert task.score(completion("3, 4"), INTEGER).correct is not True
    assert task.score(completion("09/23/2014 or 09/24/2014"), DATE).correct is not True
    assert task.score(completion(["14 weeks", "1 days", "2 days"]), GA).correct is not True


def test_one_megabyte_completion_scored_fast(task):
    big = "<think>" + ("x = 25.238; " * 90_000) + "</think><answer>{\"answer\": 25.238}</answer>"
    assert len(big) > 1_000_000
    start = time.perf_counter()
    score = task.score(big, DECIMAL)
    assert time.perf_counter() - start < 0.5 and score.correct
    garbage = "\"answer\": " * 100_000
    start = time.perf_counter()
    task.score(garbage, DECIMAL, contract="official")
    assert time.perf_counter() - start < 0.5


def test_malformed_gets_format_penalty(task):
    score = task.score("The answer is 25.238", DECIMAL)
    assert score.format_ok is False and score.value == -2.0 and score.correct is False


def test_official_mode_reads_last_answer(task):
    reply = '{"step_by_step_thinking": "CrCl = ...", "answer": "25.238 mL/min"}'
    score = task.score(reply, DECIMAL, contract="official")
    assert score.correct and score.format_ok
    assert locate_official_answer('{"answer": "1"} then {"Answer": "2"}') == "2"
    assert locate_official_answer('{"answer": "str(short_and_direct_answer_of_the_question)"}') is None
    # the benchmark's leniency: the last number of the answer string
    assert task.score('{"answer": "about 20 or 25.2"}', DECIMAL, contract="official").correct
    assert task.score('{"answer": "3 out of 9"}', INTEGER, contract="official").correct
    assert task.score('{"answer": "str((140-87)*48/(72*1.4))"}', DECIMAL, contract="official").correct
    assert not task.score("no json here", DECIMAL, contract="official").format_ok


def test_parsers_reject_impossible_values():
    assert parse_date("02/30/2020") is None
    assert parse_date("13/01/2020") is None
    assert parse_gestational_age([4, 9]) is None
    assert parse_gestational_age(["4 weeks"]) is None


def test_check_value_reports_extraction():
    correct, extracted = check_value(2, "25.3 mL/min", DECIMAL)
    assert correct and extracted == pytest.approx(25.3)


def test_reward_functions_trl_signature(task):
    from clinrl.training.mixtures import MixtureReward

    fmt, corr = MixtureReward({"medcalc": task}).functions()
    completions = [completion(25.238), completion(99), "nonsense"]
    columns = {"task": ["medcalc"] * 3, "target": [json.dumps(DECIMAL)] * 3}
    f = fmt(prompts=["p"] * 3, completions=completions, **columns)
    c = corr(prompts=["p"] * 3, completions=completions, **columns)
    assert f == [0.0, 0.0, -2.0]
    assert c == [1.1, 0.0, 0.0]
    assert [a + b for a, b in zip(f, c)] == [1.1, 0.0, -2.0]  # the pair sums to the scheme
    # conversational completions, as TRL passes them for chat datasets
    chat = [[{"role": "assistant", "content": completion(25.238)}]]
    assert corr(prompts=["p"], completions=chat, **{k: v[:1] for k, v in columns.items()}) == [1.1]
    # a target dict (not its JSON) works as well
    assert corr(prompts=["p"], completions=[completion(25.238)], task=["medcalc"], target=[DECIMAL]) == [1.1]


def test_verifier_crash_is_unscored_not_zero(task):
    broken = dict(DECIMAL, lower_limit="not a number")
    score = task.score(completion(25.0), broken)
    assert score.value is None and score.correct is None and "verifier error" in score.explanation
