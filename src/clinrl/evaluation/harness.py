"""``run_eval``: generate, score, aggregate and log one evaluation; resume an interrupted one.

The eval log (``OUT/eval_log.json``, format version :data:`LOG_VERSION`) is one JSON object:

* ``spec`` — task (+ version, contract), backend and model, decoding (n, temperature, top-p,
  max new tokens), seed, the evaluated sample ids, package versions, git revision, command, time;
* ``status`` — ``"partial"`` while running (rewritten after every chunk), ``"complete"`` at the end;
* ``metrics`` — the task's own metrics on the first completion per sample (Wilson intervals) plus
  :func:`clinrl.evaluation.metrics.summarize` (bootstrap intervals, pass@k, Reliable pass@k,
  format-valid / truncation rates, mean completion length, unscored counts);
* ``records`` — one per sample: id, category, groups, the rendered prompt, pre-fill, target and its
  completions (text, tokens, truncation, error, extracted answer, correct, reward, explanation).

Running again with the same ``out_dir`` and the same spec keeps the finished records and generates only
the rest; a different spec raises (never mixes two evaluations in one log). The spec's identity covers the
task, backend, model, decoding and seed, and the data: source, split, limit and stratification; every record
also carries a digest of its sample's prompt, pre-fill and target, so a record is reused only for the very
same sample (ids alone collide across files and seeds). A record whose generation failed (an endpoint
outage) is not finished work: it is generated again unless ``retry_failed=False``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from clinrl.errors import ConfigError, DataError
from clinrl.evaluation.backends import Backend, Generation
from clinrl.evaluation.metrics import summarize
from clinrl.provenance import git_revision, jsonable, package_versions
from clinrl.tasks.base import Task
from clinrl.types import Sample, Score

LOG_VERSION = 1
LOG_NAME = "eval_log.json"
#: spec fields that must match for a log to be resumed
RESUME_KEYS = ("task", "task_version", "contract", "backend", "model", "decoding", "seed", "source", "split",
               "limit", "stratify")
RECORD_SKIP_METADATA = frozenset({"patient_note", "question", "explanation", "note", "text"})


@dataclass
class EvalResult:
    """What ``run_eval`` returns: the metrics dict, the per-sample records, the spec and the log path."""

    metrics: dict[str, Any]
    records: list[dict[str, Any]]
    spec: dict[str, Any] = field(default_factory=dict)
    log_path: Path | None = None
    n_resumed: int = 0
    #: records of the resumed log that had ended in a generation error and were generated again
    n_retried: int = 0


def build_spec(task: Task, samples: Sequence[Sample], backend: Backend, *, n_samples: int, temperature: float,
               top_p: float, max_new_tokens: int, seed: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    described = backend.describe()
    spec = {
        "task": task.name,
        "task_version": task.version,
        "contract": task.contract,
        "backend": described.get("backend", backend.name),
        "model": described.get("model"),
        "backend_options": described,
        "decoding": {"n_samples": n_samples, "temperature": temperature, "top_p": top_p,
                     "max_new_tokens": max_new_tokens},
        "seed": seed,
        "n_samples_evaluated": len(samples),
        "sample_ids": [s.id for s in samples],
        "packages": package_versions(),
        "git_revision": git_revision(),
        "command": " ".join(sys.argv),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if extra:
        spec.update(extra)
    return spec


def read_log(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an eval log (a file or a directory holding ``eval_log.json``) and check its version."""
    p = Path(path)
    if p.is_dir():
        p = p / LOG_NAME
    try:
        log = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError("no eval log here (run `clinrl eval --out DIR` first)", source=str(p)) from exc
    except ValueError as exc:
        raise DataError(f"not valid JSON ({exc})", source=str(p)) from exc
    if not isinstance(log, dict) or "records" not in log or "spec" not in log:
        raise DataError("not a clinrl eval log (needs 'spec' and 'records')", source=str(p))
    if log.get("version", 0) > LOG_VERSION:
        raise DataError(f"eval log format {log.get('version')} is newer than this clinrl reads ({LOG_VERSION})",
                        source=str(p))
    return log


