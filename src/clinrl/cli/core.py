"""Core commands: ``clinrl tasks``, ``clinrl data show``, ``clinrl score``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from clinrl.cli.app import app, data_app
from clinrl.errors import DataError
from clinrl.registry import get_task, list_tasks

console = Console()


@app.command("tasks")
def tasks_command() -> None:
    """List the registered tasks with a one-line card each."""
    table = Table(title="clinrl tasks", show_lines=False)
    table.add_column("task", style="bold cyan")
    table.add_column("version")
    table.add_column("summary")
    for row in list_tasks():
        table.add_row(row["name"], row["version"], row["summary"])
    console.print(table)


@data_app.command("show")
def data_show(
    task: str = typer.Argument(..., help="Task name (see `clinrl tasks`)."),
    source: Optional[str] = typer.Option(None, "--source", "-s", help="Hub dataset id or local file/dir; "
                                         "default: the task's hub dataset."),
    split: str = typer.Option("test", help="Split to read from a hub dataset."),
    limit: int = typer.Option(3, "--limit", "-n", help="Number of samples to print."),
    full: bool = typer.Option(False, help="Print whole prompts instead of the first 600 characters."),
) -> None:
    """Print the first samples of a task as the model will see them, with their targets."""
    t = get_task(task)
    samples = t.load(source, split, limit=limit)
    for sample in samples:
        console.rule(f"[bold]{task}[/] sample {sample.id}  ({sample.category or '-'})")
        for message in sample.prompt:
            content = message["content"] if full else _clip(message["content"], 600)
            console.print(f"[bold magenta]{message['role']}[/]: {content}", highlight=False)
        if sample.prefill:
            console.print(f"[bold magenta]assistant (pre-fill)[/]: {sample.prefill!r}", highlight=False)
        console.print(f"[bold green]target[/]: {json.dumps(sample.target)}", highlight=False)
    console.print(f"{len(samples)} sample(s) shown.")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n] + f" … [{len(text) - n} more characters]"


def _read_completions(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON ({exc.msg})", source=str(path), row=i) from exc
            if not isinstance(row, dict):
                raise DataError("not a JSON object", source=str(path), row=i)
            for field in ("id", "completion"):
                if field not in row:
                    raise DataError("missing field", source=str(path), row=i, field=field)
            if not isinstance(row["completion"], str):
                raise DataError("must be a string", source=str(path), row=i, field="completion")
            rows.append((i, row))
    return rows


@app.command("score")
def score_command(
    task: str = typer.Argument(..., help="Task name (see `clinrl tasks`)."),
    completions: Path = typer.Option(..., "--completions", "-c", exists=True, dir_okay=False,
                                     help="JSONL with `id` and `completion` per line."),
    out: Path = typer.Option(..., "--out", "-o", help="Output JSONL: each input row plus format_ok, answer, "
                             "correct, reward."),
    source: Optional[str] = typer.Option(None, "--source", "-s", help="Dataset the ids refer to (hub id or "
                                         "local file). Omit when each row carries its own target fields."),
    split: str = typer.Option("test", help="Split of a hub dataset."),
    contract: str = typer.Option("ehrmind", help="ehrmind: strict <think>/<answer>{json} contract; official: "
                                 "the benchmark's own lenient extraction."),
) -> None:
    """Score a completions file with the task's verifier and print a metrics table.

    Example: clinrl score medcalc --completions preds.jsonl --out scored.jsonl
    (rows carry calculator_id, ground_truth, lower_limit, upper_limit), or add
    --source test_data.csv to look the targets up by id.
    """
    t = get_task(task, contract=contract)
    rows = _read_completions(completions)
    by_id = {}
    if source is not None:
        by_id = {s.id: s for s in t.load(source, split)}
    samples, scores, out_rows = [], [], []
    from clinrl.types import Sample

    for line_no, row in rows:
        sid = str(row["id"])
        if source is not None:
            if sid not in by_id:
                raise DataError(f"id {sid!r} is not in {source}", source=str(completions), row=line_no, field="id")
            sample = by_id[sid]
        else:
            missing = [f for f in t.target_fields if f not in row]
            if missing:
                raise DataError(f"no --source given and the row lacks target field(s) {', '.join(missing)}",
                                source=str(completions), row=line_no, field=missing[0])
            target = {f: row[f] for f in t.target_fields}
            sample = Sample(id=sid, prompt=[], target=target, metadata={"category": row.get("category")})
        score = t.score(row["completion"], sample.target)
        samples.append(sample)
        scores.append(score)
        out_rows.append({**row, "format_ok": score.format_ok, "answer": score.answer, "correct": score.correct,
                         "reward": score.value, "explanation": score.explanation})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for r in out_rows:
            fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    metrics = t.metrics(samples, scores)
    print_metrics(metrics)
    reasons = Counter(s.explanation.split(" (")[0] for s in scores if s.format_ok is False)
    if reasons:
        console.print("malformed: " + "; ".join(f"{k} ×{v}" for k, v in reasons.most_common(5)), highlight=False)
    console.print(f"wrote {len(out_rows)} scored rows to {out}")


def _fmt(p: dict[str, Any]) -> str:
    if not p.get("n"):
        return "-"
    return f"{100 * p['value']:.1f}%  [{100 * p['ci_low']:.1f}, {100 * p['ci_high']:.1f}]  n={p['n']}"


def print_metrics(metrics: dict[str, Any]) -> None:
    """Print a task's metrics dict as tables (overall, then one table per grouping)."""
    table = Table(title=f"{metrics['task']} (v{metrics['task_version']})")
    table.add_column("metric")
    table.add_column("value (95% CI)")
    table.add_row("accuracy", _fmt(metrics["accuracy"]))
    table.add_row("format valid", _fmt(metrics["format_valid"]))
    table.add_row("unscored", str(metrics["n_unscored"]))
    console.print(table)
    for group, per in metrics.get("groups", {}).items():
        if len(per) > 60:
            continue
        gt = Table(title=f"accuracy by {group}")
        gt.add_column(group)
        gt.add_column("accuracy (95% CI)")
        for key, p in per.items():
            gt.add_row(key, _fmt(p))
        console.print(gt)
