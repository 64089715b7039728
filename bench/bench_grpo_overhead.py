"""clinrl GRPO step vs a bare TRL GRPO step: what clinrl's layer costs per optimizer step.

Both arms train the same embedded model on the same rendered prompts with the same GRPOConfig
(built by clinrl from one recipe); they differ only in what clinrl adds:

* **bare TRL**: ``trl.GRPOTrainer`` with a trivial reward (completion length) and a prompt-only dataset;
* **clinrl**: the same trainer built the clinrl way — per-row task dispatch of the MedCalc verifier
  (format + correctness reward functions), the ``task`` / ``target`` dataset columns, clinrl's
  callbacks (held-out evaluation disabled: it is evaluation time, reported by the run, not step cost).

The model is the untrained ``tiny`` model, which rarely emits end-of-turn (TRL logs a clipped ratio of
0.88–1.0 per step), so nearly every completion has ``max_completion_length`` tokens in both arms and
the generation work is the same up to that small, seeded variation. Arms
alternate (A B A B …) so that load on a shared machine hits both alike; the first step of each
block is a warm-up and is dropped; the ratio of median step times is reported.

    python bench/bench_grpo_overhead.py --blocks 3 --steps 6
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback


class StepTimer(TrainerCallback):
    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)


def trivial_reward(prompts, completions, **kwargs):
    return [len(c) / 100.0 for c in completions]


def run_block(arm: str, config, rows, mixture, steps: int, out: Path) -> list[float]:
    from datasets import Dataset
    from trl import GRPOTrainer

    from clinrl.models import load_model_and_tokenizer
    from clinrl.training.grpo import grpo_args
    from clinrl.training.mixtures import MixtureReward

    config.grpo.max_steps = steps
    model, tokenizer = load_model_and_tokenizer(config.model.spec, for_training=True)
    timer = StepTimer()
    args = grpo_args(config, out)
    if arm == "trl":
        dataset = Dataset.from_list([{"prompt": r["prompt"]} for r in rows])
        rewards = [trivial_reward]
    else:
        dataset = Dataset.from_list(rows)
        rewards = MixtureReward(mixture.by_name()).functions()
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=args, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=[timer])
    trainer.train()
    return timer.times[1:]  # the first step pays one-off costs (allocations, compilation of kernels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=3, help="A/B blocks per arm")
    parser.add_argument("--steps", type=int, default=6, help="GRPO steps per block (first dropped)")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ns = parser.parse_args()

    from clinrl.models import load_tokenizer
    from clinrl.training.config import load_recipe
    from clinrl.training.mixtures import grpo_rows, load_mixture

    config = load_recipe("quickstart", {"model": {"spec": ns.model}, "tasks": [{"name": "medcalc", "source":
              "synthetic:calculators=51,45,33,20;n=200;difficulty=template", "train_limit": 200, "heldout_limit": 1}],
              "grpo": {"save_steps": 10_000, "logging_steps": 1, "eval_every": 0}})
    config.report_to = []
    mixture = load_mixture(config.tasks, seed=0)
    rows = grpo_rows(mixture, load_tokenizer(ns.model))
    times: dict[str, list[float]] = {"trl": [], "clinrl": []}
    with tempfile.TemporaryDirectory() as tmp:
        for block in range(ns.blocks):
            for arm in ("trl", "clinrl"):
                times[arm] += run_block(arm, config, rows, mixture, ns.steps, Path(tmp) / f"{arm}{block}")
                print(f"block {block} {arm}: {statistics.median(times[arm]):.3f} s/step so far", file=sys.stderr)
    med = {arm: statistics.median(v) for arm, v in times.items()}
    result = {
        "model": ns.model, "completions_per_step": config.grpo.prompts_per_step * config.grpo.num_generations,
        "max_completion_length": config.grpo.max_completion_length, "steps_timed_per_arm": len(times["trl"]),
        "median_s_per_step": med, "ratio_clinrl_over_trl": med["clinrl"] / med["trl"],
    }
    print(json.dumps(result, indent=2))
    if ns.json:
        ns.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
