"""GRPO step cost with and without ``grpo.skip_tied_groups``, side by side in one process, from one warm-up.

Completions whose group's rewards all tie have zero advantage; with ``beta = 0`` they add nothing to the gradient,
and ``skip_tied_groups`` leaves them out of the loss's forward and backward passes (the update is unchanged:
``tests/test_tied_groups.py``). This bench runs the quickstart's GRPO stage for ``--steps`` steps from the same
warm-up model with the setting off and on, alternating, ``--blocks`` times, and prints each arm's CPU seconds per
step (this process's clock: other jobs on the machine do not inflate it), the share of completions skipped, the
share of tied groups, and the median ratio off / on. The arms swap order from block to block, so one-time costs
(the first step, caches) do not fall on one arm.

    python bench/bench_skip_tied.py --out runs/bench_skip_tied            # builds the quickstart warm-up first
    python bench/bench_skip_tied.py --model RUN/sft/final --blocks 3 --steps 6 --out runs/bench_skip_tied
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None,
                        help="warm-up model to start GRPO from (default: train the quickstart's warm-up into OUT)")
    parser.add_argument("--recipe", default="quickstart")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=positive, default=6, help="GRPO steps per arm and block")
    parser.add_argument("--blocks", type=positive, default=3, help="off/on pairs, alternating")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra config overrides")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_skip_tied"))
    ns = parser.parse_args(argv)

    from clinrl.cli.quickstart import quickstart_config
    from clinrl.training.grpo import run_grpo
    from clinrl.training.mixtures import load_mixture
    from clinrl.training.run import run_training
    from clinrl.training.tied_groups import skipped_share

    def config(**grpo):
        c = quickstart_config("medcalc", "tiny", ns.recipe, ns.overrides, "none")
        c.seed = ns.seed
        for key, value in grpo.items():
            setattr(c.grpo, key, value)
        return c

    ns.out.mkdir(parents=True, exist_ok=True)
    model = ns.model
    if model is None:
        warm = config()
        warm.grpo.enabled, warm.eval.stages = False, []
        print(f"[bench] training the {ns.recipe} warm-up ({warm.sft.max_steps} SFT steps)", file=sys.stderr, flush=True)
        model = str(run_training(warm, ns.out / "warmup", command=sys.argv).stages["sft"].model_dir)
    mixture = load_mixture(config().tasks, seed=ns.seed)  # one data set for both arms

    rows: list[dict] = []
    for block in range(ns.blocks):
        for skip in ((False, True) if block % 2 == 0 else (True, False)):  # neither arm always goes first
            c = config(max_steps=ns.steps, eval_every=0, save_steps=10 ** 6, logging_steps=1, skip_tied_groups=skip)
            started = time.process_time()
            stage = run_grpo(c, mixture, model, ns.out / f"b{block}_{'on' if skip else 'off'}")
            cpu = (time.process_time() - started) / ns.steps
            tied = [r["frac_reward_zero_std"] for r in stage.log_history if "frac_reward_zero_std" in r]
            rows.append({"block": block, "skip_tied_groups": skip, "cpu_seconds_per_step": round(cpu, 3),
                         "wall_seconds_per_step": round(stage.seconds_per_step or 0.0, 3),
                         "completions_skipped": skipped_share(stage.log_history),
                         "groups_tied": statistics.fmean(tied) if tied else None})
            print(f"[bench] block {block} skip={skip}: {cpu:.2f} CPU s/step", file=sys.stderr, flush=True)
            (ns.out / "summary.json").write_text(json.dumps({"command": sys.argv, "model": model, "rows": rows},
                                                            indent=2))

    arm = {(r["block"], r["skip_tied_groups"]): r["cpu_seconds_per_step"] for r in rows}
    ratios = [arm[(block, False)] / arm[(block, True)] for block in range(ns.blocks)]
    summary = {"command": sys.argv, "model": model, "rows": rows, "ratios_off_over_on": ratios,
               "median_ratio": statistics.median(ratios)}
    (ns.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print("| block | skip_tied_groups | CPU s/step | wall s/step | completions skipped | groups tied |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        share = "—" if r["completions_skipped"] is None else f"{100 * r['completions_skipped']:.0f} %"
        tied = "—" if r["groups_tied"] is None else f"{100 * r['groups_tied']:.0f} %"
        print(f"| {r['block']} | {'on' if r['skip_tied_groups'] else 'off'} | {r['cpu_seconds_per_step']:.2f} | "
              f"{r['wall_seconds_per_step']:.2f} | {share} | {tied} |")
    print(f"\nCPU time per step, off / on: {', '.join(f'{x:.2f}' for x in ratios)}; "
          f"median {summary['median_ratio']:.2f}x")


if __name__ == "__main__":
    main()
