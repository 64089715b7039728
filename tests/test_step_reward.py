"""grpo.step_reward, the shaped-reward ablation: gold worked steps, the credit a completion earns for them, the
third TRL reward function, and the checks that refuse it where no task has steps."""

from __future__ import annotations

import json
import math

import pytest

from clinrl.errors import ConfigError
from clinrl.registry import get_task
from clinrl.settings import from_dict
from clinrl.training.config import GRPOSettings, RunConfig, TaskSettings
from clinrl.training.mixtures import MixtureReward, check_step_reward, grpo_rows, load_mixture

SOURCE = "synthetic:calculators=51,45,20;n=60;difficulty=template"


@pytest.fixture(scope="module")
def medcalc():
    task = get_task("medcalc", prompt_style="compact")
    return task, task.load(SOURCE, "train", limit=12, seed=0)


def _completion(steps: list[str], answer) -> str:
    return "\n" + "\n".join(steps) + f"\n</think>\n<answer>{json.dumps({'answer': answer})}</answer>"


def test_point_scores_have_their_tally_as_reference_and_formulas_have_none(medcalc):
    task, samples = medcalc
    for sample in samples:
        steps = task.reference_steps(sample)
        assert steps and all(" = " in line for line in steps)
        assert task.step_credit(task.sft_completion(sample, "steps"), steps) == 1.0
    bmi = task.load("synthetic:calculators=6;n=4", "train", limit=1, seed=0)[0]
    assert task.reference_steps(bmi) is None


def test_credit_is_per_decision_and_padding_or_reordering_costs_it(medcalc):
    task, samples = medcalc
    steps = next(task.reference_steps(s) for s in samples if len(task.reference_steps(s)) >= 4)
    n = len(steps)
    points = [line.split("=")[0].strip() for line in steps]
    # one wrong decision: its line and every later running total differ, but only one decision is wrong
    flipped = ["+0" if points[0] != "+0" else "+1"] + points[1:]
    totals, running = [], 0
    for p in flipped:
        running += int(p)
        totals.append(f"{p} = {running}")
    assert task.step_credit(_completion(totals, running), steps) == pytest.approx((n - 1) / n)
    # whitespace is not a decision
    assert task.step_credit(_completion([s.replace(" ", "") for s in steps], 0), steps) == 1.0
    # padding: extra lines are counted against the completion
    assert task.step_credit(_completion(steps + ["+0 = 0"] * n, 0), steps) == pytest.approx(0.5)
    # the same lines in another order match only where they happen to agree
    assert task.step_credit(_completion(steps[::-1], 0), steps) < 1.0 or steps == steps[::-1]
    # no steps at all, or a completion that breaks the contract: no credit
    assert task.step_credit(_completion([], 0), steps) == 0.0
    assert task.step_credit("+1 = 1 <answer>{\"answer\": 1}", steps) == 0.0
    assert task.step_credit(_completion(steps, 0), []) is None


def test_tasks_without_steps_give_no_reference():
    trials = get_task("trials")
    sample = trials.load("synthetic:train_size=8;eval_size=4", "train", limit=1, seed=0)[0]
    assert trials.reference_steps(sample) is None


def test_the_third_reward_function_adds_weighted_credit_to_well_formed_completions(medcalc):
    task, samples = medcalc
    sample = samples[0]
    steps = task.reference_steps(sample)
    wrong_step = ["+9 = 9"] + steps[1:]
    completions = [task.sft_completion(sample, "steps"), _completion(wrong_step, 999), "no contract at all",
                   task.sft_completion(sample, "steps")]
    kwargs = {"task": ["medcalc"] * 4, "target": [json.dumps(sample.target)] * 4,
              "steps": [json.dumps(steps)] * 3 + ["null"]}
    assert [f.__name__ for f in MixtureReward({"medcalc": task}).functions()] == ["format", "correct"]
    fmt, correct, step = MixtureReward({"medcalc": task}, step_reward=0.5).functions()
    assert step.__name__ == "steps"
    got = step(None, completions, **kwargs)
    assert got[0] == pytest.approx(0.5) and got[1] == pytest.approx(0.5 * (len(steps) - 1) / len(steps))
    assert got[2] == 0.0 and got[3] == 0.0  # malformed: nothing; a row without reference steps: nothing
    # the verifier's reward is untouched: the shaped part is a separate, logged function
    assert correct(None, completions, **kwargs) == [1.1, 0.0, 0.0, 1.1]
    assert fmt(None, completions, **kwargs) == [0.0, 0.0, -2.0, 0.0]
    with pytest.raises(ConfigError, match="'steps'"):
        step(None, completions, task=kwargs["task"], target=kwargs["target"])


