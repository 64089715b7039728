"""What SFT and GRPO share: device settings, LoRA, checkpoints, the stage result."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinrl.errors import ConfigError
from clinrl.training.config import LoraSettings, RunConfig

#: written into a stage's final model directory once the stage has finished
STAGE_DONE = "clinrl_stage_done.json"


@dataclass
class StageResult:
    stage: str
    model_dir: Path
    global_step: int
    log_history: list[dict[str, Any]] = field(default_factory=list)
    heldout: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    seconds_per_step: float | None = None
    #: this process's CPU seconds per step (all its threads): unlike wall-clock time, it does not grow when
    #: other jobs share the machine, so benchmarks compare stages' compute with it
    cpu_seconds_per_step: float | None = None
    resumed_from: str | None = None
    skipped: bool = False
    notes: list[str] = field(default_factory=list)
    warnings: list[Any] = field(default_factory=list)  # training-health warnings raised during the stage


def placement(config: RunConfig):
    """The run's resolved device and dtype (:mod:`clinrl.device`)."""
    from clinrl.device import resolve_placement

    return resolve_placement(config.model.device, config.model.dtype)


def training_dtype(config: RunConfig) -> str:
    """The dtype the training stages load weights in: float32 master weights when every weight is trained
    (bf16 then comes as autocast: an lr-1e-6 update is below bf16's resolution and would vanish), the run's
    dtype for a frozen LoRA base (half the memory; only the adapters are updated)."""
    return placement(config).dtype_name if config.model.lora.enabled else "float32"


def device_kwargs(config: RunConfig) -> dict[str, Any]:
    """TrainingArguments fields for the device: CPU → fp32, no gradient checkpointing (GUIDE §4); CUDA → bf16
    autocast when the resolved dtype is bfloat16."""
    import torch

    where = placement(config)
    use_cpu = where.on_cpu
    if use_cpu and where.dtype != torch.float32:
        raise ConfigError(f"model.dtype {where.dtype_name} on the CPU: training there is float32 only (bf16 is "
                          "2.6× slower than fp32 on CPU); set model.dtype: auto or float32")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    kwargs: dict[str, Any] = {
        "use_cpu": use_cpu,
        "bf16": where.dtype == torch.bfloat16,
        "fp16": where.dtype == torch.float16,
        "report_to": report_to(config),
        "seed": config.seed,
        "data_seed": config.seed,
        "dataloader_num_workers": config.dataloader_num_workers,
        "save_strategy": "steps",
        "logging_first_step": True,
    }
    if distributed and use_cpu:
        kwargs["ddp_backend"] = "gloo"  # torchrun on CPU (GUIDE §4); NCCL on GPUs is the default
    if config.gradient_checkpointing:
        kwargs["activation_checkpointing"] = True
    return kwargs


def check_trl_args(config_cls: type, trl_args: dict[str, Any], where: str) -> None:
    """Raise ``ConfigError`` naming the key and the class for a ``trl_args`` key that is not a field of
    ``config_cls``."""
    import dataclasses
    import difflib

    known = {f.name for f in dataclasses.fields(config_cls)}
    for key in trl_args:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}.trl_args: {key!r} is not a field of trl.{config_cls.__name__}{hint}")


def trl_config(config_cls: type, settings: dict[str, Any], trl_args: dict[str, Any], where: str) -> Any:
    """``config_cls(**settings)`` with the recipe's ``trl_args`` passthrough applied last (it wins); a key that is
    not a field of ``config_cls`` raises ``ConfigError`` naming the key and the class."""
    check_trl_args(config_cls, trl_args, where)
    return config_cls(**{**settings, **trl_args})


def report_to(config: RunConfig) -> list[str] | str:
    """The configured integrations; none configured: TensorBoard (RUN/tb/) when it is installed."""
    if config.report_to:
        return list(config.report_to)
    import importlib.util

    return ["tensorboard"] if importlib.util.find_spec("tensorboard") is not None else "none"


def peft_config(lora: LoraSettings):
    if not lora.enabled:
        return None
    from clinrl.errors import require

    peft = require("peft", "train")
    targets: Any = lora.target_modules
    if targets == ["all-linear"]:
        targets = "all-linear"
    return peft.LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets,
                           task_type="CAUSAL_LM")


_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The highest-step ``checkpoint-N`` that has a complete trainer state (a kill mid-save leaves none)."""
    if not output_dir.is_dir():
        return None
    found = []
    for child in output_dir.iterdir():
        match = _CHECKPOINT.match(child.name)
        if match and (child / "trainer_state.json").is_file():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def finite_losses(log_history: list[dict[str, Any]]) -> bool:
    losses = [row["loss"] for row in log_history if "loss" in row]
    return bool(losses) and all(math.isfinite(float(v)) for v in losses)


def save_final(trainer: Any, tokenizer: Any, directory: Path, *, merge_lora: bool) -> None:
    """Save the stage's final model (LoRA merged into full weights, so the next stage loads plain weights)."""
    import json

    model = trainer.model
    model = getattr(model, "module", model)
    if merge_lora and hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    directory.mkdir(parents=True, exist_ok=True)
    model.config.use_cache = True
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    (directory / STAGE_DONE).write_text(json.dumps({"global_step": trainer.state.global_step}))


def stage_done(directory: Path) -> bool:
    return (directory / STAGE_DONE).is_file()


def train_stage(stage: str, trainer: Any, tokenizer: Any, output_dir: Path, *, resume: bool) -> StageResult:
    """Train (from the latest checkpoint on resume), save ``final/`` on process 0, time the steps."""
    import time

    from clinrl.training.callbacks import attach_run_callbacks

    final_dir = output_dir / "final"
    checkpoint = latest_checkpoint(output_dir) if resume else None
    attach_run_callbacks(trainer, stage, output_dir)
    started, cpu_started = time.perf_counter(), time.process_time()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if trainer.is_world_process_zero():
        save_final(trainer, tokenizer, final_dir, merge_lora=True)
        trainer.state.save_to_json(str(output_dir / "trainer_state.json"))  # the whole log, for the report
    trainer.accelerator.wait_for_everyone()
    steps_run = trainer.state.global_step - (int(checkpoint.name.split("-")[1]) if checkpoint else 0)
    return StageResult(stage, final_dir, trainer.state.global_step, list(trainer.state.log_history),
                       seconds=seconds, seconds_per_step=seconds / steps_run if steps_run else None,
                       cpu_seconds_per_step=cpu_seconds / steps_run if steps_run else None,
                       resumed_from=str(checkpoint) if checkpoint else None)


def finished_stage(stage: str, final_dir: Path) -> StageResult:
    """The result of a stage that an earlier (resumed) run already finished."""
    import json

    step = int(json.loads((final_dir / STAGE_DONE).read_text()).get("global_step", 0))
    return StageResult(stage, final_dir, step, skipped=True)
