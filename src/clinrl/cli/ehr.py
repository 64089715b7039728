"""EHR commands: ``clinrl data labels ehr`` (EHRSHOT labelers on MEDS data) and ``clinrl data synth ehr``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from clinrl.cli.app import labels_app, synth_app
from clinrl.cli.output import echo_json, print_table
from clinrl.errors import ConfigError

console = Console()


def _split_codes(values: Optional[List[str]]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip().replace(".", "").upper() for v in value.split(",") if v.strip())
    return tuple(out)


@labels_app.command("ehr")
def labels_ehr(
    meds: Path = typer.Option(..., "--meds", "-m", help="A MEDS dataset directory (data/*.parquet + metadata/) or "
                              "a near-MEDS single parquet file such as the MIMIC-IV demo export."),
    task: List[str] = typer.Option(["all"], "--task", "-t", help="EHRSHOT labeling task id: new_hypertension, "
                                   "new_hyperlipidemia, new_pancan, new_celiac, new_lupus, new_acutemi, "
                                   "guo_readmission, guo_los; repeat it, or 'all' (default) for every one."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output parquet in MEDS label schema (subject_id, "
                                       "prediction_time, boolean_value). With several tasks: a directory that "
                                       "gets TASK.parquet each. Omit to only print the counts."),
    icd9: Optional[List[str]] = typer.Option(None, "--icd9", help="Replace the outcome code set: ICD-9-CM "
                                             "prefixes (dots optional, comma-separated or repeated)."),
    icd10: Optional[List[str]] = typer.Option(None, "--icd10", help="Replace the outcome code set: ICD-10-CM "
                                              "prefixes, e.g. --icd10 I10,I11."),
    snomed: Optional[List[str]] = typer.Option(None, "--snomed", help="Replace the outcome code set: SNOMED root "
                                               "concept ids (descendants via metadata/codes.parquet)."),
    anchor: Optional[str] = typer.Option(None, help="guo_readmission prediction time: 'discharge' (EHRSHOT's "
                                         "labeler, default) or 'admission'."),
    report: Optional[Path] = typer.Option(None, help="Also write the per-task counts (and dropped prediction "
                                          "times with their reasons) as JSON here."),
    as_json: bool = typer.Option(False, "--json", help="Print the per-task counts as JSON on stdout (the "
                                 "other lines go to stderr)."),
) -> None:
    """Label inpatient stays of a MEDS dataset with EHRSHOT's task definitions and print the counts.

    New-diagnosis tasks predict at 23:59 on each discharge day whether the first outcome code falls in
    (t + 1 day, t + 365 days]; stays after the first diagnosis are dropped. guo_los predicts at 23:59 on
    the admission day whether the stay lasts >= 7 days; guo_readmission whether an admission follows
    within (1 minute, 30 days] of 23:59 on the discharge day.

    Example: clinrl data labels ehr --meds ../shared/data/mimic-iv-demo-meds/mimic_iv_demo_meds_events.parquet
    --task new_hypertension --out runs/labels/new_hypertension.parquet
    """
    from clinrl.data.meds import FILE_SUFFIXES, read_meds
    from clinrl.tasks.ehr.labelers import LABELING_TASKS, CodeSet, get_labeling_task, label, write_labels

    names = list(LABELING_TASKS) if task == ["all"] else task
    codes = CodeSet(icd9=_split_codes(icd9), icd10=_split_codes(icd10), snomed=_split_codes(snomed))
    if out is not None and len(names) > 1 and out.suffix.lower() in FILE_SUFFIXES:
        raise ConfigError(f"--out {out} looks like a file name, but {len(names)} tasks write one TASK.parquet each "
                          f"into a directory: give a directory such as {out.with_suffix('')}, or one --task")
    if not codes.is_empty() and len(names) != 1:
        raise ConfigError("--icd9/--icd10/--snomed replace one task's code set: give exactly one --task")
    tasks = [get_labeling_task(n, codes=codes, anchor=anchor if n == "guo_readmission" else None) for n in names]
    out_console = Console(stderr=True) if as_json else console
    with out_console.status(f"reading {meds}"):
        dataset = read_meds(meds, option="--meds")
    out_console.print(f"{dataset.events.height:,} events, {len(dataset.subject_ids):,} subjects "
                      f"(splits from {dataset.split_origin})")
    rows, reports = [], []
    for t in tasks:
        labels, rep = label(dataset, t)
        reports.append(rep.to_dict())
        dropped = "; ".join(f"{k}: {v}" for k, v in rep.dropped.items()) or "-"
        rows.append([t.name, str(rep.n_labels), str(rep.n_positive), str(rep.n_labels - rep.n_positive),
                     f"{100 * rep.positive_rate:.1f}" if rep.n_labels else "-", str(rep.n_subjects), dropped])
        if out is not None:
            path = out / f"{t.name}.parquet" if len(tasks) > 1 else out
            write_labels(labels, path)
            reports[-1]["file"] = str(path)
    if as_json:
        echo_json(reports)
    else:
        print_table(console, ["task", "labels", "positive", "negative", "positive %", "subjects", "dropped"], rows,
                    title=f"EHRSHOT labels on {meds.name}",
                    right=("labels", "positive", "negative", "positive %", "subjects"))
    if out is not None:
        out_console.print(f"labels written to {out}")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(reports, indent=2) + "\n", encoding="utf-8")
        out_console.print(f"counts written to {report}")


@synth_app.command("ehr")
def synth_ehr(
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write the MEDS dataset into (data/, metadata/); "
                       "a file-like name such as x.parquet is refused."),
    subjects: int = typer.Option(1000, "--subjects", "-n", help="Number of subjects (the ehr task's default "
                                 "cohort size). 1,000 give ~200-300 positives for the common new-diagnosis "
                                 "tasks; rare ones (pancan, celiac, lupus) stay rare."),
    seed: int = typer.Option(0, help="Seed: the same seed and size give byte-identical files."),
    subjects_per_shard: int = typer.Option(100, help="Subjects per data/*.parquet shard."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a data set already in --out (all of it: no "
                                   "shard of the earlier one is kept). Without it an existing data set is refused."),
) -> None:
    """Write a seeded synthetic MEDS cohort (ICD-10 codes, labs, medications) whose outcomes depend on risk
    factors (age, obesity, diabetes, smoking, CKD, COPD), then print its EHRSHOT label counts."""
    from clinrl.data.meds import check_dataset_dir
    from clinrl.data.meds_synth import write_cohort
    from clinrl.tasks.ehr.labelers import LABELING_TASKS, label

    check_dataset_dir(out)  # before generating: `-o cohort.parquet` would silently become a folder
    with console.status(f"generating {subjects} subjects"):
        dataset = write_cohort(out, n_subjects=subjects, seed=seed, subjects_per_shard=subjects_per_shard,
                               overwrite=overwrite)
    console.print(f"wrote {dataset.events.height:,} events for {subjects} subjects to {out}")
    rows = []
    for name in LABELING_TASKS:
        _, rep = label(dataset, name)
        rows.append([name, str(rep.n_labels), str(rep.n_positive),
                     f"{100 * rep.positive_rate:.1f}" if rep.n_labels else "-"])
    print_table(console, ["task", "labels", "positive", "positive %"], rows, title="label counts",
                right=("labels", "positive", "positive %"))
