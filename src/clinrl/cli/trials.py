"""Trial-matching commands: ``clinrl data synth trials`` and ``clinrl data rationales trials``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clinrl.cli.app import rationales_app, synth_app
from clinrl.errors import ConfigError

#: markup off: ids, reasons, error texts and paths are data, and rich would eat a "[bracketed]" part of them
console = Console(markup=False)
#: output types `data synth trials` writes (JSON lines only; the task also reads parquet, but none is written)
SYNTH_SUFFIXES = (".jsonl",)


def _options(values: Optional[List[str]]) -> dict[str, str]:
    out = {}
    for value in values or []:
        for part in value.split(","):
            key, sep, val = part.partition("=")
            if not sep:
                raise ConfigError(f"--set expects key=value, got {part!r}")
            out[key.strip()] = val.strip()
    return out


@synth_app.command("trials")
def synth_trials(
    out: Path = typer.Option(..., "--out", "-o", help="Pairs file to write; must end in .jsonl (the only format "
                             "written; loadable with --source OUT)."),
    n: int = typer.Option(300, "--n", "-n", min=1, help="Number of patient–trial pairs, at least 1 (3 trials per "
                          "patient by default, one of each label, so the classes are balanced)."),
    split: str = typer.Option("train", help="Split name; it is part of every id and of the seed, so train and test "
                              "pairs never coincide."),
    seed: int = typer.Option(0, help="Seed: the same seed, split and options give identical files."),
    preset: str = typer.Option("medium", help="Difficulty preset: easy (2 criteria, no negations, no unit changes), "
                               "medium, hard (9 criteria, 6 distractors, frequent negations and unit changes)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Override a knob: n_inclusion, n_exclusion, "
                                             "distractors, negation_rate, unit_variation, synonym_rate, "
                                             "trials_per_patient (e.g. --set negation_rate=0.5)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists (refused without it)."),
) -> None:
    """Write seeded synthetic patient–trial pairs whose labels follow exactly from the patient's attributes.

    Each row has the fields of a TREC pairs file (query_id, trial_id, label, label_name, patient_note, trial_title,
    inclusion_criteria, exclusion_criteria) plus the structured patient and trial it was rendered from.

    Example: clinrl data synth trials --out runs/trials/synth_train.jsonl --n 3000 --preset hard
    """
    from clinrl.tasks.trials import synth
    from clinrl.tasks.trials.labels import TREC_NAMES

    if out.suffix.lower() not in SYNTH_SUFFIXES:  # checked before generating, not after
        raise ConfigError(f"--out {out}: unsupported output type {out.suffix.lower() or '(no suffix)'!r}; the "
                          f"pairs are written as JSON lines, so use {', '.join(SYNTH_SUFFIXES)}")
    if n < 1:  # typer checks the command line; this guards direct calls
        raise ConfigError(f"--n must be at least 1, got {n}")
    from clinrl.data.atomic import atomic_file, check_output_file

    check_output_file(out, overwrite=overwrite)
    config = synth.config_from(f"synthetic:{preset}", _options(set_))
    pairs = synth.generate_pairs(n, split=split, seed=seed, config=config)
    from clinrl.data.tables import write_jsonl

    with atomic_file(out) as partial:
        write_jsonl(partial, ({"query_id": p.query_id, "trial_id": p.trial_id, "label": p.label,
                               "label_name": TREC_NAMES[p.label].replace(" ", "_"), "patient_note": p.patient_note,
                               "trial_title": p.trial.title if p.trial else "",
                               "inclusion_criteria": p.trial.inclusion if p.trial else "",
                               "exclusion_criteria": p.trial.exclusion if p.trial else "", **p.extra}
                              for p in pairs))
    counts = Counter(TREC_NAMES[p.label] for p in pairs)
    console.print(f"wrote {len(pairs)} pairs ({len({p.query_id for p in pairs})} patients) to {out}: "
                  + ", ".join(f"{name} {counts[name]}" for name in TREC_NAMES), highlight=False)


@rationales_app.command("trials")
def rationales_trials(
    source: str = typer.Option("synthetic", "--source", "-s", help="Pairs JSONL, TrialGPT directory with a corpus, "
                               "hub dataset id, or synthetic[:preset]. Pairs without criteria text are skipped "
                               "and counted."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: rationales.jsonl (journal, resume point), "
                             "train.jsonl (SFT rows), report.json."),
    split: str = typer.Option("train", help="Split to draw from (train / test_seen / test_unseen / all). Write "
                              "rationales for training pairs only."),
    per_class: int = typer.Option(1000, help="Accepted rationales wanted per class (EHRMIND: 1,000 per class)."),
    min_confidence: int = typer.Option(4, help="Drop rationales whose self-rated confidence (1-5) is below this."),
    model: str = typer.Option("default", help="Teacher model name sent to the endpoint."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
                                           "(default: CLINRL_LLM_BASE_URL). Nothing is sent unless configured."),
    seed: int = typer.Option(0, help="Seed of the split and of the per-class candidate order."),
    limit: Optional[int] = typer.Option(None, help="Read at most this many pairs from the source (synthetic: the "
                                        "pool size; default 4 x per_class x 3 so drops can be replaced)."),
    temperature: float = typer.Option(0.3, help="Teacher sampling temperature."),
    max_concurrency: int = typer.Option(8, help="Parallel requests."),
    max_retries: int = typer.Option(3, help="Retries per request before it is recorded as failed."),
    cache_dir: Optional[Path] = typer.Option(Path.home() / ".cache" / "clinrl" / "llm", help="Reply cache "
                                             "(successful replies only), so reruns cost nothing."),
) -> None:
    """Have a teacher model write a rationale for each pair GIVEN its gold label (without revealing it), keep
    confident ones, class-balanced, as SFT warm-up rows. Interrupted runs resume from the journal.

    Example: clinrl data rationales trials --source runs/trials/synth_train.jsonl --out runs/trials/rationales
    --per-class 200 --base-url http://127.0.0.1:8000/v1 --model my-teacher
    """
    from clinrl.llm import ChatClient
    from clinrl.registry import get_task
    from clinrl.tasks.trials.rationales import RationaleConfig, generate_rationales

    config = RationaleConfig(per_class=per_class, min_confidence=min_confidence, temperature=temperature,
                             seed=seed)
    client = ChatClient(base_url=base_url, model=model, max_retries=max_retries, max_concurrency=max_concurrency,
                        cache_dir=cache_dir)
    task = get_task("trials")
    if limit is None and source.startswith("synthetic"):
        limit = 4 * per_class * 3
    samples = task.load(source, split, limit=limit, seed=seed)
    report = generate_rationales(task, samples, client, out, config=config)
    table = Table(title="teacher rationales")
    for column in ("class", "available", "accepted", "shortfall"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, available in report.available_per_class.items():
        table.add_row(name, str(available), str(report.accepted_per_class.get(name, 0)),
                      str(report.shortfall.get(name, 0)))
    console.print(table)
    console.print("this run: " + ", ".join(f"{k} {v}" for k, v in report.statuses.items()) +
                  f" (requests {report.requested}; finished earlier and skipped: {report.resumed})", highlight=False)
    if report.failures:
        console.print(Text.assemble(("failed requests (retried on the next run): ", "yellow"),
                                    "; ".join(f"{k} ×{v}" for k, v in report.failures.most_common(3))),
                      highlight=False)
    for reason, count in report.skipped.items():
        console.print(f"skipped {count} pair(s): {reason}", highlight=False)
    console.print(f"wrote {sum(report.accepted_per_class.values())} SFT rows to {out / 'train.jsonl'}",
                  highlight=False)