def test_an_unscored_completion_stays_unscored_in_the_step_reward(medcalc, monkeypatch):
    from clinrl.types import Score

    task, samples = medcalc
    monkeypatch.setattr(task, "score_many", lambda texts, targets: [Score.unscored("judge down")] * len(texts))
    step = MixtureReward({"medcalc": task}, step_reward=1.0).functions()[2]
    steps = task.reference_steps(samples[0])
    got = step(None, ["x"], task=["medcalc"], target=[json.dumps(samples[0].target)], steps=[json.dumps(steps)])
    assert got == [None]


def _mixture(name: str, source: str):
    return load_mixture([TaskSettings(name=name, source=source, train_limit=8, heldout_limit=2)])


def test_grpo_rows_carry_steps_only_when_asked():
    mixture = _mixture("medcalc", SOURCE)

    class Plain:  # render_prompt needs only apply_chat_template
        chat_template = None

        def apply_chat_template(self, messages, **kwargs):
            return "".join(m["content"] for m in messages)

    tokenizer = Plain()
    plain = grpo_rows(mixture, tokenizer)
    assert "steps" not in plain[0]
    rows = grpo_rows(mixture, tokenizer, steps=True)
    assert all(json.loads(r["steps"]) for r in rows)
    assert [r["id"] for r in rows] == [r["id"] for r in plain]


def test_a_step_reward_no_task_can_give_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match=r"grpo\.step_reward is 0\.5 but no training sample of trials"):
        check_step_reward(_mixture("trials", "synthetic:train_size=20;eval_size=4"), 0.5)
    assert check_step_reward(_mixture("trials", "synthetic:train_size=20;eval_size=4"), 0.0) is None
    note = check_step_reward(_mixture("medcalc", SOURCE), 1.0)
    assert "shaped-reward ablation" in note and "8 of 8 training prompts" in note


@pytest.mark.parametrize("bad", [-0.1, math.inf, math.nan])
def test_step_reward_must_be_finite_and_not_negative(bad):
    with pytest.raises(ConfigError, match="grpo.step_reward"):
        GRPOSettings(step_reward=bad)
    assert from_dict(RunConfig, {"grpo": {"step_reward": 0.5}}).grpo.step_reward == 0.5


def test_the_run_refuses_it_before_the_warm_up_and_the_run_directory(tmp_path):
    from clinrl.cli.quickstart import quickstart_config
    from clinrl.training.run import run_training

    config = quickstart_config("trials", "tiny", "quickstart", ["grpo.step_reward=1.0", "tasks.0.train_limit=8",
                                                               "tasks.0.heldout_limit=2"], "none")
    with pytest.raises(ConfigError, match="step_reward"):
        run_training(config, tmp_path / "run", say=lambda message: None)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_grpo_step_with_the_step_reward_logs_it_and_notes_the_ablation(tmp_path):
    pytest.importorskip("trl")
    from clinrl.training.config import load_recipe
    from clinrl.training.grpo import run_grpo

    config = load_recipe("quickstart", {
        "grpo": {"step_reward": 1.0, "max_steps": 1, "prompts_per_step": 2, "num_generations": 4,
                 "per_device_completions": 8, "max_completion_length": 16, "logging_steps": 1, "eval_every": 0,
                 "keep": "last", "save_steps": 1},
        "tasks": {"0": {"train_limit": 8, "heldout_limit": 2}}})
    config.model.device = "cpu"
    mixture = load_mixture(config.tasks)
    stage = run_grpo(config, mixture, "tiny", tmp_path)
    assert stage.global_step == 1
    logged = [row for row in stage.log_history if "rewards/steps/mean" in row]
    assert logged and all(math.isfinite(row["rewards/steps/mean"]) for row in logged)
    assert any("shaped-reward ablation" in note for note in stage.notes)
