"""``clinrl export verl``: a task's samples as verl parquet rows, scored in verl by clinrl's verifiers."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from clinrl.cli.app import export_app

console = Console()


@export_app.command("verl")
def verl_command(
    task: str = typer.Option(..., "--task", "-t", help="Registered task to export (e.g. medcalc)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for <split>.parquet files."),
    source: Optional[str] = typer.Option(None, "--source", "-s",
                                         help="Task source: a hub id, a local file, or 'synthetic[:options]' "
                                              "(default: the task's own default source)."),
    split: Optional[list[str]] = typer.Option(None, "--split", help="Splits to write (default: train and test)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="At most N rows per split."),
    seed: int = typer.Option(0, "--seed", help="Seed for synthetic sources."),
) -> None:
    """Write verl's rows (data_source, prompt, ability, reward_model{style, ground_truth}, extra_info).

    In verl, point custom_reward_function.path at clinrl/export/verl.py and .name at compute_score
    (see docs/training.md): every completion is scored by the task's own verifier.
    """
    from clinrl.export.verl import export_verl

    written = export_verl(task, out, source=source, splits=tuple(split or ("train", "test")), limit=limit, seed=seed)
    for name, n in written.items():
        console.print(f"{out / (name + '.parquet')}: {n} rows")
    import clinrl.export.verl as module

    console.print(f"reward function: custom_reward_function.path={module.__file__} "
                  "custom_reward_function.name=compute_score", highlight=False)
