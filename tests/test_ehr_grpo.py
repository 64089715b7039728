"""The ehr task trains through clinrl's GRPO path on the embedded tiny model (smoke test).

An untrained tiny model never writes a well-formed ``<think>…</think><answer>{…}</answer>`` reply,
so every completion earns the same −2 and GRPO's group advantage is zero: no gradient. Teaching
the format first (the SFT warm-up) takes minutes on CPU, beyond a smoke test's budget. The test
therefore adds one *probe* reward (shorter completions score higher) next to the ehr task's own
format and correctness rewards: it gives the groups a non-zero spread so that a real optimizer
step happens, while the ehr rewards are still computed from the ehr rows' columns on every
completion and logged.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("trl")
pytest.importorskip("polars")


def _length_probe(prompts, completions, **kwargs):
    return [-len(str(c)) / 100.0 for c in completions]


@pytest.mark.slow
def test_ehr_grpo_smoke_changes_weights(tmp_path):
    import torch

    from clinrl.models import load_model_and_tokenizer
    from clinrl.training.config import GRPOSettings, ModelSettings, RunConfig, TaskSettings
    from clinrl.training.grpo import run_grpo
    from clinrl.training.mixtures import MixtureReward, load_mixture

    options = {"synthetic_subjects": 60, "token_budget": 96, "balance": True}
    config = RunConfig(
        tasks=[TaskSettings(name="ehr", source="synthetic", train_limit=4, heldout_limit=2, options=options)],
        grpo=GRPOSettings(max_steps=1, num_generations=4, prompts_per_step=2, per_device_completions=8,
                          max_completion_length=12, learning_rate=1e-3, beta=0.0, eval_every=0, save_steps=100,
                          logging_steps=1),
        model=ModelSettings(device="cpu"),
    )
    mixture = load_mixture(config.tasks, seed=0)
    assert {s.target["label"] for s in mixture.tasks[0].train} == {0, 1}  # balance gives both classes
    ehr_rewards = MixtureReward(mixture.by_name()).functions()
    before, _ = load_model_and_tokenizer("tiny")
    result = run_grpo(config, mixture, "tiny", tmp_path, reward_funcs=ehr_rewards + [_length_probe])
    after, _ = load_model_and_tokenizer(str(result.model_dir))

    logged = {k: v for row in result.log_history for k, v in row.items() if k.startswith("rewards/")}
    ehr_means = [v for k, v in logged.items() if k.endswith("/mean") and "_length_probe" not in k]
    assert len(ehr_means) == len(ehr_rewards) and all(math.isfinite(v) for v in ehr_means), logged
    losses = [row["loss"] for row in result.log_history if "loss" in row]
    assert losses and all(math.isfinite(x) for x in losses)
    changed = any(not torch.equal(p0, p1) for (_, p0), (_, p1) in
                  zip(sorted(before.state_dict().items()), sorted(after.state_dict().items())))
    assert changed, "GRPO left every weight unchanged"
