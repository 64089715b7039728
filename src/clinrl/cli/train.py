"""``clinrl train sft|grpo|show-config``: the two EHRMIND stages driven by a YAML recipe."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from clinrl.cli.app import train_app

console = Console()

RECIPE_HELP = "Recipe: a name from recipes/ (quickstart, ehrmind-medcalc) or a YAML file."
SET_HELP = ("Override one config field, dotted: --set grpo.learning_rate=1e-5 --set sft.max_steps=100; list items "
            "by index or task name: --set tasks.0.heldout_limit=200 or --set tasks.medcalc.heldout_limit=200 "
            "(repeatable; `clinrl train show-config --fields` lists them all).")
DEVICE_HELP = "Where to train and evaluate: auto (cuda → mps → cpu), cpu, cuda, cuda:N or mps (model.device)."
KEEP_HELP = ("Model the run keeps: last (GRPO's final model) or best (the evaluated model — warm-up, a GRPO "
             "held-out evaluation or the final one — with the best held-out headline metric).")


def build_config(recipe: str, overrides: list[str] | None, *, model: str | None = None,
                 tasks: list[str] | None = None, extra: dict[str, Any] | None = None, device: str | None = None,
                 keep: str | None = None):
    """Recipe + ``--set`` overrides + the common flags → a validated RunConfig."""
    from clinrl.training.config import deep_merge, load_recipe, parse_override

    merged: dict[str, Any] = {}
    for text in overrides or []:
        merged = deep_merge(merged, parse_override(text))
    if model:
        merged = deep_merge(merged, {"model": {"spec": model}})
    if device:
        merged = deep_merge(merged, {"model": {"device": device}})
    if keep:
        merged = deep_merge(merged, {"grpo": {"keep": keep}})
    if extra:
        merged = deep_merge(merged, extra)
    # With --task the recipe's task list is replaced, so the user's own tasks.* settings wait until it is
    # (they address the tasks trained, by index or name; applied to the recipe's item they would be lost with it)
    task_sets = merged.pop("tasks", None) if tasks else None
    config = load_recipe(recipe, merged)
    if tasks:
        from clinrl.settings import from_dict
        from clinrl.training.config import TaskSettings

        template = config.tasks[0]
        # source and options belong to the recipe's task (a MedCalc prompt_style means nothing to trials)
        config.tasks = [TaskSettings(**{**template.__dict__, "name": name,
                                        "source": template.source if name == template.name else "synthetic",
                                        "options": dict(template.options) if name == template.name else {}})
                        for name in tasks]
        if task_sets is not None:
            items = deep_merge({"tasks": [dataclasses.asdict(t) for t in config.tasks]}, {"tasks": task_sets})
            config.tasks = [from_dict(TaskSettings, item, f"tasks.{i}") for i, item in enumerate(items["tasks"])]
    return config


VERBOSE_HELP = ("Also print the libraries' progress bars, log dicts and warnings (they always go to "
                "RUN/train.log).")


def train_quietly(config: Any, out: Path, *, verbose: bool, **kwargs: Any) -> Any:
    """``run_training`` with the terminal owned by a RunConsole: clinrl's lines and one live display per
    stage on the terminal, the libraries' output in RUN/train.log (also on the terminal with ``verbose``)."""
    from clinrl.run_console import RunConsole
    from clinrl.training.run import run_training

    with RunConsole(out, verbose=verbose, summary_follows=True) as run_console:  # _print_summary lists the warnings
        result = run_training(config, out, say=run_console.say, **kwargs)
        result.html_report = write_html_report(result.run_dir)
    return result