def _write_log(path: Path, log: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(log, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)  # atomic: an interrupted write never leaves a broken log


def sample_digest(sample: Sample) -> str:
    """A digest of what a record was made from: the sample's prompt, pre-fill and target."""
    content = json.dumps({"prompt": jsonable(sample.prompt), "prefill": sample.prefill,
                          "target": jsonable(sample.target)}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:32]


_START_OVER = "choose another --out directory, or pass --no-resume to start over"


def _resumable(path: Path, spec: dict[str, Any], samples: Sequence[Sample], *,
               retry_failed: bool = True) -> tuple[dict[str, dict[str, Any]], int]:
    """``(finished records by id, number of failed records left to generate again)`` from a log to resume."""
    if not path.exists():
        return {}, 0
    old = read_log(path)
    mismatched = [k for k in RESUME_KEYS if old["spec"].get(k) != spec.get(k)]
    if mismatched:
        shown = "; ".join(f"{k}: {old['spec'].get(k)!r} in the log, {spec.get(k)!r} now" for k in mismatched[:3])
        raise ConfigError(f"{path} holds a different evaluation ({shown}); {_START_OVER}")
    n = spec["decoding"]["n_samples"]
    digests = {s.id: sample_digest(s) for s in samples}
    done, n_failed = {}, 0
    for record in old["records"]:
        rid = str(record["id"])
        if rid not in digests or len(record.get("completions") or []) != n:
            continue
        if record.get("sample_digest") != digests[rid]:
            why = ("was written without a sample digest (an older clinrl), so it cannot be checked"
                   if "sample_digest" not in record else
                   "was made from a different prompt or target than the sample loaded now (the data changed)")
            raise ConfigError(f"{path}: the record of sample {rid!r} {why}; {_START_OVER}")
        if retry_failed and any(c.get("error") for c in record["completions"]):
            n_failed += 1   # an outage is not finished work
            continue
        done[rid] = record
    return done, n_failed


def score_generation(task: Task, sample: Sample, gen: Generation) -> dict[str, Any]:
    """One completion's entry in a record. A failed generation is unscored, never wrong."""
    score = Score.unscored(f"generation failed: {gen.error}") if gen.error else task.score(gen.text, sample.target)
    return {"text": gen.text, "n_tokens": gen.n_tokens, "truncated": gen.truncated, "error": gen.error,
            **jsonable(score.to_record())}


def make_record(task: Task, sample: Sample, prompt: Any, gens: Sequence[Generation]) -> dict[str, Any]:
    return {
        "id": sample.id,
        "category": sample.category,
        "groups": task.group_keys(sample),
        "prompt": prompt,
        "prefill": sample.prefill,
        "target": jsonable(sample.target),
        "sample_digest": sample_digest(sample),
        # descriptive metadata for diagnostics and reports; the long texts are already in the prompt
        "metadata": jsonable({k: v for k, v in sample.metadata.items() if k not in RECORD_SKIP_METADATA}),
        "completions": [score_generation(task, sample, g) for g in gens],
    }


def compute_metrics(task: Task, samples: Sequence[Sample], records: Sequence[dict[str, Any]], *,
                    seed: int = 0) -> dict[str, Any]:
    """The task's own metrics on each sample's first completion, plus the harness summary."""
    firsts = [Score.from_record(r["completions"][0]) for r in records]
    metrics = task.metrics(list(samples), firsts)
    metrics.update(summarize(records, n_choices=task.answer_space_size, seed=seed))
    return metrics


def _chunk_size(backend: Backend) -> int:
    size = getattr(backend, "batch_size", None)
    return max(8, 2 * size) if isinstance(size, int) else 32


def run_eval(task: Task, samples: Sequence[Sample], backend: Backend, *, n_samples: int = 1,
             temperature: float = 0.0, top_p: float = 1.0, max_new_tokens: int = 256, seed: int = 0,
             out_dir: str | os.PathLike[str] | None = None, progress: bool = True, resume: bool = True,
             chunk_size: int | None = None, extra_spec: dict[str, Any] | None = None,
             retry_failed: bool = True) -> EvalResult:
    """Evaluate ``backend`` on ``samples`` of ``task``.

    Args:
        n_samples: completions per sample (pass@k needs > 1 and ``temperature`` > 0).
        temperature / top_p / max_new_tokens: decoding; 0 = greedy (the default for held-out accuracy).
        seed: sampling seed (batch ``b`` uses ``seed + b``).
        out_dir: write ``eval_log.json`` there after every chunk, and resume from it.
        resume: reuse finished records of a matching log in ``out_dir`` (False: start over).
        retry_failed: when resuming, generate again the records whose generation failed (False: keep them).
        chunk_size: samples generated between two log writes (default: twice the batch size, ≥ 8).
        extra_spec: fields added to the spec (e.g. ``{"stage": "sft", "source": ..., "split": ...}``).
    """
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ConfigError(f"sample ids must be unique; repeated: {', '.join(dupes)}")
    spec = build_spec(task, samples, backend, n_samples=n_samples, temperature=temperature, top_p=top_p,
                      max_new_tokens=max_new_tokens, seed=seed, extra=extra_spec)
    log_path = None
    done: dict[str, dict[str, Any]] = {}
    n_retried = 0
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        log_path = Path(out_dir) / LOG_NAME
        if resume:
            done, n_retried = _resumable(log_path, spec, samples, retry_failed=retry_failed)
        elif log_path.exists():
            log_path.unlink()
    pending = [s for s in samples if s.id not in done]
    records_by_id = dict(done)
    size = chunk_size or _chunk_size(backend)

    def write(status: str, metrics: dict[str, Any] | None = None) -> None:
        if log_path is None:
            return
        records = [records_by_id[i] for i in ids if i in records_by_id]
        _write_log(log_path, {"version": LOG_VERSION, "status": status, "spec": spec,
                              "metrics": jsonable(metrics or {}), "records": records})

    bar = None
    from clinrl.run_console import active

    run_console = active()  # in a training run: on the run's terminal (a TTY only), gone once the result shows
    if run_console is not None and not run_console.console.is_terminal:
        progress = False  # the run prints its result line; a finished bar in a CI log is one more line
    if progress and pending:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn(), transient=run_console is not None,
                       console=run_console.console if run_console is not None else Console(stderr=True),
                       redirect_stdout=run_console is None, redirect_stderr=run_console is None)
        bar.start()
        bar_id = bar.add_task(f"eval {task.name}", total=len(ids), completed=len(done))
    try:
        for start in range(0, len(pending), size):
            chunk = pending[start:start + size]
            prompts = [backend.render(s) for s in chunk]
            gens = backend.generate(prompts, n=n_samples, temperature=temperature, top_p=top_p,
                                    max_new_tokens=max_new_tokens, seed=seed + start)
            for sample, prompt, per in zip(chunk, prompts, gens):
                records_by_id[sample.id] = make_record(task, sample, prompt, per)
            write("partial")
            if bar is not None:
                bar.advance(bar_id, len(chunk))
    finally:
        if bar is not None:
            bar.stop()
    records = [records_by_id[i] for i in ids]
    metrics = compute_metrics(task, samples, records, seed=seed)
    write("complete", metrics)
    return EvalResult(metrics=metrics, records=records, spec=spec, log_path=log_path, n_resumed=len(done),
                      n_retried=n_retried)
