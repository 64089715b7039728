"""``clinrl train sft|grpo|show-config``: the two EHRMIND stages driven by a YAML recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

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
    config = load_recipe(recipe, merged)
    if tasks:
        from clinrl.training.config import TaskSettings

        template = config.tasks[0]
        config.tasks = [TaskSettings(**{**template.__dict__, "name": name,
                                        "source": template.source if name == template.name else "synthetic"})
                        for name in tasks]
    return config


def _run(stage: str, recipe: str, out: Path, model: Optional[str], task: Optional[list[str]],
         set_: Optional[list[str]], resume: bool, device: Optional[str] = None, keep: Optional[str] = None) -> None:
    import sys

    from clinrl.training.run import run_training

    config = build_config(recipe, set_, model=model, tasks=task, device=device, keep=keep)
    result = run_training(config, out, resume=resume, stages=(stage,), command=sys.argv,
                          say=lambda m: console.print(f"[bold cyan]clinrl[/] {m}", highlight=False))
    _print_summary(result)


def _print_summary(result: Any) -> None:
    from clinrl.training.callbacks import headline_text
    from clinrl.training.health import gain_text

    gain = (result.metrics or {}).get("paired_gain")
    if gain:
        style = "green" if (gain.get("ci") or [None])[0] is not None and gain["ci"][0] > 0 else "yellow"
        console.print(f"[bold {style}]{gain_text(gain)}[/]", highlight=False)
    for warning in (result.metrics or {}).get("health", []):
        console.print(f"[bold red]warning:[/] {warning['message']}", highlight=False)
    kept = (result.metrics or {}).get("kept_checkpoint")
    if kept and kept.get("policy") == "best":
        console.print(f"kept: {kept['path']} ({kept['stage']} step {kept['step']}, the best held-out headline "
                      "metric; chosen on the held-out split itself, so its number is optimistic)", highlight=False)

    table = Table(title=f"held-out results — {result.run_dir}")
    rows_all = [row for rows in result.evals.values() for row in rows]
    with_headline = any(row.get("headline") for row in rows_all)
    for column in ("stage", "task", "n", "accuracy", "format valid") + (("task metric",) if with_headline else ()):
        table.add_column(column)
    for stage, rows in result.evals.items():
        for row in rows:
            acc, fmt = row.get("accuracy"), row.get("format_valid")
            cells = [stage, row["task"], str(row.get("n")), "—" if acc is None else f"{100 * acc:.1f}%",
                     "—" if fmt is None else f"{100 * fmt:.1f}%"]
            table.add_row(*cells, *((headline_text(row) if row.get("headline") else "—",) if with_headline else ()))
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"report: {result.run_dir / 'report.md'}")


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
) -> None:
    """SFT warm-up (TRL SFTTrainer, loss on the completion only): teaches the output contract and the
    missing knowledge before RL. Writes RUN/sft/final, held-out metrics and a report."""
    _run("sft", recipe, out, model, task, set_, resume, device)


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
) -> None:
    """GRPO (TRL GRPOTrainer) with the task's verifiable rewards (EHRMIND: malformed −2, wrong 0, correct 1.1),
    held-out accuracy every grpo.eval_every steps. Multi-GPU: see docs/training.md."""
    _run("grpo", recipe, out, model, task, set_, resume, device, keep)


@train_app.command("show-config")
def show_config(
    recipe: str = typer.Option("quickstart", "--recipe", "-r", help=RECIPE_HELP),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    fields: bool = typer.Option(False, "--fields", help="List every field with its default and why."),
) -> None:
    """Print a recipe resolved with overrides (YAML), or the documented list of every field."""
    import yaml

    from clinrl.training.config import field_help, to_dict

    if fields:
        table = Table(show_lines=False)
        for column in ("field", "default", "why"):
            table.add_column(column, overflow="fold")
        for name, default, text in field_help():
            table.add_row(name, default, text)
        console.print(table)
        return
    console.print(yaml.safe_dump(to_dict(build_config(recipe, set_)), sort_keys=False), highlight=False)
