"""bench/bench_two_stage.py: what decides the meaning of a comparison — the SFT-only arm's budget, the GRPO curve, the
options it refuses. (Training itself is covered by the smoke tests; here run_training is replaced where needed.)"""

from __future__ import annotations

import json
import sys
import types

import pytest
from conftest import load_bench_script

from clinrl.training.callbacks import HELDOUT_LOG


@pytest.fixture(scope="module")
def bench():
    return load_bench_script("bench_two_stage")


def _summary(budget: int | None, curve: list[dict] | None = None) -> dict:
    arm = lambda value: {"medcalc": {"headline_value": value, "headline": "accuracy"}}  # noqa: E731
    row = {"arms": {"sft_at_warmup_end": arm(0.55), "sft_only": arm(0.686), "sft_then_grpo": arm(0.645)},
           "paired": {"delta": -0.041, "ci": [-0.109, 0.032]}, "sft_only_extra_steps": 452,
           "grpo_over_sft_step_time": 15.1, "sft_only_budget_grpo_steps": budget}
    if curve:
        row["grpo_curve"] = curve
    return {"task": "medcalc", "grpo_steps": 60, "seeds": {"0": row}}


def test_the_table_marks_a_reused_sft_only_arm_trained_for_another_grpo_budget(bench):
    table = bench.markdown_table(_summary(budget=30))
    assert "-4.1 [-10.9, +3.2] †" in table
    assert "the reused SFT-only arm had the budget of 30 GRPO steps, this GRPO stage ran 60: not equal compute" in table

    for equal in (60, None):  # the same budget, or a full run (no reuse): nothing to mark
        table = bench.markdown_table(_summary(budget=equal))
        assert "†" not in table and "-4.1 [-10.9, +3.2] |" in table


def test_the_table_shows_the_grpo_curve_when_there_is_one(bench):
    curve = [{"step": 10, "value": 0.6, "final": False}, {"step": 60, "value": 0.645, "final": True}]
    assert "seed 0, SFT → GRPO along the stage: 10: 60.0 · 60: 64.5" in bench.markdown_table(_summary(60, curve))
    assert "along the stage" not in bench.markdown_table(_summary(60))


def test_the_table_lists_a_run_s_health_warnings(bench):
    summary = _summary(30)
    summary["seeds"]["0"]["health"] = [{"kind": "heldout_drop", "stage": "grpo", "message": "RL hurt: held-out "
                                        "accuracy fell from 64.1% to 56.4% (-7.7 points, 95% CI -13.6 to -2.3)"}]
    assert "seed 0: warning: RL hurt: held-out accuracy fell from 64.1% to 56.4%" in bench.markdown_table(summary)
    assert "warning" not in bench.markdown_table(_summary(30))


def test_the_grpo_curve_is_read_from_the_held_out_log(bench, tmp_path):
    rows = [{"stage": "sft", "step": 250, "task": "medcalc", "accuracy": 0.55, "final": True},
            {"stage": "grpo", "step": 20, "task": "medcalc", "accuracy": 0.61},
            {"stage": "grpo", "step": 10, "task": "medcalc", "accuracy": 0.6},
            {"stage": "grpo", "step": 10, "task": "trials", "accuracy": 0.3},
            {"stage": "grpo", "step": 30, "task": "medcalc", "accuracy": 0.63, "final": True}]
    (tmp_path / HELDOUT_LOG).write_text("".join(json.dumps(r) + "\n" for r in rows))

    assert bench.grpo_curve(tmp_path, "medcalc") == [{"step": 10, "value": 0.6, "final": False},
                                                    {"step": 20, "value": 0.61, "final": False},
                                                    {"step": 30, "value": 0.63, "final": True}]
    assert bench.grpo_curve(tmp_path / "missing", "medcalc") == []


