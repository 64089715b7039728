"""EHRSHOT labelers: window boundaries on hand-made timelines, code sets, and the MIMIC-IV demo re-checked
by an independent computation on the raw events."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

import pytest

pl = pytest.importorskip("polars")
pq = pytest.importorskip("pyarrow.parquet")

from clinrl.data.meds import MedsDataset, read_meds  # noqa: E402
from clinrl.errors import ConfigError  # noqa: E402
from clinrl.tasks.ehr.labelers import (LABELING_TASKS, CodeSet, get_labeling_task, label,  # noqa: E402
                                       matching_codes, parse_diagnosis_code, write_labels)

ADMIT, DISCHARGE, HTN = "HOSPITAL_ADMISSION//EW EMER.//EMERGENCY ROOM", "HOSPITAL_DISCHARGE//HOME", \
    "DIAGNOSIS//ICD//10//I10"


def _dataset(rows: list[tuple[int, datetime | None, str]], codes=None) -> MedsDataset:
    rows = sorted(rows, key=lambda r: (r[0], r[1] is not None, r[1] or datetime.min))
    events = pl.DataFrame({"subject_id": [r[0] for r in rows], "time": [r[1] for r in rows],
                           "code": [r[2] for r in rows]},
                          schema={"subject_id": pl.Int64, "time": pl.Datetime("us"), "code": pl.String}
                          ).with_columns(numeric_value=pl.lit(None, pl.Float32), text_value=pl.lit(None, pl.String))
    return MedsDataset(events=events, codes=codes, splits={r[0]: "train" for r in rows})


def _stay(subject: int, admit: datetime, discharge: datetime) -> list[tuple[int, datetime, str]]:
    return [(subject, admit, ADMIT), (subject, discharge, DISCHARGE)]


D0 = datetime(2020, 3, 1, 10, 0)
D1 = datetime(2020, 3, 4, 15, 30)  # discharge; prediction time 2020-03-04 23:59
T = datetime(2020, 3, 4, 23, 59)


@pytest.mark.parametrize("offset,expected", [
    (timedelta(days=1), False),                        # exactly t + 1 day: outside (t+1d, ...]
    (timedelta(days=1, seconds=1), True),
    (timedelta(days=365), True),                       # t + 365 days is inside the closed end
    (timedelta(days=365, seconds=1), False),
    (timedelta(hours=1), False),                        # within the first day after prediction
])
def test_new_diagnosis_window_boundaries(offset, expected):
    ds = _dataset(_stay(1, D0, D1) + [(1, T + offset, HTN)])
    labels, report = label(ds, "new_hypertension")
    assert labels.rows() == [(1, T, expected)]
    assert report.n_positive == int(expected)


@pytest.mark.parametrize("when", [D1, T, D0 - timedelta(days=30)])
def test_prediction_times_at_or_after_first_diagnosis_are_dropped(when):
    ds = _dataset(_stay(1, D0, D1) + [(1, when, HTN)])
    labels, report = label(ds, "new_hypertension")
    assert labels.height == 0 and report.dropped == {"already diagnosed at prediction time": 1}


def test_only_the_first_occurrence_counts_and_static_codes_mean_already_diagnosed():
    later = _stay(1, D0 + timedelta(days=400), D1 + timedelta(days=400))
    rows = _stay(1, D0, D1) + later + [(1, T + timedelta(days=500), HTN), (1, T + timedelta(days=100 + 400), HTN)]
    labels, _ = label(_dataset(rows), "new_hypertension")
    # first code at t+500d: stay 1 negative (outside 365d); stay 2 (t2 = t+400d) positive (first at t2+100d)
    assert labels.get_column("boolean_value").to_list() == [False, True]
    static = _dataset(_stay(1, D0, D1) + [(1, None, HTN)])
    assert label(static, "new_hypertension")[0].height == 0


def test_no_censoring_short_record_is_negative():
    labels, _ = label(_dataset(_stay(1, D0, D1)), "new_acutemi")
    assert labels.rows() == [(1, T, False)]


@pytest.mark.parametrize("length,expected", [(timedelta(days=7), True), (timedelta(days=7) - timedelta(seconds=1), False)])
def test_long_los_threshold_and_admission_day_prediction(length, expected):
    labels, _ = label(_dataset(_stay(1, D0, D0 + length)), "guo_los")
    assert labels.rows() == [(1, datetime(2020, 3, 1, 23, 59), expected)]


def test_long_los_skips_same_day_stays():
    labels, report = label(_dataset(_stay(1, D0, D0 + timedelta(hours=5))), "guo_los")
    assert labels.height == 0 and report.dropped == {"stay ends on its admission day": 1}


@pytest.mark.parametrize("gap,expected", [
    (timedelta(minutes=1), False), (timedelta(minutes=2), True),
    (timedelta(days=30), True), (timedelta(days=30, minutes=1), False),
])
def test_readmission_window_after_end_of_discharge_day(gap, expected):
    rows = _stay(1, D0, D1) + _stay(1, T + gap, T + gap + timedelta(days=2))
    labels, _ = label(_dataset(rows), "guo_readmission")
    assert labels.rows()[0] == (1, T, expected)


def test_readmission_same_day_as_discharge_is_not_counted_and_anchor_option():
    rows = _stay(1, D0, D1) + _stay(1, D1 + timedelta(hours=2), D1 + timedelta(days=3))
    labels, _ = label(_dataset(rows), "guo_readmission")
    assert labels.rows()[0] == (1, T, False)
    task = get_labeling_task("guo_readmission", anchor="admission")
    labels, _ = label(_dataset(_stay(1, D0, D1) + _stay(1, T + timedelta(days=3), T + timedelta(days=4))), task)
    assert labels.rows()[0] == (1, datetime(2020, 3, 1, 23, 59), True)
    with pytest.raises(ConfigError):
        get_labeling_task("guo_readmission", anchor="lunch")


def test_unpaired_visit_events_are_counted():
    rows = [(1, D0, ADMIT), (1, D0 + timedelta(days=1), ADMIT), (1, D1, DISCHARGE), (1, D1 + timedelta(days=9), DISCHARGE)]
    _, report = label(_dataset(rows), "guo_los")
    assert report.dropped["admission without discharge"] == 1
    assert report.dropped["discharge without admission"] == 1
    assert report.n_stays == 1


def test_code_parsing_and_code_sets():
    assert parse_diagnosis_code("DIAGNOSIS//ICD//9//4019") == ("ICD9", "4019")
    assert parse_diagnosis_code("ICD10CM/E78.5") == ("ICD10", "E785")
    assert parse_diagnosis_code("PROCEDURE//ICD//10//I10") is None  # procedures never match diagnoses
    assert parse_diagnosis_code("LAB//50931//mg/dL") is None
    codes = ["DIAGNOSIS//ICD//9//4011", "DIAGNOSIS//ICD//10//I10", "ICD10CM/I11.0", "DIAGNOSIS//ICD//9//4100",
             "DIAGNOSIS//ICD//10//I110", "ICD9CM/272.4", "DIAGNOSIS//ICD//9//2725", "PROCEDURE//ICD//9//4011"]
    assert matching_codes(codes, LABELING_TASKS["new_hypertension"].codes) == {
        "DIAGNOSIS//ICD//9//4011", "DIAGNOSIS//ICD//10//I10", "ICD10CM/I11.0", "DIAGNOSIS//ICD//10//I110"}
    assert matching_codes(codes, LABELING_TASKS["new_hyperlipidemia"].codes) == {"ICD9CM/272.4"}


def test_snomed_roots_include_descendants_from_codes_metadata():
    meta = pl.DataFrame({"code": ["SNOMED/1201005", "SNOMED/999", "SNOMED/59621000"],
                         "description": ["child", "grandchild", "root"],
                         "parent_codes": [["SNOMED/59621000"], ["SNOMED/1201005"], []]})
    got = matching_codes(["SNOMED/1201005", "SNOMED/999", "SNOMED/12345", "SNOMED/59621000"],
                         CodeSet(snomed=("59621000",)), meta)
    assert got == {"SNOMED/1201005", "SNOMED/999", "SNOMED/59621000"}


def test_custom_code_set_and_unknown_task():
    task = get_labeling_task("new_gout", codes=CodeSet(icd10=("M10",)))
    ds = _dataset(_stay(1, D0, D1) + [(1, T + timedelta(days=10), "DIAGNOSIS//ICD//10//M109")])
    assert label(ds, task)[0].rows() == [(1, T, True)]
    with pytest.raises(ConfigError, match="unknown labeling task"):
        get_labeling_task("new_gout")


def test_written_labels_follow_meds_label_schema(tmp_path):
    meds = pytest.importorskip("meds")
    labels, _ = label(_dataset(_stay(1, D0, D1)), "guo_los")
    path = write_labels(labels, tmp_path / "x" / "labels.parquet")
    table = pq.read_table(path)
    meds.LabelSchema.validate(table)
    assert table.column_names == ["subject_id", "prediction_time", "boolean_value"]


# -- conformance on the MIMIC-IV demo --------------------------------------------------------------
ICD_SETS = {  # written out again here, independently of the labelers' configuration
    "new_hypertension": {"9": ["401", "402", "403", "404", "405"], "10": ["I10", "I11", "I12", "I13", "I15", "I16"]},
    "new_hyperlipidemia": {"9": ["2720", "2721", "2722", "2723", "2724"], "10": ["E780", "E781", "E782", "E783",
                                                                                 "E784", "E785"]},
    "new_acutemi": {"9": ["410"], "10": ["I21", "I22"]},
    "new_pancan": {"9": ["157"], "10": ["C25"]},
}


def _independent_labels(rows: list[dict], task: str) -> set[tuple[datetime, bool]]:
    """Recompute one subject's labels from its raw rows with plain loops (no labeler code)."""
    timed = sorted((r for r in rows if r["time"] is not None), key=lambda r: r["time"])
    admissions = [r["time"] for r in timed if r["code"].startswith("HOSPITAL_ADMISSION")]
    discharges = [r["time"] for r in timed if r["code"].startswith("HOSPITAL_DISCHARGE")]
    stays = []
    for a in admissions:  # pair each admission with the first discharge after it, before the next admission
        nxt = min([b for b in admissions if b > a], default=None)
        ds = [d for d in discharges if d > a and (nxt is None or d <= nxt)]
        if ds:
            stays.append((a, ds[0]))
    out = set()
    eod = lambda t: datetime.combine(t.date(), time(23, 59))  # noqa: E731
    if task in ICD_SETS:
        def is_outcome(code: str) -> bool:
            parts = code.split("//")
            return (len(parts) == 4 and parts[0] == "DIAGNOSIS" and parts[1] == "ICD"
                    and any(parts[3].startswith(p) for p in ICD_SETS[task].get(parts[2], [])))
        hits = [r["time"] for r in timed if is_outcome(r["code"])]
        first = hits[0] if hits else None
        for _, d in stays:
            t = eod(d)
            if first is not None and first <= t:
                continue
            out.add((t, first is not None and timedelta(days=1) < first - t <= timedelta(days=365)))
    elif task == "guo_los":
        for a, d in stays:
            if a.date() != d.date():
                out.add((eod(a), (d - a).total_seconds() >= 7 * 86400))
    elif task == "guo_readmission":
        for _, d in stays:
            t = eod(d)
            out.add((t, any(timedelta(minutes=1) < a2 - t <= timedelta(days=30) for a2, _ in stays)))
    return out


