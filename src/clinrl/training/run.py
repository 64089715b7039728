"""A training run: the run directory, SFT warm-up → GRPO → evaluation, resume, metrics and report.

Run directory layout (``clinrl report`` reads it)::

    RUN/config.yaml            resolved configuration
    RUN/run_info.json          seed, package versions, git revision, command, machine
    RUN/sft/  RUN/grpo/        TRL output dirs (trainer_state.json with log_history, checkpoint-N/, final/)
    RUN/heldout_eval.jsonl     one line per held-out evaluation {"stage", "step", "task", "accuracy", ...}
    RUN/eval/<stage>/eval_log.json   final evaluation per stage (base / sft / grpo), per task
    RUN/metrics.json           summary: per stage and task accuracy / format rate, timings
    RUN/report.md              the human-readable summary

``--resume`` re-reads ``RUN/config.yaml``, skips finished stages (their ``final/`` holds a done
marker), continues an interrupted stage from its latest checkpoint, and re-uses finished evaluations.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from clinrl.errors import ConfigError
from clinrl.training.callbacks import append_heldout, evaluate_heldout, read_heldout
from clinrl.training.common import StageResult
from clinrl.training.config import RunConfig, from_dict, to_dict
from clinrl.training.mixtures import Mixture, load_mixture

CONFIG_FILE, INFO_FILE, METRICS_FILE, REPORT_FILE = "config.yaml", "run_info.json", "metrics.json", "report.md"


@dataclass
class RunResult:
    run_dir: Path
    stages: dict[str, StageResult] = field(default_factory=dict)
    evals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def prepare_run_dir(run_dir: Path, config: RunConfig, *, resume: bool, command: Sequence[str] | None) -> RunConfig:
    """Create the run directory (or re-open it on resume) and write config.yaml and run_info.json."""
    import yaml

    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_FILE
    if resume:
        if not config_path.is_file():
            raise ConfigError(f"--resume: {run_dir} has no {CONFIG_FILE}; start a new run without --resume")
        config = from_dict(RunConfig, yaml.safe_load(config_path.read_text()))
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"run directory {run_dir} already exists and is not empty; pass --resume to continue "
                          "it, or choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        config_path.write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    info_path = run_dir / INFO_FILE
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    from clinrl.evaluation.harness import git_revision, package_versions

    info.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    info.update({"seed": config.seed, "packages": package_versions(), "git_revision": git_revision(),
                 "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]}})
    info.setdefault("commands", []).append(list(command or sys.argv))
    info_path.write_text(json.dumps(info, indent=2))
    return config


def _heldout_pairs(mixture: Mixture):
    return [(t.task, t.heldout) for t in mixture.tasks]


def evaluate_stage(stage: str, model_spec: str, mixture: Mixture, config: RunConfig, run_dir: Path,
                   step: int) -> list[dict[str, Any]]:
    """Greedy held-out evaluation of a stage's final model → RUN/eval/<stage>/ and heldout_eval.jsonl."""
    from clinrl.models import load_model_and_tokenizer

    done = [r for r in read_heldout(run_dir) if r["stage"] == stage and r.get("final")]
    if done and len(done) == len(mixture.tasks):
        return done
    model, tokenizer = load_model_and_tokenizer(model_spec, dtype=config.model.dtype)
    rows = evaluate_heldout(model, tokenizer, _heldout_pairs(mixture), stage=stage, step=step,
                            max_new_tokens=config.eval.max_new_tokens, batch_size=config.eval.batch_size,
                            out_dir=run_dir / "eval" / stage, progress=True)
    for row in rows:
        row["final"] = True
    append_heldout(run_dir, rows)
    return rows


def evaluate_real(model_spec: str, config: RunConfig, run_dir: Path, stage: str) -> list[dict[str, Any]]:
    """Held-out accuracy on real MedCalc-Bench rows (reported apart from the synthetic split)."""
    from clinrl.models import load_model_and_tokenizer
    from clinrl.registry import get_task

    task = get_task("medcalc")
    samples = task.load(config.eval.real_source, "test", limit=config.eval.real_limit)
    model, tokenizer = load_model_and_tokenizer(model_spec, dtype=config.model.dtype)
    rows = evaluate_heldout(model, tokenizer, [(task, samples)], stage=f"{stage}-real", step=0,
                            max_new_tokens=config.eval.max_new_tokens, batch_size=config.eval.batch_size,
                            out_dir=run_dir / "eval" / f"{stage}-real", progress=True)
    from clinrl.prompting import render_prompt

    context = int(getattr(model.config, "max_position_embeddings", 0) or 0)
    budget = config.eval.max_new_tokens  # the HF backend's rule: prompt + budget must fit the trained positions
    over = sum(1 for s in samples
               if context and len(tokenizer(render_prompt(tokenizer, s))["input_ids"]) + budget > context)
    for row in rows:
        row.update(final=True, source=str(config.eval.real_source), n_prompts_over_context=over,
                   context_length=context)
    append_heldout(run_dir, rows)
    return rows


