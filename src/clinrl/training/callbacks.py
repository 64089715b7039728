"""Held-out evaluation during training.

A GRPO reward can rise while task accuracy falls (reward hacking, format-only gains, collapse).
:class:`HeldoutEvalCallback` measures accuracy and format rate per task on held-out samples every N
steps, greedily and independently of the training reward, through the evaluation harness
(:func:`clinrl.evaluation.harness.run_eval`). Each result goes

* into the trainer's ``log_history`` (so ``trainer_state.json`` has it next to the rewards), as
  ``heldout/<task>/accuracy`` and ``heldout/<task>/format_valid``, and to the console;
* as one line of ``RUN/heldout_eval.jsonl``: ``{"stage", "step", "task", "accuracy", "format_valid",
  "accuracy_ci", "n", "n_unscored", "seconds", "cpu_seconds"}`` (the evaluation's wall-clock and process CPU
  time: an evaluation inside a stage counts in its step times, and a comparison at equal compute subtracts it).

:func:`attach_run_callbacks` adds what every stage gets: TensorBoard logs in ``RUN/tb/<stage>``, the GRPO
within-group reward spread (:class:`GroupRewardStatsCallback`) and, while a
:class:`~clinrl.run_console.RunConsole` owns the terminal, the live stage display in place of the
library's progress bar and printed log dicts (:class:`StageDisplayCallback`).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

from transformers import TrainerCallback

from clinrl.errors import DataError
from clinrl.metrics import Proportion
from clinrl.tasks.base import Task
from clinrl.types import Sample

HELDOUT_LOG = "heldout_eval.jsonl"
#: evaluations on the validation split (``tasks[].validation_limit``): the ones a run chooses on
VALIDATION_LOG = "validation_eval.jsonl"
HELDOUT, VALIDATION = "held-out", "validation"


def eval_log_name(split: str) -> str:
    """The run directory's log of one split's evaluations."""
    if split not in (HELDOUT, VALIDATION):
        raise ValueError(f"split must be {HELDOUT!r} or {VALIDATION!r}, got {split!r}")
    return VALIDATION_LOG if split == VALIDATION else HELDOUT_LOG


def _value(metric: Any) -> float | None:
    """A metric's number: a :class:`~clinrl.metrics.Proportion`'s value, or the metric itself (NaN → None)."""
    p = Proportion.read(metric)
    value = p.value if p is not None else metric
    if isinstance(value, (int, float)) and value == value:  # NaN (no scored samples) → None
        return float(value)
    return None


def _interval(metric: Any) -> list[float] | None:
    p = Proportion.read(metric)
    if p is not None and p.ci_low is not None and p.ci_high is not None:
        return [p.ci_low, p.ci_high]
    return None


def evaluate_heldout(model: Any, tokenizer: Any, heldout: Sequence[tuple[Task, Sequence[Sample]]], *,
                     stage: str, step: int, max_new_tokens: int, batch_size: int | str = "auto",
                     out_dir: Path | None = None, progress: bool = False,
                     against: Mapping[str, Sequence[dict[str, Any]]] | None = None,
                     against_stage: str = "sft", split: str = HELDOUT) -> list[dict[str, Any]]:
    """Greedy held-out accuracy and format rate per task of a model being trained; one row per task.

    The model stays where the trainer put it; its mode, cache setting, the tokenizer's padding side
    and the torch RNG are restored afterwards, so evaluation does not perturb training. ``against`` (see
    :func:`evaluate_backend`) pairs each task's samples with an earlier evaluation's records.
    """
    import torch

    from clinrl.evaluation.backends import HFBackend

    was_training = model.training
    padding_side = tokenizer.padding_side  # generation pads left; the trainer's collator may not
    use_cache = getattr(model.config, "use_cache", True)
    rng_state = torch.random.get_rng_state()  # evaluation must not shift the training RNG stream
    model.config.use_cache = True
    try:
        return evaluate_backend(HFBackend(model, tokenizer, batch_size=batch_size), heldout, stage=stage, step=step,
                                max_new_tokens=max_new_tokens, out_dir=out_dir, progress=progress, against=against,
                                against_stage=against_stage, split=split)
    finally:
        tokenizer.padding_side = padding_side
        torch.random.set_rng_state(rng_state)
        model.config.use_cache = use_cache
        model.train(was_training)


def evaluate_backend(backend: Any, heldout: Sequence[tuple[Task, Sequence[Sample]]], *, stage: str, step: int,
                     max_new_tokens: int, out_dir: Path | None = None, progress: bool = False,
                     against: Mapping[str, Sequence[dict[str, Any]]] | None = None,
                     against_stage: str = "sft", split: str = HELDOUT) -> list[dict[str, Any]]:
    """Greedy held-out accuracy and format rate per task with any generation backend; one row per task.

    ``against`` maps a task name to an earlier evaluation's records on the same samples (the final
    ``eval_log.json`` of stage ``against_stage``, the warm-up's): that task's row then carries ``paired_gain``,
    this evaluation's headline metric minus the earlier one's with a paired bootstrap 95% interval
    (:func:`clinrl.training.health.paired_gain`). ``split`` names the samples: ``held-out``, or ``validation``
    (rows then carry ``"split": "validation"``)."""
    from clinrl.evaluation.harness import run_eval
    from clinrl.run_console import active

    eval_log_name(split)
    console = active()
    if console is not None:
        console.status(f"{split} evaluation at step {step} …")
    rows = []
    for task, samples in heldout:
        if not samples:
            continue
        started, cpu_started = time.perf_counter(), time.process_time()
        task_dir = out_dir / task.name if out_dir is not None and len(heldout) > 1 else out_dir
        result = run_eval(task, list(samples), backend, max_new_tokens=max_new_tokens, out_dir=task_dir,
                          progress=progress, resume=False, extra_spec={"stage": stage, "step": step})
        metrics = result.metrics
        rows.append({
            "stage": stage, "step": int(step), "task": task.name,
            "accuracy": _value(metrics.get("accuracy")), "accuracy_ci": _interval(metrics.get("accuracy")),
            "format_valid": _value(metrics.get("format_valid")),
            "n": metrics.get("n", len(samples)), "n_unscored": metrics.get("n_unscored", 0),
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(time.process_time() - cpu_started, 2),
        })
        if task.headline is not None:  # e.g. EHR's balanced accuracy: accuracy alone rewards the majority class
            rows[-1]["headline"] = {"name": task.headline[0], "value": task.headline_value(metrics)}
        if against and against.get(task.name):
            from clinrl.training.health import gain_fields, paired_gain

            gain = paired_gain(task, samples, against[task.name], result.records)
            rows[-1]["paired_gain"] = {"from_stage": against_stage, **gain_fields(gain)}
        if split == VALIDATION:
            rows[-1]["split"] = VALIDATION
    if console is not None:  # an evaluation that writes an eval directory is a stage's final one
        console.heldout(rows, stage=stage, step=step, final=out_dir is not None, split=split)
    return rows


def headline_text(row: dict[str, Any]) -> str:
    """``"balanced accuracy 0.500"`` for a held-out row with a task headline (``"-"`` when undefined)."""
    headline = row.get("headline") or {}
    value = headline.get("value")
    return f"{headline.get('name', '')} {'-' if value is None else f'{value:.3f}'}".strip()


def append_heldout(run_dir: Path, rows: Sequence[dict[str, Any]], split: str = HELDOUT) -> None:
    """Append rows to the held-out (or validation) log. A last line a crash cut short is removed first (with a
    warning), so the new rows start on a line of their own and the log stays readable."""
    from clinrl.data.tables import write_jsonl

    path = Path(run_dir) / eval_log_name(split)
    text = path.read_text() if path.is_file() else ""
    if text and not text.endswith("\n"):
        kept = text[:text.rfind("\n") + 1]
        warnings.warn(f"{path}: its last line was cut short (a run stopped while writing it) and is removed: "
                      f"{text[len(kept):][:80]!r}", stacklevel=2)
        path.write_text(kept)
    write_jsonl(path, rows, append=True)


def read_heldout(run_dir: Path, split: str = HELDOUT) -> list[dict[str, Any]]:
    """The held-out (or validation) log, one row per (stage, step, task); a step re-run after a resume keeps its
    last row."""
    path = Path(run_dir) / eval_log_name(split)
    if not path.exists():
        return []
    rows: dict[tuple[str, int, str], dict[str, Any]] = {}
    text = path.read_text()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key = (row["stage"], int(row["step"]), row["task"])
        except (ValueError, KeyError, TypeError) as exc:
            if i == len(lines) - 1 and not text.endswith("\n"):  # a row cut short by a crash while appending
                warnings.warn(f"{path}: line {i + 1} was cut short (a run stopped while writing it) and is left "
                              "out", stacklevel=2)
                break
            raise DataError(f"not a row of the evaluation log ({exc}); remove or fix it", source=str(path),
                            row=i + 1) from exc
        rows[key] = row
    return list(rows.values())


def eval_dir(run_dir: Path, stage: str, split: str = HELDOUT) -> Path:
    """Where a stage's final evaluation is written: RUN/eval/<stage>/ (validation: RUN/eval/validation/<stage>/)."""
    return Path(run_dir) / "eval" / ("validation" if split == VALIDATION else "") / stage


