"""Reading patient–trial matching data.

Two layouts are understood, from a local path or a hub dataset id (downloaded to the local cache):

* **TrialGPT / BEIR directory**: ``queries.jsonl`` (``{"_id", "text"}``), judgments in ``qrels_test.tsv`` or
  ``qrels/*.tsv`` (``query-id  corpus-id  score``), and optionally a trial corpus: ``corpus.jsonl`` /
  ``*corpus*.jsonl`` (``{"_id", "title", "text", "metadata": {"inclusion_criteria", "exclusion_criteria", …}}``)
  or ``trial_info.json`` (``{nct_id: {"brief_title", "inclusion_criteria", …}}``).
* **pairs JSONL** (or parquet): one judged pair per row with its texts: ``query_id, trial_id, label,
  patient_note, trial_title, inclusion_criteria, exclusion_criteria`` (``label_name`` optional and checked).

Judgments whose patient or trial text is missing are never dropped silently: :class:`LoadReport` counts them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from clinrl.data.tables import not_utf8, read_local
from clinrl.errors import DataError, require
from clinrl.tasks.trials.labels import normalise_name, parse_gold_label, TREC_NAMES

PAIR_FIELDS = ("query_id", "trial_id", "label", "patient_note", "trial_title", "inclusion_criteria",
               "exclusion_criteria")


@dataclass(frozen=True)
class TrialText:
    title: str
    inclusion: str
    exclusion: str
    summary: str = ""


@dataclass(frozen=True)
class Pair:
    """One judged patient–trial pair. ``trial`` is ``None`` when the trial text is not available."""

    query_id: str
    trial_id: str
    label: int
    patient_note: str
    trial: TrialText | None
    origin: str = ""  # "file:row" of the judgment, for error messages
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.query_id}::{self.trial_id}"


@dataclass
class LoadReport:
    """What a load found and what it could not use (nothing is dropped without being counted here)."""

    source: str
    layout: str
    n_judgments: int = 0
    n_pairs: int = 0
    label_counts: dict[int, int] = field(default_factory=dict)
    n_queries: int = 0
    queries_without_judgments: int = 0
    missing_patients: set[str] = field(default_factory=set)
    judgments_missing_patient: int = 0
    missing_trials: set[str] = field(default_factory=set)
    judgments_missing_trial: int = 0
    corpus: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    #: with the task's ``rationales=`` option: loaded samples that got a teacher rationale
    samples_with_rationale: int | None = None

    def problems(self) -> list[str]:
        lines = []
        if self.judgments_missing_patient:
            lines.append(f"{self.judgments_missing_patient} judgment(s) name {len(self.missing_patients)} patient(s) "
                         "absent from queries.jsonl")
        if self.judgments_missing_trial:
            where = f"the corpus {self.corpus}" if self.corpus else "any corpus (none found next to the qrels)"
            lines.append(f"{self.judgments_missing_trial} judgment(s) over {len(self.missing_trials)} trial(s) "
                         f"have no criteria text in {where}")
        for reason, n in self.skipped.items():
            lines.append(f"{n} pair(s) skipped: {reason}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "layout": self.layout, "n_judgments": self.n_judgments, "n_pairs": self.n_pairs,
            "label_counts": {TREC_NAMES[k]: v for k, v in sorted(self.label_counts.items())},
            "n_queries": self.n_queries, "queries_without_judgments": self.queries_without_judgments,
            "missing_patients": len(self.missing_patients),
            "judgments_missing_patient": self.judgments_missing_patient,
            "missing_trials": len(self.missing_trials), "judgments_missing_trial": self.judgments_missing_trial,
            "corpus": self.corpus, "skipped": dict(self.skipped),
            "samples_with_rationale": self.samples_with_rationale,
        }


# -- TrialGPT directory --------------------------------------------------------------------------------------
def read_queries(path: Path) -> dict[str, str]:
    """``queries.jsonl`` → {patient id: note}."""
    notes: dict[str, str] = {}
    for row_number, row in read_local(str(path)):
        qid, text = row.get("_id"), row.get("text")
        if not isinstance(qid, str) or not qid.strip():
            raise DataError("missing or empty patient id", source=str(path), row=row_number, field="_id")
        if not isinstance(text, str) or not text.strip():
            raise DataError("missing or empty patient note", source=str(path), row=row_number, field="text")
        if qid in notes:
            raise DataError(f"duplicate patient id {qid!r}", source=str(path), row=row_number, field="_id")
        notes[qid] = text
    return notes


def read_qrels(path: Path) -> Iterator[tuple[int, str, str, int]]:
    """Yield ``(line number, query id, trial id, label)`` from a TREC / BEIR qrels TSV (header optional)."""
    try:
        yield from _qrels_rows(path)
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None


def _qrels_rows(path: Path) -> Iterator[tuple[int, str, str, int]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for line_number, cols in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not cols or all(not c.strip() for c in cols):
                continue
            if line_number == 1 and cols[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue
            if len(cols) == 4:  # TREC run-style qrels: qid 0 docid score
                cols = [cols[0], cols[2], cols[3]]
            if len(cols) != 3:
                raise DataError(f"expected 3 tab-separated columns, found {len(cols)}", source=str(path),
                                row=line_number)
            label = parse_gold_label(cols[2])
            if label is None:
                raise DataError(f"label {cols[2]!r} is not 0, 1 or 2", source=str(path), row=line_number,
                                field="score")
            yield line_number, cols[0].strip(), cols[1].strip(), label


def _trial_from_record(record: dict[str, Any], *, source: str, row: int | str) -> TrialText:
    meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    merged = {**record, **meta}
    title = merged.get("brief_title") or merged.get("title") or ""
    inclusion, exclusion = merged.get("inclusion_criteria"), merged.get("exclusion_criteria")
    for name, value in (("inclusion_criteria", inclusion), ("exclusion_criteria", exclusion)):
        if value is not None and not isinstance(value, str):
            raise DataError("must be text", source=source, row=row, field=name)
    if inclusion is None and exclusion is None:
        raise DataError("no inclusion_criteria / exclusion_criteria (top level or under metadata)",
                        source=source, row=row, field="inclusion_criteria")
    summary = merged.get("brief_summary") or (record.get("text") if isinstance(record.get("text"), str) else "")
    return TrialText(title=str(title), inclusion=inclusion or "", exclusion=exclusion or "", summary=str(summary))


def read_corpus(path: Path) -> dict[str, TrialText]:
    """A TrialGPT corpus JSONL (``_id`` + criteria) or ``trial_info.json`` → {trial id: text}."""
    trials: dict[str, TrialText] = {}
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise not_utf8(path, exc) from None
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON ({exc.msg})", source=str(path)) from exc
        if not isinstance(data, dict):
            raise DataError("expected an object {trial id: {...}}", source=str(path))
        for tid, record in data.items():
            if not isinstance(record, dict):
                raise DataError("not an object", source=str(path), row=tid)
            trials[str(tid)] = _trial_from_record(record, source=str(path), row=tid)
        return trials
    first_row: dict[str, int] = {}
    for row_number, record in read_local(str(path)):
        tid = record.get("_id") or record.get("nct_id") or record.get("trial_id")
        if not isinstance(tid, str) or not tid.strip():
            raise DataError("missing trial id", source=str(path), row=row_number, field="_id")
        if tid.strip() in first_row:  # which record is the trial? keeping the last one was a silent overwrite
            raise DataError(f"duplicate trial id {tid.strip()!r} (first on row {first_row[tid.strip()]})",
                            source=str(path), row=row_number, field="_id")
        first_row[tid.strip()] = row_number
        trials[tid.strip()] = _trial_from_record(record, source=str(path), row=row_number)
    return trials


def find_corpus(directory: Path) -> Path | None:
    for name in ("corpus.jsonl", "trial_info.json"):
        if (directory / name).is_file():
            return directory / name
    candidates = sorted(directory.glob("*corpus*.jsonl"))
    return candidates[0] if candidates else None


def qrels_files(directory: Path, split: str) -> list[Path]:
    """``qrels/{split}.tsv`` when the directory has its own split files, else every qrels file."""
    if (directory / "qrels" / f"{split}.tsv").is_file():
        return [directory / "qrels" / f"{split}.tsv"]
    files = sorted((directory / "qrels").glob("*.tsv")) if (directory / "qrels").is_dir() else []
    files += sorted(directory.glob("qrels*.tsv"))
    return files


def load_trialgpt_dir(directory: Path, *, split: str = "test", corpus: str | Path | None = None,
                      source: str | None = None) -> tuple[list[Pair], LoadReport]:
    files = qrels_files(directory, split)
    if not files:
        raise DataError("no qrels found (expected qrels_test.tsv or qrels/*.tsv)", source=str(directory))
    notes = read_queries(directory / "queries.jsonl")
    corpus_path = Path(corpus) if corpus else find_corpus(directory)
    if corpus_path is not None and not corpus_path.is_file():
        raise DataError("no such corpus file", source=str(corpus_path))
    trials = read_corpus(corpus_path) if corpus_path else {}
    report = LoadReport(source=source or str(directory), layout="trialgpt", n_queries=len(notes),
                        corpus=str(corpus_path) if corpus_path else None)
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    pairs: list[Pair] = []
    judged: set[str] = set()
    for path in files:
        for line_number, qid, tid, label in read_qrels(path):
            origin = f"{path}:{line_number}"
            key = (qid, tid)
            if key in seen:
                if seen[key][0] != label:
                    raise DataError(f"pair {qid}::{tid} judged {seen[key][0]} at {seen[key][1]} and {label} here",
                                    source=str(path), row=line_number, field="score")
                reason = "repeated judgment line (same pair, same label; counted once)"
                report.skipped[reason] = report.skipped.get(reason, 0) + 1
                continue
            seen[key] = (label, origin)
            report.n_judgments += 1
            report.label_counts[label] = report.label_counts.get(label, 0) + 1
            judged.add(qid)
            if qid not in notes:
                report.missing_patients.add(qid)
                report.judgments_missing_patient += 1
                continue
            trial = trials.get(tid)
            if trial is None:
                report.missing_trials.add(tid)
                report.judgments_missing_trial += 1
            pairs.append(Pair(qid, tid, label, notes[qid], trial, origin=origin))
    report.queries_without_judgments = len(set(notes) - judged)
    report.n_pairs = len(pairs)
    return pairs, report


# -- pairs file ----------------------------------------------------------------------------------------------
def pair_from_row(row: dict[str, Any], *, source: str, row_number: int) -> Pair:
    for name in PAIR_FIELDS:
        if name not in row or row[name] is None:
            raise DataError(f"missing field (a pairs file needs {', '.join(PAIR_FIELDS)})", source=source,
                            row=row_number, field=name)
    label = parse_gold_label(row["label"])
    if label is None:
        raise DataError(f"label {row['label']!r} is not 0, 1 or 2 (TREC: 0 not relevant, 1 excluded, 2 eligible)",
                        source=source, row=row_number, field="label")
    if row.get("label_name") is not None and normalise_name(row["label_name"]) != TREC_NAMES[label]:
        raise DataError(f"label_name {row['label_name']!r} contradicts label {label} ({TREC_NAMES[label]!r} "
                        "in the TREC scheme)", source=source, row=row_number, field="label_name")
    for name in ("query_id", "trial_id", "patient_note"):
        if not isinstance(row[name], str) or not row[name].strip():
            raise DataError("must be non-empty text", source=source, row=row_number, field=name)
    for name in ("trial_title", "inclusion_criteria", "exclusion_criteria", "trial_summary"):
        if row.get(name) is not None and not isinstance(row[name], str):  # a list would be stringified "['a']"
            raise DataError(f"must be text, got {type(row[name]).__name__}", source=source, row=row_number,
                            field=name)
    trial = TrialText(title=str(row["trial_title"]), inclusion=str(row["inclusion_criteria"]),
                      exclusion=str(row["exclusion_criteria"]), summary=str(row.get("trial_summary") or ""))
    extra = {k: v for k, v in row.items() if k not in PAIR_FIELDS and k != "label_name"}
    return Pair(row["query_id"].strip(), row["trial_id"].strip(), label, row["patient_note"], trial,
                origin=f"{source}:{row_number}", extra=extra)


def load_pairs_file(path: Path, *, source: str | None = None) -> tuple[list[Pair], LoadReport]:
    report = LoadReport(source=source or str(path), layout="pairs")
    pairs: list[Pair] = []
    seen: dict[str, int] = {}
    for row_number, row in read_local(str(path)):
        pair = pair_from_row(row, source=str(path), row_number=row_number)
        if pair.id in seen:
            raise DataError(f"duplicate pair {pair.id!r} (first at row {seen[pair.id]})", source=str(path),
                            row=row_number, field="trial_id")
        seen[pair.id] = row_number
        pairs.append(pair)
        report.n_judgments += 1
        report.label_counts[pair.label] = report.label_counts.get(pair.label, 0) + 1
    report.n_pairs = len(pairs)
    report.n_queries = len({p.query_id for p in pairs})
    return pairs, report


# -- dispatch ------------------------------------------------------------------------------------------------
def _pairs_files(directory: Path, split: str) -> list[Path]:
    for pattern in (f"{split}.jsonl", f"{split}.parquet", f"data/{split}-*.parquet", f"data/{split}.jsonl"):
        found = sorted(directory.glob(pattern))
        if found:
            return found
    return sorted(directory.glob("*pairs*.jsonl"))


def download_hub_dataset(dataset_id: str) -> Path:
    """A hub dataset repository as a local directory (the user's cache; needs network the first time)."""
    hub = require("huggingface_hub", "train")
    try:
        return Path(hub.snapshot_download(repo_id=dataset_id, repo_type="dataset"))
    except Exception as exc:
        raise DataError(f"could not download hub dataset {dataset_id!r} ({exc.__class__.__name__}: {exc}). "
                        "Offline? Pass a local TrialGPT directory or a pairs JSONL instead.",
                        source=dataset_id) from exc


def load_source(source: str, *, split: str = "test", corpus: str | Path | None = None) -> tuple[list[Pair], LoadReport]:
    """Pairs (and a report) from a TrialGPT directory, a pairs file, or a hub dataset id."""
    path = Path(source)
    if not path.exists():
        if path.suffix.lower() in (".jsonl", ".json", ".parquet", ".tsv") or source.startswith((".", "/")):
            raise DataError("no such file or directory", source=source)
        path = download_hub_dataset(source)
    if path.is_file():
        return load_pairs_file(path, source=source)
    if (path / "queries.jsonl").is_file():
        return load_trialgpt_dir(path, split=split, corpus=corpus, source=source)
    files = _pairs_files(path, split)
    if len(files) == 1:
        return load_pairs_file(files[0], source=source)
    if len(files) > 1:
        merged: list[Pair] = []
        report = LoadReport(source=source, layout="pairs")
        for f in files:
            part, sub = load_pairs_file(f, source=source)
            merged += part
            report.n_judgments += sub.n_judgments
            for k, v in sub.label_counts.items():
                report.label_counts[k] = report.label_counts.get(k, 0) + v
        report.n_pairs, report.n_queries = len(merged), len({p.query_id for p in merged})
        return merged, report
    raise DataError("not a trial-matching source: expected queries.jsonl + qrels (TrialGPT layout), "
                    f"a pairs JSONL/parquet, or {split}.jsonl / data/{split}-*.parquet", source=source)
