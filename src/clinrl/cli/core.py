"""Core commands: ``clinrl tasks``, ``clinrl data show``, ``clinrl score``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from clinrl.cli.app import TASK_OPTION_HELP, app, data_app, parse_task_options
from clinrl.cli.output import JSON_HELP, echo_json, print_table
from clinrl.errors import DataError, TargetError
from clinrl.metrics import format_proportion as _fmt
from clinrl.metrics import headline_rows as headline_metrics
from clinrl.models import resolve_task_options
from clinrl.registry import get_task, list_tasks
from clinrl.rewards.contract import completion_text

console = Console()
#: characters kept from the start and the end of a long message: the task's question sits at the end
CLIP_HEAD, CLIP_TAIL = 450, 250


@app.command("tasks")
def tasks_command(
    options: bool = typer.Option(False, "--options", help="Also list the options each task takes (pass them to "
                                 "data show / score / eval as -O KEY=VALUE, or under `options:` in a recipe)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the registered tasks with a one-line card each."""
    from clinrl.registry import get_task_class, task_options

    rows = []
    for row in list_tasks():
        entry = dict(row)
        if options or as_json:
            try:
                entry["options"] = [o for o in task_options(get_task_class(row["name"])) if o != "scheme"]
            except Exception:  # a broken third-party task is already reported in its summary
                entry["options"] = None
        rows.append(entry)
    if as_json:
        echo_json(rows)
        return
    columns = ["task", "version", "summary"] + (["options"] if options else [])
    cells = [[r["name"], r["version"], r["summary"]]
             + ([", ".join(r["options"]) if r["options"] is not None else "?"] if options else []) for r in rows]
    print_table(console, columns, cells, title="clinrl tasks")


@data_app.command("show")
def data_show(
    task: str = typer.Argument(..., help="Task name (see `clinrl tasks`)."),
    source: Optional[str] = typer.Option(None, "--source", "-s", help="Hub dataset id, local file/dir, or "
                                         "'synthetic[:options]' where the task has a generator; default: the "
                                         "task's hub dataset."),
    split: str = typer.Option("test", help="Split to read from a hub dataset."),
    limit: int = typer.Option(3, "--limit", "-n", min=1, help="Number of samples to print."),
    full: bool = typer.Option(False, help=f"Print whole messages instead of the first {CLIP_HEAD} and last "
                              f"{CLIP_TAIL} characters of each."),
    option: Optional[list[str]] = typer.Option(None, "--option", "-O", help=TASK_OPTION_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the samples as a JSON list (id, category, prompt "
                                 "messages, pre-fill, target, metadata), whole."),
) -> None:
    """Print the first samples of a task as the model will see them, with their targets.

    Example: clinrl data show medcalc --source ../shared/data/medcalc-bench/test_data.csv -n 2
    """
    t = get_task(task, **resolve_task_options(parse_task_options(option)))
    samples = t.load(source, split, limit=limit)
    if as_json:
        echo_json([{"id": s.id, "category": s.category, "prompt": s.prompt, "prefill": s.prefill,
                    "target": s.target, "metadata": s.metadata} for s in samples])
        return
    for sample in samples:
        console.rule(f"[bold]{escape(task)}[/] sample {escape(str(sample.id))}  ({escape(sample.category or '-')})")
        for message in sample.prompt:
            content = message["content"] if full else _clip(message["content"])
            # the text is printed as-is: notes hold brackets ("[i.e., serum creatinine: 1.42 mg/dL]") that
            # rich markup would silently delete
            console.print(f"[bold magenta]{escape(message['role'])}[/]: {escape(content)}", highlight=False)
        if sample.prefill:
            console.print(f"[bold magenta]assistant (pre-fill)[/]: {escape(repr(sample.prefill))}", highlight=False)
        target = json.dumps(sample.target, ensure_ascii=False)
        if len(target) > 200:  # a rubric: indented JSON reads; one 3,000-character line does not
            target = json.dumps(sample.target, ensure_ascii=False, indent=1)
        console.print(f"[bold green]target[/]: {escape(target)}", highlight=False)
    console.print(f"{len(samples)} sample(s) shown.")


def _clip(text: str) -> str:
    if len(text) <= CLIP_HEAD + CLIP_TAIL + 40:
        return text
    hidden = len(text) - CLIP_HEAD - CLIP_TAIL
    return f"{text[:CLIP_HEAD]} … [{hidden} characters not shown; --full prints them] … {text[-CLIP_TAIL:]}"


def _read_completions(path: Path) -> list[tuple[int, dict[str, Any]]]:
    from clinrl.data.tables import read_jsonl

    rows = []
    for i, row in read_jsonl(path):
        for field in ("id", "completion"):
            if field not in row:
                raise DataError("missing field", source=str(path), row=i, field=field)
        if not isinstance(row["completion"], str):
            if not _is_messages(row["completion"]):
                raise DataError("must be a string or a list of chat messages {role, content}",
                                source=str(path), row=i, field="completion")
            row["completion"] = completion_text(row["completion"])  # TRL's conversational form
        rows.append((i, row))
    if not rows:
        raise DataError("no completions in the file (expected one JSON object per line)", source=str(path))
    return rows


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(m, dict) and isinstance(m.get("content"), str) for m in value)


