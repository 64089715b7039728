"""One record shape: Score <-> scored row, write_jsonl <-> read_jsonl."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from clinrl.data.tables import read_jsonl, write_jsonl
from clinrl.types import Score


def test_score_record_round_trip():
    score = Score(value=1.1, format_ok=True, answer={"answer": 3}, correct=True, explanation="ok")
    record = score.to_record()
    assert record == {"format_ok": True, "answer": {"answer": 3}, "correct": True, "reward": 1.1,
                      "explanation": "ok"}
    assert Score.from_record({**record, "text": "…", "n_tokens": 4}) == score  # other keys of the row are ignored
    unscored = Score.unscored("judge failed")
    assert Score.from_record(unscored.to_record()) == unscored and unscored.to_record()["reward"] is None
    assert Score.from_record({}) == Score(value=None, format_ok=None)
    assert not hasattr(Score, "to_dict")


def test_harness_and_cli_write_the_same_record_shape(tmp_path):
    from clinrl.evaluation.backends import Generation
    from clinrl.evaluation.harness import score_generation
    from clinrl.registry import get_task

    task = get_task("medcalc")
    (sample,) = task.load("synthetic:n=3;seed=1", "test", limit=1)
    entry = score_generation(task, sample, Generation(text="no contract", n_tokens=2, truncated=False))
    expected = task.score("no contract", sample.target).to_record()
    assert {k: entry[k] for k in expected} == expected
    assert set(entry) == {"text", "n_tokens", "truncated", "error", *expected}


def test_write_jsonl_round_trip(tmp_path):
    rows = [{"id": "1", "text": "Ödem – 5 mg", "n": 2}, {"id": "2", "nested": {"a": [1, None]}}]
    path = tmp_path / "sub" / "rows.jsonl"
    assert write_jsonl(path, iter(rows)) == 2
    assert [row for _, row in read_jsonl(path)] == rows
    assert "Ödem" in path.read_text(encoding="utf-8")  # non-ASCII kept readable
    assert write_jsonl(path, [{"id": "3"}], append=True) == 1
    assert [n for n, _ in read_jsonl(path)] == [1, 2, 3]
    with pytest.raises(TypeError):
        write_jsonl(tmp_path / "d.jsonl", [{"day": dt.date(2020, 1, 2)}])
    write_jsonl(tmp_path / "d.jsonl", [{"day": dt.date(2020, 1, 2)}], default=str)
    assert json.loads((tmp_path / "d.jsonl").read_text()) == {"day": "2020-01-02"}