def write_html_report(run_dir: Path) -> Path | None:
    """RUN/report.html (training curves, per-stage metrics) when matplotlib is installed, else None."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return None
    from clinrl.evaluation.report import write_report

    html_path, _ = write_report([run_dir], Path(run_dir) / "report.html", markdown=False)
    return html_path


def _run(stage: str, recipe: str, out: Path, model: Optional[str], task: Optional[list[str]],
         set_: Optional[list[str]], resume: bool, verbose: bool = False, device: Optional[str] = None,
         keep: Optional[str] = None) -> None:
    import sys

    config = build_config(recipe, set_, model=model, tasks=task, device=device, keep=keep)
    result = train_quietly(config, out, verbose=verbose, resume=resume, stages=(stage,), command=sys.argv)
    _print_summary(result)


def kept_text(kept: dict[str, Any], metric: str | None = None) -> str:
    """The console's line for the model ``keep: best`` kept, with its score (the run's first line is the final
    model's, which may not be the one kept). Chosen on the validation split, it names both scores; chosen on the
    held-out split itself (no validation split), it says that number is optimistic."""
    name = metric or "headline metric"
    value, heldout = kept.get("metric"), kept.get("heldout")
    if kept.get("chosen_on") == "validation":
        score = f", validation {name} {100 * value:.1f}%" if isinstance(value, (int, float)) else ""
        after = (f"; held-out {name} {100 * heldout:.1f}%, from a choice that did not see the held-out split"
                 if isinstance(heldout, (int, float)) else "")
        return f"kept: {kept['path']} ({kept['stage']} step {kept['step']}{score}, the best validation score{after})"
    score = f", held-out {name} {100 * value:.1f}%" if isinstance(value, (int, float)) else ""
    return (f"kept: {kept['path']} ({kept['stage']} step {kept['step']}{score}, the best held-out headline metric; "
            "chosen on the held-out split itself, so its number is optimistic; tasks[].validation_limit holds "
            "samples back to choose on instead)")


def _print_summary(result: Any) -> None:
    from clinrl.cli.output import print_table
    from clinrl.training.callbacks import headline_text
    from clinrl.metrics import format_prior
    from clinrl.training.health import gain_text

    gain = (result.metrics or {}).get("paired_gain")
    if gain:
        style = "green" if (gain.get("ci") or [None])[0] is not None and gain["ci"][0] > 0 else "yellow"
        text = gain_text(gain, from_stage=gain.get("from_stage", "sft"))
        console.print(f"[bold {style}]{escape(text)}[/]", highlight=False, soft_wrap=True)
    for prior in (result.metrics or {}).get("answer_prior", []):  # what a model that never reads the input scores
        console.print(escape(format_prior(prior)), highlight=False, soft_wrap=True)
    for warning in (result.metrics or {}).get("health", []):
        console.print(f"[bold red]warning:[/] {escape(warning['message'])}", highlight=False, soft_wrap=True)
    kept = (result.metrics or {}).get("kept_checkpoint")
    if kept and kept.get("policy") == "best":
        console.print(escape(kept_text(kept, (gain or {}).get("metric"))), highlight=False, soft_wrap=True)

    rows_all = [row for rows in result.evals.values() for row in rows]
    with_headline = any(row.get("headline") for row in rows_all)
    columns = ["stage", "task", "n", "accuracy", "format valid"] + (["task metric"] if with_headline else [])
    rows = []
    for stage, stage_rows in result.evals.items():
        for row in stage_rows:
            acc, fmt = row.get("accuracy"), row.get("format_valid")
            cells = [stage, row["task"], str(row.get("n")), "—" if acc is None else f"{100 * acc:.1f}%",
                     "—" if fmt is None else f"{100 * fmt:.1f}%"]
            rows.append(cells + ([headline_text(row) if row.get("headline") else "—"] if with_headline else []))
    print_table(console, columns, rows, title=f"held-out results — {result.run_dir}",
                right=("n", "accuracy", "format valid"))
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    html = getattr(result, "html_report", None)
    console.print(f"report: {html} (training curves) and {result.run_dir / 'report.md'}" if html else
                  f"report: {result.run_dir / 'report.md'}", highlight=False, soft_wrap=True)


@train_app.command("sft")
def sft_command(
    recipe: str = typer.Option("quickstart", "--recipe", "-r", help=RECIPE_HELP),
    out: Path = typer.Option(Path("runs/sft"), "--out", "-o", help="Run directory (created; see docs/training.md)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model spec: tiny, smollm2-135m, a directory, "
                                                                     "a .gguf file or a hub id (overrides the recipe)."),
    task: Optional[list[str]] = typer.Option(None, "--task", "-t", help="Task(s) to train on (repeat for a mixture)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its latest checkpoint."),
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """SFT warm-up (TRL SFTTrainer, loss on the completion only): teaches the output contract and the
    missing knowledge before RL. Writes RUN/sft/final, held-out metrics and a report."""
    _run("sft", recipe, out, model, task, set_, resume, verbose, device)


@train_app.command("grpo")
def grpo_command(
    recipe: str = typer.Option("quickstart", "--recipe", "-r", help=RECIPE_HELP),
    out: Path = typer.Option(Path("runs/grpo"), "--out", "-o", help="Run directory."),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Start model, usually a warm-up's RUN/sft/final directory."),
    task: Optional[list[str]] = typer.Option(None, "--task", "-t", help="Task(s) to train on (repeat for a mixture)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its latest checkpoint."),
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP),
    keep: Optional[str] = typer.Option(None, "--keep", help=KEEP_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """GRPO (TRL GRPOTrainer) with the task's verifiable rewards (EHRMIND: malformed −2, wrong 0, correct 1.1),
    held-out accuracy every grpo.eval_every steps. Multi-GPU: see docs/training.md."""
    _run("grpo", recipe, out, model, task, set_, resume, verbose, device, keep)


@train_app.command("show-config")
def show_config(
    recipe: str = typer.Option("quickstart", "--recipe", "-r", help=RECIPE_HELP),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    fields: bool = typer.Option(False, "--fields", help="List every field with its default and why."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: the resolved config, or with --fields a list "
                                 "of {field, default, why}."),
) -> None:
    """Print a recipe resolved with overrides (YAML), or the documented list of every field."""
    import yaml

    from clinrl.cli.output import echo_json, print_table
    from clinrl.training.config import field_help, to_dict

    if fields:
        rows = field_help()
        if as_json:
            echo_json([{"field": n, "default": d, "why": w} for n, d, w in rows])
            return
        print_table(console, ["field", "default", "why"], rows)
        return
    resolved = to_dict(build_config(recipe, set_))
    if as_json:
        echo_json(resolved)
        return
    console.print(yaml.safe_dump(resolved, sort_keys=False), highlight=False, markup=False)
