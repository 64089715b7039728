"""EHRMIND's claim at equal compute: SFT → GRPO vs SFT only vs GRPO only, over several seeds.

For each seed, three arms on one task (the quickstart's synthetic MedCalc scores by default), all
evaluated greedily on the same held-out samples:

* **SFT → GRPO**: ``--sft-steps`` warm-up steps on the warm-up set (the recipe's ``sft_fraction`` of
  the training pool: the samples whose worked reasoning is available), then ``--grpo-steps`` GRPO steps
  on prompts drawn from the whole pool (answers only);
* **SFT only**: the same warm-up model, trained on with SFT — on the same warm-up set — for the time the
  GRPO stage took (``grpo_steps × r`` more steps, r = GRPO / SFT CPU seconds per step of this process,
  measured in the first arm — CPU time, not wall-clock time, so other jobs on the machine do not shrink
  or grow the SFT-only budget; on an accelerator, where the work is the device's, the wall clock;
  ``--step-ratio`` fixes r; the continuation restarts the learning-rate schedule);
* **GRPO only**: GRPO from the base model for the whole budget (``grpo_steps + sft_steps / r`` steps,
  at most ``--grpo-only-max-steps`` when given — the cap is printed).

The comparison that matters is paired: (SFT → GRPO) − (SFT only) on the same held-out samples, with a
paired bootstrap 95% interval (:func:`clinrl.training.health.paired_gain`; the task's headline metric —
accuracy for MedCalc, macro-F1 for trials, balanced accuracy for EHR), next to the reader-free baseline
(:func:`clinrl.training.health.answer_prior`: each group's most common training answer, the score of a model
that learned the label prior and nothing else). Besides accuracy it reports why
GRPO does or does not move: the share of groups whose rewards all tie (zero advantage, no gradient),
the within-group reward std and the reward curve. Results are written after every arm
(``OUT/summary.json``), so a run cut short still reports, and a markdown table is printed at the end.

    python bench/bench_two_stage.py --seeds 0 1 2 --out runs/bench_two_stage
    python bench/bench_two_stage.py --seeds 0 --task trials --set tasks.0.heldout_limit=200
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path


def grpo_diagnostics(log_history: list[dict]) -> dict:
    rows = [r for r in log_history if "reward" in r]
    if not rows:
        return {}
    zero = [r.get("frac_reward_zero_std") for r in rows if r.get("frac_reward_zero_std") is not None]
    std = [r.get("reward_std") for r in rows if r.get("reward_std") is not None]
    skipped = [r["completions_skipped"] for r in rows if r.get("completions_skipped") is not None]
    return {"first_reward": rows[0]["reward"], "last_reward": rows[-1]["reward"],
            "mean_frac_groups_all_tied": statistics.fmean(zero) if zero else None,
            "mean_completions_skipped": statistics.fmean(skipped) if skipped else None,  # grpo.skip_tied_groups
            "mean_within_group_reward_std": statistics.fmean(std) if std else None,
            "reward_curve": [round(r["reward"], 3) for r in rows]}


def arm_result(result, stage: str) -> dict:
    from clinrl.training.health import headline_of, headline_name

    rows = result.evals.get(stage) or []
    out = {r["task"]: {"accuracy": r.get("accuracy"), "accuracy_ci": r.get("accuracy_ci"),
                       "headline": headline_name(r), "headline_value": headline_of(r),
                       "format_valid": r.get("format_valid"), "n": r.get("n")} for r in rows}
    for name, stage_result in result.stages.items():
        out[f"{name}_steps"] = stage_result.global_step
        out[f"{name}_seconds_per_step"] = stage_result.seconds_per_step
        out[f"{name}_cpu_seconds_per_step"] = stage_result.cpu_seconds_per_step
        if name == "grpo":
            out["grpo_diagnostics"] = grpo_diagnostics(stage_result.log_history)
    return out


def records(run_dir: Path, stage: str) -> list[dict]:
    return json.loads((run_dir / "eval" / stage / "eval_log.json").read_text())["records"]


def pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def markdown_table(summary: dict) -> str:
    lines = ["| seed | metric | reader-free | warm-up | SFT only | SFT → GRPO | GRPO only | "
             "Δ (SFT→GRPO − SFT only) [95% CI] | GRPO → SFT steps (r) |", "|---|---|---|---|---|---|---|---|---|"]
    notes: list[str] = []
    for seed, row in sorted(summary["seeds"].items(), key=lambda kv: int(kv[0])):
        arms, task = row.get("arms", {}), summary["task"]

        def value(arm: str) -> str:
            entry = arms.get(arm, {}).get(task) or {}
            return pct(entry.get("headline_value"))

        gain = row.get("paired") or {}
        ci = gain.get("ci") or [None, None]
        delta = "—" if gain.get("delta") is None else (
            f"{100 * gain['delta']:+.1f} [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if None not in ci else
            f"{100 * gain['delta']:+.1f}")
        if row.get("sft_only_budget_grpo_steps") not in (None, summary.get("grpo_steps")):
            delta += " †"
            notes.append(f"† seed {seed}: the reused SFT-only arm had the budget of "
                         f"{row['sft_only_budget_grpo_steps']} GRPO steps, this GRPO stage ran "
                         f"{summary.get('grpo_steps')}: not equal compute")
        if (mismatch := cost_mismatch(row)) is not None:
            delta += " †" if not delta.endswith("†") else ""
            notes.append(f"† seed {seed}: {mismatch}")
        if row.get("grpo_curve"):
            notes.append(f"seed {seed}, SFT → GRPO along the stage: " + " · ".join(
                f"{point['step']}: {pct(point['value'])}" for point in row["grpo_curve"]))
        notes += [f"seed {seed}: warning: {warning['message']}" for warning in row.get("health") or []]
        metric = (arms.get("sft_then_grpo", {}).get(task) or {}).get("headline", "accuracy")
        ratio = row.get("grpo_over_sft_step_time")
        lines.append(f"| {seed} | {metric} | {pct((row.get('answer_prior') or {}).get('value'))} | "
                     f"{value('sft_at_warmup_end')} | {value('sft_only')} | "
                     f"{value('sft_then_grpo')} | {value('grpo_only')} | {delta} | "
                     f"{row.get('sft_only_extra_steps', '—')} ({'—' if ratio is None else f'{ratio:.1f}'}) |")
    return "\n".join(lines + ([""] + notes if notes else []))


def grpo_curve(run_dir: Path, task: str) -> list[dict]:
    """The held-out headline metric at each GRPO evaluation of a run (``--eval-every``), final included."""
    from clinrl.training.callbacks import read_heldout
    from clinrl.training.health import headline_of

    rows = [r for r in read_heldout(run_dir) if r["stage"] == "grpo" and r["task"] == task]
    return [{"step": int(r["step"]), "value": headline_of(r), "final": bool(r.get("final"))}
            for r in sorted(rows, key=lambda r: int(r["step"]))]  # read_heldout keeps one row per step


def reuse_health(earlier_run: Path, run: Path, task: str, gain: dict) -> list[dict]:
    """The held-out warnings a two-stage run gives (:mod:`clinrl.training.health`), for a reused warm-up: this run
    trains GRPO alone, so it has no warm-up evaluation of its own to compare with. Each GRPO evaluation below the
    warm-up's interval, and a final paired gain whose interval is below 0."""
    from clinrl.training.callbacks import read_heldout
    from clinrl.training.health import heldout_drop, intermediate_drop

    warm = [r for r in read_heldout(earlier_run) if r["stage"] == "sft" and r["task"] == task]
    found = [intermediate_drop(r, warm[-1]) for r in read_heldout(run)
             if warm and r["stage"] == "grpo" and r["task"] == task and not r.get("final")]
    found.append(heldout_drop(gain))
    return [w.to_dict() for w in found if w is not None]


