"""Trial-matching loaders: corpus formats, qrels variants, conflicting judgments, hub-style parquet layouts."""

from __future__ import annotations

import json

import pytest

from clinrl.errors import DataError
from clinrl.tasks.trials.loader import load_source, read_corpus, read_qrels


def _queries(directory):
    (directory / "queries.jsonl").write_text(json.dumps({"_id": "p1", "text": "note"}) + "\n")


def test_trial_info_json_and_explicit_corpus(tmp_path):
    _queries(tmp_path)
    (tmp_path / "qrels_test.tsv").write_text("query-id\tcorpus-id\tscore\np1\tNCT1\t2\np1\tNCT2\t1\n")
    info = {"NCT1": {"brief_title": "Title one", "inclusion_criteria": "adults", "exclusion_criteria": "none"}}
    (tmp_path / "trial_info.json").write_text(json.dumps(info))
    pairs, report = load_source(str(tmp_path))
    assert pairs[0].trial.title == "Title one" and pairs[1].trial is None
    assert report.corpus.endswith("trial_info.json") and report.judgments_missing_trial == 1
    other = tmp_path / "elsewhere.jsonl"
    other.write_text(json.dumps({"_id": "NCT2", "title": "Two", "inclusion_criteria": "x",
                                 "exclusion_criteria": "y"}) + "\n")
    pairs, report = load_source(str(tmp_path), corpus=other)
    assert pairs[0].trial is None and pairs[1].trial.inclusion == "x"
    with pytest.raises(DataError, match="no such corpus file"):
        load_source(str(tmp_path), corpus=tmp_path / "nope.jsonl")


def test_corpus_without_criteria_names_row_and_field(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(json.dumps({"_id": "NCT1", "title": "t", "text": "x", "metadata": {}}) + "\n")
    with pytest.raises(DataError, match=r"corpus.jsonl, row 1, field 'inclusion_criteria'"):
        read_corpus(path)


def test_qrels_variants_and_conflicts(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_text("p1\t0\tNCT1\t2\np1\tNCT2\t0\n")  # TREC 4-column style without header
    assert [row[1:] for row in read_qrels(path)] == [("p1", "NCT1", 2), ("p1", "NCT2", 0)]
    path.write_text("p1\tNCT1\n")
    with pytest.raises(DataError, match="row 1"):
        list(read_qrels(path))
    _queries(tmp_path)
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "a.tsv").write_text("p1\tNCT1\t2\n")
    (tmp_path / "qrels" / "b.tsv").write_text("p1\tNCT1\t1\n")
    with pytest.raises(DataError, match="judged 2 at .*a.tsv:1 and 1 here"):
        load_source(str(tmp_path))
    (tmp_path / "qrels" / "b.tsv").write_text("p1\tNCT1\t2\n")  # the same judgment twice is kept once
    pairs, report = load_source(str(tmp_path))
    assert len(pairs) == 1 and report.n_judgments == 1


def test_hub_style_parquet_split_files(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [{"query_id": f"q{i}", "trial_id": "t", "label": i % 3, "patient_note": "n", "trial_title": "T",
             "inclusion_criteria": "i", "exclusion_criteria": "e"} for i in range(6)]
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:4]), tmp_path / "data" / "train-00000-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(rows[4:]), tmp_path / "data" / "train-00001-of-00002.parquet")
    pairs, report = load_source(str(tmp_path), split="train")
    assert [p.query_id for p in pairs] == [f"q{i}" for i in range(6)] and report.label_counts == {0: 2, 1: 2, 2: 2}
    with pytest.raises(DataError, match="not a trial-matching source"):
        load_source(str(tmp_path), split="validation")