@pytest.mark.parametrize("argv, message", [
    (["--eval-every", "10"], "--eval-every needs --reuse"),
    (["--eval-every", "-1", "--reuse", "earlier"], "--eval-every must be 0 (off) or a number of steps, got -1"),
    (["--reuse", "no/such/run"], "--reuse no/such/run: no summary.json there"),
    (["--step-ratio", "0"], "--step-ratio must be a positive number of SFT steps per GRPO step, got 0.0"),
    (["--step-ratio", "-3"], "--step-ratio must be a positive number of SFT steps per GRPO step, got -3.0"),
])
def test_bad_options_are_refused_naming_them(bench, monkeypatch, capsys, argv, message):
    monkeypatch.setattr(sys, "argv", ["bench_two_stage.py", *argv])
    with pytest.raises(SystemExit) as stop:
        bench.main()
    assert stop.value.code == 2 and message in capsys.readouterr().err


def _records(samples, correct: list[bool]) -> list[dict]:
    return [{"id": s.id, "completions": [{"format_ok": True, "answer": 1, "correct": c, "reward": float(c),
                                          "explanation": ""}]} for s, c in zip(samples, correct)]


def _reuse_setting(bench, tmp_path, monkeypatch, sets: list[str], earlier_grpo: dict | None = None,
                   grpo_stage: object = None):
    """An earlier bench run (warm-up all wrong, SFT only all right, r = 15, 30 GRPO steps) and a stand-in
    run_training whose GRPO gets every held-out note right, evaluated every ``grpo.eval_every`` steps."""
    from clinrl.cli.quickstart import quickstart_config
    from clinrl.training import run as run_module
    from clinrl.training.mixtures import load_mixture

    config = quickstart_config("medcalc", "tiny", "quickstart", ["tasks.0.train_limit=40", "tasks.0.heldout_limit=4",
                                                                 *sets], "none")
    mixture = load_mixture(config.tasks, seed=0)
    heldout = mixture.tasks[0].heldout
    n = len(heldout)
    earlier = tmp_path / "earlier"
    for arm, correct in (("sft_grpo", [False] * n), ("sft_only", [True] * n)):
        (earlier / "seed0" / arm / "eval" / "sft").mkdir(parents=True)
        (earlier / "seed0" / arm / "eval" / "sft" / "eval_log.json").write_text(
            json.dumps({"records": _records(heldout, correct)}))
    arms = {"sft_at_warmup_end": {"medcalc": {"headline_value": 0.0}}, "sft_only": {"medcalc": {"headline_value": 1.0}}}
    if earlier_grpo:
        arms["sft_then_grpo"] = earlier_grpo
    (earlier / "summary.json").write_text(json.dumps({"grpo_steps": 30, "seeds": {"0": {
        "arms": arms, "grpo_over_sft_step_time": 15.0, "sft_only_extra_steps": 450}}}))
    ran = {}

    def fake_run_training(cfg, run_dir, **kwargs):
        ran["model"], ran["sft"], ran["eval_every"] = cfg.model.spec, cfg.sft.enabled, cfg.grpo.eval_every
        (run_dir / "eval" / "grpo").mkdir(parents=True)
        (run_dir / "eval" / "grpo" / "eval_log.json").write_text(json.dumps({"records": _records(heldout, [True] * n)}))
        every, steps = cfg.grpo.eval_every, cfg.grpo.max_steps
        rows = [{"stage": "grpo", "step": s, "task": "medcalc", "accuracy": 1.0, "final": s == steps,
                 "seconds": 6.0, "cpu_seconds": 5.0} for s in range(every, steps + 1, every)] if every else []
        (run_dir / HELDOUT_LOG).write_text("".join(json.dumps(r) + "\n" for r in rows))
        return types.SimpleNamespace(evals={"grpo": rows[-1:]}, stages={"grpo": grpo_stage} if grpo_stage else {})

    monkeypatch.setattr(run_module, "run_training", fake_run_training)
    said: list[str] = []
    row: dict = {"arms": {}}
    bench.reuse_arms(earlier, 0, config, mixture, tmp_path / "now" / "seed0", row, said.append)
    return earlier, ran, row, said


def test_a_reused_comparison_with_a_longer_grpo_stage_says_it_is_not_at_equal_compute(bench, tmp_path, monkeypatch):
    earlier, ran, row, said = _reuse_setting(bench, tmp_path, monkeypatch, ["grpo.max_steps=60", "grpo.eval_every=20"])

    assert ran == {"model": str(earlier / "seed0" / "sft_grpo" / "sft" / "final"), "sft": False, "eval_every": 20}
    assert row["sft_only_budget_grpo_steps"] == 30 and row["sft_only_extra_steps"] == 450
    assert any("budget of 30 GRPO steps, this GRPO stage runs 60" in line for line in said)
    assert [p["step"] for p in row["grpo_curve"]] == [20, 40, 60]
    assert row["warmup_gain"]["delta"] == pytest.approx(1.0) and row["paired"]["delta"] == pytest.approx(0.0)
    assert row["health"] == [] and not any("warning" in line for line in said)  # GRPO gained: nothing to warn of