def eval_records(run_dir: Path, stage: str, task: str, n_tasks: int,
                 split: str = HELDOUT) -> list[dict[str, Any]] | None:
    """The records of a stage's final evaluation of ``task`` (RUN/eval/<stage>/[<task>/]eval_log.json); None when
    there is none."""
    from clinrl.evaluation.harness import LOG_NAME

    directory = eval_dir(run_dir, stage, split)
    path = (directory / task if n_tasks > 1 else directory) / LOG_NAME
    return json.loads(path.read_text())["records"] if path.is_file() else None


class HeldoutEvalCallback(TrainerCallback):
    """Evaluate on held-out samples every ``every`` steps and at the end of training (world process 0).

    ``split="validation"``: the samples are the run's validation split (``tasks[].validation_limit``), logged to
    ``RUN/validation_eval.jsonl`` and to ``validation/<task>/...`` in the trainer's log history."""

    def __init__(self, tokenizer: Any, heldout: Sequence[tuple[Task, Sequence[Sample]]], *, run_dir: Path,
                 stage: str, every: int = 0, max_new_tokens: int = 128, batch_size: int | str = "auto",
                 at_end: bool = True, baseline: Sequence[dict[str, Any]] = (), best_dir: Path | None = None,
                 baseline_records: Mapping[str, Sequence[dict[str, Any]]] | None = None, split: str = HELDOUT):
        eval_log_name(split)
        self.split = split
        self.tokenizer = tokenizer
        self.heldout = heldout
        self.run_dir = Path(run_dir)
        self.stage = stage
        self.every = every
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.at_end = at_end
        self.history: list[dict[str, Any]] = []
        self._done_steps: set[int] = set()
        #: the warm-up's final held-out rows: an evaluation below them is reported as it happens
        self.baseline = {row["task"]: row for row in baseline}
        #: the warm-up's per-sample records by task: each evaluation is paired with them (``paired_gain``)
        self.baseline_records = dict(baseline_records or {})
        self.baseline_stage = next((str(row.get("stage")) for row in baseline), "sft")
        self.warnings: list[Any] = []
        #: with ``keep: best``, the best model so far is saved here (see :mod:`clinrl.training.health`)
        self.best_dir = Path(best_dir) if best_dir is not None else None
        self.best: tuple[float, int] | None = None
        if self.best_dir is not None:  # a resumed run keeps the best model saved before the interruption
            from clinrl.training.health import read_best

            saved = read_best(self.best_dir)
            self.best = (float(saved["metric"]), int(saved["step"])) if saved else None

    def _run(self, state: Any, model: Any) -> None:
        if not state.is_world_process_zero or state.global_step in self._done_steps:
            return
        self._done_steps.add(state.global_step)
        model = getattr(model, "module", model)  # DDP wraps the model
        rows = evaluate_heldout(model, self.tokenizer, self.heldout, stage=self.stage, step=state.global_step,
                                max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                                against=self.baseline_records, against_stage=self.baseline_stage, split=self.split)
        append_heldout(self.run_dir, rows, self.split)
        self.history.extend(rows)
        entry: dict[str, Any] = {"step": state.global_step, "epoch": state.epoch}
        prefix = "validation" if self.split == VALIDATION else "heldout"
        for row in rows:
            entry[f"{prefix}/{row['task']}/accuracy"] = row["accuracy"]
            entry[f"{prefix}/{row['task']}/format_valid"] = row["format_valid"]
            if row.get("headline"):
                entry[f"{prefix}/{row['task']}/{row['headline']['name'].replace(' ', '_')}"] = row["headline"]["value"]
        state.log_history.append(entry)
        from clinrl.run_console import active, gain_short

        parts = [f"{r['task']} acc {r['accuracy'] if r['accuracy'] is not None else float('nan'):.3f} "
                 f"format {r['format_valid'] if r['format_valid'] is not None else float('nan'):.3f}"
                 + (f" {headline_text(r)}" if r.get("headline") else "")
                 + (f" {gain_short(r['paired_gain'])}" if r.get("paired_gain") else "") for r in rows]
        if active() is None:  # a run console has already shown the result in its stage display
            print(f"[{self.split} {self.stage} step {state.global_step}] " + "; ".join(parts), flush=True)
        self._check(rows, state.global_step, model)

    def _check(self, rows: list[dict[str, Any]], step: int, model: Any) -> None:
        from clinrl.run_console import active
        from clinrl.training.health import intermediate_drop, mean_headline, save_best

        for row in rows:
            warning = intermediate_drop(row, self.baseline[row["task"]]) if row["task"] in self.baseline else None
            if warning is not None:
                self.warnings.append(warning)
                console = active()
                if console is not None:
                    console.warn_once(warning.message)
                else:
                    print(f"warning: {warning.message}", flush=True)
        value = mean_headline(rows)
        if self.best_dir is not None and value is not None and (self.best is None or value > self.best[0]):
            self.best = (value, step)
            save_best(model, self.tokenizer, self.best_dir, step=step, metric=value)

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any):
        if self.every and state.global_step % self.every == 0 and state.global_step < state.max_steps:
            self._run(state, model)
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any):
        if self.at_end:
            self._run(state, model)
        return control


