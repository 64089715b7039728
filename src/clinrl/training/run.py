"""A training run: the run directory, SFT warm-up → GRPO → evaluation, resume, metrics and report.

Run directory layout (``clinrl report`` reads it)::

    RUN/config.yaml            resolved configuration
    RUN/run_info.json          seed, package versions, git revision, command, machine
    RUN/sft/  RUN/grpo/        TRL output dirs (trainer_state.json with log_history, checkpoint-N/, final/)
    RUN/heldout_eval.jsonl     one line per held-out evaluation {"stage", "step", "task", "accuracy", ...}
    RUN/eval/<stage>/eval_log.json   final evaluation per stage (base / sft / grpo / kept), per task
    RUN/validation_eval.jsonl, RUN/eval/validation/<stage>/   the same on the validation split, when the run
                               holds one back (``tasks[].validation_limit``): what ``eval_every`` and
                               ``keep: best`` read, so that no choice sees the held-out split
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
from clinrl.training.callbacks import (HELDOUT, VALIDATION, append_heldout, eval_dir, eval_records, evaluate_backend,
                                      read_heldout)
from clinrl.training.common import StageResult
from clinrl.training.config import ExtraEval, RunConfig, from_dict, to_dict
from clinrl.training.mixtures import Mixture, check_step_reward, load_mixture

CONFIG_FILE, INFO_FILE, METRICS_FILE, REPORT_FILE = "config.yaml", "run_info.json", "metrics.json", "report.md"


@dataclass
class RunResult:
    run_dir: Path
    stages: dict[str, StageResult] = field(default_factory=dict)
    evals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kept: str | None = None  # the model the run keeps (grpo.keep: last or best)
    #: per stage, the final evaluation on the validation split (runs with ``tasks[].validation_limit``)
    validation: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


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
    from clinrl.provenance import git_revision, package_versions

    info.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    from clinrl.training.common import placement

    info.update({"seed": config.seed, "packages": package_versions(), "git_revision": git_revision(),
                 "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]},
                 "placement": placement(config).describe()})
    info.setdefault("commands", []).append(list(command or sys.argv))
    info_path.write_text(json.dumps(info, indent=2))
    return config


def _heldout_pairs(mixture: Mixture, split: str = HELDOUT):
    return [(t.task, t.validation if split == VALIDATION else t.heldout) for t in mixture.tasks]


def choice_split(mixture: Mixture) -> str:
    """The split a run's choices read (evaluations inside a stage, ``keep: best``): validation when it holds one."""
    return VALIDATION if mixture.has_validation else HELDOUT


def stage_backend(model_spec: str, config: RunConfig, say: Any = None):
    """The generator for a stage evaluation: ``eval.backend`` on the run's device and dtype."""
    from clinrl.evaluation.backends import local_backend

    return local_backend(config.eval.backend, model_spec, device=config.model.device, dtype=config.model.dtype,
                         batch_size=config.eval.batch_size, say=say)


def evaluate_stage(stage: str, model_spec: str, mixture: Mixture, config: RunConfig, run_dir: Path,
                   step: int, split: str = HELDOUT, against_stage: str | None = None) -> list[dict[str, Any]]:
    """Greedy held-out evaluation of a stage's final model → RUN/eval/<stage>/ and heldout_eval.jsonl
    (``split="validation"``: on the validation split → RUN/eval/validation/<stage>/ and validation_eval.jsonl).
    ``against_stage``: each row carries its ``paired_gain`` over that stage's final evaluation on the same split."""
    pairs = [(task, samples) for task, samples in _heldout_pairs(mixture, split) if samples]
    done = [r for r in read_heldout(run_dir, split) if r["stage"] == stage and r.get("final")]
    if done and len(done) == len(pairs):
        return done
    against = _stage_records(run_dir, mixture, against_stage, split) if against_stage else None
    rows = evaluate_backend(stage_backend(model_spec, config), pairs, stage=stage, step=step,
                            max_new_tokens=config.eval.max_new_tokens, out_dir=eval_dir(run_dir, stage, split),
                            progress=True, split=split, against=against, against_stage=against_stage or "sft")
    for row in rows:
        row["final"] = True
    append_heldout(run_dir, rows, split)
    return rows


def extra_task(config: RunConfig, extra: ExtraEval):
    """The task of an extra evaluation: ``extra.task`` (default: the first trained task) with ``extra.options``,
    or, when those are unset, the options the model was trained with on that task, so its samples are asked the
    way the model was trained (e.g. MedCalc's prompt style)."""
    from clinrl.registry import get_task

    name = extra.task or config.tasks[0].name
    options = extra.options if extra.options is not None else \
        next((dict(t.options) for t in config.tasks if t.name == name), {})
    return get_task(name, **options)


