"""`clinrl calc list | run | audit`, `clinrl data synth medcalc` and `clinrl data sft medcalc` as a user runs them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from clinrl.calculators import CalculatorInputError, UnknownCalculatorError, list_calculators
from clinrl.cli import app
from clinrl.errors import ConfigError
from clinrl.registry import get_task

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, list(args), catch_exceptions=True)


def test_list_json_has_every_calculator():
    result = _run("calc", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [c["id"] for c in listed] == [c.id for c in list_calculators()]
    assert {"id", "slug", "name", "category", "output_kind", "unit", "reference", "fields"} <= set(listed[0])


def test_list_table():
    result = _run("calc", "list")
    assert result.exit_code == 0 and "bmi" in result.output


def test_run_prints_answer_and_explanation():
    result = _run("calc", "run", "bmi", "--input", '{"weight": [154, "lb"], "height": [70, "in"]}')
    assert result.exit_code == 0, result.output
    assert "22.096" in result.output  # 69.853 kg / 1.778 m squared
    assert "reference" in result.output


def test_run_json_by_id():
    result = _run("calc", "run", "5", "--input", '{"sbp": [120, "mm Hg"], "dbp": [60, "mm Hg"]}', "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["calculator_id"] == 5 and data["answer"] == pytest.approx(80.0)
    assert {"calculator_id", "answer", "explanation", "reference", "inputs", "unit"} <= set(data)


def test_run_from_relevant_entities_and_file(tmp_path):
    path = tmp_path / "entities.json"
    path.write_text(json.dumps({"weight": [70, "kg"], "height": [1.75, "m"]}))
    result = _run("calc", "run", "6", "--entities", "--input", f"@{path}", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["answer"] == pytest.approx(22.857)


@pytest.mark.parametrize("payload, error, field", [
    ('{"weight": [-70, "kg"], "height": [175, "cm"]}', CalculatorInputError, "weight"),
    ('{"weight": [70, "stone-ish"], "height": [175, "cm"]}', CalculatorInputError, "weight"),
    ('{"height": [175, "cm"]}', CalculatorInputError, "weight"),
])
def test_run_rejects_bad_inputs_naming_the_field(payload, error, field):
    result = _run("calc", "run", "bmi", "--input", payload)
    assert result.exit_code != 0
    assert isinstance(result.exception, error) and result.exception.field == field


def test_run_rejects_bad_json_and_unknown_calculators(tmp_path):
    result = _run("calc", "run", "bmi", "--input", "{weight: 70}")
    assert isinstance(result.exception, ConfigError) and "not valid JSON" in str(result.exception)
    result = _run("calc", "run", "bmi", "--input", "[1, 2]")
    assert isinstance(result.exception, ConfigError)
    result = _run("calc", "run", "bmi", "--input", f"@{tmp_path / 'missing.json'}")
    assert isinstance(result.exception, ConfigError)
    result = _run("calc", "run", "no-such-calculator", "--input", "{}")
    assert isinstance(result.exception, UnknownCalculatorError)


def test_data_synth_medcalc_writes_a_loadable_file(tmp_path):
    out = tmp_path / "synth.csv"
    result = _run("data", "synth", "medcalc", "--calculators", "6,5", "--n", "8", "--seed", "2",
                  "--difficulty", "narrative", "--out", str(out))
    assert result.exit_code == 0, result.output
    task = get_task("medcalc")
    samples = task.load(str(out))
    assert len(samples) == 8 and all(task.score(task.oracle_completion(s), s.target).correct for s in samples)
    again = tmp_path / "again.csv"
    _run("data", "synth", "medcalc", "--calculators", "6,5", "--n", "8", "--seed", "2", "--difficulty", "narrative",
         "--out", str(again))
    assert again.read_bytes() == out.read_bytes()
    result = _run("data", "synth", "medcalc", "--n", "2", "--difficulty", "hard", "--out", str(out))
    assert isinstance(result.exception, ConfigError)


def test_data_sft_medcalc(tmp_path):
    result = _run("data", "sft", "medcalc", "--source", "synthetic:calculators=6,4;n=40;seed=1", "--pct", "0.5",
                  "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    train = [json.loads(x) for x in (tmp_path / "train.jsonl").read_text().splitlines()]
    val = [json.loads(x) for x in (tmp_path / "val.jsonl").read_text().splitlines()]
    report = json.loads((tmp_path / "sft_report.json").read_text())
    assert len(train) + len(val) == 20 == report["n_train"] + report["n_val"]
    assert set(train[0]) == {"id", "prompt", "prefill", "completion", "category", "calculator_id"}


def test_audit_command(tmp_path, medcalc_test_csv):
    result = _run("calc", "audit", "--source", str(medcalc_test_csv), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "medcalc_label_audit.csv").exists()
    assert "# MedCalc-Bench label audit" in (tmp_path / "medcalc_label_audit.md").read_text()


def test_data_sft_refuses_a_test_file_as_training_rows_unless_told(tmp_path, medcalc_test_csv):
    result = _run("data", "sft", "medcalc", "--source", str(medcalc_test_csv), "--out", str(tmp_path))
    assert result.exit_code != 0 and "refusing to load benchmark test rows" in str(result.exception)
    assert "--allow-test-rows-in-train" in str(result.exception) and not (tmp_path / "train.jsonl").exists()
    for deliberate in (["--split", "test"], ["--allow-test-rows-in-train"]):
        result = _run("data", "sft", "medcalc", "--source", str(medcalc_test_csv), "--out", str(tmp_path), *deliberate)
        assert result.exit_code == 0, result.output
        assert "warning" in result.output and "test split" in result.output
    result = _run("data", "sft", "medcalc", "--source", "synthetic:calculators=6;n=10", "--out", str(tmp_path))
    assert "warning" not in result.output