def test_a_reused_comparison_with_costlier_grpo_steps_says_it_is_not_at_equal_compute(bench, tmp_path, monkeypatch):
    # the same 30 steps, each 4x the reused run's CPU time once the two held-out evaluations inside it are netted out
    # (e.g. 8 prompts a step instead of 2): the reused SFT-only arm's 450 steps are a quarter of equal compute
    stage = types.SimpleNamespace(global_step=30, seconds_per_step=60.4, cpu_seconds_per_step=40 + 10 / 30,
                                  log_history=[])
    before = {"grpo_steps": 30, "grpo_seconds_per_step": 15.0, "grpo_cpu_seconds_per_step": 10.0}
    _, _, row, said = _reuse_setting(bench, tmp_path, monkeypatch, ["grpo.max_steps=30", "grpo.eval_every=10"], before, stage)

    assert row["grpo_step_cost_vs_reused"]["basis"] == "CPU seconds"
    assert row["grpo_step_cost_vs_reused"]["ratio"] == pytest.approx(4.0)
    assert row["sft_only_equal_compute_steps"] == 1800
    assert any("a GRPO step here cost 4.00× the reused run's (CPU seconds)" in line and "~1800 extra SFT steps" in line
               for line in said)
    summary = {"task": "medcalc", "grpo_steps": 30, "seeds": {"0": {**row, "sft_only_budget_grpo_steps": 30}}}
    table = bench.markdown_table(summary)
    assert "† seed 0: a GRPO step here cost 4.00× the reused run's" in table and table.count("†") == 2

    # within the tolerance (the same setting on the same machine): nothing to mark
    summary["seeds"]["0"]["grpo_step_cost_vs_reused"] = {"ratio": 1.08, "basis": "CPU seconds"}
    assert "†" not in bench.markdown_table(summary)


def test_grpo_step_cost_nets_out_the_evaluations_inside_the_stage(bench, tmp_path):
    rows = [{"stage": "sft", "step": 250, "task": "medcalc", "seconds": 50.0, "cpu_seconds": 40.0, "final": True},
            {"stage": "grpo", "step": 10, "task": "medcalc", "seconds": 6.0, "cpu_seconds": 5.0},
            {"stage": "grpo", "step": 20, "task": "medcalc", "seconds": 6.0, "cpu_seconds": 5.0},
            {"stage": "grpo", "step": 30, "task": "medcalc", "seconds": 6.0, "cpu_seconds": 5.0, "final": True}]
    (tmp_path / HELDOUT_LOG).write_text("".join(json.dumps(r) + "\n" for r in rows))
    arm = {"grpo_steps": 30, "grpo_seconds_per_step": 12.0, "grpo_cpu_seconds_per_step": 10.0}
    assert bench.grpo_step_cost(arm, tmp_path) == {"CPU seconds": pytest.approx(10 - 10 / 30),
                                                   "wall-clock seconds": pytest.approx(12 - 12 / 30)}
    # a run from before CPU times were kept: the wall clock only; no log (a full run): nothing to net out
    old = {"grpo_steps": 30, "grpo_seconds_per_step": 12.0}
    assert bench.grpo_step_cost(old, tmp_path / "none") == {"wall-clock seconds": 12.0}
    assert bench.grpo_step_cost({}, tmp_path) == {}