def evaluate_extra(model_spec: str, config: RunConfig, run_dir: Path, stage: str,
                   extra: ExtraEval) -> list[dict[str, Any]]:
    """Accuracy on another source (``eval.extra``, e.g. real MedCalc-Bench rows), reported apart from the
    held-out split as stage ``<stage>-<name>``."""
    task = extra_task(config, extra)
    samples = task.load(extra.source, extra.split, limit=extra.limit)
    label = f"{stage}-{extra.name}"
    backend = stage_backend(model_spec, config)
    rows = evaluate_backend(backend, [(task, samples)], stage=label, step=0,
                            max_new_tokens=config.eval.max_new_tokens, out_dir=run_dir / "eval" / label,
                            progress=True)
    # prompts the backend refused because prompt + budget exceed the model's context (recorded as unscored)
    for row in rows:
        row.update(final=True, source=str(extra.source), n_prompts_over_context=backend.n_over_context,
                   context_length=int(backend.context_length() or 0))
    append_heldout(run_dir, rows)
    return rows


def active_extras(config: RunConfig) -> list[ExtraEval]:
    """The ``eval.extra`` evaluations to run (an entry without a source is skipped)."""
    return [e for e in config.eval.extra if e.source]


def _check_trl_args(config: RunConfig, stages: Sequence[str]) -> None:
    from clinrl.training.common import check_trl_args

    for name, settings in (("sft", config.sft), ("grpo", config.grpo)):
        if name in stages and settings.enabled and settings.trl_args:
            import trl

            check_trl_args(trl.SFTConfig if name == "sft" else trl.GRPOConfig, settings.trl_args, name)


def run_training(config: RunConfig, run_dir: Path, *, resume: bool = False, stages: Sequence[str] = ("sft", "grpo"),
                 command: Sequence[str] | None = None, mixture: Mixture | None = None,
                 say: Any = print, callbacks: dict[str, Sequence[Any]] | None = None) -> RunResult:
    """SFT warm-up → GRPO → evaluation, writing the run directory. ``stages`` picks which stages run;
    ``callbacks`` adds transformers ``TrainerCallback`` objects to a stage (``{"grpo": [...]}``)."""
    from clinrl.models import resolve_model
    from clinrl.training.grpo import run_grpo
    from clinrl.training.sft import run_sft

    run_dir = Path(run_dir)
    if not resume:  # a bad task, source or model fails here, before the run directory exists
        say(f"loading data for {', '.join(t.name for t in config.tasks)} …")
        mixture = mixture or load_mixture(config.tasks, seed=config.seed)
        resolve_model(config.model.spec)
        for extra in active_extras(config):  # an unknown task or option of an extra evaluation fails here too
            extra_task(config, extra)
        _check_trl_args(config, stages)  # a mistyped grpo.trl_args key fails now, not after the warm-up
        if "grpo" in stages and config.grpo.enabled:
            check_step_reward(mixture, config.grpo.step_reward)  # likewise a step reward no task can give
    config = prepare_run_dir(run_dir, config, resume=resume, command=command)
    started = time.perf_counter()
    result = RunResult(run_dir)
    kernels = (json.loads((run_dir / INFO_FILE).read_text()).get("placement") or {}).get("kernels")
    if kernels:
        from clinrl.device import unpinned_kernels_note

        if note := unpinned_kernels_note(kernels):  # Python code that ran torch before calling clinrl
            result.notes.append(note)
            say(f"note: {note}")
    if mixture is None:
        say(f"loading data for {', '.join(t.name for t in config.tasks)} …")
        mixture = load_mixture(config.tasks, seed=config.seed)
    result.notes.extend(mixture.notes)
    for t in mixture.tasks:
        pool = ("" if t.warmup is None else
                f" / {len(t.warmup)} warm-up samples from {t.settings.sft_source or 'the whole training split'}")
        say(f"  {t.name}: {len(t.train)} training / {len(t.heldout)} held-out samples{pool}")
    split = choice_split(mixture)  # what the evaluations inside a stage and keep: best read
    if split == VALIDATION:
        say(f"  validation: {', '.join(f'{len(t.validation)} {t.name}' for t in mixture.tasks)} samples held back "
            "from training; evaluations inside a stage and keep: best read them, not the held-out split")
    inside = _heldout_pairs(mixture, split)
    current = config.model.spec

    def evaluate(name: str, model: str, step: int) -> None:
        result.evals[name] = evaluate_stage(name, model, mixture, config, run_dir, step)
        if split == VALIDATION:  # GRPO's final model paired with its starting point, as its evaluations inside were
            start = starting_stage(result) if name == "grpo" else None
            result.validation[name] = evaluate_stage(name, model, mixture, config, run_dir, step, VALIDATION,
                                                     against_stage=start if start in result.validation else None)

    if "base" in config.eval.stages:
        say("evaluating the base model on the held-out split …")
        evaluate("base", current, 0)
    runners = (("sft", config.sft, run_sft, "SFT warm-up"), ("grpo", config.grpo, run_grpo, "GRPO"))
    for name, settings, runner, label in runners:
        if name not in stages or not settings.enabled:
            continue
        say(f"{label} …")
        start = starting_stage(result)
        chosen_on = result.validation if split == VALIDATION else result.evals
        extra = {"baseline": chosen_on.get(start, []),
                 "baseline_records": _stage_records(run_dir, mixture, start, split)} if name == "grpo" else {}
        stage = runner(config, mixture, current, run_dir, resume=resume, heldout=inside,
                       callbacks=tuple((callbacks or {}).get(name, ())), split=split, **extra)
        result.stages[name], current = stage, str(stage.model_dir)
        result.notes.extend(stage.notes)
        if name in config.eval.stages:
            evaluate(name, current, stage.global_step)
    for extra in active_extras(config):
        say(f"evaluating on {extra.name} rows from {extra.source} …")
        final_stage = list(result.stages)[-1] if result.stages else "base"
        rows = evaluate_extra(current, config, run_dir, final_stage, extra)
        result.evals[f"{final_stage}-{extra.name}"] = rows
        over = rows[0].get("n_prompts_over_context") if rows else 0
        if over:
            result.notes.append(f"{extra.name} rows: {over}/{rows[0]['n']} prompts do not fit the model's context "
                                f"({rows[0]['context_length']} tokens) with the generation budget of "
                                f"{config.eval.max_new_tokens}; they are recorded as unscored, not as wrong")
    result.metrics = summarise(result, config, time.perf_counter() - started)
    result.metrics.update(assess_run(result, mixture, config, run_dir, say=say))
    score_kept(result, mixture, config, run_dir, say=say)
    (run_dir / METRICS_FILE).write_text(json.dumps(result.metrics, indent=2, default=str))
    from clinrl.training.report import write_report

    write_report(run_dir, config, result)
    return result


