"""``sft.think: values``: the worked tally with each criterion's note values written before its decision."""

from __future__ import annotations

import re

import pytest
from conftest import load_bench_script

from clinrl.data.sft import THINK_MODES, finding_values, shorten_reasoning, tally_points, tally_steps
from clinrl.errors import ConfigError
from clinrl.registry import get_task
from clinrl.training.config import RunConfig, SFTSettings, TaskSettings

SOURCE = "synthetic:calculators=51,45,20;n=400;difficulty=template"


@pytest.fixture(scope="module")
def task_and_samples():
    task = get_task("medcalc", prompt_style="compact")
    return task, task.load(SOURCE, "train", limit=300, seed=0)


@pytest.mark.parametrize("finding,values", [
    ("39.3 °C", "39.3"),
    ("respiratory rate 23 /min, PaCO2 45 mm Hg", "23 45"),               # the 2 of PaCO2 is a name, not a value
    ("WBC 11210 /uL = 11.21 x10^3/µL, bands not given (taken as normal)", "11210"),  # the conversion is left out
    ("67 years (3-14 years: +1, 15-44: 0, >= 45: -1; the rule is not defined under 3 years: 0)", "67"),
    ("systolic 153 mm Hg, diastolic 96 mm Hg", "153 96"),
    ("absent or not mentioned", ""),
    ("no cough", ""),
])
def test_finding_values_keeps_the_numbers_the_note_gives(finding, values):
    assert finding_values(finding) == values


def test_values_lines_are_the_steps_lines_with_the_values_first(task_and_samples):
    task, samples = task_and_samples
    from clinrl.data.sft import explanation_for

    for sample in samples:
        explanation = explanation_for(sample)[0]
        plain, valued = tally_steps(explanation), tally_steps(explanation, values=True)
        assert len(plain) == len(valued) > 0
        for a, b in zip(plain, valued):
            assert b.endswith(a) and tally_points(a) == tally_points(b)


def test_every_written_value_is_in_the_note(task_and_samples):
    """The model copies a value before deciding on it: each value must be one the prompt shows."""
    task, samples = task_and_samples
    from clinrl.data.sft import explanation_for

    for sample in samples:
        note = sample.prompt[-1]["content"]
        numbers = set(re.findall(r"\d+(?:\.\d+)?", note))
        completion = task.sft_completion(sample, "values")
        for line in completion.split("</think>")[0].strip().splitlines():
            for value in line.split("=")[0].split()[:-1]:
                assert value in numbers, (sample.id, line, note)


def test_a_value_takes_the_notes_spelling():
    line = "- Temperature > 38 C: 39 °C -> 1 point(s); total 0 + 1 = 1."
    assert tally_steps(line, values=True) == ["39 +1 = 1"]
    assert tally_steps(line, values=True, note="A temperature of 39.0 °C; 12 breaths.") == ["39.0 +1 = 1"]


def test_values_targets_score_correct_and_keep_the_contract(task_and_samples):
    task, samples = task_and_samples
    assert "values" in THINK_MODES
    for sample in samples:
        completion = task.sft_completion(sample, "values")
        assert task.score(completion, sample.target).correct, (sample.id, completion)
        assert re.search(r"^\d+(?:\.\d+)? (?:\d+(?:\.\d+)? )*[+-]\d+ = ", completion, re.MULTILINE)


def test_a_formula_keeps_its_last_line_in_values_mode():
    explanation = "Body mass index = weight / height^2.\nBMI = 70 / 1.75^2 = 22.857."
    assert shorten_reasoning(explanation, "values") == shorten_reasoning(explanation, "steps") == \
        "BMI = 70 / 1.75^2 = 22.857."


@pytest.mark.parametrize("line,points", [("+1 = 3", "+1"), ("23 45 +1 = 2", "+1"), ("67 -1 = -1", "-1"),
                                         ("-1 = -1", "-1"), ("+ 1 = 2", "+1"), ("11210 +0 = 2", "+0")])
def test_tally_points_reads_the_decision_with_or_without_values(line, points):
    assert tally_points(line) == points


def test_step_reward_credits_a_values_completion_like_its_plain_tally(task_and_samples):
    task, samples = task_and_samples
    for sample in samples[:50]:
        steps = task.reference_steps(sample)
        assert task.step_credit(task.sft_completion(sample, "values"), steps) == 1.0


def test_the_bench_tools_read_values_lines():
    text = "\n39.3 +1 = 1\n72 +0 = 1\n23 45 +1 = 2\n11210 +0 = 2\n</think>\n<answer>{\"answer\": 2}</answer>"
    assert load_bench_script("passk_profile").tally(text) == [1, 0, 1, 0]
    assert load_bench_script("decisions_by_margin").STEP.match("23 45 +1 = 2")
    assert not load_bench_script("decisions_by_margin").STEP.match("The rate is 23 per minute")


def test_the_recipe_accepts_values_and_the_slip_still_needs_steps():
    assert RunConfig(sft=SFTSettings(think="values")).sft.think == "values"
    with pytest.raises(ConfigError, match="teacher_slip needs sft.think: steps"):
        RunConfig(tasks=[TaskSettings(options={"teacher_slip": 0.3})], sft=SFTSettings(think="values"))
