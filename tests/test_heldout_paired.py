"""Held-out evaluations during GRPO, paired with the warm-up's: each row carries its paired gain, the live
drop warning uses that interval, and the console line and the report show it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from clinrl.evaluation.backends import Backend, Generation  # noqa: E402
from clinrl.evaluation.harness import run_eval  # noqa: E402
from clinrl.registry import get_task  # noqa: E402
from clinrl.run_console import gain_short, heldout_summary  # noqa: E402
from clinrl.training import health  # noqa: E402
from clinrl.training.callbacks import evaluate_backend  # noqa: E402
from test_eval_harness import ScriptedBackend, medcalc_samples  # noqa: E402


class Oracle(Backend):
    """Answers every sample right (the stand-in for a warm-up that learned the task)."""

    name = "oracle"

    def __init__(self):
        self.task = get_task("medcalc")

    def render(self, sample):
        return sample

    def generate(self, prompts, *, n=1, **kwargs):
        return [[Generation(self.task.oracle_completion(s), 12, False) for _ in range(n)] for s in prompts]


def _warm_up(samples):
    task = get_task("medcalc")
    result = run_eval(task, samples, Oracle(), progress=False)
    return task, result.records


def test_a_row_paired_with_the_warm_up_carries_its_gain_and_the_drop_warns():
    samples = medcalc_samples(60)
    task, warm = _warm_up(samples)
    (row,) = evaluate_backend(ScriptedBackend(), [(task, samples)], stage="grpo", step=10, max_new_tokens=16,
                              against={"medcalc": warm})
    gain = row["paired_gain"]
    assert gain["metric"] == "accuracy" and gain["n"] == 60
    assert gain["value_a"] == pytest.approx(1.0) and gain["value_b"] == pytest.approx(0.5)
    assert gain["delta"] == pytest.approx(-0.5) and gain["ci"][0] < -0.5 < gain["ci"][1] < 0
    warm_row = {"task": "medcalc", "accuracy": 1.0, "accuracy_ci": [0.94, 1.0]}
    warning = health.intermediate_drop(row, warm_row)
    assert warning is not None and warning.kind == "heldout_drop" and warning.stage == "grpo"
    assert "step 10 is 50.0%, below the warm-up's 100.0% (-50.0 points, paired 95% CI" in warning.message
    assert "vs warm-up -50.0 [" in heldout_summary(row)


def test_without_warm_up_records_a_row_has_no_paired_gain():
    samples = medcalc_samples(8)
    task = get_task("medcalc")
    for against in (None, {}, {"trials": [{"id": "x"}]}):  # no records for this task: nothing to pair
        (row,) = evaluate_backend(ScriptedBackend(), [(task, samples)], stage="grpo", step=5, max_new_tokens=16,
                                  against=against)
        assert "paired_gain" not in row
        assert "vs warm-up" not in heldout_summary(row)


def test_the_paired_interval_decides_when_the_row_has_one():
    warm_row = {"task": "medcalc", "accuracy": 0.60, "accuracy_ci": [0.53, 0.66]}
    # below the warm-up's unpaired floor, but the paired interval reaches 0: the same notes, no clear drop
    level = {"stage": "grpo", "step": 20, "accuracy": 0.52,
             "paired_gain": {"metric": "accuracy", "value_a": 0.60, "value_b": 0.52, "delta": -0.08,
                             "ci": [-0.16, 0.005], "n": 220}}
    assert health.intermediate_drop(level, warm_row) is None
    # above the floor, but the paired interval lies below 0: the model broke more notes than it fixed
    drop = {**level, "accuracy": 0.555,
            "paired_gain": {"metric": "accuracy", "value_a": 0.60, "value_b": 0.555, "delta": -0.045,
                            "ci": [-0.08, -0.01], "n": 220}}
    warning = health.intermediate_drop(drop, warm_row)
    assert warning is not None and "-4.5 points, paired 95% CI -8.0 to -1.0" in warning.message
    # no paired gain (e.g. no warm-up records): the warm-up's own interval, as before
    assert health.intermediate_drop({"stage": "grpo", "step": 20, "accuracy": 0.52}, warm_row) is not None
    undefined = {**level, "paired_gain": {"metric": "accuracy", "delta": None, "ci": None, "n": 0}}
    assert health.intermediate_drop(undefined, warm_row) is not None  # falls back to the floor


def test_gain_short():
    assert gain_short({"delta": 0.045, "ci": [-0.023, 0.114]}) == "vs warm-up +4.5 [-2.3, +11.4]"
    assert gain_short({"delta": -0.1, "ci": None}) == "vs warm-up -10.0"
    assert gain_short({"delta": None}) == "vs warm-up –"
