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
        assert compute_score(row["data_source"], oracle, gt, row["extra_info"])["score"] == task.scheme.correct, \
            row["extra_info"]
        with_think_tag = "<think>" + oracle  # verl does not pre-fill: the model opens <think> itself
        assert compute_score(row["data_source"], with_think_tag, gt, row["extra_info"])["score"] == task.scheme.correct
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
    assert compute_score("clinrl/medcalc", "the answer is 12", gt, None)["score"] == -2.0
    assert compute_score("clinrl/medcalc", '</think><answer>{"answer": "not a number"}</answer>', gt, None)["score"] == 0.0
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


KEYS = {"score", "unscored", "correct", "format_ok"}


def _verl_calls(fn, rows_and_solutions):
    """Call ``fn`` the way verl's reward manager does (keyword arguments; ``extra_info`` may be omitted) and
    collect the result as it does: ``score`` into the reward, every key into ``reward_extra_info``."""
    rewards, extra = [], {}
    for row, solution in rows_and_solutions:
        kwargs = dict(data_source=row["data_source"], solution_str=solution,
                      ground_truth=row["reward_model"]["ground_truth"])
        if row.get("extra_info") is not None:
            kwargs["extra_info"] = row["extra_info"]
        result = fn(**kwargs)
        assert isinstance(result, dict) and set(result) == KEYS, result
        rewards.append(float(result["score"]))  # verl writes it into a float tensor
        for key, value in result.items():
            extra.setdefault(key, []).append(value)
    assert all(len(v) == len(rewards) for v in extra.values())  # same keys on every call
    return rewards, extra


def test_compute_score_never_returns_none(tmp_path, monkeypatch):
    export_verl("medcalc", tmp_path, source=SYNTHETIC, splits=("test",), limit=3)
    row = pq.read_table(tmp_path / "test.parquet").to_pylist()[0]
    task = get_task("medcalc")
    good = task.oracle_completion(json.loads(row["reward_model"]["ground_truth"]))
    rewards, extra = _verl_calls(compute_score, [(row, good), (dict(row, extra_info=None), "no tags at all")])
    assert rewards == [1.1, -2.0] and extra["unscored"] == [False, False] and extra["correct"] == [True, False]

    from clinrl.export import verl as verl_module

    crashing = verl_module._task("medcalc")

    def boom(answer, target):
        raise RuntimeError("verifier bug")

    monkeypatch.setattr(crashing, "check_answer", boom)
    rewards, extra = _verl_calls(compute_score, [(row, good)])
    # an unscored completion is a float (the scheme's wrong value), flagged, never None
    assert rewards == [task.scheme.wrong] and extra["unscored"] == [True] and extra["correct"] == [False]


def test_single_test_file_is_not_exported_as_train(tmp_path):
    from typer.testing import CliRunner

    from clinrl.cli import app
    from clinrl.tasks.medcalc import synth as synth
    from clinrl.errors import ClinrlError

    rows = synth.generate_rows(4, calculators="6,4", seed=2, difficulty="template")
    test_file = tmp_path / "test_data.csv"
    synth.write_rows(rows, str(test_file))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["export", "verl", "--task", "medcalc", "--source", str(test_file),
                                      "--out", str(out)])
    assert result.exit_code != 0 and isinstance(result.exception, ClinrlError)
    message = str(result.exception)
    assert "--split test" in message and "--allow-test-rows-in-train" in message
    assert not (out / "train.parquet").exists() and not (out / "test.parquet").exists()
    # deliberately: the test split only, or train with the loud flag
    result = CliRunner().invoke(app, ["export", "verl", "--task", "medcalc", "--source", str(test_file),
                                      "--out", str(out), "--splits", "test"])
    assert result.exit_code == 0, result.output
    assert (out / "test.parquet").exists() and not (out / "train.parquet").exists()
    result = CliRunner().invoke(app, ["export", "verl", "--task", "medcalc", "--source", str(test_file),
                                      "--out", str(out), "--split", "train", "--allow-test-rows-in-train"])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out / "train.parquet").num_rows == 4


def test_any_single_file_source_is_not_written_to_both_splits(tmp_path):
    from clinrl.tasks.medcalc import synth as synth

    rows_file = tmp_path / "rows.csv"
    synth.write_rows(synth.generate_rows(3, calculators="6", seed=1, difficulty="template"), str(rows_file))
    with pytest.raises(ConfigError, match="identical row.*--split test.*--split train"):
        export_verl("medcalc", tmp_path / "out", source=str(rows_file))
    assert not (tmp_path / "out" / "train.parquet").exists()
    assert export_verl("medcalc", tmp_path / "out", source=str(rows_file), splits=("train",)) == {"train": 3}


@pytest.mark.conformance
def test_real_test_set_is_refused_as_train(medcalc_test_csv, tmp_path):
    from clinrl.errors import DataError

    with pytest.raises(DataError, match="refusing to load benchmark test rows as training rows"):
        export_verl("medcalc", tmp_path, source=str(medcalc_test_csv))
    assert not (tmp_path / "train.parquet").exists()
