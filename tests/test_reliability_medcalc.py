"""MedCalc inputs that used to load or score silently (reliability audit 2026-12, M1 / L1 / L2 / L4): every one
is now an error naming the file, the row and the field, or loads as the user meant."""

from __future__ import annotations

import csv
import json
import sys
import warnings

import pytest

from clinrl import get_task
from clinrl.errors import DataError

COLUMNS = ["Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID", "Note Type",
           "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer", "Lower Limit", "Upper Limit",
           "Ground Truth Explanation"]


def row(**overrides):
    base = {
        "Row Number": "1", "Calculator ID": "6", "Calculator Name": "Body Mass Index (BMI)",
        "Category": "physical", "Output Type": "decimal", "Note ID": "n1", "Note Type": "Template",
        "Patient Note": "A 40-year-old man, 180 cm, 81 kg (38.5 °C).", "Question": "What is the patient's BMI?",
        "Relevant Entities": "{'weight': [81.0, 'kg'], 'height': [180.0, 'cm']}",
        "Ground Truth Answer": "25.0", "Lower Limit": "23.75", "Upper Limit": "26.25",
        "Ground Truth Explanation": "BMI = 81 / 1.8^2 = 25.0",
    }
    base.update(overrides)
    return base


def write_csv(path, rows, *, encoding="utf-8"):
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def answer(value):
    return "<think>x</think><answer>" + json.dumps({"answer": value}) + "</answer>"


@pytest.mark.parametrize("overrides, field, words", [
    ({"Lower Limit": "-inf", "Upper Limit": "inf"}, "Lower Limit", "not a finite number"),
    ({"Lower Limit": "1", "Upper Limit": "inf"}, "Upper Limit", "every answer correct"),
    ({"Lower Limit": "nan", "Upper Limit": "nan"}, "Lower Limit", "not a finite number"),
    ({"Calculator ID": "999"}, "Calculator ID", "unknown calculator id 999"),
    ({"Row Number": "abc"}, "Row Number", "not a non-negative integer"),
])
def test_bad_targets_are_refused_at_load(tmp_path, overrides, field, words):
    path = write_csv(tmp_path / "mc.csv", [row(**{"Row Number": "7"}), row(**{"Row Number": "8", **overrides})])
    with pytest.raises(DataError) as caught:
        get_task("medcalc").load(str(path))
    message = str(caught.value)
    assert str(path) in message and "row 2" in message and f"field {field!r}" in message and words in message


def test_bad_limits_in_jsonl_and_parquet_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [row(**{"Lower Limit": "-inf", "Upper Limit": "inf"})]
    jsonl = tmp_path / "mc.jsonl"
    jsonl.write_text(json.dumps(rows[0]) + "\n")
    parquet = tmp_path / "mc.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    for path in (jsonl, parquet):
        with pytest.raises(DataError, match="field 'Lower Limit'"):
            get_task("medcalc").load(str(path))


def test_duplicate_row_numbers_are_refused_not_overwritten(tmp_path):
    path = write_csv(tmp_path / "dup.csv", [row(), row(**{"Row Number": "2"}), row(**{"Ground Truth Answer": "30"})])
    with pytest.raises(DataError) as caught:
        get_task("medcalc").load(str(path))
    assert "row 3" in str(caught.value) and "duplicate Row Number 1 (first on row 1)" in str(caught.value)


@pytest.mark.parametrize("target, field", [
    ({"calculator_id": 6, "ground_truth": "25", "lower_limit": "-inf", "upper_limit": "inf"}, "lower_limit"),
    ({"calculator_id": 6, "ground_truth": "25", "lower_limit": "nan", "upper_limit": "30"}, "lower_limit"),
    ({"calculator_id": 999, "ground_truth": "25", "lower_limit": "24", "upper_limit": "26"}, "calculator_id"),
    ({"calculator_id": True, "ground_truth": "25", "lower_limit": "24", "upper_limit": "26"}, "calculator_id"),
])
def test_row_carried_bad_targets_are_never_a_verdict(target, field):
    task = get_task("medcalc")
    for contract in ("ehrmind", "official"):
        score = task.score(answer(25) if contract == "ehrmind" else '{"answer": 25}', target, contract=contract)
        assert score.value is None and score.correct is None, (contract, score)
        assert field in score.explanation
    from clinrl.training.mixtures import MixtureReward

    columns = {"task": ["medcalc"], "target": [json.dumps(target)]}
    assert [fn([None], [answer(123456)], **columns) for fn in MixtureReward({"medcalc": task}).functions()] \
        == [[None], [None]]