#: a reused SFT-only arm stays "equal compute" while this run's GRPO step costs within this share of the reused one's
COST_TOLERANCE = 0.15


def grpo_step_cost(arm: dict, run_dir: Path) -> dict[str, float]:
    """GRPO seconds per step of an arm, net of the held-out evaluations made inside the stage (``--eval-every``):
    ``{"CPU seconds": …, "wall-clock seconds": …}``, each where the arm recorded it (CPU time since 2026-12-07)."""
    from clinrl.training.callbacks import read_heldout

    steps = arm.get("grpo_steps")
    inside = [r for r in read_heldout(run_dir) if r["stage"] == "grpo" and not r.get("final")]
    cost: dict[str, float] = {}
    for basis, key, spent in (("CPU seconds", "grpo_cpu_seconds_per_step", "cpu_seconds"),
                              ("wall-clock seconds", "grpo_seconds_per_step", "seconds")):
        per_step, evaluations = arm.get(key), [r.get(spent) for r in inside]
        if per_step is None or not steps or None in evaluations:  # an evaluation's time unknown: cannot net it out
            continue
        cost[basis] = per_step - sum(evaluations) / steps
    return cost


def compare_step_cost(row: dict, now: dict[str, float], before: dict[str, float], grpo_steps: int) -> None:
    """Record how this run's GRPO step cost compares with the reused run's, and the SFT-only budget that equal
    compute would have given (this run's steps × the reused r × that cost ratio). CPU seconds where both runs
    have them, else the wall clock (comparable on one idle machine only)."""
    basis = next((b for b in ("CPU seconds", "wall-clock seconds") if now.get(b) and before.get(b)), None)
    if basis is None or row.get("grpo_over_sft_step_time") is None:
        return
    ratio = now[basis] / before[basis]
    row["grpo_step_cost_vs_reused"] = {"ratio": ratio, "basis": basis}
    row["sft_only_equal_compute_steps"] = math.ceil(grpo_steps * row["grpo_over_sft_step_time"] * ratio)


