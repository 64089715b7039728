"""Registry-wide contract test: every registered task honours the Task contract.

For each task, on its seeded synthetic source:
* the oracle answer scores correct (and earns the scheme's full reward);
* garbage inside a well-formed answer scores wrong;
* a malformed completion gets the format penalty;
* the same seed gives the same samples; rows for TRL carry what the reward functions need.
"""

from __future__ import annotations

import json

import pytest

from clinrl.registry import get_task, task_names
from clinrl.types import Score

N = 6


@pytest.fixture(scope="module", params=task_names())
def task_and_samples(request):
    task = get_task(request.param)
    samples = task.load("synthetic", "train", limit=N, seed=7)
    assert samples, f"task {request.param} produced no synthetic samples"
    return task, samples


def test_same_seed_same_samples(task_and_samples):
    task, samples = task_and_samples
    again = task.load("synthetic", "train", limit=N, seed=7)
    assert [s.to_dict() for s in again] == [s.to_dict() for s in samples]
    json.dumps([s.to_dict() for s in samples])  # samples are JSON-serialisable


def test_oracle_scores_correct(task_and_samples):
    task, samples = task_and_samples
    for sample in samples:
        score = task.score(task.oracle_completion(sample), sample.target)
        assert isinstance(score, Score)
        assert score.correct is True, (sample.id, score)
        assert score.value == pytest.approx(task.scheme.correct) if task.uses_answer_contract else score.value


def test_garbage_scores_wrong(task_and_samples):
    task, samples = task_and_samples
    for sample in samples:
        if task.uses_answer_contract:
            garbage = {key: "zz-garbage-zz" for key in task.answer_keys}
            text = "<think>no idea</think><answer>" + json.dumps(garbage) + "</answer>"
        else:
            text = "zz garbage zz"
        score = task.score(text, sample.target)
        assert score.correct is not True, (sample.id, score)


def test_malformed_gets_format_penalty(task_and_samples):
    task, samples = task_and_samples
    if not task.uses_answer_contract:
        pytest.skip(f"{task.name} is not graded with the <think>/<answer> contract")
    for sample in samples:
        score = task.score("I think the answer is probably fine.", sample.target)
        assert score.format_ok is False and score.value == task.scheme.malformed


def test_rows_feed_reward_functions(task_and_samples):
    task, samples = task_and_samples
    rows = [task.to_row(s) for s in samples]
    columns = {key: [row.get(key) for row in rows] for key in rows[0] if key not in ("prompt",)}
    completions = [task.oracle_completion(s) for s in samples]
    rewards = [fn(prompts=[r["prompt"] for r in rows], completions=completions, **columns)
               for fn in task.reward_functions()]
    totals = [sum(values) for values in zip(*rewards)]
    assert all(t is not None and t > 0 for t in totals), totals


def test_card_is_complete(task_and_samples):
    task, _ = task_and_samples
    assert task.card.summary and task.card.scoring and task.card.source
