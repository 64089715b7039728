"""Calculator commands (``clinrl calc list | run | audit``) and MedCalc data builders
(``clinrl data synth medcalc``, ``clinrl data sft medcalc``)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clinrl.cli.app import calc_app, data_app, synth_app
from clinrl.errors import ConfigError
from clinrl.tasks.medcalc import NAME as MEDCALC

console = Console()
sft_app = typer.Typer(help="Build SFT warm-up data (EHRMIND: worked solutions in <think>, answer JSON after).",
                      no_args_is_help=True)
data_app.add_typer(sft_app, name="sft")


@calc_app.command("list")
def calc_list(as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table.")) -> None:
    """List every calculator: MedCalc-Bench id, slug, name, category, answer kind and unit."""
    from clinrl.calculators import list_calculators

    calculators = list_calculators()
    if as_json:
        typer.echo(json.dumps([c.describe() for c in calculators], ensure_ascii=False, indent=2))
        return
    from clinrl.cli.output import print_table

    print_table(console, ["id", "slug", "name", "category", "answer", "unit"],
                [[str(c.id), c.slug, c.name, c.category, c.output_kind, c.unit or ""] for c in calculators],
                title=f"clinrl calculators ({len(calculators)})")


def _read_json_argument(text: str) -> Any:
    """``--input`` is inline JSON or ``@path/to/file.json``."""
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise ConfigError(f"--input: no such file {path}")
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--input is not valid JSON ({exc.msg} at character {exc.pos}); example: "
                          "'{\"weight\": [70, \"kg\"], \"height\": [175, \"cm\"]}'") from None


def _read_entities_argument(text: str) -> dict[str, Any]:
    """``--entities`` input: JSON, or the Python-literal dict the dataset's 'Relevant Entities' column holds
    (single quotes, True/False), so a cell can be pasted as it is."""
    from clinrl.calculators.entities import parse_relevant_entities
    from clinrl.errors import DataError

    try:
        raw = _read_json_argument(text)
    except ConfigError:
        body = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        try:
            return parse_relevant_entities(body)
        except DataError:
            raise ConfigError("--input is neither JSON nor a Python-literal dict like the dataset's 'Relevant "
                              "Entities' cell, e.g. \"{'sex': 'Male', 'age': [67, 'years']}\"") from None
    if not isinstance(raw, dict):
        raise ConfigError("--input must be a JSON object or a Python-literal dict")
    return raw


@calc_app.command("run")
def calc_run(
    calculator: str = typer.Argument(..., help="MedCalc-Bench calculator id (e.g. 6) or slug (e.g. bmi); "
                                              "see `clinrl calc list`."),
    input_json: str = typer.Option(..., "--input", "-i",
                                   help="Inputs as JSON (or @file.json): field name -> value, \\[value, unit], "
                                        "true/false, a choice or an MM/DD/YYYY date. Example: "
                                        "'{\"weight\": [154, \"lb\"], \"height\": [70, \"in\"]}'."),
    entities: bool = typer.Option(False, "--entities",
                                  help="Read --input as a MedCalc-Bench 'Relevant Entities' dict (dataset keys "
                                       "and units; the CSV cell may be pasted as it is) instead of field names."),
    as_json: bool = typer.Option(False, "--json", help="Print {calculator_id, answer, explanation, ...} as JSON."),
) -> None:
    """Compute one calculator and print the answer with its step-by-step explanation.

    Units are converted (lb→kg, µmol/L→mg/dL, °F→°C, ...); a missing field, an unknown unit or an
    impossible value is an error that names the field. `clinrl calc list --json` lists every field of
    every calculator with its units, choices and default; --input '{}' names the required ones.
    """
    from clinrl.calculators import compute, get_calculator
    from clinrl.calculators.entities import inputs_from_relevant_entities, unmatched_entity_keys

    calc = get_calculator(calculator)
    if entities:
        raw = _read_entities_argument(input_json)
        ignored = unmatched_entity_keys(calc.id, raw)
        if ignored:  # a misspelt optional finding would otherwise silently count as absent
            Console(stderr=True).print(f"[bold yellow]warning:[/] {calc.slug} does not read entity key(s) "
                          f"{escape(', '.join(map(repr, ignored)))}; they were ignored", highlight=False)
        inputs = inputs_from_relevant_entities(calc.id, raw)
    else:
        raw = _read_json_argument(input_json)
        if not isinstance(raw, dict):
            raise ConfigError("--input must be a JSON object")
        inputs = raw
    result = compute(calc.id, inputs)
    if as_json:
        data = result.to_dict()
        data.pop("value", None)
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    unit = f" {result.unit}" if result.unit else ""
    console.print(f"[bold]{escape(result.name)}[/] (id {result.calculator_id}, {result.slug})", highlight=False)
    console.print(f"[bold green]answer:[/] {escape(str(result.answer))}{escape(unit)}", highlight=False)
    console.print(result.explanation, highlight=False, markup=False)
    console.print(f"[dim]reference: {escape(result.reference or '')}[/]", highlight=False)


@calc_app.command("audit")
def calc_audit(
    source: str = typer.Option(..., "--source", "-s",
                               help="MedCalc-Bench rows: a local CSV / parquet / JSONL with the official columns "
                                    "(e.g. ../shared/data/medcalc-bench/test_data.csv), a hub dataset id, or "
                                    "'verified' / 'v1.0' (MedCalc-Bench-Verified / v1.0 on the hub)."),
    out: Path = typer.Option(Path("docs"), "--out", "-o", help="Folder for medcalc_label_audit.csv and .md."),
    split: str = typer.Option("test", help="Split, when --source is a hub dataset id."),
) -> None:
    """Audit the dataset's labels: every row through the calculators, every disagreement with its cause.

    Writes medcalc_label_audit.csv (one line per row: status agree / disagree / error, both answers
    and the cause) and medcalc_label_audit.md (per-calculator agreement and the disagreeing rows
    grouped by cause). A documented defect is recognised by what the row holds (an examined v1.0
    test row by its calculator, note and answer; a systematic defect by its rule), so any file can be
    audited: a disagreement nothing documents is 'clinrl difference' in the v1.0 test set and
    'undocumented' elsewhere. Exit status 0 even when rows disagree: the audit documents, it does not judge.
    """
    from clinrl.tasks.medcalc.audit import audit_samples, labels_name, summarise, write_audit
    from clinrl.registry import get_task

    from clinrl.tasks.medcalc.sources import resolve_source

    samples = get_task(MEDCALC).load(source, split)
    rows = audit_samples(samples, progress=True)
    labels = labels_name(samples, resolve_source(source))
    console.print(f"labels: {labels}", highlight=False)
    csv_path, md_path = write_audit(rows, out, source=resolve_source(source), labels=labels)
    counts = Counter(r.status for r in rows)
    table = Table(title="MedCalc label audit")
    for column in ("id", "calculator", "rows", "agree", "disagree", "error"):
        table.add_column(column)
    for cid, e in summarise(rows).items():
        style = "" if e["agree"] == e["n"] else "yellow"
        table.add_row(str(cid), e["name"][:48], str(e["n"]), str(e["agree"]), str(e["disagree"]), str(e["error"]),
                      style=style)
    console.print(table)
    causes = Counter(r.cause.split(":")[0].split(" (")[0] for r in rows if r.status != "agree")
    console.print(f"{len(rows)} rows: {counts['agree']} agree, {counts['disagree']} disagree, "
                  f"{counts['error']} could not be computed"
                  + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(causes.items()))})" if causes else "")
                  + f". Wrote {csv_path} and {md_path}.")


@synth_app.command(MEDCALC)
def synth_medcalc(
    out: Path = typer.Option(..., "--out", "-o", help="Output file; .csv, .jsonl or .parquet (by suffix)."),
    calculators: str = typer.Option("all", "--calculators", "-c",
                                    help="Comma-separated calculator ids or slugs (e.g. 6,5,39), or 'all'. Rows "
                                         "cycle through them, so each gets an equal share."),
    n: int = typer.Option(1000, "--n", "-n", help="Number of rows."),
    seed: int = typer.Option(0, "--seed", help="Row i is drawn from Random(seed + i): same seed, same bytes."),
    difficulty: str = typer.Option("mixed", "--difficulty", "-d",
                                   help="template (one sentence per finding) | simple (shuffled, no distractors) | "
                                        "narrative (grouped vitals/labs, distractors, some alternative units) | "
                                        "noisy (many distractors, mostly alternative units, absent findings "
                                        "often unstated) | mixed (each row picks one)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists (refused without it)."),
) -> None:
    """Write synthetic MedCalc-Bench rows (14 official columns) whose labels come from the calculators.

    The task loads the file like real data: `clinrl data show medcalc --source FILE`. For training
    without a file use the task source 'synthetic:calculators=6,5,39;n=500;seed=0;difficulty=mixed'.
    """
    from clinrl.tasks.medcalc.synth import DIFFICULTY_CHOICES, OUTPUT_SUFFIXES, generate_rows, write_rows

    if difficulty not in DIFFICULTY_CHOICES:
        raise ConfigError(f"--difficulty must be one of {', '.join(DIFFICULTY_CHOICES)}")
    if not calculators.strip(" ,;"):
        raise ConfigError("--calculators is empty; give ids or slugs (e.g. 6,5,39) or 'all'")
    if out.suffix.lower() not in OUTPUT_SUFFIXES:  # checked before minutes of generation, not after
        raise ConfigError(f"--out {out}: unsupported output type {out.suffix.lower()!r}; use "
                          f"{', '.join(OUTPUT_SUFFIXES)}")
    from clinrl.data.atomic import check_output_file

    check_output_file(out, overwrite=overwrite)
    rows = generate_rows(n, calculators=calculators, seed=seed, difficulty=difficulty, progress=True)
    write_rows(rows, str(out))
    per = Counter(int(r["Calculator ID"]) for r in rows)
    console.print(f"Wrote {len(rows)} rows ({len(per)} calculators, seed {seed}, difficulty {difficulty}) to {out}.")


@sft_app.command(MEDCALC)
def sft_medcalc(
    source: str = typer.Option(..., "--source", "-s",
                               help="MedCalc rows: a local file, a hub id (use --split train; never the test set "
                                    "for training) or 'synthetic:calculators=...;n=...;seed=...'."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: train.jsonl, val.jsonl, sft_report.json."),
    split: str = typer.Option("train", help="Split to read (hub ids and synthetic sources)."),
    pct: float = typer.Option(0.2, help="Fraction kept, balanced over categories (EHRMIND: 0.2 ≈ 2k of the "
                                        "10k-row train set). 1.0 keeps everything."),
    seed: int = typer.Option(0, help="Seeds the subset and the validation hold-out."),
    val_fraction: float = typer.Option(0.1, help="Fraction of each category's pick held out for validation."),
    labels: str = typer.Option("recomputed", help="official | recomputed: recomputed swaps in the calculator's "
                                                  "answer and explanation on rows whose dataset label is wrong, "
                                                  "so the warm-up never teaches a known defect."),
    allow_test_rows_in_train: bool = typer.Option(
        False, "--allow-test-rows-in-train",
        help="Read a benchmark's test file as training rows anyway (refused by default for --split train)."),
) -> None:
    """Build EHRMIND SFT warm-up data: explanation inside <think>, {"answer": ...} inside <answer>.

    Each line: {"id", "prompt" (chat messages), "prefill", "completion", "category", "calculator_id"};
    every completion is checked to score correct before it is written (see clinrl.data.sft).
    """
    from clinrl.data.sft import SFTReport, build_sft_examples, write_jsonl
    from clinrl.registry import get_task

    task = get_task(MEDCALC, labels=labels, allow_test_rows_in_train=allow_test_rows_in_train)
    from clinrl.tasks.medcalc.sources import named_as_test

    if split == "test" or named_as_test(source) or allow_test_rows_in_train:
        console.print("[bold yellow]warning:[/] this reads a test split; training on it makes every later "
                      "evaluation on it meaningless. Use the train split or a synthetic source.")
    samples = task.load(source, split)
    report = SFTReport()
    train, val = build_sft_examples(samples, pct=pct, seed=seed, val_fraction=val_fraction, task=task, report=report)
    write_jsonl(train, out / "train.jsonl")
    write_jsonl(val, out / "val.jsonl")
    info = dict(report.to_dict(), source=source, split=split, pct=pct, seed=seed, val_fraction=val_fraction,
                labels=labels)
    (out / "sft_report.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    skipped = sum(report.skipped.values())
    console.print(f"{report.n_input} samples read, {skipped} unusable "
                  f"({dict(report.skipped) or 'none'}); quota per category {report.quota}.")
    console.print(f"Wrote {len(train)} train and {len(val)} validation examples to {out}/.")