def starting_stage(result: RunResult) -> str:
    """The evaluation GRPO is compared with: the warm-up's (``sft``), or, when this run trained no warm-up (GRPO from
    a model given to it, e.g. ``clinrl train grpo --model RUN/sft/final``), the base model's: GRPO's starting point."""
    return "sft" if "sft" in result.stages else "base"


def _stage_records(run_dir: Path, mixture: Mixture, stage: str,
                   split: str = HELDOUT) -> dict[str, list[dict[str, Any]]]:
    """A stage's final held-out (or validation) records by task (GRPO's evaluations are paired with them); {}
    without any."""
    found = {data.name: eval_records(run_dir, stage, data.name, len(mixture.tasks), split)
             for data in mixture.tasks}
    return {name: records for name, records in found.items() if records}


def assess_run(result: RunResult, mixture: Mixture, config: RunConfig, run_dir: Path, *,
               say: Any = print) -> dict[str, Any]:
    """Paired gain of GRPO over the warm-up (or over the base model, when this run trained no warm-up:
    :func:`starting_stage`), the reader-free baseline, training-health warnings and the kept model (metrics.json keys
    ``paired_gain`` / ``paired_gains``, ``answer_prior``, ``health``, ``kept_checkpoint``); each warning is also
    said."""
    from clinrl.training.health import (
        Candidate, answer_prior, below_prior, choose_kept, constant_answers, heldout_drop, mean_headline,
        read_best, reward_collapse,
    )

    out: dict[str, Any] = {}
    warnings = []
    n_tasks = len(mixture.tasks)
    gains = []
    start = starting_stage(result)
    if start in result.evals and "grpo" in result.evals:
        gains = stage_gains(run_dir, mixture, config, start, "grpo")
        warnings.extend(w for gain in gains if (w := heldout_drop(gain)) is not None)
    if gains:
        out["paired_gain"], out["paired_gains"] = gains[0], gains
    grpo = result.stages.get("grpo")
    if grpo is not None:
        warnings.extend(grpo.warnings)
        if (warning := reward_collapse(grpo.log_history)) is not None:
            warnings.append(warning)
    for stage in ("sft", "grpo"):
        if stage not in result.evals:
            continue
        for data in mixture.tasks:
            records = eval_records(run_dir, stage, data.name, n_tasks)
            if records and (warning := constant_answers(data.task, records, stage)) is not None:
                warnings.append(warning)
    priors = [p for data in mixture.tasks if (p := answer_prior(data.task, data.train, data.heldout)) is not None]
    if priors:
        out["answer_prior"] = priors
    for prior in priors:  # a trained model that does no better than guessing the label prior
        for stage in ("sft", "grpo"):
            row = next((r for r in result.evals.get(stage, []) if r.get("task") == prior["task"]), None)
            if row is not None and (warning := below_prior(row, prior, stage)) is not None:
                warnings.append(warning)
    for warning in warnings:
        say(f"warning: {warning.message}")
    out["health"] = [w.to_dict() for w in warnings]
    candidates = []
    split = choice_split(mixture)
    scored = result.validation if split == VALIDATION else result.evals  # what keep: best chooses on
    if start == "base" and "base" in scored and "grpo" in result.stages:  # GRPO's starting model, as given
        candidates.append(Candidate("base", 0, str(config.model.spec), mean_headline(scored["base"])))
    for stage in ("sft", "grpo"):
        if stage in result.stages and stage in scored:
            candidates.append(Candidate(stage, result.stages[stage].global_step, str(result.stages[stage].model_dir),
                                        mean_headline(scored[stage])))
            if stage == "grpo" and (best := read_best(run_dir / "grpo" / "best")) is not None:
                candidates.insert(-1, Candidate("grpo", int(best["step"]), str(run_dir / "grpo" / "best"),
                                                best["metric"]))
    if candidates:
        kept = choose_kept(config.grpo.keep, candidates)
        out["kept_checkpoint"] = {"stage": kept.stage, "step": kept.step, "path": kept.path,
                                  "policy": config.grpo.keep, "metric": kept.metric, "chosen_on": split}
        final_model = kept.stage == "base" or kept.path == str(result.stages[kept.stage].model_dir)
        if split == VALIDATION and kept.stage in result.evals and final_model:  # already scored on held-out
            out["kept_checkpoint"]["heldout"] = mean_headline(result.evals[kept.stage])
        result.kept = kept.path
    return out