def within_group_reward_std(trainer: Any) -> float | None:
    """Mean over prompt groups of the standard deviation of the total reward in the last generation batch.

    TRL logs ``reward_std`` over the whole batch, which stays high when every group is internally tied
    (one group all right, the next all wrong) although such groups carry no advantage. This reads the
    trainer's record of the last batch (``_logs``; groups are consecutive, as TRL's own grouping assumes) and
    returns None when the trainer has no such record.
    """
    logs = getattr(trainer, "_logs", None)
    size = getattr(trainer, "num_generations", None)
    names = list(getattr(trainer, "reward_func_names", []) or [])
    if not isinstance(logs, dict) or not isinstance(size, int) or size < 2 or not names:
        return None
    per_func = logs.get("rewards") or {}
    columns = [list(per_func.get(name, ())) for name in names]
    n = len(columns[0])
    if n == 0 or n % size or any(len(c) != n for c in columns):
        return None
    weights = getattr(trainer, "reward_weights", None)
    weights = [float(w) for w in weights.tolist()] if hasattr(weights, "tolist") else [1.0] * len(names)
    totals = []
    for i in range(n):
        values = [w * float(c[i]) for w, c in zip(weights, columns) if c[i] is not None and c[i] == c[i]]
        totals.append(sum(values) if values else None)
    spreads = []
    for start in range(0, n, size):
        group = [v for v in totals[start:start + size] if v is not None]
        if len(group) >= 2:
            mean = sum(group) / len(group)
            spreads.append((sum((v - mean) ** 2 for v in group) / (len(group) - 1)) ** 0.5)
    return sum(spreads) / len(spreads) if spreads else None


