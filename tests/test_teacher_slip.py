"""The MedCalc option ``teacher_slip``: an ablation whose warm-up tallies come from a teacher that overlooks scoring
findings, while GRPO's reward and the held-out score stay the gold answer's."""

from __future__ import annotations

import json
import math

import pytest

from clinrl.data.sft import tally_steps
from clinrl.errors import ConfigError
from clinrl.registry import get_task

SOURCE = "synthetic:calculators=51,45,20;n=400;difficulty=template"


@pytest.fixture(scope="module")
def samples():
    return get_task("medcalc", prompt_style="compact").load(SOURCE, "train", limit=300, seed=0)


def _tally(completion: str) -> list[tuple[float, float]]:
    """``(points, running total)`` of each tally line of a completion."""
    think = completion.split("</think>")[0]
    out = []
    for line in think.strip().splitlines():
        points, total = line.split("=")
        out.append((float(points.replace(" ", "")), float(total)))
    return out


def test_a_teacher_that_never_slips_writes_the_faithful_target(samples):
    faithful = get_task("medcalc", prompt_style="compact")
    careful = get_task("medcalc", prompt_style="compact", teacher_slip=1e-12)
    assert all(careful.sft_completion(s, "steps") == faithful.sft_completion(s, "steps") for s in samples)


def test_slipped_tallies_only_drop_points_and_stay_consistent(samples):
    faithful = get_task("medcalc", prompt_style="compact")
    task = get_task("medcalc", prompt_style="compact", teacher_slip=0.5)
    dropped = scoring = wrong = 0
    for sample in samples:
        completion = task.sft_completion(sample, "steps")
        gold = _tally(faithful.sft_completion(sample, "steps"))
        mine = _tally(completion)
        assert len(mine) == len(gold)
        total = 0.0
        for (points, running), (gold_points, _) in zip(mine, gold):
            assert points in (gold_points, 0.0)  # a slip misses a finding; it never invents one
            scoring += gold_points != 0
            dropped += gold_points != 0 and points == 0
            total += points
            assert math.isclose(running, total)
        answer = json.loads(completion.split("<answer>")[1].split("</answer>")[0])["answer"]
        assert math.isclose(answer, total)  # the answer follows the teacher's own tally
        score = task.score(completion, sample.target)
        assert score.correct == math.isclose(total, sum(p for p, _ in gold))  # scored against the gold answer
        wrong += not score.correct
    assert 0.42 < dropped / scoring < 0.58, (dropped, scoring)
    assert wrong > len(samples) // 2


def test_slips_are_drawn_from_the_sample_id_so_every_run_sees_the_same_teacher(samples):
    one = get_task("medcalc", prompt_style="compact", teacher_slip=0.6)
    two = get_task("medcalc", prompt_style="compact", teacher_slip=0.6)
    assert [one.sft_completion(s, "steps") for s in samples] == [two.sft_completion(s, "steps") for s in samples]


def test_only_the_steps_target_slips_and_formulas_stay_faithful(samples):
    task = get_task("medcalc", prompt_style="compact", teacher_slip=0.9)
    faithful = get_task("medcalc", prompt_style="compact")
    # the warm-up subset is chosen with full explanations, which must score correct: those never slip
    assert all(task.sft_completion(s, "full") == faithful.sft_completion(s, "full") for s in samples[:20])
    bmi = task.load("synthetic:calculators=6;n=4", "train", limit=2, seed=0)
    for sample in bmi:
        assert not tally_steps(sample.metadata["explanation"])
        assert task.sft_completion(sample, "steps") == faithful.sft_completion(sample, "steps")


@pytest.mark.parametrize("value", [-0.1, 1, 1.5, "often", float("nan"), None])
def test_a_slip_rate_outside_0_to_1_is_refused(value):
    with pytest.raises(ConfigError, match="teacher_slip"):
        get_task("medcalc", teacher_slip=value)


def test_the_run_notes_say_how_many_warm_up_targets_are_off_gold():
    from clinrl.training.config import TaskSettings
    from clinrl.training.mixtures import load_mixture, sft_rows

    def notes_for(slip: float) -> tuple[list[dict], list[str]]:
        options = {"prompt_style": "compact", "teacher_slip": slip}
        mixture = load_mixture([TaskSettings(name="medcalc", source=SOURCE, train_limit=40, heldout_limit=4,
                                             options=options)])
        notes: list[str] = []
        return sft_rows(mixture, None, "steps", notes), notes

    rows, notes = notes_for(0.0)
    assert len(rows) == 40 and notes == []
    rows, notes = notes_for(0.6)
    assert len(rows) == 40  # nothing dropped: the warm-up copies the teacher, mistakes included
    [note] = notes
    wrong = int(note.split("sft: ")[1].split(" of ")[0])
    assert 20 <= wrong < 40 and "do not score correct against their gold answer" in note


def test_a_slip_with_a_warm_up_that_writes_no_tally_is_refused_before_training():
    from clinrl.training.config import load_recipe

    with pytest.raises(ConfigError, match=r"tasks\[0\] \(medcalc\)\.options\.teacher_slip needs sft\.think: steps"):
        load_recipe("quickstart", {"sft": {"think": "full"}, "tasks": [{"name": "medcalc",
                                                                         "options": {"teacher_slip": 0.5}}]})
    config = load_recipe("quickstart", {"sft": {"think": "steps"}, "tasks": [{"name": "medcalc",
                                                                               "options": {"teacher_slip": 0.5}}]})
    assert config.tasks[0].options["teacher_slip"] == 0.5
    no_warm_up = load_recipe("quickstart", {"sft": {"enabled": False, "think": "full"},
                                            "tasks": [{"name": "medcalc", "options": {"teacher_slip": 0.5}}]})
    assert not no_warm_up.sft.enabled  # nothing to slip and nothing ignored: GRPO alone never reads a warm-up target