def score_kept(result: RunResult, mixture: Mixture, config: RunConfig, run_dir: Path, *, say: Any = print) -> None:
    """When ``keep: best`` chose on the validation split an intermediate GRPO checkpoint (``RUN/grpo/best``), score
    it on the held-out split (stage ``kept``) with its paired gain over GRPO's starting point: the kept model's
    held-out number, from a choice that never saw that split. (Chosen on the held-out split itself, the kept model
    was already scored there, optimistically, and is not scored again.)"""
    from clinrl.training.health import gain_text, mean_headline

    kept = result.metrics.get("kept_checkpoint")
    if not kept or kept.get("chosen_on") != VALIDATION or "heldout" in kept:
        return
    step = int(kept["step"])
    say(f"scoring the kept model (GRPO step {step}) on the held-out split …")
    result.evals["kept"] = evaluate_stage("kept", str(kept["path"]), mixture, config, run_dir, step)
    kept["heldout"] = mean_headline(result.evals["kept"])
    start = starting_stage(result)
    kept["paired_gains"] = stage_gains(run_dir, mixture, config, start, "kept")
    for gain in kept["paired_gains"]:
        say(gain_text(gain, from_stage=start, to_stage="kept"))
    result.metrics["heldout"]["kept"] = _heldout_summary(result.evals["kept"])


def stage_gains(run_dir: Path, mixture: Mixture, config: RunConfig, from_stage: str,
                to_stage: str) -> list[dict[str, Any]]:
    """Per task, the held-out paired gain of ``to_stage``'s final evaluation over ``from_stage``'s (tasks where
    either evaluation is missing are left out)."""
    from clinrl.training.health import paired_gain

    gains = []
    for data in mixture.tasks:
        a = eval_records(run_dir, from_stage, data.name, len(mixture.tasks))
        b = eval_records(run_dir, to_stage, data.name, len(mixture.tasks))
        if a is not None and b is not None:
            gains.append({"task": data.name, "from_stage": from_stage, "to_stage": to_stage,
                          **paired_gain(data.task, data.heldout, a, b, seed=config.seed)})
    return gains


def _heldout_summary(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """metrics.json's numbers of one evaluation, by task."""
    return {r["task"]: {k: r.get(k) for k in ("accuracy", "accuracy_ci", "format_valid", "n", "n_unscored", "source")}
            for r in rows}


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
    heldout = {stage: _heldout_summary(rows) for stage, rows in result.evals.items()}
    out = {"name": config.name, "seed": config.seed, "model": config.model.spec, "seconds": round(seconds, 1),
           "stages": stages, "heldout": heldout, "notes": result.notes}
    if result.validation:
        out["validation"] = {stage: _heldout_summary(rows) for stage, rows in result.validation.items()}
    return out
