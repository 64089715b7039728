"""`clinrl data show` and `clinrl score` against the inputs a first-time user actually has: notes with
square brackets, long notes, empty or repeated completion files, TRL's chat-message completions."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from clinrl.cli import app

runner = CliRunner()
COLUMNS = ["Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID", "Note Type",
           "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer", "Lower Limit", "Upper Limit",
           "Ground Truth Explanation"]
TARGET = {"calculator_id": 6, "ground_truth": "22.0", "lower_limit": "20.9", "upper_limit": "23.1"}


def _medcalc_csv(path, note):
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for i in (1, 2):
            writer.writerow({"Row Number": i, "Calculator ID": 6, "Calculator Name": "Body Mass Index (BMI)",
                             "Category": "physical", "Output Type": "decimal", "Note ID": f"n{i}",
                             "Note Type": "Synthetic", "Patient Note": note,
                             "Question": "What is the patient's BMI in terms of kg/m^2?",
                             "Relevant Entities": "{}", "Ground Truth Answer": "22.0", "Lower Limit": "20.9",
                             "Upper Limit": "23.1", "Ground Truth Explanation": "x"})
    return path


def _completion(value):
    return "<think>w</think><answer>" + json.dumps({"answer": value}) + "</answer>"


def test_data_show_prints_bracketed_note_text(tmp_path):
    note = "Labs [i.e., serum creatinine: 1.42 mg/dL] and [/b] vitals [bold]normal[/bold]."
    source = _medcalc_csv(tmp_path / "rows.csv", note)
    result = runner.invoke(app, ["data", "show", "medcalc", "-s", str(source), "-n", "1", "--full"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "[i.e., serum creatinine: 1.42 mg/dL]" in flat and "[bold]normal[/bold]" in flat and "[/b]" in flat


def test_data_show_clip_keeps_the_question_at_the_end(tmp_path):
    source = _medcalc_csv(tmp_path / "rows.csv", "Long history. " * 300)
    result = runner.invoke(app, ["data", "show", "medcalc", "-s", str(source), "-n", "1"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "characters not shown" in flat and "What is the patient's BMI" in flat


def test_data_show_rejects_a_non_positive_limit(tmp_path):
    source = _medcalc_csv(tmp_path / "rows.csv", "note")
    assert runner.invoke(app, ["data", "show", "medcalc", "-s", str(source), "-n", "0"]).exit_code == 2


def _score(tmp_path, lines, *extra):
    comp = tmp_path / "c.jsonl"
    comp.write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["score", "medcalc", "-c", str(comp), "-o", str(out), *extra])
    return result, out


def test_score_empty_file_is_an_error(tmp_path):
    result, out = _score(tmp_path, [])
    assert result.exit_code != 0 and not out.exists()
    assert "no completions" in str(result.exception)


def test_score_reports_repeated_ids(tmp_path):
    rows = [{"id": "a", "completion": _completion(22), **TARGET}, {"id": "a", "completion": "x", **TARGET}]
    result, out = _score(tmp_path, rows)
    assert result.exit_code == 0, result.output
    assert "1 id(s) appear on more than one row" in " ".join(result.output.split())
    assert len(out.read_text().splitlines()) == 2


def test_score_accepts_chat_message_completions(tmp_path):
    rows = [{"id": "a", "completion": [{"role": "assistant", "content": _completion(22)}], **TARGET}]
    result, out = _score(tmp_path, rows)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["correct"] is True


def test_score_rejects_other_completion_shapes(tmp_path):
    for bad in (5, None, [], [{"role": "assistant"}], {"content": 1}):
        result, _ = _score(tmp_path, [{"id": "a", "completion": bad, **TARGET}])
        assert result.exit_code != 0
        assert "field 'completion'" in str(result.exception)


def test_score_says_when_only_part_of_the_source_was_scored(tmp_path):
    source = _medcalc_csv(tmp_path / "rows.csv", "note")
    result, _ = _score(tmp_path, [{"id": "1", "completion": _completion(22)}], "-s", str(source))
    assert result.exit_code == 0, result.output
    assert "cover 1 of the 2 samples" in " ".join(result.output.split())


def test_score_writes_strict_json_metrics_next_to_the_output(tmp_path):
    result, out = _score(tmp_path, [{"id": "a", "completion": _completion(22), **TARGET}])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "o.metrics.json").read_text())
    assert metrics["accuracy"]["value"] == 1.0 and metrics["task"] == "medcalc"


def test_headline_metrics_show_each_tasks_own_numbers():
    from clinrl.cli.core import headline_metrics

    metrics = {"task": "t", "task_version": "1", "n": 4, "n_unscored": 0, "groups": {},
               "accuracy": {"value": 0.5, "ci_low": 0.1, "ci_high": 0.9, "n": 4},
               "format_valid": {"value": 1.0, "ci_low": 0.5, "ci_high": 1.0, "n": 4},
               "macro_f1": 0.25, "reward_config": {"alpha": 0.1},
               "ranking": {"ndcg@10": 0.5, "mrr": 0.75, "n_patients": 2},
               "classification": {"balanced_accuracy": 0.6, "sensitivity": float("nan"), "n_positive": 1,
                                  "per_class": {"a": {"f1": 1.0}}}}
    rows = dict(headline_metrics(metrics))
    assert rows["macro f1"] == "0.2500"
    assert rows["ranking: ndcg@10"] == "0.5000" and rows["ranking: mrr"] == "0.7500"
    assert rows["classification: balanced accuracy"] == "0.6000"
    assert rows["classification: sensitivity"] == "- (undefined)"
    assert not any("n patients" in k or "n positive" in k or "alpha" in k or "per class" in k for k in rows)


def test_data_show_indents_long_targets():
    result = runner.invoke(app, ["data", "show", "rubric", "-s", "synthetic", "-n", "1"])
    assert result.exit_code == 0, result.output
    target = result.output.split("target:", 1)[1]
    assert '\n  "items": [' in target or '\n  "items":' in target


def test_score_notes_rows_whose_targets_disagree_with_the_source(tmp_path):
    source = _medcalc_csv(tmp_path / "rows.csv", "note")
    rows = [{"id": "1", "completion": _completion(22), **TARGET, "ground_truth": "99"},
            {"id": "2", "completion": _completion(22), **TARGET}]
    result, out = _score(tmp_path, rows, "-s", str(source))
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "1 row(s) disagree with --source" in flat and "ground_truth='99'" in flat
    assert [json.loads(line)["correct"] for line in out.read_text().splitlines()] == [True, True]