class GroupRewardStatsCallback(TrainerCallback):
    """Adds ``reward_std_within_group`` (mean over the logged steps) to each GRPO log entry."""

    def __init__(self, trainer: Any):
        self.trainer = trainer
        self.values: list[float] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any):
        value = within_group_reward_std(self.trainer)
        if value is not None:
            self.values.append(value)
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any):
        if logs is None or "reward" not in logs or not self.values:
            return control
        value = sum(self.values) / len(self.values)
        self.values = []
        logs["reward_std_within_group"] = value  # later callbacks (TensorBoard, the display) see it
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1]["reward_std_within_group"] = value  # → trainer_state.json, the report
        return control


class StageDisplayCallback(TrainerCallback):
    """Feeds a run console's stage display; every trainer log dict goes to train.log as JSON."""

    def __init__(self, console: Any, stage: str):
        self.console = console
        self.stage = stage
        self.view: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any):
        self.view = self.console.stage_started(self.stage, state.max_steps, state.global_step)
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any):
        if self.view is not None:
            self.view.advance(state.global_step)
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any):
        logs = dict(logs or {})
        self.console.log("trainer", json.dumps({"stage": self.stage, "step": state.global_step, **logs},
                                               default=str))
        if self.view is not None:
            self.view.update(state.global_step, logs)
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any):
        if self.view is not None:
            self.view.advance(state.global_step)
        self.console.stage_finished()
        self.view = None
        return control


def attach_run_callbacks(trainer: Any, stage: str, output_dir: Path) -> None:
    """TensorBoard into ``RUN/tb/<stage>``, the within-group reward spread, and the live display."""
    from clinrl.run_console import active

    handler = trainer.callback_handler
    for callback in handler.callbacks:
        if type(callback).__name__ == "TensorBoardCallback" and getattr(callback, "logging_dir", "") is None:
            callback.logging_dir = str(Path(output_dir).parent / "tb" / stage)  # TENSORBOARD_LOGGING_DIR wins
    if hasattr(trainer, "_logs") and hasattr(trainer, "num_generations"):
        handler.callbacks.insert(0, GroupRewardStatsCallback(trainer))  # before the loggers that read its key
    console = active()
    if console is not None:
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(StageDisplayCallback(console, stage))
