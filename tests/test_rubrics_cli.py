"""`clinrl data synth rubric` and `clinrl eval rm` (judge specs, labelled files, bad input)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from clinrl.cli import app

runner = CliRunner()


def test_synth_then_eval_keyword_judge(tmp_path):
    path = tmp_path / "labelled.jsonl"
    result = runner.invoke(app, ["data", "synth", "rubric", "--out", str(path), "--n", "6", "--seed", "4"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 6 and len(rows[0]["responses"]) == 4
    out = tmp_path / "metrics.json"
    result = runner.invoke(app, ["eval", "rm", "keyword", "--data", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    assert metrics["pairwise"]["accuracy"] == 1.0 and metrics["safety_veto"]["f1"] == 1.0
    assert metrics["judge"] == "keyword" and "pairwise accuracy" in result.output


def test_eval_rm_reports_bad_labelled_rows(tmp_path):
    path = tmp_path / "bad.jsonl"
    runner.invoke(app, ["data", "synth", "rubric", "--out", str(path), "--n", "1"])
    row = json.loads(path.read_text())
    row["responses"][1]["labels"] = row["responses"][1]["labels"][:-1]
    path.write_text(json.dumps(row) + "\n")
    result = runner.invoke(app, ["eval", "rm", "keyword", "--data", str(path)])
    assert result.exit_code != 0
    assert "responses[1]" in str(result.exception) and "row 1" in str(result.exception)


def test_eval_rm_unknown_judge_and_missing_model(tmp_path):
    result = runner.invoke(app, ["eval", "rm", "oracle", "--test", "2"])
    assert result.exit_code != 0 and "unknown judge" in str(result.exception)
    result = runner.invoke(app, ["eval", "rm", f"rm:{tmp_path}", "--test", "2"])
    assert result.exit_code != 0 and "not a clinrl reward model" in str(result.exception)


def test_train_rm_help_teaches():
    result = runner.invoke(app, ["train", "rm", "--help"])
    assert result.exit_code == 0 and "criterion-free" in result.output and "minilm" in result.output


def test_pairs_from_curation_are_read_and_split(tmp_path):
    from clinrl.cli.rubrics import _pairs
    from clinrl.errors import ConfigError, DataError
    from clinrl.rubrics.synth import CriterionPair, criterion_pairs, generate, plain_pairs, read_pairs

    examples = generate(3, seed=2)
    folder = tmp_path / "pairs"
    folder.mkdir()
    with (folder / "instances.jsonl").open("w") as fh:
        for p in criterion_pairs(examples):
            fh.write(json.dumps({"rubric_id": "r", "instruction": p.instruction, "criterion": p.item.to_dict(),
                                 "chosen": p.chosen, "rejected": p.rejected}) + "\n")
    with (folder / "pairs.jsonl").open("w") as fh:
        for p in plain_pairs(examples):
            fh.write(json.dumps({"instruction": p.instruction, "chosen": p.chosen, "rejected": p.rejected}) + "\n")
    rows = read_pairs(folder / "instances.jsonl")
    assert rows == criterion_pairs(examples) and isinstance(rows[0], CriterionPair)
    train, held = _pairs(folder, False, 0, has_calib=False)
    assert len(held) == len(rows) // 5 and len(train) + len(held) == len(rows)
    assert not {id(r) for r in train} & {id(r) for r in held}
    with pytest.raises(ConfigError, match="--calib-data"):
        _pairs(folder, True, 0, has_calib=False)
    with pytest.raises(ConfigError, match="do not fit"):
        _pairs(folder / "pairs.jsonl", False, 0, has_calib=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instruction": "q", "chosen": "a", "rejected": None}) + "\n")
    with pytest.raises(DataError, match="row 1.*rejected"):
        read_pairs(bad)


def test_synth_rubric_prints_a_bracketed_path_verbatim(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["data", "synth", "rubric", "--out", "v[draft].jsonl", "--n", "1"])
    assert result.exit_code == 0, result.output
    assert "to v[draft].jsonl" in result.output and (tmp_path / "v[draft].jsonl").is_file()