def run_training(config: RunConfig, run_dir: Path, *, resume: bool = False, stages: Sequence[str] = ("sft", "grpo"),
                 command: Sequence[str] | None = None, mixture: Mixture | None = None,
                 say: Any = print) -> RunResult:
    """SFT warm-up → GRPO → evaluation, writing the run directory. ``stages`` picks which stages run."""
    from clinrl.models import resolve_model
    from clinrl.training.grpo import run_grpo
    from clinrl.training.sft import run_sft

    run_dir = Path(run_dir)
    if not resume:  # a bad task, source or model fails here, before the run directory exists
        say(f"loading data for {', '.join(t.name for t in config.tasks)} …")
        mixture = mixture or load_mixture(config.tasks, seed=config.seed)
        resolve_model(config.model.spec)
    config = prepare_run_dir(run_dir, config, resume=resume, command=command)
    started = time.perf_counter()
    result = RunResult(run_dir)
    if mixture is None:
        say(f"loading data for {', '.join(t.name for t in config.tasks)} …")
        mixture = load_mixture(config.tasks, seed=config.seed)
    result.notes.extend(mixture.notes)
    for t in mixture.tasks:
        say(f"  {t.name}: {len(t.train)} training / {len(t.heldout)} held-out samples")
    heldout = _heldout_pairs(mixture)
    current = config.model.spec
    if "base" in config.eval.stages:
        say("evaluating the base model on the held-out split …")
        result.evals["base"] = evaluate_stage("base", current, mixture, config, run_dir, 0)
    runners = (("sft", config.sft, run_sft, "SFT warm-up"), ("grpo", config.grpo, run_grpo, "GRPO"))
    for name, settings, runner, label in runners:
        if name not in stages or not settings.enabled:
            continue
        say(f"{label} …")
        stage = runner(config, mixture, current, run_dir, resume=resume, heldout=heldout)
        result.stages[name], current = stage, str(stage.model_dir)
        result.notes.extend(stage.notes)
        if name in config.eval.stages:
            result.evals[name] = evaluate_stage(name, current, mixture, config, run_dir, stage.global_step)
    if config.eval.real_source:
        say(f"evaluating on real rows from {config.eval.real_source} …")
        final_stage = list(result.stages)[-1] if result.stages else "base"
        real = evaluate_real(current, config, run_dir, final_stage)
        result.evals[f"{final_stage}-real"] = real
        over = real[0].get("n_prompts_over_context") if real else 0
        if over:
            result.notes.append(f"real rows: {over}/{real[0]['n']} prompts do not fit the model's context "
                                f"({real[0]['context_length']} tokens) with the generation budget of "
                                f"{config.eval.max_new_tokens}; they are recorded as unscored, not as wrong")
    result.metrics = summarise(result, config, time.perf_counter() - started)
    (run_dir / METRICS_FILE).write_text(json.dumps(result.metrics, indent=2, default=str))
    from clinrl.training.report import write_report

    write_report(run_dir, config, result)
    return result


def summarise(result: RunResult, config: RunConfig, seconds: float) -> dict[str, Any]:
    stages = {}
    for name, stage in result.stages.items():
        losses = [row["loss"] for row in stage.log_history if "loss" in row]
        rewards = [row["reward"] for row in stage.log_history if "reward" in row]
        stages[name] = {"global_step": stage.global_step, "seconds": round(stage.seconds, 1),
                        "seconds_per_step": stage.seconds_per_step, "resumed_from": stage.resumed_from,
                        "skipped_finished": stage.skipped, "first_loss": losses[0] if losses else None,
                        "last_loss": losses[-1] if losses else None,
                        "first_reward": rewards[0] if rewards else None, "last_reward": rewards[-1] if rewards else None}
    heldout = {stage: {r["task"]: {k: r.get(k) for k in ("accuracy", "accuracy_ci", "format_valid", "n",
                                                          "n_unscored", "source")}
                       for r in rows} for stage, rows in result.evals.items()}
    return {"name": config.name, "seed": config.seed, "model": config.model.spec, "seconds": round(seconds, 1),
            "stages": stages, "heldout": heldout, "notes": result.notes}