def run_main(monkeypatch, capsys, *args):
    from clinrl.cli import main

    monkeypatch.setattr(sys, "argv", ["clinrl", *map(str, args)])
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.parametrize("fields, field", [
    ({"calculator_id": 6, "ground_truth": "25", "lower_limit": "-inf", "upper_limit": "inf"}, "lower_limit"),
    ({"calculator_id": 999, "ground_truth": "25", "lower_limit": "24", "upper_limit": "26"}, "calculator_id"),
])
def test_score_refuses_a_row_carried_bad_target_with_file_row_field(monkeypatch, capsys, tmp_path, fields, field):
    good = {"id": "a", "completion": answer(25), "calculator_id": 6, "ground_truth": "25", "lower_limit": "24",
            "upper_limit": "26"}
    completions = tmp_path / "preds.jsonl"
    completions.write_text(json.dumps(good) + "\n" + json.dumps({"id": "b", "completion": answer(123456),
                                                                  **fields}) + "\n")
    code, _, err = run_main(monkeypatch, capsys, "score", "medcalc", "-c", completions, "-o", tmp_path / "s.jsonl")
    assert code == 2 and "Traceback" not in err
    flat = " ".join(err.split())
    assert str(completions) in flat and "row 2" in flat and f"field {field!r}" in flat
    assert not (tmp_path / "s.jsonl").exists()


@pytest.mark.parametrize("data", [
    "latin-1", "utf-16 bytes",
])
def test_non_utf8_csv_is_an_error_naming_file_and_line(tmp_path, data):
    path = tmp_path / "mc.csv"
    if data == "latin-1":
        write_csv(path, [row()], encoding="latin-1")
    else:
        path.write_bytes(b"\xff\xfe" + "Row Number,Calculator ID\n".encode("utf-16-le"))
    with pytest.raises(DataError) as caught:
        get_task("medcalc").load(str(path))
    message = str(caught.value)
    assert str(path) in message and "not UTF-8" in message and "line " in message


def test_excel_bom_csv_loads(tmp_path):
    path = write_csv(tmp_path / "excel.csv", [row()], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    (sample,) = get_task("medcalc").load(str(path))
    assert sample.id == "1" and sample.target["ground_truth"] == "25.0"


def test_fields_beyond_the_header_are_an_error(tmp_path):
    path = write_csv(tmp_path / "mc.csv", [row()])
    path.write_text(path.read_text() + "2,6,BMI,physical,decimal,n2,T,note,q,{},25,24,26,expl,EXTRA\n")
    with pytest.raises(DataError) as caught:
        get_task("medcalc").load(str(path))
    assert "row 2" in str(caught.value) and "1 more field(s)" in str(caught.value)


@pytest.mark.parametrize("content", [b"PAR1 this is not parquet", "truncated"])
def test_unreadable_parquet_is_an_error_naming_the_file(tmp_path, content):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "mc.parquet"
    if content == "truncated":
        pq.write_table(pa.Table.from_pylist([row()]), path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        get_task("medcalc").load(str(path))
    assert str(path) in str(caught.value) and "not a readable parquet file" in str(caught.value)


def test_an_unfinished_file_is_refused(tmp_path):
    path = write_csv(tmp_path / "synth.csv.partial", [row()])
    with pytest.raises(DataError, match="incomplete file"):
        get_task("medcalc").load(str(path))
