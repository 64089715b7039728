"""Synthetic MedCalc sample ids carry their split, and metadata records the seed the rows came from."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clinrl.cli import app
from clinrl.registry import get_task


def test_ids_differ_across_splits_and_seed_is_the_effective_one():
    task = get_task("medcalc")
    train = task.load("synthetic:n=3;seed=7", "train")
    test = task.load("synthetic:n=3;seed=7", "test")
    assert [s.id for s in train] == ["train-1", "train-2", "train-3"]
    assert [s.id for s in test] == ["test-1", "test-2", "test-3"]
    assert test[0].metadata["seed"] == 2_000_007 and test[0].metadata["base_seed"] == 7
    assert test[0].metadata["note_id"] == "synthetic-s2000007-i0"  # the same seed the id's rows came from
    assert train[0].metadata["seed"] == train[0].metadata["base_seed"] == 7
    assert task.load("synthetic:n=1", "validation", seed=2)[0].id == "validation-1"


def test_scoring_test_completions_against_the_train_split_fails_on_the_id(tmp_path):
    task = get_task("medcalc")
    (sample,) = task.load("synthetic:n=1", "test")
    completions = tmp_path / "c.jsonl"
    completions.write_text(json.dumps({"id": sample.id, "completion": task.oracle_completion(sample)}) + "\n")
    runner = CliRunner()
    base = ["score", "medcalc", "-c", str(completions), "-o", str(tmp_path / "o.jsonl"), "-s", "synthetic:n=1"]
    wrong = runner.invoke(app, [*base, "--split", "train"])
    assert wrong.exit_code != 0 and "id 'test-1' is not in" in f"{wrong.output}{wrong.exception}"
    right = runner.invoke(app, [*base, "--split", "test"])
    assert right.exit_code == 0, right.output
    assert json.loads((tmp_path / "o.jsonl").read_text())["correct"] is True
