"""The MedCalc-Bench label audit: every row through clinrl's calculators, every disagreement explained.

For each row the calculator's answer is scored against the row's official target with the
benchmark's own rule (:mod:`clinrl.tasks.medcalc.labels`). A disagreement's cause comes from
``clinrl.tasks.medcalc.known_defects`` when it recognises the row (an examined test row by its digest,
or a defect's rule over the row's inputs and answers, in any file). Otherwise the cause names both
answers, as ``clinrl difference: …`` in the v1.0 test set (whose every disagreement was examined, so
an unexplained one is clinrl's) and as ``undocumented: …`` in any other file (nobody has examined it
yet). The same comparison drives the MedCalc task's ``labels="recomputed"`` mode.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from clinrl.tasks.medcalc.labels import Recomputed, recompute
from clinrl.types import Sample

AUDIT_COLUMNS = ("row_number", "calculator_id", "calculator_name", "status", "official_answer", "official_lower",
                 "official_upper", "clinrl_answer", "cause")


@dataclass(frozen=True)
class AuditRow:
    row_number: int
    calculator_id: int
    calculator_name: str
    status: str  # agree | disagree | error
    official_answer: str
    official_lower: str
    official_upper: str
    clinrl_answer: str
    cause: str = ""
    evidence: str = ""  # for documented defects: what shows it (in the markdown, once per cause)


#: the cause prefix of a disagreement no documented defect explains: in the examined v1.0 test set
#: it is clinrl's doing; in any other file it has simply not been examined
CLINRL_DIFFERENCE, UNDOCUMENTED = "clinrl difference", "undocumented"


def documented_cause(facts: Any) -> tuple[str, str] | None:
    """``(cause, evidence)`` of the documented dataset defect this row shows (``known_defects``), if any."""
    from clinrl.tasks.medcalc.known_defects import match_defect

    defect = match_defect(facts)
    if defect is None:
        return None
    return f"dataset defect ({defect.kind}): {defect.cause}", defect.evidence


def _facts(sample: Sample, clinrl_answer: Any) -> Any:
    from clinrl.tasks.medcalc.known_defects import RowFacts

    target, meta = sample.target, sample.metadata
    return RowFacts(calculator_id=int(target["calculator_id"]), note=str(meta.get("patient_note") or ""),
                    ground_truth=str(target["ground_truth"]), lower_limit=str(target["lower_limit"]),
                    upper_limit=str(target["upper_limit"]), entities=meta.get("relevant_entities"),
                    explanation=str(meta.get("explanation") or ""), clinrl_answer=clinrl_answer)


@dataclass(frozen=True)
class Relabel:
    """What ``labels="recomputed"`` does with one row.

    ``action``: ``keep`` (clinrl agrees, or cannot compute and no defect is documented), ``replace`` (clinrl
    disagrees: its answer becomes the label), ``correct`` (a documented entity typo makes the official label
    impossible: clinrl's answer from the corrected entities becomes the label) or ``exclude`` (the label is
    impossible and nothing in the note corrects it: the row is left out and counted)."""

    action: str
    target: dict[str, Any] | None
    recomputed: Recomputed
    defect_cause: str = ""
    corrected_entities: dict[str, Any] | None = None


def relabel_sample(sample: Sample) -> Relabel:
    """The recomputed label of one row (the same comparison the audit makes)."""
    from clinrl.tasks.medcalc.known_defects import match_defect

    target, entities = sample.target, sample.metadata.get("relevant_entities")
    cid = int(target["calculator_id"])
    calc = recompute(cid, entities, target)
    if calc.agrees is True:
        return Relabel("keep", dict(target), calc)
    if calc.agrees is False:
        return Relabel("replace", calc.target, calc)
    defect = match_defect(_facts(sample, None))
    if defect is None or defect.kind != "entity":
        return Relabel("keep", dict(target), calc)
    if defect.corrected_entities is not None and isinstance(entities, dict):
        fixed_entities = {**entities, **defect.corrected_entities}
        fixed = recompute(cid, fixed_entities, target)
        if fixed.agrees is not None:
            return Relabel("correct", fixed.target, fixed, defect.cause, dict(defect.corrected_entities))
    return Relabel("exclude", None, calc, defect.cause)


def audit_samples(samples: Iterable[Sample], *, progress: bool = False) -> list[AuditRow]:
    """One :class:`AuditRow` per sample (official labels in ``sample.target``)."""
    from clinrl.tasks.medcalc.known_defects import is_official_test_set, row_digest

    items = list(samples)
    official_test = is_official_test_set([
        row_digest(s.target["calculator_id"], s.metadata.get("patient_note") or "", s.target["ground_truth"])
        for s in items])
    unexplained = CLINRL_DIFFERENCE if official_test else UNDOCUMENTED
    if progress:
        from rich.progress import track

        iterator: Iterable[Sample] = track(items, description="auditing MedCalc rows")
    else:
        iterator = items
    rows = []
    for sample in iterator:
        target = sample.target
        cid = int(target["calculator_id"])
        calc = recompute(cid, sample.metadata.get("relevant_entities"), target)
        cause, evidence, clinrl_text = "", "", _text(calc.answer)
        if calc.agrees is not True:
            cause, evidence = documented_cause(_facts(sample, calc.answer)) or ("", "")
        if calc.agrees is None:
            status, cause = "error", cause or f"{unexplained}: {calc.error}"
            if cause.startswith("dataset defect (entity)"):
                relabel = relabel_sample(sample)
                clinrl_text = (f"{_text(relabel.recomputed.answer)} (entities corrected: "
                               f"{_text_entities(relabel.corrected_entities)})" if relabel.action == "correct"
                               else "no corrected value (labels='recomputed' leaves the row out)")
        elif calc.agrees:
            status = "agree"
        else:
            status = "disagree"
            cause = cause or (f"{unexplained}: clinrl computes {_text(calc.answer)} from the row's "
                              f"entities, {_labels_of(sample)} says {target['ground_truth']}")
        rows.append(AuditRow(
            row_number=int(sample.metadata.get("row_number") or sample.id), calculator_id=cid,
            calculator_name=str(sample.metadata.get("calculator_name") or ""), status=status,
            official_answer=str(target["ground_truth"]), official_lower=str(target["lower_limit"]),
            official_upper=str(target["upper_limit"]), clinrl_answer=clinrl_text, cause=cause,
            evidence=evidence))
    return rows


def _text(answer: Any) -> str:
    if answer is None:
        return ""
    if isinstance(answer, (list, tuple)):
        return ", ".join(map(str, answer))
    return str(answer)


def _labels_of(sample: Sample) -> str:
    from clinrl.tasks.medcalc.sources import label_source_name

    name = label_source_name(str(sample.metadata.get("source") or ""))
    return name if name.startswith("MedCalc-Bench") else "the dataset"


def _text_entities(entities: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {v[0]} {v[1]}" if isinstance(v, (list, tuple)) and len(v) == 2 else f"{k} {v}"
                     for k, v in (entities or {}).items())


def summarise(rows: list[AuditRow]) -> dict[int, dict[str, Any]]:
    per: dict[int, dict[str, Any]] = defaultdict(lambda: {"name": "", "n": 0, "agree": 0, "disagree": 0, "error": 0})
    for row in rows:
        entry = per[row.calculator_id]
        entry["name"] = row.calculator_name
        entry["n"] += 1
        entry[row.status] += 1
    return {cid: per[cid] for cid in sorted(per)}


def write_audit(rows: list[AuditRow], out_dir: str | Path, *, source: str,
                labels: str | None = None) -> tuple[Path, Path]:
    """``medcalc_label_audit.csv`` (every row) and ``medcalc_label_audit.md`` (summary) in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "medcalc_label_audit.csv", out / "medcalc_label_audit.md"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(AUDIT_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in sorted(rows, key=lambda r: r.row_number):
            writer.writerow({k: v for k, v in asdict(row).items() if k in AUDIT_COLUMNS})
    md_path.write_text(render_markdown(rows, source=source, labels=labels), encoding="utf-8")
    return csv_path, md_path


def labels_name(samples: list[Sample], source: str) -> str:
    """Whose labels an audited file carries: the v1.0 test set (recognised by its rows), MedCalc-Bench-Verified
    (by its hub id or file name) or the file's name."""
    from clinrl.tasks.medcalc.known_defects import is_official_test_set, row_digest
    from clinrl.tasks.medcalc.sources import label_source_name

    digests = [row_digest(s.target["calculator_id"], s.metadata.get("patient_note") or "", s.target["ground_truth"])
               for s in samples]
    if samples and is_official_test_set(digests):
        return "MedCalc-Bench v1.0 test set"
    return label_source_name(source)


def render_markdown(rows: list[AuditRow], *, source: str, labels: str | None = None) -> str:
    from clinrl.tasks.medcalc.sources import label_source_name

    summary = summarise(rows)
    labels = labels or label_source_name(source)
    n = len(rows)
    agree = sum(r.status == "agree" for r in rows)
    errors = sum(r.status == "error" for r in rows)
    documented = sum(r.status != "agree" and r.cause.startswith("dataset defect") for r in rows)
    differences = sum(r.status != "agree" and r.cause.startswith(CLINRL_DIFFERENCE) for r in rows)
    undocumented = sum(r.status != "agree" and r.cause.startswith(UNDOCUMENTED) for r in rows)
    lines = [
        "# MedCalc-Bench label audit",
        "",
        "Generated by `clinrl calc audit` (do not edit by hand): every row's `Relevant Entities` through "
        "clinrl's calculators, scored against the row's official answer with the benchmark's own rule "
        "(dates and gestational age exact, integers rounded, decimals inside the row's ±5 % bounds).",
        "",
        f"Source: `{Path(source).name}` (labels: {labels}) — {n} rows. Agreement: **{agree}/{n}** "
        f"({100.0 * agree / n if n else 0:.1f} %). Not agreeing: {n - agree} rows ({errors} of them rejected by "
        f"the calculators as impossible input) — {documented} documented dataset defects, {differences} "
        f"clinrl differences, {undocumented} undocumented.",
        "",
        "The MedCalc task's `labels=\"recomputed\"` mode replaces the ground truth on exactly the disagreeing "
        "rows listed here; on a row the calculators reject because of a documented entity typo (an impossible "
        "label) it grades against the value computed from the corrected entities (shown in the clinrl column), "
        "or leaves the row out, counted, when nothing corrects it. Every row is in `medcalc_label_audit.csv`. "
        "A documented defect is recognised by what the row holds (an examined v1.0 test row by its calculator, note and answer; otherwise the "
        "defect's rule over the row's inputs and answers), never by its row number; a disagreement no "
        "documented defect explains is a *clinrl difference* in the examined v1.0 test set and "
        "*undocumented* in any other file.",
        "",
        "## Per calculator",
        "",
        "| id | calculator | rows | agree | disagree | error | agreement |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for cid, e in summary.items():
        lines.append(f"| {cid} | {e['name']} | {e['n']} | {e['agree']} | {e['disagree']} | {e['error']} | "
                     f"{100.0 * e['agree'] / e['n']:.0f} % |")
    lines += ["", f"## Where clinrl and the labels ({labels}) disagree, per calculator", ""]
    differing = [(cid, e) for cid, e in summary.items() if e["agree"] != e["n"]]
    if not differing:
        lines.append("Nowhere: every row agrees.")
    else:
        lines += ["| id | calculator | disagree | error | rows |", "|---:|---|---:|---:|---|"]
        for cid, e in differing:
            numbers = sorted(r.row_number for r in rows if r.calculator_id == cid and r.status != "agree")
            shown = ", ".join(map(str, numbers[:12])) + (f", … ({len(numbers)} in all)" if len(numbers) > 12 else "")
            lines.append(f"| {cid} | {e['name']} | {e['disagree']} | {e['error']} | {shown} |")
    lines += ["", "## Disagreements and errors by cause", ""]
    by_cause: dict[tuple[int, str], list[AuditRow]] = defaultdict(list)
    for row in rows:
        if row.status != "agree":
            key = next((p for p in (CLINRL_DIFFERENCE, UNDOCUMENTED) if row.cause.startswith(p)), row.cause)
            by_cause[(row.calculator_id, f"{row.status}: {key}")].append(row)
    if not by_cause:
        lines.append("None.")
    for (cid, cause), items in sorted(by_cause.items()):
        lines.append(f"### {cid} {items[0].calculator_name} — {len(items)} row(s)")
        lines.append("")
        lines.append(f"Cause: {cause}")
        lines.append("")
        if items[0].evidence:
            lines += [f"Evidence: {items[0].evidence}", ""]
        lines.append("| row | official | clinrl |")
        lines.append("|---:|---|---|")
        for row in sorted(items, key=lambda r: r.row_number):
            lines.append(f"| {row.row_number} | {row.official_answer} | {row.clinrl_answer or '—'} |")
        lines.append("")
    from clinrl.calculators.absence import render_markdown as absence_section

    lines += absence_section()
    return "\n".join(lines).rstrip() + "\n"