@pytest.fixture(scope="module")
def demo(shared_data):
    path = shared_data / "mimic-iv-demo-meds" / "mimic_iv_demo_meds_events.parquet"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path, read_meds(path)


@pytest.mark.conformance
@pytest.mark.parametrize("task", ["new_hypertension", "new_hyperlipidemia", "new_acutemi", "new_pancan",
                                  "guo_los", "guo_readmission"])
def test_demo_labels_match_an_independent_computation(demo, task):
    path, dataset = demo
    labels, report = label(dataset, task)
    assert report.n_labels == labels.height > 0
    subjects = sorted(dataset.subject_ids)
    sample = random.Random(0).sample(subjects, 25)
    raw = pq.read_table(path, columns=["subject_id", "time", "code"],
                        filters=[("subject_id", "in", sample)]).to_pylist()
    by_subject: dict[int, list[dict]] = {}
    for row in raw:
        by_subject.setdefault(row["subject_id"], []).append(row)
    checked = 0
    for subject in sample:
        ours = {(t, y) for s, t, y in labels.rows() if s == subject}
        theirs = _independent_labels(by_subject.get(subject, []), task)
        assert ours == theirs, (task, subject, sorted(ours ^ theirs))
        checked += len(ours)
    assert checked > 0


@pytest.mark.conformance
def test_demo_label_counts_per_task(demo):
    _, dataset = demo
    counts = {name: label(dataset, name)[1] for name in LABELING_TASKS}
    for name, rep in counts.items():
        assert rep.n_labels > 0, name
        assert 0 <= rep.n_positive <= rep.n_labels
    # the demo has 275 admissions; long stays and readmissions are common, new diagnoses rare
    assert counts["guo_readmission"].n_stays == 275
    assert counts["guo_los"].n_positive > 0 and counts["guo_readmission"].n_positive > 0
    assert counts["new_hypertension"].dropped["already diagnosed at prediction time"] > 0


def test_no_stays_gives_an_empty_valid_label_table(tmp_path):
    labels, report = label(_dataset([(1, D0, HTN)]), "new_hypertension")
    assert labels.height == 0 and report.n_labels == 0 and report.n_stays == 0
    assert labels.columns == ["subject_id", "prediction_time", "boolean_value"]
    write_labels(labels, tmp_path / "empty.parquet")
