"""EHRSHOT-style labelers over MEDS events.

Definitions (EHRSHOT, Wornow et al. 2023, as its public labelers implement them):

* **new diagnosis** (``new_*``): one prediction time per inpatient stay, at 23:59 on the discharge
  day. The label is true iff the subject's **first** outcome code falls in
  (prediction time + 1 day, prediction time + 365 days]. Prediction times at or after the first
  outcome code are dropped (the subject is already diagnosed). No censoring: a record that ends
  before the window closes gives a negative label.
* **long length of stay** (``guo_los``): at 23:59 on the admission day, true iff the stay lasts
  ≥ 7 days (discharge − admission). Stays that end on their admission day are skipped (the answer
  would be known at prediction time).
* **30-day readmission** (``guo_readmission``): at 23:59 on the discharge day, true iff an
  inpatient admission starts in (prediction time + 1 minute, prediction time + 30 days]. EHRSHOT's
  own labeler anchors this task at discharge (a readmission is only defined once the stay ends);
  ``anchor="admission"`` moves the prediction time to the admission day with the same window
  after discharge.

Outcome code sets are configuration (:class:`CodeSet`): ICD-9-CM / ICD-10-CM prefixes for
MIMIC-style data (``DIAGNOSIS//ICD//10//I10``, ``ICD10CM/I10``) and SNOMED roots for OMOP / EHRSHOT
data (``SNOMED/59621000``; descendants come from ``metadata/codes.parquet`` ``parent_codes``).
Inpatient stays come from admission and discharge codes (:class:`VisitCodes`), MIMIC's
``HOSPITAL_ADMISSION//…`` / ``HOSPITAL_DISCHARGE//…`` by default.

Output is MEDS's label schema: ``subject_id``, ``prediction_time``, ``boolean_value``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

from clinrl.data.meds import MedsDataset
from clinrl.errors import ConfigError, require

NEW_DIAGNOSIS, LONG_LOS, READMISSION = "new_diagnosis", "long_los", "readmission"


@dataclass(frozen=True)
class CodeSet:
    """An outcome definition as code prefixes (ICD, dots removed) and/or SNOMED roots.

    Attributes:
        icd9: ICD-9-CM prefixes without dots (``"401"`` matches 401.x).
        icd10: ICD-10-CM prefixes without dots (``"I10"``, ``"E78"``).
        snomed: SNOMED concept ids; the root and every descendant listed in ``codes.parquet``.
        raw: prefixes matched against the code string itself (any vocabulary).
    """

    icd9: tuple[str, ...] = ()
    icd10: tuple[str, ...] = ()
    snomed: tuple[str, ...] = ()
    raw: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.icd9 or self.icd10 or self.snomed or self.raw)


@dataclass(frozen=True)
class VisitCodes:
    """Which codes open and close an inpatient stay (prefix match)."""

    admission: tuple[str, ...] = ("HOSPITAL_ADMISSION",)
    discharge: tuple[str, ...] = ("HOSPITAL_DISCHARGE",)


@dataclass(frozen=True)
class LabelingTask:
    """One EHRSHOT labeling task."""

    name: str
    kind: str
    condition: str
    codes: CodeSet = field(default_factory=CodeSet)
    window: tuple[timedelta, timedelta] = (timedelta(days=1), timedelta(days=365))
    anchor: str = "discharge"
    long_stay: timedelta = timedelta(days=7)

    @property
    def question(self) -> str:
        if self.kind == NEW_DIAGNOSIS:
            return (f"Will this patient receive a first diagnosis of {self.condition} within the next year "
                    "(more than 1 day and at most 365 days after the prediction time)?")
        if self.kind == LONG_LOS:
            return "Will this hospital stay last 7 days or longer?"
        return "Will this patient be readmitted to the hospital within 30 days of discharge?"


# ICD sets mirror the SNOMED roots EHRSHOT uses (GUIDE §1); hypertension takes the whole hypertensive
# disease chapter (401-405 / I10-I16) so that a first code of, say, hypertensive heart disease counts.
LABELING_TASKS: dict[str, LabelingTask] = {
    "new_hypertension": LabelingTask(
        "new_hypertension", NEW_DIAGNOSIS, "hypertension",
        CodeSet(icd9=("401", "402", "403", "404", "405"), icd10=("I10", "I11", "I12", "I13", "I15", "I16"),
                snomed=("59621000",))),
    "new_hyperlipidemia": LabelingTask(
        "new_hyperlipidemia", NEW_DIAGNOSIS, "hyperlipidemia",
        CodeSet(icd9=("2720", "2721", "2722", "2723", "2724"),
                icd10=("E780", "E781", "E782", "E783", "E784", "E785"), snomed=("55822004",))),
    "new_pancan": LabelingTask(
        "new_pancan", NEW_DIAGNOSIS, "pancreatic cancer",
        CodeSet(icd9=("157",), icd10=("C25",), snomed=("372003004",))),
    "new_celiac": LabelingTask(
        "new_celiac", NEW_DIAGNOSIS, "celiac disease",
        CodeSet(icd9=("5790",), icd10=("K900",), snomed=("396331005",))),
    "new_lupus": LabelingTask(
        "new_lupus", NEW_DIAGNOSIS, "systemic lupus erythematosus",
        CodeSet(icd9=("7100",), icd10=("M32",), snomed=("55464009",))),
    "new_acutemi": LabelingTask(
        "new_acutemi", NEW_DIAGNOSIS, "acute myocardial infarction",
        CodeSet(icd9=("410",), icd10=("I21", "I22"), snomed=("57054005",))),
    "guo_readmission": LabelingTask(
        "guo_readmission", READMISSION, "30-day readmission",
        window=(timedelta(minutes=1), timedelta(days=30)), anchor="discharge"),
    "guo_los": LabelingTask("guo_los", LONG_LOS, "long length of stay", anchor="admission"),
}


def get_labeling_task(name: str, *, codes: CodeSet | None = None, anchor: str | None = None) -> LabelingTask:
    """A labeling task by EHRSHOT id, optionally with its code set or anchor replaced."""
    if name not in LABELING_TASKS:
        if codes is not None and not codes.is_empty():  # a user-defined new-diagnosis task
            return LabelingTask(name, NEW_DIAGNOSIS, name.removeprefix("new_").replace("_", " "), codes)
        raise ConfigError(f"unknown labeling task {name!r}; choose one of {', '.join(LABELING_TASKS)} "
                          "(or give a code set for a new diagnosis task)")
    task = LABELING_TASKS[name]
    if codes is not None and not codes.is_empty():
        task = replace(task, codes=codes)
    if anchor is not None:
        if anchor not in ("admission", "discharge"):
            raise ConfigError(f"anchor must be 'admission' or 'discharge', got {anchor!r}")
        task = replace(task, anchor=anchor)
    return task


# -- codes ------------------------------------------------------------------------------------------
def parse_diagnosis_code(code: str) -> tuple[str, str] | None:
    """``(vocabulary, dotless code)`` for a diagnosis code string, ``None`` for anything else.

    Understands MIMIC-style ``DIAGNOSIS//ICD//9|10//CODE`` and OMOP-style ``ICD9CM/…``,
    ``ICD10CM/…``, ``SNOMED/…`` (procedure vocabularies such as ICD-10-PCS are never diagnoses).
    """
    if code.startswith("DIAGNOSIS//ICD//"):
        parts = code.split("//")
        if len(parts) >= 4 and parts[2] in ("9", "10"):
            return ("ICD9" if parts[2] == "9" else "ICD10", parts[3].replace(".", "").upper())
        return None
    vocab, sep, value = code.partition("/")
    if not sep:
        return None
    vocab = vocab.upper()
    if vocab in ("ICD9CM", "ICD9"):
        return "ICD9", value.replace(".", "").upper()
    if vocab in ("ICD10CM", "ICD10"):
        return "ICD10", value.replace(".", "").upper()
    if vocab == "SNOMED":
        return "SNOMED", value
    return None


def snomed_descendants(roots: Iterable[str], codes_meta: Any) -> set[str]:
    """Codes (as written in the data) that are a root or descend from one via ``parent_codes``."""
    wanted = {f"SNOMED/{r}" for r in roots}
    if codes_meta is None or "parent_codes" not in codes_meta.columns:
        return wanted
    children: dict[str, list[str]] = {}
    for code, parents in codes_meta.select("code", "parent_codes").iter_rows():
        for parent in parents or ():
            children.setdefault(parent, []).append(code)
    out, stack = set(wanted), list(wanted)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in out:
                out.add(child)
                stack.append(child)
    return out


def matching_codes(codes: Iterable[str], code_set: CodeSet, codes_meta: Any = None) -> set[str]:
    """The subset of ``codes`` that belongs to ``code_set``."""
    snomed = snomed_descendants(code_set.snomed, codes_meta) if code_set.snomed else set()
    out = set()
    for code in codes:
        if code is None:
            continue
        if code in snomed or (code_set.raw and code.startswith(code_set.raw)):
            out.add(code)
            continue
        parsed = parse_diagnosis_code(code)
        if parsed is None:
            continue
        vocab, value = parsed
        prefixes = code_set.icd9 if vocab == "ICD9" else code_set.icd10 if vocab == "ICD10" else ()
        if prefixes and value.startswith(prefixes):
            out.add(code)
    return out


# -- stays ----------------------------------------------------------------------------------------
def starts_with_any(column: str, prefixes: tuple[str, ...]) -> Any:
    """A polars expression: the string column starts with one of ``prefixes``."""
    pl = require("polars", "meds")
    if not prefixes:
        return pl.lit(False)
    expr = pl.col(column).str.starts_with(prefixes[0])
    for prefix in prefixes[1:]:
        expr = expr | pl.col(column).str.starts_with(prefix)
    return expr


def end_of_day(t: datetime) -> datetime:
    """23:59 on the day of ``t`` (EHRSHOT's prediction-time adjustment)."""
    return t.replace(hour=23, minute=59, second=0, microsecond=0)


def inpatient_stays(events: Any, visits: VisitCodes = VisitCodes()) -> tuple[list[tuple[int, datetime, datetime]],
                                                                           Counter]:
    """``[(subject_id, admission_time, discharge_time)]`` and counts of unpaired visit events.

    An admission opens a stay and the next discharge closes it. At equal times a discharge is
    processed before an admission (a transfer). Unpaired events are counted, never silently lost.
    """
    pl = require("polars", "meds")
    rows = (events.filter(pl.col("time").is_not_null())
            .with_columns(is_admission=starts_with_any("code", visits.admission),
                          is_discharge=starts_with_any("code", visits.discharge))
            .filter(pl.col("is_admission") | pl.col("is_discharge"))
            .sort(["subject_id", "time", "is_discharge"], descending=[False, False, True], maintain_order=True)
            .select("subject_id", "time", "is_discharge").iter_rows())
    stays: list[tuple[int, datetime, datetime]] = []
    dropped: Counter = Counter()
    current_subject, open_admission = None, None
    for subject, time, is_discharge in rows:
        if subject != current_subject:
            if open_admission is not None:
                dropped["admission without discharge"] += 1
            current_subject, open_admission = subject, None
        if is_discharge:
            if open_admission is None:
                dropped["discharge without admission"] += 1
            else:
                stays.append((subject, open_admission, time))
                open_admission = None
        else:
            if open_admission is not None:
                dropped["admission without discharge"] += 1
            open_admission = time
    if open_admission is not None:
        dropped["admission without discharge"] += 1
    return stays, dropped


# -- labeling -------------------------------------------------------------------------------------
@dataclass
class LabelReport:
    """What a labeler produced and what it left out (and why)."""

    task: str
    n_labels: int
    n_positive: int
    n_subjects: int
    n_stays: int
    dropped: dict[str, int]

    @property
    def positive_rate(self) -> float:
        return self.n_positive / self.n_labels if self.n_labels else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "n_labels": self.n_labels, "n_positive": self.n_positive,
                "n_negative": self.n_labels - self.n_positive, "positive_rate": self.positive_rate,
                "n_subjects": self.n_subjects, "n_stays": self.n_stays, "dropped": dict(self.dropped)}


