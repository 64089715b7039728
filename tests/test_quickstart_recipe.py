"""The quickstart's recipe must leave GRPO something to learn from: after the recipe's own warm-up, the first
GRPO steps have groups whose rewards differ (non-zero advantage). A recipe that regresses to a configuration
whose GRPO stage cannot change the policy — every group tied, every completion malformed or cut off, a
temperature of 0 — fails here (tiny model, fixed seed, the recipe's SFT, two GRPO steps)."""

from __future__ import annotations

import pytest

pytest.importorskip("trl")

pytestmark = pytest.mark.slow


def quickstart(**sets):
    from clinrl.cli.quickstart import quickstart_config

    overrides = [f"{k}={v}" for k, v in sets.items()]
    return quickstart_config("medcalc", None, "quickstart", overrides, "none")


def test_recipe_settings_leave_room_for_the_warm_up_targets():
    from clinrl.models import load_tokenizer
    from clinrl.training.mixtures import load_mixture, sft_rows

    config = quickstart(**{"tasks.0.train_limit": 200})
    g = config.grpo
    assert g.temperature > 0 and g.num_generations >= 2 and g.learning_rate > 0 and g.max_steps > 0
    tokenizer = load_tokenizer(config.model.spec)
    mixture = load_mixture(config.tasks, seed=config.seed)
    rows = sft_rows(mixture, tokenizer, config.sft.think)
    longest = max(len(tokenizer(r["completion"], add_special_tokens=False)["input_ids"]) for r in rows)
    assert longest + 2 <= g.max_completion_length <= config.eval.max_new_tokens, \
        "the GRPO / evaluation budgets must fit the warm-up's own targets"


def test_grpo_gets_a_signal_on_its_first_steps(tmp_path):
    from clinrl.training.run import run_training

    # the recipe as shipped (model, data, prompt, think mode, lengths, temperature, group size, learning rates),
    # with a shorter warm-up and fewer prompts a step so the test takes a minute or two on 2 cores
    config = quickstart(**{"sft.max_steps": 100, "grpo.max_steps": 2, "grpo.logging_steps": 1, "grpo.eval_every": 0,
                           "grpo.prompts_per_step": 4, "grpo.per_device_completions": 32, "grpo.save_steps": 1000,
                           "sft.save_steps": 1000, "tasks.0.heldout_limit": 8, "tasks.0.train_limit": 1000})
    config.eval.stages = []
    result = run_training(config, tmp_path / "run", command=["test"], say=lambda m: None)
    logs = [row for row in result.stages["grpo"].log_history if "reward" in row]
    assert len(logs) == 2
    assert min(row["frac_reward_zero_std"] for row in logs) < 1.0, "every group tied: zero advantage, no gradient"
    assert max(row["rewards/format/mean"] for row in logs) > -1.0, "the warm-up must teach the output contract"
    assert max(row["completions/clipped_ratio"] for row in logs) < 0.5, "completions cut off by the budget"
