"""Tiny-model SFT and GRPO smoke runs: a few steps, parameters change, losses finite, run dir written."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
sys.path.insert(0, str(Path(__file__).parent))
import training_toy  # noqa: E402,F401  (registers the toy task)

from clinrl.models import resolve_model  # noqa: E402
from clinrl.training.common import finite_losses  # noqa: E402
from clinrl.training.config import EvalSettings, GRPOSettings, RunConfig, SFTSettings, TaskSettings  # noqa: E402
from clinrl.training.mixtures import load_mixture  # noqa: E402

pytestmark = pytest.mark.slow


def tiny_config(**overrides) -> RunConfig:
    config = RunConfig(
        tasks=[TaskSettings(name="toy_copy", source=None, train_limit=48, heldout_limit=4)],
        sft=SFTSettings(max_steps=4, logging_steps=1, save_steps=2, per_device_train_batch_size=8, think="full"),
        grpo=GRPOSettings(max_steps=2, num_generations=4, prompts_per_step=2, max_completion_length=12,
                          logging_steps=1, save_steps=1, eval_every=1, learning_rate=1e-3),
        eval=EvalSettings(max_new_tokens=8, stages=["sft"]),
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


def _weights(directory: str) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(directory) / "model.safetensors"))


def _changed(before: dict, after: dict) -> int:
    return sum(1 for k in before if k in after and not bool((before[k] == after[k]).all()))


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory):
    from clinrl.training.run import run_training

    run_dir = tmp_path_factory.mktemp("run") / "r"
    config = tiny_config()
    config.grpo.enabled = False
    return run_dir, run_training(config, run_dir, command=["test"], say=lambda m: None)


def test_sft_changes_weights_with_finite_loss(sft_run):
    run_dir, result = sft_run
    stage = result.stages["sft"]
    assert stage.global_step == 4 and finite_losses(stage.log_history)
    # compute per step, read from this process's CPU clock: positive, and a step cannot use more than every core
    assert 0 < stage.cpu_seconds_per_step <= stage.seconds_per_step * (os.cpu_count() or 1) + 0.5
    assert _changed(_weights(resolve_model("tiny")), _weights(str(stage.model_dir))) > 10
    assert (run_dir / "sft" / "checkpoint-4" / "trainer_state.json").is_file()


def test_run_directory_layout(sft_run):
    run_dir, result = sft_run
    for name in ("config.yaml", "run_info.json", "metrics.json", "report.md", "heldout_eval.jsonl",
                 "eval/sft/eval_log.json"):
        assert (run_dir / name).is_file(), name
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["seed"] == 0 and "torch" in info["packages"] and info["commands"] == [["test"]]
    assert info["placement"]["device"] == "cpu" and info["placement"]["kernels"]  # e.g. AVX512: it sets the floats
    row = json.loads((run_dir / "heldout_eval.jsonl").read_text().splitlines()[0])
    assert {"stage", "step", "task", "accuracy", "format_valid"} <= set(row)
    assert row["stage"] == "sft" and row["step"] == 4
    report = (run_dir / "report.md").read_text()
    assert "Held-out accuracy after each stage" in report
    assert f"{info['placement']['kernels']} kernels" in report


def test_grpo_changes_weights_and_logs_rewards_and_heldout(sft_run, tmp_path):
    from clinrl.training.grpo import run_grpo

    _, result = sft_run
    start = str(result.stages["sft"].model_dir)
    config = tiny_config()
    mixture = load_mixture(config.tasks)
    heldout = [(t.task, t.heldout) for t in mixture.tasks]

    def length_reward(prompts, completions, **kwargs):  # guarantees in-group variance on an untrained model
        return [float(len(c)) / 10 for c in completions]

    from clinrl.training.mixtures import MixtureReward

    funcs = MixtureReward(mixture.by_name()).functions() + [length_reward]
    stage = run_grpo(config, mixture, start, tmp_path, heldout=heldout, reward_funcs=funcs)
    assert stage.global_step == 2
    losses = [row["loss"] for row in stage.log_history if "loss" in row]
    assert losses and all(math.isfinite(v) for v in losses)
    assert any("rewards/format/mean" in row and "rewards/correct/mean" in row for row in stage.log_history)
    assert any("heldout/toy_copy/accuracy" in row for row in stage.log_history)
    assert _changed(_weights(start), _weights(str(stage.model_dir))) > 10
    lines = (tmp_path / "heldout_eval.jsonl").read_text().splitlines()
    assert [json.loads(line)["stage"] for line in lines] == ["grpo"]


def test_lora_sft_merges_adapters(tmp_path):
    pytest.importorskip("peft")
    from clinrl.training.sft import run_sft

    config = tiny_config()
    config.model.lora.enabled = True
    config.model.lora.r = 4
    config.sft.max_steps = 2
    config.sft.learning_rate = 1e-2
    mixture = load_mixture(config.tasks)
    stage = run_sft(config, mixture, "tiny", tmp_path)
    after = _weights(str(stage.model_dir))
    assert not any("lora" in k for k in after)  # merged into plain weights for the next stage
    assert _changed(_weights(resolve_model("tiny")), after) > 0


def test_existing_run_dir_needs_resume(sft_run):
    from clinrl.errors import ConfigError
    from clinrl.training.run import run_training

    run_dir, _ = sft_run
    with pytest.raises(ConfigError, match="--resume"):
        run_training(tiny_config(), run_dir, say=lambda m: None)