def test_a_reused_warm_up_still_gets_the_held_out_warnings_of_a_two_stage_run(bench, tmp_path):
    warm, now = tmp_path / "earlier", tmp_path / "now"
    warm.mkdir(), now.mkdir()
    (warm / HELDOUT_LOG).write_text(json.dumps({"stage": "sft", "step": 250, "task": "medcalc", "accuracy": 0.641,
                                                "accuracy_ci": [0.575, 0.702], "final": True}) + "\n")
    rows = [{"stage": "grpo", "step": 10, "task": "medcalc", "accuracy": 0.632},   # inside the warm-up's interval
            {"stage": "grpo", "step": 20, "task": "medcalc", "accuracy": 0.55},    # below it
            {"stage": "grpo", "step": 20, "task": "trials", "accuracy": 0.1},      # another task's row
            {"stage": "grpo", "step": 30, "task": "medcalc", "accuracy": 0.564, "final": True}]
    (now / HELDOUT_LOG).write_text("".join(json.dumps(r) + "\n" for r in rows))
    hurt = {"metric": "accuracy", "delta": -0.077, "ci": [-0.136, -0.023], "value_a": 0.641, "value_b": 0.564, "n": 220}

    found = bench.reuse_health(warm, now, "medcalc", hurt)
    assert [w["kind"] for w in found] == ["heldout_drop", "heldout_drop"]
    assert "grpo step 20 is 55.0%, below the warm-up's 64.1% (floor 57.5%)" in found[0]["message"]
    assert found[1]["message"].startswith("RL hurt: held-out accuracy fell from 64.1% to 56.4%")

    level = dict(hurt, delta=-0.01, ci=[-0.06, 0.04])  # an interval that holds 0 is no drop
    assert [w["kind"] for w in bench.reuse_health(warm, now, "medcalc", level)] == ["heldout_drop"]
    assert bench.reuse_health(tmp_path / "no-log", now, "medcalc", level) == []  # no warm-up row: nothing to compare


def test_a_reused_run_without_the_seed_is_refused_naming_its_seeds(bench, tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"grpo_steps": 30, "seeds": {"0": {}, "1": {}}}))
    with pytest.raises(SystemExit, match=r"seed 2 is not in that run \(its seeds: 0, 1\)"):
        bench.reuse_arms(tmp_path, 2, None, None, tmp_path / "now", {"arms": {}}, print)


def test_a_reused_run_cut_short_is_refused_naming_the_missing_file(bench, tmp_path):
    from clinrl.cli.quickstart import quickstart_config
    from clinrl.training.mixtures import load_mixture

    config = quickstart_config("medcalc", "tiny", "quickstart", ["tasks.0.train_limit=40", "tasks.0.heldout_limit=4"],
                               "none")
    (tmp_path / "summary.json").write_text(json.dumps({"grpo_steps": 30, "seeds": {"0": {}}}))
    missing = tmp_path / "seed0" / "sft_grpo" / "eval" / "sft" / "eval_log.json"
    with pytest.raises(SystemExit, match=f"seed 0 has no sft_grpo warm-up evaluation \\({missing} is missing"):
        bench.reuse_arms(tmp_path, 0, config, load_mixture(config.tasks, seed=0), tmp_path / "now", {"arms": {}}, print)


def test_r_is_cpu_seconds_on_the_cpu_and_the_wall_clock_on_an_accelerator(bench):
    stage = lambda wall, cpu: types.SimpleNamespace(seconds_per_step=wall, cpu_seconds_per_step=cpu)  # noqa: E731
    sft, grpo = stage(0.5, 0.9), stage(15.0, 27.0)  # two threads: CPU seconds run ahead of the wall clock
    assert bench.step_ratio(sft, grpo, "cpu") == (30.0, "CPU seconds")
    # on a GPU the host's CPU seconds only count launches and waits: the device's time is the wall clock
    assert bench.step_ratio(stage(0.5, 0.05), stage(15.0, 14.0), "cuda") == (30.0, "wall-clock seconds (cuda)")
    assert bench.step_ratio(stage(0.5, None), stage(15.0, None), "cpu") == (30.0, "wall-clock seconds (no CPU time "
                                                                             "recorded)")
    assert bench.step_ratio(sft, grpo, "cuda", fixed=12.5) == (12.5, "fixed (--step-ratio)")


def test_a_bad_setting_is_one_error_line_naming_it(tmp_path):
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "bench" / "bench_two_stage.py"
    done = subprocess.run([sys.executable, str(script), "--seeds", "0", "--set", "grpo.prompts_per_step=abc",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith("grpo.prompts_per_step: 'abc' is not a valid int")
    assert "Traceback" not in done.stderr
