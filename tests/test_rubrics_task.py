"""The registered ``rubric`` task: loading, scoring with pluggable judges, TRL reward function, metrics."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinrl.errors import ConfigError
from clinrl.registry import get_task
from clinrl.rubrics.judges import CriterionJudge, TableJudge
from clinrl.rubrics.synth import generate
from clinrl.tasks.rubric_qa.task import parse_synthetic_source, rubric_of
from clinrl.training.mixtures import MixtureReward

HB_FILE = "healthbench-sample/context_seeking_consensus_hard_104.jsonl"


@pytest.fixture(scope="module")
def task():
    return get_task("rubric")


def test_synthetic_splits_are_disjoint_and_seeded(task):
    train = task.load("synthetic", "train", limit=12, seed=3)
    test = task.load("synthetic:n=50;categories=triage", "test", limit=12, seed=3)
    assert len(train) == 12 and len(test) == 12
    assert {s.category for s in test} == {"triage"}
    assert not {s.prompt[-1]["content"] + s.id for s in train} & {s.prompt[-1]["content"] + s.id for s in test}
    assert [s.to_dict() for s in task.load("synthetic", "train", limit=12, seed=3)] == [s.to_dict() for s in train]
    assert train[0].prompt[-1]["role"] == "user" and task.sft_completion(train[0])
    with pytest.raises(ConfigError, match="unknown synthetic rubric categories"):
        parse_synthetic_source("synthetic:categories=surgery")
    with pytest.raises(ConfigError, match="unknown config field 'size'"):
        parse_synthetic_source("synthetic:size=3")
    with pytest.raises(ConfigError, match="splits are"):
        task.load("synthetic", "dev")


def test_every_graded_response_scores_as_labelled(task):
    examples = generate(24, seed=5)
    for ex in examples:
        sample = task.sample_from_rubric(ex.rubric)
        scores = task.score_many([r.text for r in ex.responses], [sample.target] * len(ex.responses))
        for resp, score in zip(ex.responses, scores):
            assert score.answer["labels"] == list(resp.labels)
        by_kind = {r.kind: sc for r, sc in zip(ex.responses, scores)}
        assert by_kind["complete"].correct is True and by_kind["complete"].value >= 1.0
        assert by_kind["unsafe"].correct is False and by_kind["unsafe_thorough"].value < 0
        safe_values = [sc.value for r, sc in zip(ex.responses, scores) if sc.answer["s3"] == 0]
        unsafe_values = [sc.value for r, sc in zip(ex.responses, scores) if sc.answer["s3"] > 0]
        assert max(unsafe_values) < min(safe_values)


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, 500), safe_text=st.text(max_size=200))
def test_unsafe_response_scores_below_any_safe_response(task, index, safe_text):
    ex = generate(1, seed=index)[0]
    sample = task.sample_from_rubric(ex.rubric)
    unsafe = next(r for r in ex.responses if r.kind == "unsafe_thorough")
    safe_score, unsafe_score = task.score_many([safe_text, unsafe.text], [sample.target] * 2)
    if safe_score.answer and safe_score.answer["s3"] == 0:      # arbitrary text that happens not to violate
        assert unsafe_score.value < safe_score.value


def test_empty_garbage_and_non_text(task):
    sample = task.load("synthetic", "train", limit=1)[0]
    empty = task.score("   ", sample.target)
    assert empty.format_ok is False and empty.correct is False and empty.value == 0.0
    garbage = task.score("zz garbage zz " * 1000, sample.target)
    assert garbage.correct is False and garbage.value == 0.0
    assert task.score_many([None], [sample.target])[0].format_ok is False
    chat = [{"role": "assistant", "content": task.oracle_completion(sample)}]
    assert task.score_many([chat], [sample.target])[0].correct is True


def test_judge_failures_are_unscored_not_zero():
    class Flaky(CriterionJudge):
        name = "flaky"

        def judge(self, instruction, response, items):
            return [None] + [False] * (len(items) - 1)

    class Crashing(CriterionJudge):
        def judge(self, instruction, response, items):
            raise RuntimeError("backend down")

    sample = get_task("rubric").load("synthetic", "train", limit=1)[0]
    flaky = get_task("rubric", judge=Flaky()).score("text", sample.target)
    assert flaky.value is None and "could not judge item" in flaky.explanation
    crash = get_task("rubric", judge=Crashing())
    for fn in MixtureReward({"rubric": crash}).functions():
        assert fn(prompts=["p"], completions=["text"], task=["rubric"], target=[json.dumps(sample.target)]) == [None]


def test_reward_function_is_batched_and_configurable():
    calls = []

    class Counting(TableJudge):
        def judge_many(self, requests):
            calls.append(len(requests))
            return super().judge_many(requests)

    examples = generate(4, seed=9)
    judge = Counting()
    for ex in examples:
        for r in ex.responses:
            judge.add(ex.rubric.instruction, r.text, ex.rubric.items, r.labels)
    veto = get_task("rubric", judge=judge)
    no_veto = get_task("rubric", judge=judge, reward={"mode": "no_veto"})
    rows = [veto.to_row(veto.sample_from_rubric(ex.rubric)) for ex in examples for _ in ex.responses]
    completions = [r.text for ex in examples for r in ex.responses]
    kwargs = {"task": ["rubric"] * len(rows), "target": [row["target"] for row in rows]}

    def total(task):  # the mixture's pair sums to the task's reward
        fmt, correct = MixtureReward({"rubric": task}).functions()
        prompts = [row["prompt"] for row in rows]
        return [a + b for a, b in zip(fmt(prompts, completions, **kwargs), correct(prompts, completions, **kwargs))]

    rewards = total(veto)
    assert calls == [16]  # one judge batch, shared by the two functions
    kinds = [r.kind for ex in examples for r in ex.responses]
    ablation = total(no_veto)
    thorough = [i for i, k in enumerate(kinds) if k == "unsafe_thorough"]
    assert all(rewards[i] < 0 for i in thorough)
    assert any(ablation[i] > 0 for i in thorough)
    with pytest.raises(ConfigError, match="lambda"):
        get_task("rubric", reward={"lam": 1.0})


def test_metrics_include_reward_violations_and_healthbench(task):
    samples = task.load("synthetic", "test", limit=6)
    completions = [task.oracle_completion(s) for s in samples[:3]] + ["Plenty of people take 99999 mg daily."] * 3
    scores = task.score_many(completions, [s.target for s in samples])
    m = task.metrics(samples, scores)
    assert m["accuracy"]["value"] == pytest.approx(0.5)
    assert m["healthbench"]["n"] == 6 and 0 <= m["healthbench"]["score"] <= 1
    assert m["reward_config"]["mode"] == "veto" and m["n_unscored"] == 0
    assert m["violation_rate"]["n"] == 6


def test_rubric_of_requires_a_rubric():
    with pytest.raises(ConfigError, match="needs a 'rubric' field"):
        rubric_of({"answer": 1})


@pytest.mark.conformance
def test_healthbench_source_loads_and_keyword_judge_leaves_it_unscored(shared_data, task):
    path = shared_data / HB_FILE
    if not path.exists():
        pytest.skip(f"{path} not found")
    samples = task.load(str(path), limit=5)
    assert len(samples) == 5 and samples[0].prompt[-1]["role"] == "user"
    assert samples[0].metadata["category"] == "context_seeking"
    score = task.score(task.oracle_completion(samples[0]), samples[0].target)
    assert score.value is None                     # HealthBench criteria carry no keyword cues
    judge = TableJudge()
    rubric = rubric_of(samples[0].target)
    judge.add(rubric.instruction, rubric.reference, rubric.items, [True, False])
    graded = get_task("rubric", judge=judge).score(rubric.reference, samples[0].target)
    assert graded.value == pytest.approx(0.5) and graded.answer["labels"] == [True, False]


def test_promedical_recipe_has_the_paper_settings():
    from clinrl.training.config import load_recipe

    config = load_recipe("recipes/promedical-rubric.yaml")
    assert config.grpo.num_generations == 8 and config.grpo.learning_rate == 1e-6 and config.grpo.beta == 0.04
    task_settings = config.tasks[0]
    task = get_task(task_settings.name, **task_settings.options)   # the judge loads lazily, on first score
    assert task.reward_config.lam >= 1 + task.reward_config.beta
