"""verl export: parquet rows read back with pyarrow; every exported ground truth scores correct."""

from __future__ import annotations

import json

import pytest

pq = pytest.importorskip("pyarrow.parquet")

from clinrl.errors import ConfigError  # noqa: E402
from clinrl.export.verl import compute_score, export_verl  # noqa: E402
from clinrl.registry import get_task  # noqa: E402

SYNTHETIC = "synthetic:calculators=2,6,13,20,39,69;n=30;difficulty=mixed"


def _check_all_correct(path, task_name):
    table = pq.read_table(path)
    assert set(table.column_names) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    rows = table.to_pylist()
    task = get_task(task_name)
    for row in rows:
        assert row["data_source"] == f"clinrl/{task_name}" and row["reward_model"]["style"] == "rule"
        assert row["prompt"][-1]["role"] == "user"
        gt = row["reward_model"]["ground_truth"]
        oracle = task.oracle_completion(json.loads(gt))
        assert compute_score(row["data_source"], oracle, gt, row["extra_info"]) == task.scheme.correct, row["extra_info"]
        with_think_tag = "<think>" + oracle  # verl does not pre-fill: the model opens <think> itself
        assert compute_score(row["data_source"], with_think_tag, gt, row["extra_info"]) == task.scheme.correct
    return rows


def test_synthetic_medcalc_export_round_trip(tmp_path):
    written = export_verl("medcalc", tmp_path, source=SYNTHETIC, limit=30)
    assert written == {"train": 30, "test": 30}
    train = _check_all_correct(tmp_path / "train.parquet", "medcalc")
    test = _check_all_correct(tmp_path / "test.parquet", "medcalc")
    assert not {json.dumps(r["prompt"]) for r in train} & {json.dumps(r["prompt"]) for r in test}


def test_compute_score_penalises_and_refuses_foreign_rows(tmp_path):
    export_verl("medcalc", tmp_path, source=SYNTHETIC, splits=("test",), limit=3)
    row = pq.read_table(tmp_path / "test.parquet").to_pylist()[0]
    gt = row["reward_model"]["ground_truth"]
    assert compute_score("clinrl/medcalc", "the answer is 12", gt, None) == -2.0
    assert compute_score("clinrl/medcalc", '</think><answer>{"answer": "not a number"}</answer>', gt, None) == 0.0
    with pytest.raises(ConfigError):
        compute_score("openai/gsm8k", "x", gt, None)


@pytest.mark.conformance
def test_real_medcalc_rows_export_and_score(medcalc_test_csv, tmp_path):
    written = export_verl("medcalc", tmp_path, source=str(medcalc_test_csv), splits=("test",))
    assert written["test"] == 1047
    rows = _check_all_correct(tmp_path / "test.parquet", "medcalc")
    assert len({r["extra_info"]["id"] for r in rows}) == 1047


def test_cli_export(tmp_path):
    from typer.testing import CliRunner

    from clinrl.cli import app

    result = CliRunner().invoke(app, ["export", "verl", "--task", "medcalc", "--source", SYNTHETIC, "--limit", "5",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(tmp_path / "train.parquet").num_rows == 5
    assert "compute_score" in result.output