def cost_mismatch(row: dict) -> str | None:
    """What makes a reused comparison unequal in compute because of the GRPO step's cost (None: within
    ``COST_TOLERANCE``, or not measured)."""
    cost = row.get("grpo_step_cost_vs_reused") or {}
    if cost.get("ratio") is None or abs(cost["ratio"] - 1) <= COST_TOLERANCE:
        return None
    return (f"a GRPO step here cost {cost['ratio']:.2f}× the reused run's ({cost['basis']}), held-out evaluations "
            f"excluded: at equal compute the SFT-only arm would have had ~{row.get('sft_only_equal_compute_steps')} "
            f"extra SFT steps, the reused one had {row.get('sft_only_extra_steps')}")


def reuse_arms(earlier: Path, seed: int, base, mixture, seed_dir: Path, row: dict, say) -> None:
    """``--reuse``: GRPO from the earlier run's warm-up of ``seed``, compared with that run's SFT-only arm.

    That arm's budget is the earlier run's GRPO steps × r; when this run's GRPO stage is longer or shorter, or its
    steps cost more or less (more prompts a step, longer completions; ``COST_TOLERANCE``), the comparison is not at
    equal compute, and the row (``sft_only_budget_grpo_steps``, ``grpo_step_cost_vs_reused``) and the table say so."""
    from clinrl.training.health import paired_gain
    from clinrl.training.run import run_training

    summary = json.loads((earlier / "summary.json").read_text())
    if str(seed) not in summary.get("seeds", {}):
        raise SystemExit(f"--reuse {earlier}: seed {seed} is not in that run (its seeds: "
                         f"{', '.join(summary.get('seeds', {})) or 'none'})")
    before = summary["seeds"][str(seed)]
    old = earlier / f"seed{seed}"
    data = mixture.tasks[0]
    for arm in ("sft_grpo", "sft_only"):
        if not (old / arm / "eval" / "sft" / "eval_log.json").is_file():
            raise SystemExit(f"--reuse {earlier}: seed {seed} has no {arm} warm-up evaluation "
                             f"({old / arm / 'eval' / 'sft' / 'eval_log.json'} is missing; was that run cut short?)")
    warm_records, sft_only_records = records(old / "sft_grpo", "sft"), records(old / "sft_only", "sft")
    if [r["id"] for r in warm_records] != [s.id for s in data.heldout]:
        raise SystemExit(f"--reuse {earlier}: seed {seed}'s held-out samples differ from this configuration's")
    for key in ("sft_at_warmup_end", "sft_only"):
        row["arms"][key] = before["arms"][key]
    for key in ("grpo_over_sft_step_time", "grpo_over_sft_wall_time", "sft_only_extra_steps"):
        row[key] = before.get(key)
    row["reused_from"] = str(earlier)
    row["sft_only_budget_grpo_steps"] = summary.get("grpo_steps")
    if summary.get("grpo_steps") not in (None, base.grpo.max_steps):
        say(f"seed {seed}: note: the reused SFT-only arm had the budget of {summary.get('grpo_steps')} GRPO steps, "
            f"this GRPO stage runs {base.grpo.max_steps}: (SFT → GRPO) − (SFT only) is not at equal compute")
    say(f"seed {seed}: arm SFT → GRPO, GRPO only, from {old / 'sft_grpo' / 'sft' / 'final'}")
    base.sft.enabled = False
    base.eval.stages = ["grpo"]
    base.model.spec = str(old / "sft_grpo" / "sft" / "final")
    both = run_training(base, seed_dir / "sft_grpo", mixture=mixture, say=say, command=sys.argv)
    row["arms"]["sft_then_grpo"] = arm_result(both, "grpo")
    compare_step_cost(row, grpo_step_cost(row["arms"]["sft_then_grpo"], seed_dir / "sft_grpo"),
                      grpo_step_cost(before["arms"].get("sft_then_grpo") or {}, old / "sft_grpo"), base.grpo.max_steps)
    if (mismatch := cost_mismatch(row)) is not None:
        say(f"seed {seed}: note: {mismatch}")
    if base.grpo.eval_every:
        row["grpo_curve"] = grpo_curve(seed_dir / "sft_grpo", data.task.name)
    grpo_records = records(seed_dir / "sft_grpo", "grpo")
    row["warmup_gain"] = paired_gain(data.task, data.heldout, warm_records, grpo_records, seed=seed)
    row["paired"] = paired_gain(data.task, data.heldout, sft_only_records, grpo_records, seed=seed)
    row["health"] = reuse_health(old / "sft_grpo", seed_dir / "sft_grpo", data.task.name, row["warmup_gain"])
    for warning in row["health"]:
        say(f"seed {seed}: warning: {warning['message']}")


