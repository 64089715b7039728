"""EHRMIND's claim on the embedded model: SFT only vs GRPO only vs SFT → GRPO, same compute budget.

Three arms on the quickstart's synthetic MedCalc task, all evaluated greedily on the same held-out
split:

* **SFT → GRPO**: ``--sft-steps`` warm-up steps, then ``--grpo-steps`` GRPO steps (the quickstart);
* **SFT only**: the same warm-up model, trained on with SFT for the time the GRPO stage took
  (``grpo_steps × r`` more SFT steps, r = GRPO / SFT seconds per step measured in the first arm; the
  continuation restarts the learning-rate schedule);
* **GRPO only**: GRPO from the base model for the whole budget (``grpo_steps + sft_steps / r`` steps,
  at most ``--grpo-only-max-steps`` when given — the cap is printed in the summary).

Besides accuracy, it reports why GRPO does or does not move: the fraction of groups whose rewards
all tie (zero advantage, no gradient), the mean within-group reward std, and the reward curve.

    python bench/bench_two_stage.py --sft-steps 150 --grpo-steps 30 --out runs/bench_two_stage
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path


def grpo_diagnostics(log_history: list[dict]) -> dict:
    rows = [r for r in log_history if "reward" in r]
    if not rows:
        return {}
    zero = [r.get("frac_reward_zero_std") for r in rows if r.get("frac_reward_zero_std") is not None]
    std = [r.get("reward_std") for r in rows if r.get("reward_std") is not None]
    return {"first_reward": rows[0]["reward"], "last_reward": rows[-1]["reward"],
            "mean_frac_groups_all_tied": statistics.fmean(zero) if zero else None,
            "mean_within_group_reward_std": statistics.fmean(std) if std else None,
            "reward_curve": [round(r["reward"], 3) for r in rows]}


def arm_result(result, stage: str) -> dict:
    rows = result.evals.get(stage) or []
    out = {r["task"]: {"accuracy": r.get("accuracy"), "accuracy_ci": r.get("accuracy_ci"),
                       "format_valid": r.get("format_valid"), "n": r.get("n")} for r in rows}
    for name, stage_result in result.stages.items():
        out[f"{name}_steps"] = stage_result.global_step
        out[f"{name}_seconds_per_step"] = stage_result.seconds_per_step
        if name == "grpo":
            out["grpo_diagnostics"] = grpo_diagnostics(stage_result.log_history)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sft-steps", type=int, default=150)
    parser.add_argument("--grpo-steps", type=int, default=30)
    parser.add_argument("--recipe", default="quickstart")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra config overrides, e.g. grpo.learning_rate=1e-5")
    parser.add_argument("--grpo-only-max-steps", type=int, default=None,
                        help="cap on the GRPO-only arm's steps (reported); None: the full equal budget")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_two_stage"))
    ns = parser.parse_args()

    from clinrl.cli.train import build_config
    from clinrl.training.mixtures import load_mixture
    from clinrl.training.run import run_training

    def config_for(**stages):
        c = build_config(ns.recipe, ns.overrides, model=ns.model)
        c.eval.real_source = None
        c.eval.stages = ["sft", "grpo"]
        c.sft.max_steps, c.grpo.max_steps = ns.sft_steps, ns.grpo_steps
        for key, value in stages.items():
            section, _, name = key.partition("__")
            setattr(getattr(c, section), name, value)
        return c

    base = config_for()
    mixture = load_mixture(base.tasks, seed=base.seed)  # one data set for all arms
    say = lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True)  # noqa: E731
    results = {}

    say("arm SFT → GRPO")
    both = run_training(base, ns.out / "sft_grpo", mixture=mixture, say=say, command=sys.argv)
    results["sft_then_grpo"] = arm_result(both, "grpo")
    results["sft_at_warmup_end"] = arm_result(both, "sft")
    sft_sps = both.stages["sft"].seconds_per_step or 1.0
    grpo_sps = both.stages["grpo"].seconds_per_step or 1.0
    ratio = grpo_sps / sft_sps

    say(f"arm SFT only (GRPO step = {ratio:.2f} SFT steps)")
    sft_only = config_for(grpo__enabled=False, sft__max_steps=math.ceil(ns.grpo_steps * ratio))
    sft_only.model.spec = str(both.stages["sft"].model_dir)  # continue the shared warm-up
    results["sft_only"] = arm_result(run_training(sft_only, ns.out / "sft_only", mixture=mixture, say=say,
                                                  command=sys.argv), "sft")

    say("arm GRPO only")
    budget = ns.grpo_steps + math.ceil(ns.sft_steps / ratio)
    grpo_only_steps = min(budget, ns.grpo_only_max_steps) if ns.grpo_only_max_steps else budget
    grpo_only = config_for(sft__enabled=False, grpo__max_steps=grpo_only_steps)
    results["grpo_only"] = arm_result(run_training(grpo_only, ns.out / "grpo_only", mixture=mixture, say=say,
                                                   command=sys.argv), "grpo")

    summary = {"sft_steps": ns.sft_steps, "grpo_steps": ns.grpo_steps, "grpo_over_sft_step_time": ratio,
               "sft_only_extra_steps": sft_only.sft.max_steps, "grpo_only_steps": grpo_only_steps,
               "grpo_only_equal_budget_steps": budget,
               "overrides": ns.overrides, "arms": results}
    ns.out.mkdir(parents=True, exist_ok=True)
    (ns.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
