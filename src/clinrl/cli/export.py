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
    split: Optional[list[str]] = typer.Option(None, "--split", "--splits",
                                              help="Splits to write, repeatable (default: train and test). A single "
                                                   "file has no splits: name the one it is, e.g. --split test."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="At most N rows per split."),
    seed: int = typer.Option(0, "--seed", help="Seed for synthetic sources."),
    allow_test_rows_in_train: bool = typer.Option(
        False, "--allow-test-rows-in-train",
        help="Write a benchmark's test file as train.parquet anyway (refused by default: every later evaluation "
             "on those rows would be meaningless)."),
) -> None:
    """Write verl's rows (data_source, prompt, ability, reward_model{style, ground_truth}, extra_info).

    In verl, point custom_reward_function.path at clinrl/export/verl.py and .name at compute_score
    (see docs/training.md): every completion is scored by the task's own verifier.
    """
    from clinrl.export.verl import export_verl

    options = {"allow_test_rows_in_train": True} if allow_test_rows_in_train else {}
    if allow_test_rows_in_train:
        Console(stderr=True).print("[bold yellow]warning:[/] --allow-test-rows-in-train: benchmark test rows may be "
                                   "written to train.parquet; do not evaluate on them afterwards.")
    written = export_verl(task, out, source=source, splits=tuple(split or ("train", "test")), limit=limit, seed=seed,
                          task_options=options)
    for name, n in written.items():
        console.print(f"{out / (name + '.parquet')}: {n} rows")
    import clinrl.export.verl as module

    console.print(f"reward function: custom_reward_function.path={module.__file__} "
                  "custom_reward_function.name=compute_score", highlight=False)
