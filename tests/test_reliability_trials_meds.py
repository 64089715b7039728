"""Trial-matching and MEDS inputs that used to be overwritten, dropped uncounted or crash (reliability audit
2026-12: L1, L2, L3)."""

from __future__ import annotations

import json
import warnings
from datetime import datetime

import pytest

from clinrl.errors import DataError
from clinrl.registry import get_task
from clinrl.tasks.trials.loader import load_source, read_corpus


def _trialgpt(tmp_path, qrels="query-id\tcorpus-id\tscore\np1\tNCT1\t2\n", corpus=None):
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "p1", "text": "A 60-year-old man."}) + "\n")
    (tmp_path / "qrels_test.tsv").write_text(qrels)
    records = corpus or [{"_id": "NCT1", "title": "T", "inclusion_criteria": "adults", "exclusion_criteria": "none"}]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path


def test_duplicate_corpus_id_is_an_error_not_an_overwrite(tmp_path):
    records = [{"_id": "NCT1", "title": "T", "inclusion_criteria": "adults", "exclusion_criteria": "none"},
               {"_id": "NCT1", "title": "T", "inclusion_criteria": "different", "exclusion_criteria": "none"}]
    _trialgpt(tmp_path, corpus=records)
    with pytest.raises(DataError) as caught:
        read_corpus(tmp_path / "corpus.jsonl")
    assert "row 2" in str(caught.value) and "duplicate trial id 'NCT1' (first on row 1)" in str(caught.value)


def test_a_repeated_qrels_line_is_counted_and_reported(tmp_path):
    _trialgpt(tmp_path, qrels="p1\tNCT1\t2\np1\tNCT1\t2\np1\tNCT2\t0\n")
    pairs, report = load_source(str(tmp_path))
    assert len(pairs) == 2 and report.skipped == {"repeated judgment line (same pair, same label; counted once)": 1}
    assert any("repeated judgment line" in line for line in report.problems())
    task = get_task("trials", missing_criteria="keep")
    with pytest.warns(UserWarning, match="1 pair\\(s\\) skipped: repeated judgment line"):
        task.load(str(tmp_path))


def test_non_utf8_qrels_names_the_file(tmp_path):
    _trialgpt(tmp_path)
    (tmp_path / "qrels_test.tsv").write_bytes("p1\tNCT1\t2\np1\tNCTé\t1\n".encode("latin-1"))
    with pytest.raises(DataError) as caught:
        load_source(str(tmp_path))
    assert "qrels_test.tsv" in str(caught.value) and "not UTF-8" in str(caught.value) and "line 2" in str(caught.value)


@pytest.mark.parametrize("field", ["inclusion_criteria", "exclusion_criteria", "trial_title"])
def test_pairs_with_non_text_criteria_are_refused(tmp_path, field):
    row = {"query_id": "q", "trial_id": "t", "label": 2, "patient_note": "n", "trial_title": "T",
           "inclusion_criteria": "i", "exclusion_criteria": "e", field: ["a", "b"]}
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError) as caught:
        load_source(str(path))
    assert f"row 1, field {field!r}: must be text, got list" in str(caught.value)


pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def test_a_subject_in_two_splits_is_an_error(tmp_path):
    pytest.importorskip("meds")
    from clinrl.data.meds import read_meds
    from clinrl.data.meds_synth import write_cohort

    write_cohort(tmp_path / "c", n_subjects=3, seed=0)
    splits = tmp_path / "c" / "metadata" / "subject_splits.parquet"
    table = pq.read_table(splits)
    first = table.column("subject_id").to_pylist()[0]
    doubled = pa.table({"subject_id": pa.array(table.column("subject_id").to_pylist() + [first], pa.int64()),
                        "split": pa.array(table.column("split").to_pylist() + ["held_out"], pa.string())})
    pq.write_table(doubled, splits)
    with pytest.raises(DataError) as caught:
        read_meds(tmp_path / "c")
    assert "subject_splits.parquet" in str(caught.value) and "row 4" in str(caught.value)
    assert f"subject {first} is listed twice" in str(caught.value)


def test_a_null_time_between_timed_events_is_an_error(tmp_path):
    pytest.importorskip("meds")
    from clinrl.data.meds import read_meds

    t0, t1 = datetime(2020, 1, 1), datetime(2020, 1, 2)
    table = pa.table({"subject_id": pa.array([1, 1, 1, 1], pa.int64()),
                      "time": pa.array([None, t0, None, t1], pa.timestamp("us")),
                      "code": pa.array(["GENDER//F", "MEDS_BIRTH", "X", "Y"])})
    pq.write_table(table, tmp_path / "e.parquet")
    with pytest.raises(DataError, match=r"row 3, field 'time': a null time"):
        read_meds(tmp_path / "e.parquet")
    first_and_last = table.set_column(1, "time", pa.array([None, t0, t1, None], pa.timestamp("us")))
    pq.write_table(first_and_last, tmp_path / "ok.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_meds(tmp_path / "ok.parquet").events.height == 4   # static rows first or last: accepted


def test_non_utf8_trial_info_json_names_the_file(tmp_path):
    path = tmp_path / "trial_info.json"
    path.write_bytes('{"NCT1": {"brief_title": "café", "inclusion_criteria": "a", "exclusion_criteria": "b"}}'
                     .encode("latin-1"))
    with pytest.raises(DataError) as caught:
        read_corpus(path)
    assert str(path) in str(caught.value) and "not UTF-8" in str(caught.value)
