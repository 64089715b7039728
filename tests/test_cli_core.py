"""`clinrl tasks`, `clinrl data show` and `clinrl score` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from clinrl.cli import app

runner = CliRunner()

DECIMAL = {"calculator_id": 2, "ground_truth": "25.238", "lower_limit": "23.9761", "upper_limit": "26.4999"}


def _completion(value):
    return "<think>w</think><answer>" + json.dumps({"answer": value}) + "</answer>"


def test_tasks_lists_medcalc():
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    assert "medcalc" in result.output


def test_score_with_row_carried_targets(tmp_path):
    rows = [
        {"id": "a", "completion": _completion(25.2), **DECIMAL, "category": "lab"},
        {"id": "b", "completion": _completion(40), **DECIMAL, "category": "lab"},
        {"id": "c", "completion": "no contract here", **DECIMAL, "category": "lab"},
    ]
    comp = tmp_path / "completions.jsonl"
    comp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    result = runner.invoke(app, ["score", "medcalc", "--completions", str(comp), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in scored] == ["a", "b", "c"]
    assert [r["correct"] for r in scored] == [True, False, False]
    assert [r["format_ok"] for r in scored] == [True, True, False]
    assert [r["reward"] for r in scored] == [1.1, 0.0, -2.0]
    assert scored[0]["answer"] == pytest.approx(25.2) and scored[0]["calculator_id"] == 2
    assert "accuracy" in result.output and "33.3%" in result.output


def test_score_official_contract(tmp_path):
    comp = tmp_path / "c.jsonl"
    comp.write_text(json.dumps({"id": "x", "completion": '{"answer": "25.0 mL/min"}', **DECIMAL}) + "\n")
    out = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["score", "medcalc", "-c", str(comp), "-o", str(out), "--contract", "official"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["correct"] is True


@pytest.mark.conformance
def test_score_with_source(tmp_path, medcalc_test_csv):
    comp = tmp_path / "c.jsonl"
    comp.write_text(json.dumps({"id": "1", "completion": _completion(25.238)}) + "\n"
                    + json.dumps({"id": "2", "completion": _completion(-1)}) + "\n")
    out = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["score", "medcalc", "-c", str(comp), "-o", str(out), "-s", str(medcalc_test_csv)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["correct"] for line in out.read_text().splitlines()] == [True, False]


@pytest.mark.conformance
def test_data_show(medcalc_test_csv):
    result = runner.invoke(app, ["data", "show", "medcalc", "--source", str(medcalc_test_csv), "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "pre-fill" in result.output and "2 sample(s) shown" in result.output


def test_bad_completions_file_is_a_clear_error(tmp_path):
    comp = tmp_path / "c.jsonl"
    comp.write_text(json.dumps({"id": "a", "completion": "x", "calculator_id": 2}) + "\n")
    proc = subprocess.run(
        [sys.executable, "-c", "from clinrl.cli import main; main()", "score", "medcalc", "-c", str(comp),
         "-o", str(tmp_path / "o.jsonl")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "row 1" in proc.stderr and "ground_truth" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_task_options_reach_the_task_and_unknown_ones_are_named():
    from typer.testing import CliRunner

    from clinrl.cli import app
    from clinrl.cli.app import parse_task_options
    from clinrl.errors import ConfigError
    from clinrl.registry import get_task

    assert parse_task_options(["labels=recomputed", "balance=true", "n=3", "tasks=[a, b]", "empty="]) == {
        "labels": "recomputed", "balance": True, "n": 3, "tasks": ["a", "b"], "empty": ""}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_task_options(["labels"])
    with pytest.raises(ConfigError, match="no option 'bogus'.*labels"):
        get_task("medcalc", bogus=1)
    runner = CliRunner()
    listed = runner.invoke(app, ["tasks", "--options"])
    assert listed.exit_code == 0 and "missing_criteria" in listed.output and "labeling_task" in listed.output
    shown = runner.invoke(app, ["data", "show", "medcalc", "-s", "synthetic:n=2", "-n", "1", "-O", "prompt_style=zero_shot"])
    assert shown.exit_code == 0, shown.output
    assert "step_by_step_thinking" in shown.output   # the zero-shot prompt asks for MedCalc-Bench's JSON
    default = runner.invoke(app, ["data", "show", "medcalc", "-s", "synthetic:n=2", "-n", "1"])
    assert "step_by_step_thinking" not in default.output
    bad = runner.invoke(app, ["data", "show", "medcalc", "-s", "synthetic:n=2", "-O", "bogus=1"])
    assert bad.exit_code != 0 and "bogus" in str(bad.exception)


def test_contract_given_twice_must_agree(tmp_path):
    from clinrl.cli.app import parse_task_options
    from clinrl.errors import ConfigError

    assert parse_task_options(["contract=official"], "official") == {"contract": "official"}
    assert parse_task_options(None, "official") == {"contract": "official"}
    with pytest.raises(ConfigError, match="disagree"):
        parse_task_options(["contract=official"], "ehrmind")
    comp = tmp_path / "preds.jsonl"
    comp.write_text('{"id": "a", "completion": "x", "calculator_id": 2, "ground_truth": "1", '
                    '"lower_limit": "1", "upper_limit": "1"}\n')
    for argv in (["score", "medcalc", "-c", str(comp), "-o", str(tmp_path / "s.jsonl")],
                 ["eval", "--task", "medcalc", "--source", "synthetic:n=2", "--limit", "1", "--out", str(tmp_path / "e")]):
        result = runner.invoke(app, [*argv, "--contract", "ehrmind", "-O", "contract=official"])
        # the console entry point prints a ConfigError as one line; the runner hands it back as raised
        assert isinstance(result.exception, ConfigError) and "disagree" in str(result.exception), result.output