def first_outcome_times(dataset: MedsDataset, code_set: CodeSet) -> dict[int, datetime | None]:
    """subject → time of the first outcome code (``None`` = a static, time-less outcome code)."""
    pl = require("polars", "meds")
    events = dataset.events
    matched = matching_codes(events.get_column("code").unique().to_list(), code_set, dataset.codes)
    if not matched:
        return {}
    firsts = (events.filter(pl.col("code").is_in(sorted(matched)))
              .group_by("subject_id")
              .agg(static=pl.col("time").is_null().any(), first=pl.col("time").min()))
    return {s: (None if static else first) for s, static, first in firsts.iter_rows()}


def label(dataset: MedsDataset, task: LabelingTask | str, *, visits: VisitCodes = VisitCodes()) -> tuple[Any, LabelReport]:
    """Label every inpatient stay of ``dataset`` for ``task``.

    Returns a polars DataFrame in MEDS label schema (sorted by subject and time) and a report.
    """
    pl = require("polars", "meds")
    if isinstance(task, str):
        task = get_labeling_task(task)
    stays, dropped = inpatient_stays(dataset.events, visits)
    out: list[tuple[int, datetime, bool]] = []
    if task.kind == NEW_DIAGNOSIS:
        if task.codes.is_empty():
            raise ConfigError(f"labeling task {task.name!r} has an empty code set")
        firsts = first_outcome_times(dataset, task.codes)
        lo, hi = task.window
        for subject, _, discharge in stays:
            t = end_of_day(discharge)
            has, first = subject in firsts, firsts.get(subject)
            if has and (first is None or first <= t):
                dropped["already diagnosed at prediction time"] += 1
                continue
            out.append((subject, t, bool(has and t + lo < first <= t + hi)))
    elif task.kind == LONG_LOS:
        for subject, admission, discharge in stays:
            if admission.date() == discharge.date():
                dropped["stay ends on its admission day"] += 1
                continue
            out.append((subject, end_of_day(admission), discharge - admission >= task.long_stay))
    elif task.kind == READMISSION:
        admissions: dict[int, list[datetime]] = {}
        for subject, admission, _ in stays:
            admissions.setdefault(subject, []).append(admission)
        lo, hi = task.window
        for subject, admission, discharge in stays:
            anchor = end_of_day(discharge)
            t = anchor if task.anchor == "discharge" else end_of_day(admission)
            if task.anchor == "admission" and admission.date() == discharge.date():
                dropped["stay ends on its admission day"] += 1
                continue
            positive = any(anchor + lo < a <= anchor + hi for a in admissions[subject])
            out.append((subject, t, positive))
    else:  # pragma: no cover - LabelingTask kinds are fixed above
        raise ConfigError(f"unknown labeling kind {task.kind!r}")

    df = pl.DataFrame(out, schema={"subject_id": pl.Int64, "prediction_time": pl.Datetime("us"),
                                   "boolean_value": pl.Boolean}, orient="row")
    n_before = df.height
    df = df.unique(subset=["subject_id", "prediction_time"], keep="first", maintain_order=True)
    if df.height < n_before:
        dropped["duplicate prediction time (two stays on one day)"] += n_before - df.height
    df = df.sort(["subject_id", "prediction_time"])
    report = LabelReport(task=task.name, n_labels=df.height, n_positive=int(df.get_column("boolean_value").sum()),
                         n_subjects=df.get_column("subject_id").n_unique(), n_stays=len(stays),
                         dropped=dict(sorted(dropped.items())))
    return df, report


def write_labels(labels: Any, path: str | Path) -> Path:
    """Write labels as parquet in MEDS's ``LabelSchema`` (validated by the meds package)."""
    pa, pq = require("pyarrow", "meds"), require("pyarrow.parquet", "meds")
    meds = require("meds", "meds")
    table = labels.select("subject_id", "prediction_time", "boolean_value").to_arrow().cast(
        pa.schema([pa.field("subject_id", pa.int64(), nullable=False),
                   pa.field("prediction_time", pa.timestamp("us"), nullable=False),
                   pa.field("boolean_value", pa.bool_(), nullable=False)]))
    meds.LabelSchema.validate(table)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path