def wall_ratio(sft, grpo) -> float:
    """GRPO / SFT wall-clock seconds per step."""
    return (grpo.seconds_per_step or 1.0) / (sft.seconds_per_step or 1.0)


def step_ratio(sft, grpo, device: str, fixed: float | None = None) -> tuple[float, str]:
    """r, the SFT steps one GRPO step is worth, and what it was measured in. On the CPU the process's CPU seconds
    (other jobs on the machine do not inflate them); on an accelerator the wall clock, because the work is the
    device's and the host's CPU seconds only count the launching (and, for a blocking sync, the wait). ``fixed``
    (``--step-ratio``) wins."""
    if fixed:
        return fixed, "fixed (--step-ratio)"
    wall = wall_ratio(sft, grpo)
    if device != "cpu":
        return wall, f"wall-clock seconds ({device})"
    if sft.cpu_seconds_per_step and grpo.cpu_seconds_per_step:
        return grpo.cpu_seconds_per_step / sft.cpu_seconds_per_step, "CPU seconds"
    return wall, "wall-clock seconds (no CPU time recorded)"


def nearest_pool(data, share: float) -> dict:
    """``--grpo-pool-nearest``: GRPO's prompts become the ``share`` of training notes whose findings sit nearest a
    cut-off (:func:`clinrl.tasks.medcalc.difficulty.cutoff_margin`); the warm-up set is drawn as before."""
    from clinrl.tasks.medcalc.difficulty import cutoff_margin

    if data.task.name != "medcalc":
        raise SystemExit(f"--grpo-pool-nearest needs the medcalc task (a cut-off margin), not {data.task.name!r}")
    margins = [cutoff_margin(int(s.target["calculator_id"]), s.metadata.get("relevant_entities")) for s in data.train]
    order = sorted(range(len(margins)), key=lambda i: (margins[i] is None, margins[i] or 0.0, i))
    keep = sorted(order[:max(1, round(share * len(order)))])
    if data.warmup is None:
        data.warmup = data.train  # the warm-up's subset is drawn from the whole training split, as without the option
    data.train = [data.train[i] for i in keep]
    widest = max((margins[i] for i in keep if margins[i] is not None), default=None)
    return {"share": share, "prompts": len(keep), "of": len(margins), "widest_margin": widest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sft-steps", type=int, default=None, help="default: the recipe's sft.max_steps")
    parser.add_argument("--grpo-steps", type=int, default=None, help="default: the recipe's grpo.max_steps")
    parser.add_argument("--recipe", default="quickstart")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--task", default=None, help="train on this task instead of the recipe's (its synthetic source)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra config overrides, e.g. grpo.learning_rate=1e-5 or tasks.0.heldout_limit=200")
    parser.add_argument("--grpo-only-max-steps", type=int, default=None,
                        help="cap on the GRPO-only arm's steps (reported); None: the full equal budget")
    parser.add_argument("--step-ratio", type=float, default=None,
                        help="SFT steps one GRPO step is worth (r); default: measured in the first arm, in CPU "
                             "seconds on the CPU and in wall-clock seconds on an accelerator")
    parser.add_argument("--skip-grpo-only", action="store_true", help="leave out the GRPO-only arm")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="an earlier run of this bench (same recipe, seeds and SFT settings): its warm-ups, SFT-only "
                             "arms and r are reused and only the GRPO stage runs, e.g. to compare GRPO settings; "
                             "the held-out warnings compare it with the reused warm-up")
    parser.add_argument("--eval-every", type=int, default=0, metavar="N",
                        help="with --reuse: evaluate the held-out split every N GRPO steps and report the curve "
                             "(without --reuse the evaluations would count in GRPO's step time, hence in r)")
    parser.add_argument("--grpo-pool-nearest", type=float, default=None, metavar="SHARE",
                        help="MedCalc, a difficulty curriculum: GRPO's prompts are the SHARE (0-1] of training notes "
                             "whose findings sit nearest a calculator cut-off; the warm-up set is unchanged")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_two_stage"))
    ns = parser.parse_args()
    if ns.step_ratio is not None and not ns.step_ratio > 0:
        parser.error(f"--step-ratio must be a positive number of SFT steps per GRPO step, got {ns.step_ratio}")
    if ns.eval_every < 0:
        parser.error(f"--eval-every must be 0 (off) or a number of steps, got {ns.eval_every}")
    if ns.eval_every and not ns.reuse:
        parser.error("--eval-every needs --reuse: in a full run the evaluations would count in GRPO's step time, "
                     "which sets the SFT-only arm's budget")
    if ns.reuse and not (ns.reuse / "summary.json").is_file():
        parser.error(f"--reuse {ns.reuse}: no summary.json there (give the --out folder of an earlier run of this bench)")
    if ns.grpo_pool_nearest is not None and not 0 < ns.grpo_pool_nearest <= 1:
        parser.error(f"--grpo-pool-nearest must be in (0, 1], got {ns.grpo_pool_nearest}")

    from clinrl.cli.quickstart import quickstart_config
    from clinrl.device import resolve_device
    from clinrl.training.health import answer_prior, paired_gain
    from clinrl.training.mixtures import load_mixture
    from clinrl.training.run import run_training

    say = lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True)  # noqa: E731

    def config_for(seed: int, **stages):
        c = quickstart_config(ns.task or "medcalc", ns.model, ns.recipe, ns.overrides, "none")
        c.seed = seed
        c.eval.stages = ["sft", "grpo"]
        c.grpo.eval_every = ns.eval_every  # 0 unless --reuse: a full run's step times set the SFT-only budget
        if not any("validation_limit" in o for o in ns.overrides or ()):
            # every arm is read on held-out at fixed steps and nothing is chosen: a validation split would only
            # add evaluations (inside GRPO's step time, hence the SFT-only arm's budget)
            for task in c.tasks:
                task.validation_limit = 0
        if ns.sft_steps is not None:
            c.sft.max_steps = ns.sft_steps
        if ns.grpo_steps is not None:
            c.grpo.max_steps = ns.grpo_steps
        for key, value in stages.items():
            section, _, name = key.partition("__")
            setattr(getattr(c, section), name, value)
        return c

    base0 = config_for(ns.seeds[0])
    task_name = base0.tasks[0].name
    summary: dict = {"command": sys.argv, "task": task_name, "recipe": ns.recipe, "model": ns.model,
                     "sft_steps": base0.sft.max_steps, "grpo_steps": base0.grpo.max_steps, "overrides": ns.overrides,
                     "seeds": {}}
    ns.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        (ns.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))

    for seed in ns.seeds:
        started = time.perf_counter()
        row: dict = {"arms": {}}
        summary["seeds"][str(seed)] = row
        base = config_for(seed)
        device = resolve_device(base.model.device)
        mixture = load_mixture(base.tasks, seed=seed)  # one data set for all arms of this seed
        data = mixture.tasks[0]
        row["n_heldout"], row["n_warmup_pool"] = len(data.heldout), len(data.sft_pool)
        row["answer_prior"] = answer_prior(data.task, data.train, data.heldout)  # the no-reading floor
        if ns.grpo_pool_nearest is not None:
            row["grpo_pool"] = nearest_pool(data, ns.grpo_pool_nearest)
            say(f"seed {seed}: GRPO prompts: the {row['grpo_pool']['prompts']} of {row['grpo_pool']['of']} training "
                f"notes nearest a cut-off (margin <= {row['grpo_pool']['widest_margin']})")
        seed_dir = ns.out / f"seed{seed}"

        if ns.reuse:
            reuse_arms(ns.reuse, seed, base, mixture, seed_dir, row, say)
            save()
            if seed != ns.seeds[-1]:  # the table so far; the last one is printed once, below
                print(markdown_table(summary), flush=True)
            continue
        say(f"seed {seed}: arm SFT → GRPO")
        both = run_training(base, seed_dir / "sft_grpo", mixture=mixture, say=say, command=sys.argv)
        row["arms"]["sft_then_grpo"] = arm_result(both, "grpo")
        row["arms"]["sft_at_warmup_end"] = arm_result(both, "sft")
        row["warmup_gain"] = both.metrics.get("paired_gain")
        sft, grpo = both.stages["sft"], both.stages["grpo"]
        row["grpo_over_sft_wall_time"] = wall_ratio(sft, grpo)
        ratio, row["step_ratio_basis"] = step_ratio(sft, grpo, device, ns.step_ratio)
        row["grpo_over_sft_step_time"] = ratio
        save()

        extra = math.ceil(base.grpo.max_steps * ratio)
        row["sft_only_extra_steps"] = extra
        say(f"seed {seed}: arm SFT only (+{extra} SFT steps; a GRPO step = {ratio:.2f} SFT steps in "
            f"{row['step_ratio_basis']})")
        sft_only = config_for(seed, grpo__enabled=False, sft__max_steps=extra)
        sft_only.model.spec = str(both.stages["sft"].model_dir)  # continue the shared warm-up
        sft_only_run = run_training(sft_only, seed_dir / "sft_only", mixture=mixture, say=say, command=sys.argv)
        row["arms"]["sft_only"] = arm_result(sft_only_run, "sft")
        row["paired"] = paired_gain(data.task, data.heldout, records(seed_dir / "sft_only", "sft"),
                                    records(seed_dir / "sft_grpo", "grpo"), seed=seed)
        save()

        if not ns.skip_grpo_only:
            budget = base.grpo.max_steps + math.ceil(base.sft.max_steps / ratio)
            steps = min(budget, ns.grpo_only_max_steps) if ns.grpo_only_max_steps else budget
            row["grpo_only_steps"], row["grpo_only_equal_budget_steps"] = steps, budget
            say(f"seed {seed}: arm GRPO only ({steps} steps; equal budget {budget})")
            grpo_only = config_for(seed, sft__enabled=False, grpo__max_steps=steps)
            row["arms"]["grpo_only"] = arm_result(run_training(grpo_only, seed_dir / "grpo_only", mixture=mixture,
                                                               say=say, command=sys.argv), "grpo")
        row["seconds"] = round(time.perf_counter() - started, 1)
        save()
        if seed != ns.seeds[-1]:
            print(markdown_table(summary), flush=True)

    table = markdown_table(summary)
    (ns.out / "table.md").write_text(table + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "seeds"}, indent=2, default=str))
    print(table)


if __name__ == "__main__":
    from clinrl.device import pin_cpu_kernels
    from clinrl.errors import ClinrlError

    try:
        pin_cpu_kernels()  # as the CLI does: the same numbers for a seed with and without AVX-512
        main()
    except ClinrlError as exc:  # a bad --set, source or recipe: the message names it; no traceback
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
