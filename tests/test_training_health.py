"""Training health (clinrl.training.health): paired gain, warnings, and which checkpoint is kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from clinrl.training import health  # noqa: E402
from clinrl.types import Sample  # noqa: E402


def _record(i, correct, answer=None, target=None):
    return {"id": str(i), "target": target or {"answer": i % 3},
            "completions": [{"correct": correct, "answer": answer, "format_ok": True, "reward": 1.1 if correct else 0.0}]}


class AccuracyTask:
    name, headline = "toy", None

    def oracle_answer(self, target):
        return {"answer": target["answer"]}


def test_paired_gain_on_accuracy_with_an_interval():
    a = [_record(i, i < 50) for i in range(200)]           # 25% correct
    b = [_record(i, i < 120) for i in range(200)]          # 60% correct, every earlier success kept
    gain = health.paired_gain(AccuracyTask(), [], a, b, seed=0)
    assert gain["metric"] == "accuracy" and gain["n"] == 200
    assert gain["delta"] == pytest.approx(0.35)
    assert 0.25 < gain["ci"][0] < 0.35 < gain["ci"][1] < 0.45
    assert (gain["fixed"], gain["broken"]) == (70, 0)
    text = health.gain_text(gain)
    assert text.startswith("GRPO over SFT: accuracy +35.0 points [95% CI +") and "200 paired samples" in text


def test_unscored_samples_are_left_out_of_the_pairing():
    a = [_record(i, i < 10) for i in range(20)]
    b = [_record(i, None if i < 5 else i < 15) for i in range(20)]
    assert health.paired_gain(AccuracyTask(), [], a, b)["n"] == 15


class BalancedTask:
    """A binary task whose headline is balanced accuracy (as EHR's)."""

    name, headline = "bin", ("balanced accuracy", "balanced_accuracy")

    def headline_value(self, metrics):
        return metrics["balanced_accuracy"]

    def metrics(self, samples, scores):
        per = {0: [], 1: []}
        for sample, score in zip(samples, scores):
            per[sample.target["label"]].append(bool(score.correct))
        if not per[0] or not per[1]:
            return {"balanced_accuracy": None}
        return {"balanced_accuracy": (sum(per[0]) / len(per[0]) + sum(per[1]) / len(per[1])) / 2}

    def oracle_answer(self, target):
        return {"label": target["label"]}


def test_paired_gain_on_a_task_headline_catches_majority_class_collapse():
    samples = [Sample(id=str(i), prompt=[], target={"label": int(i < 20)}) for i in range(200)]
    # warm-up: right on 15/20 positives and 150/180 negatives; GRPO: answers "no" to everything
    a = [_record(i, (i < 15) if i < 20 else (i < 170), target=s.target) for i, s in enumerate(samples)]
    b = [_record(i, i >= 20, answer={"label": 0}, target=s.target) for i, s in enumerate(samples)]
    gain = health.paired_gain(BalancedTask(), samples, a, b, seed=0, n_resamples=300)
    assert gain["metric"] == "balanced accuracy"
    assert gain["value_b"] == pytest.approx(0.5) and gain["delta"] < -0.2 and gain["ci"][1] < 0
    warning = health.heldout_drop(gain)
    assert warning and warning.kind == "heldout_drop" and "RL hurt" in warning.message
    constant = health.constant_answers(BalancedTask(), b, "grpo")
    assert constant and constant.kind == "constant_answers" and "100%" in constant.message


def test_no_drop_warning_when_the_interval_includes_zero():
    gain = {"metric": "accuracy", "delta": -0.02, "ci": [-0.08, 0.04], "value_a": 0.5, "value_b": 0.48, "n": 200}
    assert health.heldout_drop(gain) is None


def test_constant_answers_needs_varied_gold_answers():
    same_gold = [_record(i, True, answer={"answer": 1}, target={"answer": 1}) for i in range(50)]
    assert health.constant_answers(AccuracyTask(), same_gold, "grpo") is None
    varied = [_record(i, i % 3 == 1, answer={"answer": 1}) for i in range(50)]
    assert health.constant_answers(AccuracyTask(), varied, "grpo").kind == "constant_answers"
    mixed = [_record(i, True, answer={"answer": i % 3}) for i in range(50)]
    assert health.constant_answers(AccuracyTask(), mixed, "grpo") is None


def test_reward_collapse():
    falling = [{"reward": r} for r in (0.55, 0.5, 0.52, 0.4, 0.3, 0.25, 0.2, 0.18)]
    warning = health.reward_collapse(falling)
    assert warning and "collapsed" in warning.message
    noisy_flat = [{"reward": r} for r in (0.4, 0.1, 0.5, 0.2, 0.45, 0.15, 0.3, 0.35)]
    assert health.reward_collapse(noisy_flat) is None
    rising = [{"reward": r} for r in (0.1, 0.2, 0.3, 0.4)]
    assert health.reward_collapse(rising) is None
    assert health.reward_collapse([{"reward": 1.0}, {"loss": 2.0}]) is None


def test_reward_collapse_is_measured_against_the_curves_own_noise():
    # 30 steps logged every 5 with 2 prompts a step: one logged step per quarter, swinging by tens of points.
    # A lucky first step is not a collapse (the EHR light run: 0.83 first, 0.58 last, held-out rising).
    lucky_start = [{"reward": r} for r in (0.83, 0.45, 0.75, 0.5, 0.7, 0.58)]
    assert health.reward_collapse(lucky_start) is None
    # the same number of logged steps, a steady fall well beyond the step-to-step noise
    falling = [{"reward": r} for r in (0.6, 0.58, 0.55, 0.3, 0.1, 0.05)]
    warning = health.reward_collapse(falling)
    assert warning and "0.600" in warning.message and "0.050" in warning.message
    flat = [{"reward": 0.5}] * 8
    assert health.reward_collapse(flat) is None


def test_intermediate_drop_against_the_warm_up_interval():
    baseline = {"task": "medcalc", "accuracy": 0.5, "accuracy_ci": [0.43, 0.57]}
    assert health.intermediate_drop({"stage": "grpo", "step": 10, "accuracy": 0.45}, baseline) is None
    warning = health.intermediate_drop({"stage": "grpo", "step": 10, "accuracy": 0.3}, baseline)
    assert warning and "step 10" in warning.message


def test_choose_kept():
    c = [health.Candidate("sft", 80, "sft/final", 0.5), health.Candidate("grpo", 15, "grpo/best", 0.6),
         health.Candidate("grpo", 30, "grpo/final", 0.55)]
    assert health.choose_kept("last", c).path == "grpo/final"
    assert health.choose_kept("best", c).path == "grpo/best"
    tie = [health.Candidate("sft", 1, "a", 0.5), health.Candidate("grpo", 2, "b", 0.5)]
    assert health.choose_kept("best", tie).path == "b"  # a tie goes to the later model
    from clinrl.errors import ConfigError

    with pytest.raises(ConfigError):
        health.choose_kept("worst", c)


def test_best_model_marker_survives_a_resume(tmp_path):
    from clinrl.training.callbacks import HeldoutEvalCallback

    (tmp_path / "best").mkdir()
    (tmp_path / "best" / health.BEST_MARKER).write_text('{"step": 20, "metric": 0.61}')
    callback = HeldoutEvalCallback(None, [], run_dir=tmp_path, stage="grpo", best_dir=tmp_path / "best")
    assert callback.best == (0.61, 20)
    assert HeldoutEvalCallback(None, [], run_dir=tmp_path, stage="grpo").best is None
