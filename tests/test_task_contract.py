"""Registry-wide contract test: every registered task honours the Task contract.

For each task, on its seeded synthetic source (the example task of docs/adding-a-task.md included):
* the oracle answer scores correct (and a contract task earns the scheme's full reward);
* garbage inside a well-formed answer scores wrong;
* a malformed completion gets the format penalty (contract tasks);
* the SFT warm-up target scores correct;
* the same seed gives the same samples; rows for TRL carry what the training reward functions need,
  and those functions (the one reward path, ``MixtureReward``) sum to the task's reward.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from clinrl.data.sft import THINK_MODES
from clinrl.registry import get_task, task_names
from clinrl.tasks.base import ContractTask
from clinrl.training.mixtures import MixtureReward
from clinrl.types import Score

N = 6
EXAMPLE_TASK = Path(__file__).resolve().parents[1] / "docs" / "examples" / "example_task.py"


def _import_example_task():
    """Import the guide's example task from its file, which registers it (once per process)."""
    name = "clinrl_docs_example_task"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE_TASK)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_import_example_task()


@pytest.fixture(scope="module", params=task_names())
def task_and_samples(request):
    task = get_task(request.param)
    samples = task.load("synthetic", "train", limit=N, seed=7)
    assert samples, f"task {request.param} produced no synthetic samples"
    return task, samples


def test_the_guide_example_is_registered_and_quoted_whole():
    assert "weight_kg" in task_names()
    assert isinstance(get_task("weight_kg", tolerance=0.5), ContractTask)
    guide = (EXAMPLE_TASK.parents[1] / "adding-a-task.md").read_text(encoding="utf-8")
    code = EXAMPLE_TASK.read_text(encoding="utf-8")
    assert f"```python\n{code}```" in guide, "docs/adding-a-task.md must quote docs/examples/example_task.py whole"


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
        assert score.value == pytest.approx(task.scheme.correct) if isinstance(task, ContractTask) else score.value


def test_score_many_matches_score(task_and_samples):
    task, samples = task_and_samples
    completions = [task.oracle_completion(s) if i % 2 else "zz garbage zz" for i, s in enumerate(samples)]
    one_by_one = [task.score(c, s.target) for c, s in zip(completions, samples)]
    assert task.score_many(completions, [s.target for s in samples]) == one_by_one


def test_garbage_scores_wrong(task_and_samples):
    task, samples = task_and_samples
    for sample in samples:
        if isinstance(task, ContractTask):
            garbage = {key: "zz-garbage-zz" for key in task.answer_keys}
            text = "<think>no idea</think><answer>" + json.dumps(garbage) + "</answer>"
        else:
            text = "zz garbage zz"
        score = task.score(text, sample.target)
        assert score.correct is not True, (sample.id, score)


def test_malformed_gets_format_penalty(task_and_samples):
    task, samples = task_and_samples
    if not isinstance(task, ContractTask):
        pytest.skip(f"{task.name} is not graded with the <think>/<answer> contract")
    for sample in samples:
        score = task.score("I think the answer is probably fine.", sample.target)
        assert score.format_ok is False and score.value == task.scheme.malformed


def test_sft_completion_scores_correct(task_and_samples):
    task, samples = task_and_samples
    for sample in samples:
        for think in THINK_MODES:
            completion = task.sft_completion(sample, think)
            assert isinstance(completion, str) and completion.strip()
            assert task.score(completion, sample.target).correct is True, (sample.id, think)


def test_rows_feed_reward_functions(task_and_samples):
    task, samples = task_and_samples
    rows = [task.to_row(s) for s in samples]
    columns = {key: [row.get(key) for row in rows] for key in rows[0] if key not in ("prompt",)}
    prompts = [r["prompt"] for r in rows]
    fmt, correct = MixtureReward({task.name: task}).functions()
    right = [task.oracle_completion(s) for s in samples]
    totals = [a + b for a, b in zip(fmt(prompts, right, **columns), correct(prompts, right, **columns))]
    expected = [task.score(c, s.target).value for c, s in zip(right, samples)]
    assert totals == pytest.approx(expected) and all(t > 0 for t in totals), totals
    if isinstance(task, ContractTask):  # a malformed completion: the whole penalty in the format reward
        malformed = ["no tags at all"] * len(samples)
        assert fmt(prompts, malformed, **columns) == [task.scheme.malformed] * len(samples)
        assert correct(prompts, malformed, **columns) == [0.0] * len(samples)


def test_card_is_complete(task_and_samples):
    task, _ = task_and_samples
    assert task.card.summary and task.card.scoring and task.card.source
