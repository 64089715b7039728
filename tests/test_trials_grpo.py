"""The trials task trains through clinrl's GRPO path on the embedded tiny model (smoke test).

The embedded tiny model starts from random weights and never writes the ``<think>/<answer>`` contract in a few
tokens, so the trials reward is the same −2 for every completion, GRPO's group advantage is zero and nothing
would move. A test-only shaping reward (how many characters of a well-formed answer the completion contains)
gives the group some spread; the trials verifier's own format/correctness rewards run alongside it and are
checked in the logs.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("trl")

ANSWER_CHARS = set('</think><answer>{"prediction": "eligible", "idx": 2}</answer>')


def shaping(prompts, completions, **kwargs):
    return [len(ANSWER_CHARS & set(str(c))) / len(ANSWER_CHARS) for c in completions]


@pytest.mark.slow
def test_trials_grpo_smoke_changes_weights(tmp_path):
    import torch

    from clinrl.models import load_model_and_tokenizer
    from clinrl.training.config import GRPOSettings, ModelSettings, RunConfig, TaskSettings
    from clinrl.training.grpo import run_grpo
    from clinrl.training.mixtures import MixtureReward, load_mixture

    config = RunConfig(
        tasks=[TaskSettings(name="trials", source="synthetic:easy", train_limit=3, heldout_limit=1)],
        grpo=GRPOSettings(max_steps=1, num_generations=4, prompts_per_step=2, per_device_completions=8,
                          max_completion_length=12, temperature=1.0, learning_rate=1e-3, beta=0.0, eval_every=0,
                          save_steps=100, logging_steps=1),
        model=ModelSettings(device="cpu"),
    )
    mixture = load_mixture(config.tasks, seed=0)
    assert {s.target["trial_label"] for s in mixture.tasks[0].train} == {0, 1, 2}
    rewards = MixtureReward(mixture.by_name())
    before, _ = load_model_and_tokenizer("tiny")
    result = run_grpo(config, mixture, "tiny", tmp_path, reward_funcs=[*rewards.functions(), shaping])
    after, _ = load_model_and_tokenizer(str(result.model_dir))
    logs = [row for row in result.log_history if "loss" in row]
    assert logs and all(math.isfinite(row["loss"]) for row in logs)
    # the trials verifier scored every completion: malformed → −2 from the format reward, nothing unscored
    assert all(row["rewards/format/mean"] == -2.0 and row["rewards/correct/mean"] == 0.0 for row in logs)
    assert rewards.unscored == 0
    changed = any(not torch.equal(p0, p1) for (_, p0), (_, p1) in
                  zip(sorted(before.state_dict().items()), sorted(after.state_dict().items())))
    assert changed, "GRPO left every weight unchanged"
