"""RUN/heldout_eval.jsonl (and validation_eval.jsonl) survive a run that stopped while appending a row: the cut-short
last line is left out with a warning and removed before the next append; any other unreadable line is an error that
names the file and the line."""

from __future__ import annotations

import json

import pytest

from clinrl.errors import DataError
from clinrl.training.callbacks import HELDOUT_LOG, VALIDATION, VALIDATION_LOG, append_heldout, read_heldout


def row(step: int, accuracy: float = 0.5) -> dict:
    return {"stage": "grpo", "step": step, "task": "medcalc", "accuracy": accuracy}


def test_rows_round_trip_and_a_rerun_step_keeps_its_last_row(tmp_path):
    append_heldout(tmp_path, [row(10, 0.4), row(20)])
    append_heldout(tmp_path, [row(10, 0.6)])  # step 10 evaluated again after a resume
    assert sorted((r["step"], r["accuracy"]) for r in read_heldout(tmp_path)) == [(10, 0.6), (20, 0.5)]
    append_heldout(tmp_path, [row(5)], VALIDATION)
    assert (tmp_path / VALIDATION_LOG).is_file() and [r["step"] for r in read_heldout(tmp_path, VALIDATION)] == [5]


def test_a_last_line_cut_short_is_left_out_and_removed_before_the_next_append(tmp_path):
    append_heldout(tmp_path, [row(10)])
    path = tmp_path / HELDOUT_LOG
    path.write_text(path.read_text() + json.dumps(row(20))[:25])  # the process died mid-write
    with pytest.warns(UserWarning, match="line 2 was cut short"):
        assert [r["step"] for r in read_heldout(tmp_path)] == [10]
    with pytest.warns(UserWarning, match="last line was cut short"):
        append_heldout(tmp_path, [row(20)])
    assert [r["step"] for r in read_heldout(tmp_path)] == [10, 20]
    assert path.read_text().count("\n") == 2


def test_an_unreadable_line_elsewhere_names_the_file_and_line(tmp_path):
    append_heldout(tmp_path, [row(10)])
    path = tmp_path / HELDOUT_LOG
    path.write_text(path.read_text() + "not json\n" + json.dumps(row(20)) + "\n")
    with pytest.raises(DataError, match=r"heldout_eval\.jsonl, row 2: not a row of the evaluation log"):
        read_heldout(tmp_path)
    path.write_text(json.dumps({"stage": "grpo", "task": "medcalc"}) + "\n")  # no step: not a row either
    with pytest.raises(DataError, match="row 1"):
        read_heldout(tmp_path)
