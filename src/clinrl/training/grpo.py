"""GRPO on TRL's ``GRPOTrainer`` with the tasks' verifiable rewards.

Prompts are rendered to text with :func:`clinrl.prompting.render_prompt`, so the assistant pre-fill
(EHRMIND's ``"Let me solve this step by step.\\n<think>"``) is part of the prompt and the model only
writes the continuation — which is what the contract parser expects. Rewards come from
:class:`~clinrl.training.mixtures.MixtureReward` (one task or a mixture, dispatched per row).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from clinrl.errors import ConfigError, require
from clinrl.training.callbacks import HELDOUT, HeldoutEvalCallback
from clinrl.training.common import (
    StageResult, device_kwargs, finished_stage, peft_config, stage_done, train_stage, training_dtype, trl_config,
)
from clinrl.training.config import RunConfig
from clinrl.training.mixtures import Mixture, MixtureReward, check_step_reward, grpo_rows
from clinrl.training.tied_groups import grpo_trainer_class, skipped_share, why_not_skippable


def batch_layout(prompts_per_step: int, num_generations: int, per_device_completions: int,
                 world_size: int) -> tuple[int, int]:
    """(per-device micro-batch, gradient-accumulation steps) giving ``prompts × G`` completions per step."""
    if min(prompts_per_step, num_generations, per_device_completions, world_size) < 1:
        raise ConfigError("grpo.prompts_per_step, num_generations and per_device_completions must be ≥ 1")
    if num_generations < 2:
        raise ConfigError("grpo.num_generations must be ≥ 2: the group mean is the baseline")
    total = prompts_per_step * num_generations
    if total % world_size:
        raise ConfigError(f"prompts_per_step × num_generations = {total} completions per step cannot be split "
                          f"over {world_size} processes")
    per_process = total // world_size
    micro = min(per_device_completions, per_process)
    while per_process % micro:
        micro -= 1
    return micro, per_process // micro


def vllm_usable(config: RunConfig) -> str | None:
    """Why TRL's vLLM generation cannot be used here (``None``: it can)."""
    from clinrl.evaluation.backends import vllm_available
    from clinrl.training.common import placement

    if not vllm_available():
        return "vllm is not installed (pip install 'clinrl[vllm]')"
    where = placement(config).device
    return None if where.startswith("cuda") else f"vLLM needs a CUDA device; training runs on {where}"


def grpo_args(config: RunConfig, output_dir: Path, world_size: int | None = None):
    trl = require("trl", "train")
    g = config.grpo
    world = world_size or int(os.environ.get("WORLD_SIZE", "1"))
    micro, accumulation = batch_layout(g.prompts_per_step, g.num_generations, g.per_device_completions, world)
    settings = dict(
        output_dir=str(output_dir),
        max_steps=g.max_steps,
        learning_rate=g.learning_rate,
        num_generations=g.num_generations,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        max_completion_length=g.max_completion_length,
        temperature=g.temperature,
        top_p=g.top_p,
        top_k=0,
        beta=g.beta,
        loss_type=g.loss_type,
        scale_rewards=g.scale_rewards,
        num_iterations=g.num_iterations,
        epsilon=g.epsilon,
        mask_truncated_completions=g.mask_truncated_completions,
        use_vllm=g.use_vllm and vllm_usable(config) is None,
        vllm_mode=g.vllm_mode,
        warmup_steps=g.warmup_ratio,
        lr_scheduler_type=g.lr_scheduler_type,
        logging_steps=g.logging_steps,
        save_steps=g.save_steps,
        save_total_limit=g.save_total_limit,
        log_completions=g.log_completions,
        **device_kwargs(config),
    )
    return trl_config(trl.GRPOConfig, settings, g.trl_args, "grpo")


def run_grpo(config: RunConfig, mixture: Mixture, model_spec: str, run_dir: Path, *, resume: bool = False,
             heldout: Sequence = (), callbacks: Sequence = (), reward_funcs: list[Any] | None = None,
             baseline: Sequence[dict[str, Any]] = (),
             baseline_records: Mapping[str, Sequence[dict[str, Any]]] | None = None,
             split: str = HELDOUT) -> StageResult:
    """Run GRPO from ``model_spec`` (usually the SFT stage's final model). A finished stage is not re-run.

    ``heldout``: the (task, samples) pairs evaluated every ``grpo.eval_every`` steps, of split ``split`` (held-out,
    or the run's validation split, which ``keep: best`` then chooses on). ``baseline`` / ``baseline_records``: the
    warm-up's final rows on that split and, by task, its per-sample records; each evaluation during the stage is
    compared with them (health warnings, ``paired_gain``)."""
    from datasets import Dataset

    from clinrl.models import load_model_and_tokenizer

    trl = require("trl", "train")
    output_dir = Path(run_dir) / "grpo"
    final_dir = output_dir / "final"
    if stage_done(final_dir):
        return finished_stage("grpo", final_dir)
    notes = []
    if config.grpo.use_vllm and (why := vllm_usable(config)):
        notes.append(f"grpo: use_vllm is set but {why}; generating with transformers instead")
        print(f"note: {notes[-1]}", flush=True)
    model, tokenizer = load_model_and_tokenizer(model_spec, dtype=training_dtype(config), device=config.model.device,
                                                for_training=True)
    shaped = check_step_reward(mixture, config.grpo.step_reward)
    if shaped:
        notes.append(shaped)
        print(f"note: {shaped}", flush=True)
    rows = grpo_rows(mixture, tokenizer, steps=bool(shaped))
    rewards = MixtureReward(mixture.by_name(), step_reward=config.grpo.step_reward)
    all_callbacks = list(callbacks)
    heldout_cb = None
    if heldout and config.grpo.eval_every:
        heldout_cb = HeldoutEvalCallback(tokenizer, heldout, run_dir=run_dir, stage="grpo",
                                         every=config.grpo.eval_every, at_end=False,
                                         max_new_tokens=config.eval.max_new_tokens, baseline=baseline,
                                         best_dir=output_dir / "best" if config.grpo.keep == "best" else None,
                                         baseline_records=baseline_records, split=split)
        all_callbacks.append(heldout_cb)
    args = grpo_args(config, output_dir)
    trainer_class = trl.GRPOTrainer
    if config.grpo.skip_tied_groups:
        if why := why_not_skippable(args):
            notes.append(f"grpo: skip_tied_groups is on but every completion goes through the loss: {why}")
        else:
            trainer_class = grpo_trainer_class(trl.GRPOTrainer)
    trainer = trainer_class(
        model=model,
        reward_funcs=reward_funcs if reward_funcs is not None else rewards.functions(),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config(config.model.lora),
        callbacks=all_callbacks,
    )
    result = train_stage("grpo", trainer, tokenizer, output_dir, resume=resume)
    result.notes.extend(notes)
    if skipped := skipped_share(result.log_history):
        result.notes.append(f"grpo: {100 * skipped:.0f}% of completions had zero advantage (their group's rewards "
                            "tied) and skipped the loss's forward and backward passes (beta 0: the same update)")
    if rewards.unscored:
        result.notes.append(f"grpo: {rewards.unscored} completion(s) could not be scored (left out of group "
                            "baselines)")
    result.heldout = list(heldout_cb.history) if heldout_cb else []
    result.warnings = list(heldout_cb.warnings) if heldout_cb else []
    return result
