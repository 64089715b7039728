"""Review and rubric-construction commands on first use: a mistyped --db, a bad database URL, a pool
file that is not a pool, and the same adjudication file queued twice."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from clinrl.cli import app
from clinrl.errors import ClinrlError
from clinrl.review.store import DuplicateItem, ReviewStore
from test_review_store import rubric

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("command", [["review", "stats"], ["review", "export", "-o", "x.jsonl"],
                                     ["rubrics", "export", "-o", "x.jsonl"],
                                     ["review", "adjudication", "export", "-o", "x.jsonl"]])
def test_read_commands_refuse_a_database_that_does_not_exist(tmp_path, command):
    path = tmp_path / "typo" / "review.db"
    result = invoke(*command, "--db", f"sqlite:///{path}")
    assert result.exit_code != 0 and "no review database" in str(result.exception)
    assert not path.exists() and not path.parent.exists()  # nothing created as a side effect


def test_bad_database_url_is_a_clear_error():
    result = invoke("review", "stats", "--db", "nonsense://x")
    assert isinstance(result.exception, ClinrlError) and "cannot open the review database" in str(result.exception)


def test_rubrics_draft_rejects_a_file_that_is_not_a_pool(tmp_path):
    bad = tmp_path / "pool.jsonl"
    bad.write_text(json.dumps({"id": "q1", "messages": [{"role": "user", "content": "hi"}]}) + "\n"
                   + json.dumps({"id": "q2", "text": "hello"}) + "\n")
    result = invoke("rubrics", "draft", bad, "-o", tmp_path / "drafts.jsonl")
    assert isinstance(result.exception, ClinrlError)
    assert "row 2" in str(result.exception) and "'text'" in str(result.exception)


def test_review_import_rejects_round_zero(tmp_path):
    rubrics = tmp_path / "r.jsonl"
    rubrics.write_text(json.dumps(rubric("r1").to_dict()) + "\n")
    result = invoke("review", "import", rubrics, "--round", "0", "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert result.exit_code == 2


def test_adjudication_add_twice_queues_each_response_once(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    store = ReviewStore(db)
    for name in ("alice", "bob"):
        store.add_reviewer(name, f"{name}-password")
    rubrics = tmp_path / "r.jsonl"
    rubrics.write_text(json.dumps(rubric("r1").to_dict()) + "\n")
    candidates = tmp_path / "c.jsonl"
    candidates.write_text(json.dumps({"rubric_id": "r1", "model": "m", "response": "Up to 4 g a day."}) + "\n")
    args = ("review", "adjudication", "add", "--rubrics", rubrics, "--candidates", candidates,
            "--first", "alice", "--second", "bob", "--db", db)
    assert invoke(*args).exit_code == 0
    again = invoke(*args)
    assert again.exit_code == 0 and "1 already queued, skipped" in again.output
    assert len(store.adjudication_export()) == 1
    with pytest.raises(DuplicateItem):
        store.add_adjudication_item(rubric("r1"), "Up to 4 g a day.", "m", first="alice", second="bob")
    # another model's identical text is a different item
    store.add_adjudication_item(rubric("r1"), "Up to 4 g a day.", "other", first="alice", second="bob")
    assert len(store.adjudication_export()) == 2
