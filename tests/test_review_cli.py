"""The rubric-construction CLI as a user runs it: review db, import, stats, export, adjudication,
drafting against a local LLM server, and pairs build."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clinrl.cli import app
from test_curation import GOOD_DRAFT
from test_review_store import rubric

runner = CliRunner()


def run(*args, input=None):
    result = runner.invoke(app, [str(a) for a in args], input=input)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_review_round_trip(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    run("review", "add-user", "alice", "--admin", "--password-stdin", "--db", db, input="alice-password\n")
    run("review", "add-user", "bob", "--password-stdin", "--db", db, input="bob-password\n")
    rubrics = tmp_path / "rubrics.jsonl"
    rubrics.write_text("".join(json.dumps(rubric(r).to_dict()) + "\n" for r in ("r1", "r2")))
    assert "2 rubric(s) queued in round 1" in run("review", "import", rubrics, "--db", db)
    bad = runner.invoke(app, ["review", "import", str(rubrics), "--db", db])
    assert bad.exit_code != 0  # the same ids again: refused, nothing replaced

    from clinrl.review.store import ReviewStore

    store = ReviewStore(db)
    store.decide(1, "approved", opened_version=1, reviewer_id=store.reviewer_id("alice"))
    stats = run("review", "stats", "--db", db)
    assert "100%" in stats  # one decided, one approved
    out = tmp_path / "approved.jsonl"
    assert "wrote 1 approved" in run("rubrics", "export", "--db", db, "--out", out)
    assert json.loads(out.read_text())["id"] == "r1"
    hb = tmp_path / "approved_hb.jsonl"
    run("rubrics", "export", "--db", db, "--out", hb, "--format", "healthbench")
    assert "rubrics" in json.loads(hb.read_text())
    records = tmp_path / "records.jsonl"
    run("review", "export", "--db", db, "--out", records)
    assert len(records.read_text().splitlines()) == 2

    candidates = tmp_path / "cands.jsonl"
    candidates.write_text(json.dumps({"rubric_id": "r1", "model": "m-secret", "response": "4 g a day."}) + "\n")
    run("review", "adjudication", "add", "--rubrics", rubrics, "--candidates", candidates, "--first", "alice",
        "--second", "bob", "--db", db)
    anon = store.adjudication_queue(store.reviewer_id("alice"))[0]["id"]
    for name in ("alice", "bob"):
        store.label(anon, store.reviewer_id(name), {"p1": True, "p2": False, "e1": False, "s1": False})
    bench = tmp_path / "bench.jsonl"
    output = run("review", "adjudication", "export", "--db", db, "--out", bench)
    assert "κ" in output and json.loads(bench.read_text())["labels"] == [True, False, False, False]


def test_draft_and_pairs_with_local_llm(tmp_path, fake_llm, monkeypatch):
    monkeypatch.setenv("CLINRL_LLM_BASE_URL", fake_llm.base_url)

    def reply(request):
        text = json.dumps(request["messages"])
        if "criteria_met" in text:  # the judge: the short response misses criterion p2 only
            met = not ("Advises checking other products" in text and "Just 4 g." in text)
            if "Recommends more than 4 g" in text or "Explains the risk" in text:
                met = False
            return json.dumps({"explanation": "test", "criteria_met": met})
        return json.dumps(GOOD_DRAFT)

    fake_llm.reply = reply
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"id": "q1", "messages": [{"role": "user", "content": "Max paracetamol dose?"}]})
                    + "\n")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    drafts = tmp_path / "drafts.jsonl"
    output = run("rubrics", "draft", pool, "--out", drafts, "--db", db, "--round", "1", "--cache", tmp_path / "c")
    assert "drafted 1" in output and "1 drafts queued for review in round 1" in output

    rubrics = tmp_path / "rubrics.jsonl"
    rubrics.write_text(json.dumps(rubric("r1").to_dict()) + "\n")
    candidates = tmp_path / "cands.jsonl"
    candidates.write_text("".join(json.dumps(c) + "\n" for c in [
        {"rubric_id": "r1", "model": "a", "response": "Just 4 g."},
        {"rubric_id": "r1", "model": "b", "response": "4 g a day; check other products too."},
    ]))
    out = tmp_path / "pairs"
    output = run("pairs", "build", "--rubrics", rubrics, "--candidates", candidates, "--out", out,
                 "--cache", tmp_path / "c2")
    pairs = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    instances = [json.loads(line) for line in (out / "instances.jsonl").read_text().splitlines()]
    assert [(p["chosen_model"], p["rejected_model"]) for p in pairs] == [("b", "a")]
    assert [i["criterion"]["id"] for i in instances] == ["p2"]
