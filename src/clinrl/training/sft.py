"""SFT warm-up on TRL's ``SFTTrainer``: completion-only loss on EHRMIND-format targets.

Each row is ``prompt`` = the rendered chat prompt including the assistant pre-fill (exactly what the
model sees at generation time) and ``completion`` = the target (reasoning, ``</think>``, the
``<answer>`` JSON, end of turn). The loss covers the completion only, so the model learns to write
answers, not to repeat notes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from clinrl.errors import require
from clinrl.training.callbacks import HELDOUT, HeldoutEvalCallback
from clinrl.training.common import (
    StageResult, device_kwargs, finished_stage, peft_config, stage_done, train_stage, training_dtype, trl_config,
)
from clinrl.training.config import RunConfig
from clinrl.training.mixtures import Mixture, sft_rows


def sft_args(config: RunConfig, output_dir: Path):
    trl = require("trl", "train")
    s = config.sft
    settings = dict(
        output_dir=str(output_dir),
        max_steps=s.max_steps,
        num_train_epochs=s.num_train_epochs,
        learning_rate=s.learning_rate,
        per_device_train_batch_size=s.per_device_train_batch_size,
        gradient_accumulation_steps=s.gradient_accumulation_steps,
        max_length=s.max_length,
        warmup_steps=s.warmup_ratio,  # transformers reads a float < 1 as a ratio of the total steps
        weight_decay=s.weight_decay,
        lr_scheduler_type=s.lr_scheduler_type,
        logging_steps=s.logging_steps,
        save_steps=s.save_steps,
        save_total_limit=s.save_total_limit,
        completion_only_loss=True,
        packing=False,
        **device_kwargs(config),
    )
    return trl_config(trl.SFTConfig, settings, s.trl_args, "sft")


def count_truncated(rows: Sequence[dict[str, Any]], tokenizer: Any, max_length: int) -> int:
    texts = [r["prompt"] + r["completion"] for r in rows]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    return sum(1 for n in lengths if n + 1 > max_length)


def run_sft(config: RunConfig, mixture: Mixture, model_spec: str, run_dir: Path, *, resume: bool = False,
            heldout: Sequence = (), callbacks: Sequence = (), split: str = HELDOUT) -> StageResult:
    """Train the warm-up; returns where the final model is. A finished stage is not re-run. ``heldout``: the
    (task, samples) pairs evaluated every ``sft.eval_every`` steps, of split ``split`` (held-out or validation)."""
    from datasets import Dataset

    from clinrl.models import load_model_and_tokenizer

    trl = require("trl", "train")
    output_dir = Path(run_dir) / "sft"
    final_dir = output_dir / "final"
    if stage_done(final_dir):
        return finished_stage("sft", final_dir)
    model, tokenizer = load_model_and_tokenizer(model_spec, dtype=training_dtype(config), device=config.model.device,
                                                for_training=True)
    notes: list[str] = []
    rows = sft_rows(mixture, tokenizer, config.sft.think, notes)
    truncated = count_truncated(rows, tokenizer, config.sft.max_length)
    if truncated:
        notes.append(f"sft: {truncated}/{len(rows)} rows longer than max_length={config.sft.max_length} "
                     "were truncated (their answer may be cut off)")
    tokenizer.padding_side = "right"  # training pads on the right; generation (held-out eval) sets left
    all_callbacks = list(callbacks)
    if heldout and config.sft.eval_every:
        all_callbacks.append(HeldoutEvalCallback(tokenizer, heldout, run_dir=run_dir, stage="sft",
                                                 every=config.sft.eval_every, at_end=False,
                                                 max_new_tokens=config.eval.max_new_tokens, split=split))
    trainer = trl.SFTTrainer(
        model=model,
        args=sft_args(config, output_dir),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config(config.model.lora),
        callbacks=all_callbacks,
    )
    result = train_stage("sft", trainer, tokenizer, output_dir, resume=resume)
    result.notes = notes
    return result
