"""MedCalc loader: sources, prompt styles, and errors that name the file, row and field."""

from __future__ import annotations

import csv
import json

import pytest

from clinrl import get_task
from clinrl.errors import ConfigError, DataError
from clinrl.rewards.contract import EHRMIND_PREFILL

COLUMNS = ["Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID", "Note Type",
           "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer", "Lower Limit", "Upper Limit",
           "Ground Truth Explanation"]


def row(**overrides):
    base = {
        "Row Number": "1", "Calculator ID": "6", "Calculator Name": "Body Mass Index (BMI)",
        "Category": "physical", "Output Type": "decimal", "Note ID": "n1", "Note Type": "Template",
        "Patient Note": "A 40-year-old man, 180 cm, 81 kg.", "Question": "What is the patient's BMI?",
        "Relevant Entities": "{'weight': [81.0, 'kg'], 'height': [180.0, 'cm']}",
        "Ground Truth Answer": "25.0", "Lower Limit": "23.75", "Upper Limit": "26.25",
        "Ground Truth Explanation": "BMI = 81 / 1.8^2 = 25.0",
    }
    base.update(overrides)
    return base


def write_csv(path, rows):
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_jsonl_parquet_agree(tmp_path):
    rows = [row(), row(**{"Row Number": "2", "Category": "lab test"})]
    csv_path = write_csv(tmp_path / "d.csv", rows)
    jsonl_path = tmp_path / "d.jsonl"
    jsonl_path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet_path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet_path)
    task = get_task("medcalc")
    loaded = [task.load(str(p)) for p in (csv_path, jsonl_path, parquet_path)]
    assert [s.to_dict() for s in loaded[0]] != []
    for other in loaded[1:]:
        assert [s.target for s in other] == [s.target for s in loaded[0]]
    assert loaded[0][1].category == "lab"  # train-split spelling normalised
    assert loaded[0][0].prefill == EHRMIND_PREFILL
    assert loaded[0][0].metadata["relevant_entities"] == {"weight": [81.0, "kg"], "height": [180.0, "cm"]}


@pytest.mark.parametrize("overrides, field", [
    ({"Calculator ID": "six"}, "Calculator ID"),
    ({"Category": "cardiology"}, "Category"),
    ({"Ground Truth Answer": "n/a"}, "Ground Truth Answer"),
    ({"Lower Limit": "low"}, "Lower Limit"),
    ({"Relevant Entities": "{'weight': __import__('os')}"}, "Relevant Entities"),
    ({"Patient Note": ""}, "Patient Note"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, overrides, field):
    path = write_csv(tmp_path / "bad.csv", [row(), row(**{"Row Number": "2", **overrides})])
    with pytest.raises(DataError) as info:
        get_task("medcalc").load(str(path))
    message = str(info.value)
    assert str(path) in message and "row 2" in message and repr(field) in message


def test_missing_column(tmp_path):
    bad = row()
    del bad["Question"]
    path = write_csv(tmp_path / "bad.csv", [bad])
    with pytest.raises(DataError, match="'Question'"):
        get_task("medcalc").load(str(path))


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        get_task("medcalc").load(str(tmp_path / "absent.csv"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(row()) + "\n{not json\n")
    with pytest.raises(DataError, match="row 2"):
        get_task("medcalc").load(str(bad))


def test_zero_shot_prompt_uses_official_contract(tmp_path):
    path = write_csv(tmp_path / "d.csv", [row()])
    task = get_task("medcalc", prompt_style="zero_shot")
    sample = task.load(str(path))[0]
    assert task.contract == "official" and sample.prefill == ""
    assert "step_by_step_thinking" in sample.prompt[0]["content"]
    assert task.score('{"step_by_step_thinking": "...", "answer": "25.1"}', sample.target).correct
    with pytest.raises(ConfigError):
        get_task("medcalc", prompt_style="few-shot")


def test_limit_and_metrics(tmp_path):
    rows = [row(**{"Row Number": str(i)}) for i in range(1, 6)]
    task = get_task("medcalc")
    samples = task.load(str(write_csv(tmp_path / "d.csv", rows)), limit=3)
    assert len(samples) == 3
    scores = [task.score(task.oracle_completion(samples[0]), samples[0].target),
              task.score("garbage", samples[1].target),
              task.score("<think>x</think><answer>{\"answer\": 99}</answer>", samples[2].target)]
    metrics = task.metrics(samples, scores)
    assert metrics["accuracy"]["value"] == pytest.approx(1 / 3)
    assert metrics["format_valid"]["value"] == pytest.approx(2 / 3)
    assert metrics["groups"]["category"]["physical"]["n"] == 3
    assert 0 <= metrics["accuracy"]["ci_low"] < metrics["accuracy"]["ci_high"] <= 1


def test_compact_prompt_style_keeps_the_contract_in_one_short_turn():
    from clinrl.registry import get_task
    from clinrl.rewards.contract import EHRMIND_PREFILL

    compact = get_task("medcalc", prompt_style="compact")
    default = get_task("medcalc")
    source = "synthetic:calculators=51,45,20;n=30;difficulty=template"
    short, full = compact.load(source, "train", limit=3), default.load(source, "train", limit=3)
    for s, f in zip(short, full):
        assert [m["role"] for m in s.prompt] == ["user"] and s.prefill == EHRMIND_PREFILL
        assert s.target == f.target and f.prompt[-1]["content"].split("\n")[1] in s.prompt[0]["content"]
        assert len(s.prompt[0]["content"]) < 0.6 * sum(len(m["content"]) for m in f.prompt)
        assert "<answer>" in s.prompt[0]["content"] and "a single integer" in s.prompt[0]["content"]
        assert compact.score(compact.oracle_completion(s), s.target).correct