def _duplicate_note(rows: list[tuple[int, dict[str, Any]]]) -> Optional[str]:
    lines: dict[str, list[int]] = {}
    for line_no, row in rows:
        lines.setdefault(str(row["id"]), []).append(line_no)
    repeated = {sid: nos for sid, nos in lines.items() if len(nos) > 1}
    if not repeated:
        return None
    sid, nos = next(iter(repeated.items()))
    return (f"{len(repeated)} id(s) appear on more than one row (e.g. {sid!r} on rows "
            f"{', '.join(map(str, nos[:5]))}); every row is scored and counted in the metrics")


@app.command("score")
def score_command(
    task: str = typer.Argument(..., help="Task name (see `clinrl tasks`)."),
    completions: Path = typer.Option(..., "--completions", "-c", exists=True, dir_okay=False,
                                     help="JSONL with `id` and `completion` (text, or a list of chat messages) per line."),
    out: Path = typer.Option(..., "--out", "-o", help="Output JSONL: each input row plus format_ok, answer, "
                             "correct, reward. The metrics go next to it as OUT-stem.metrics.json."),
    source: Optional[str] = typer.Option(None, "--source", "-s", help="Dataset the ids refer to (hub id or "
                                         "local file). Omit when each row carries its own target fields."),
    split: str = typer.Option("test", help="Split of a hub dataset."),
    contract: Optional[str] = typer.Option(None, help="ehrmind: strict <think>/<answer>{json} contract; official: "
                                           "the benchmark's own evaluator, quirks included; lenient: the evaluator's "
                                           "answer locator with a generous reading. Default: the task's (ehrmind; "
                                           "the rubric task reads the whole response and has no contract)."),
    option: Optional[list[str]] = typer.Option(None, "--option", "-O", help=TASK_OPTION_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON on stdout (the notes go to "
                                 "stderr)."),
) -> None:
    """Score a completions file with the task's verifier and print a metrics table.

    Example: clinrl score medcalc --completions preds.jsonl --out scored.jsonl
    (rows carry calculator_id, ground_truth, lower_limit, upper_limit), or add
    --source test_data.csv to look the targets up by id.
    """
    scorer = get_task(task, **resolve_task_options(parse_task_options(option, contract)))
    rows = _read_completions(completions)
    by_id = _targets_by_id(scorer, source, split)
    looked_up = [_lookup_sample(scorer, row, line_no, by_id, source, completions) for line_no, row in rows]
    samples = [sample for sample, _ in looked_up]
    scores = [scorer.score(row["completion"], sample.target) for (_, row), sample in zip(rows, samples)]
    from clinrl.data.tables import write_jsonl

    write_jsonl(out, ({**row, **score.to_record()} for (_, row), score in zip(rows, scores)), default=str)
    metrics = scorer.metrics(samples, scores)
    _report_scores(metrics, rows, samples, scores, [differing for _, differing in looked_up], by_id,
                   source=source, out=out, as_json=as_json)


def _targets_by_id(scorer: Any, source: Optional[str], split: str) -> dict[str, Any]:
    """``--source``'s samples by id: every id with a target, also those left out of training / evaluation
    (trials without criteria text); empty without a source."""
    return {} if source is None else {s.id: s for s in scorer.load_for_scoring(source, split)}


def _lookup_sample(scorer: Any, row: dict[str, Any], line_no: int, by_id: dict[str, Any], source: Optional[str],
                   completions: Path) -> tuple[Any, Optional[str]]:
    """The sample a completions row is scored against — looked up in ``--source`` or built from the row's own
    target fields — and, with a source, a note when the row's own target fields disagree with it."""
    from clinrl.types import Sample

    sid = str(row["id"])
    if source is not None:
        if sid not in by_id:
            raise DataError(f"id {sid!r} is not in {source}", source=str(completions), row=line_no, field="id")
        sample = by_id[sid]
        differing = [f for f in scorer.target_fields if f in row and str(row[f]) != str(sample.target.get(f))]
        if not differing:
            return sample, None
        f = differing[0]
        return sample, (f"row {line_no} carries {f}={row[f]!r} but {source} has {sample.target.get(f)!r}; "
                        "rows' own target fields are ignored when --source is given")
    missing = [f for f in scorer.target_fields if f not in row]
    if missing:
        raise DataError(f"no --source given and the row lacks target field(s) {', '.join(missing)}",
                        source=str(completions), row=line_no, field=missing[0])
    target = {f: row[f] for f in scorer.target_fields}
    try:
        scorer.validate_target(target)
    except TargetError as exc:
        raise DataError(exc.message, source=str(completions), row=line_no, field=exc.field) from None
    return Sample(id=sid, prompt=[], target=target, metadata={"category": row.get("category")}), None


def _report_scores(metrics: dict[str, Any], rows: list[tuple[int, dict[str, Any]]], samples: list[Any],
                   scores: list[Any], conflicts: list[Optional[str]], by_id: dict[str, Any], *,
                   source: Optional[str], out: Path, as_json: bool) -> None:
    """Print the metrics (a table, or JSON on stdout), write them next to ``out``, then the notes."""
    from clinrl.provenance import jsonable

    out_console = console
    if as_json:
        echo_json(metrics)
        out_console = Console(stderr=True)
    else:
        print_metrics(metrics)

    metrics_path = out.with_name(out.stem + ".metrics.json")
    metrics_path.write_text(json.dumps(jsonable(metrics), indent=2, ensure_ascii=False, default=str) + "\n",
                            encoding="utf-8")
    note = _duplicate_note(rows)
    if note:
        out_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    found = [c for c in conflicts if c]
    if found:
        out_console.print(f"[yellow]note:[/] {len(found)} row(s) disagree with --source on a target field, e.g. "
                          f"{escape(found[0])}", highlight=False)
    if source is not None and len({s.id for s in samples}) < len(by_id):
        out_console.print(f"[yellow]note:[/] the metrics cover {len({s.id for s in samples})} of the {len(by_id)} "
                          f"samples in {escape(source)}", highlight=False)
    reasons = Counter(s.explanation.split(" (")[0] for s in scores if s.format_ok is False)
    if reasons:
        out_console.print("malformed: " + escape("; ".join(f"{k} ×{v}" for k, v in reasons.most_common(5))),
                          highlight=False)
    out_console.print(f"wrote {len(rows)} scored rows to {escape(str(out))} and the metrics to "
                      f"{escape(str(metrics_path))}", highlight=False)


def print_metrics(metrics: dict[str, Any]) -> None:
    """Print a task's metrics dict as tables (overall, then one table per grouping)."""
    rows = [["accuracy", _fmt(metrics["accuracy"])], ["format valid", _fmt(metrics["format_valid"])],
            ["unscored", str(metrics["n_unscored"])]]
    rows += [[name, value] for name, value in headline_metrics(metrics)]
    print_table(console, ["metric", "value (95% CI)"], rows, title=f"{metrics['task']} (v{metrics['task_version']})",
                first_style=None)
    for group, per in metrics.get("groups", {}).items():
        if len(per) > 60:
            continue
        print_table(console, [group, "accuracy (95% CI)"], [[str(key), _fmt(p)] for key, p in per.items()],
                    title=f"accuracy by {group}", first_style=None)
