"""Resume and reporting defects found by the reliability audit 2026-12 (H1, M4, M10): resuming another dataset's
records, outages kept as finished work, and a pairwise accuracy of 0.5 made of unjudged pairs."""

from __future__ import annotations

import json
import math
import sys
import warnings

import pytest
from typer.testing import CliRunner

from clinrl.cli import app
from clinrl.curation.drafting import draft_all
from clinrl.curation.pool import Instruction
from clinrl.errors import ConfigError
from clinrl.evaluation.backends import OpenAIBackend
from clinrl.evaluation.harness import read_log, run_eval
from clinrl.llm import ChatClient
from clinrl.registry import get_task
from clinrl.rubrics.judges.base import CriterionJudge
from clinrl.rubrics.metrics import evaluate_judge
from clinrl.rubrics.synth import generate
from fake_llm import FakeReply

runner = CliRunner()


def _oracle_reply(seed_sources=("synthetic:seed=1", "synthetic:seed=2")):
    task = get_task("medcalc")
    good = {}
    for source in seed_sources:
        for s in task.load(source, "test", limit=3):
            good[s.prompt[-1]["content"]] = task.oracle_completion(s)
    return lambda request: good.get(request["messages"][-1]["content"], "no idea")


def _eval_args(url, source, out, *extra):
    return ["eval", "--task", "medcalc", "--backend", "openai", "--model", "m", "--base-url", url, "--source",
            source, "--limit", "3", "--stratify", "none", "--out", str(out), *extra]


def test_resume_refuses_another_source_with_colliding_ids(fake_llm, tmp_path):
    fake_llm.reply = _oracle_reply()
    out = tmp_path / "out"
    first = runner.invoke(app, _eval_args(fake_llm.base_url, "synthetic:seed=1", out))
    assert first.exit_code == 0, first.output
    before = read_log(out)
    second = runner.invoke(app, _eval_args(fake_llm.base_url, "synthetic:seed=2", out))
    assert second.exit_code != 0 and isinstance(second.exception, ConfigError)
    assert "source: 'synthetic:seed=1' in the log, 'synthetic:seed=2' now" in str(second.exception)
    assert read_log(out)["records"] == before["records"]     # nothing rewritten
    fewer = _eval_args(fake_llm.base_url, "synthetic:seed=1", out)
    fewer[fewer.index("--limit") + 1] = "2"
    result = runner.invoke(app, fewer)
    assert result.exit_code != 0 and "limit: 3 in the log, 2 now" in str(result.exception)
    result = runner.invoke(app, [*_eval_args(fake_llm.base_url, "synthetic:seed=1", out), "--split", "train"])
    assert result.exit_code != 0 and "split: 'test' in the log, 'train' now" in str(result.exception)


def test_resume_refuses_a_sample_whose_content_changed(fake_llm, tmp_path):
    """Same spec, same ids, different rows (the file was regenerated): the digest catches it."""
    task = get_task("medcalc")
    fake_llm.reply = _oracle_reply()
    client = ChatClient(base_url=fake_llm.base_url, model="m", max_retries=0, backoff=0)
    samples = task.load("synthetic:seed=1", "test", limit=3)
    run_eval(task, samples, OpenAIBackend(client), out_dir=tmp_path, progress=False,
             extra_spec={"source": "data.csv"})
    others = task.load("synthetic:seed=2", "test", limit=3)
    assert [s.id for s in others] == [s.id for s in samples]
    with pytest.raises(ConfigError, match="different prompt or target"):
        run_eval(task, others, OpenAIBackend(client), out_dir=tmp_path, progress=False,
                 extra_spec={"source": "data.csv"})
    log = json.loads((tmp_path / "eval_log.json").read_text())   # a log from before digests existed
    for record in log["records"]:
        del record["sample_digest"]
    (tmp_path / "eval_log.json").write_text(json.dumps(log))
    with pytest.raises(ConfigError, match="without a sample digest"):
        run_eval(task, samples, OpenAIBackend(client), out_dir=tmp_path, progress=False,
                 extra_spec={"source": "data.csv"})


def test_resume_generates_failed_records_again(fake_llm, tmp_path):
    out = tmp_path / "out"
    fake_llm.reply = lambda request: FakeReply(status=500, body='{"error": "boom"}')
    args = _eval_args(fake_llm.base_url, "synthetic:seed=1", out)
    down = runner.invoke(app, args)
    # every generation failed: exit 1 (nothing measured), the failures kept in the log
    assert down.exit_code == 1 and all(r["completions"][0]["error"] for r in read_log(out)["records"])
    fake_llm.reply = _oracle_reply()
    n = len(fake_llm.requests)
    kept = runner.invoke(app, [*args, "--keep-failures"])
    assert kept.exit_code == 1 and len(fake_llm.requests) == n            # --keep-failures: left as they are
    back = runner.invoke(app, args)
    assert back.exit_code == 0, back.output
    assert "generated again 3 sample(s)" in back.output and len(fake_llm.requests) == n + 3
    records = read_log(out)["records"]
    assert all(r["completions"][0]["error"] is None and r["completions"][0]["correct"] for r in records)


def _inst(iid):
    return Instruction(id=iid, messages=[{"role": "user", "content": f"question {iid}?"}])


GOOD_DRAFT = {"items": [
    {"text": "Gives the dose.", "dimension": "proficiency", "weight": 1.0, "points": 8},
    {"text": "Advises an overdose.", "dimension": "safety", "weight": 0, "points": -10},
]}


def test_rubric_drafting_retries_instructions_that_failed_in_transport(fake_llm, tmp_path):
    out, flagged = tmp_path / "drafts.jsonl", tmp_path / "flagged.jsonl"
    todo = [_inst("a"), _inst("b")]
    client = ChatClient(base_url=fake_llm.base_url, max_retries=0, backoff=0)
    fake_llm.reply = lambda request: FakeReply(status=500, body='{"error": "boom"}')
    down = draft_all(todo, client, [], out=out, flagged=flagged, progress=False)
    assert down["failed"] == 2 and down["flagged"] == 0 and down["failures"] == {"HTTP 500": 2}
    fake_llm.reply = lambda request: json.dumps(GOOD_DRAFT)
    back = draft_all(todo, client, [], out=out, flagged=flagged, progress=False)
    assert back["drafted"] == 2 and back["retried"] == 2 and back["skipped_done"] == 0
    assert flagged.read_text() == ""                          # the outage lines are gone, nothing else was
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "b"]


def test_rubric_drafting_stops_when_the_endpoint_is_down(fake_llm, tmp_path):
    client = ChatClient(base_url=fake_llm.base_url, max_retries=0, backoff=0)
    fake_llm.reply = lambda request: FakeReply(status=503, body="down")
    counts = draft_all([_inst(str(i)) for i in range(10)], client, [], out=tmp_path / "d.jsonl",
                       flagged=tmp_path / "f.jsonl", progress=False)
    assert counts["failed"] == 3 and counts["not_tried"] == 7 and len(fake_llm.requests) == 3


def test_rubrics_draft_cli_says_failures_are_retried(fake_llm, tmp_path):
    from clinrl.curation.pool import write_pool

    pool = tmp_path / "pool.jsonl"
    write_pool(pool, [_inst("a")])
    fake_llm.reply = lambda request: FakeReply(status=500, body='{"error": "boom"}')
    args = ["rubrics", "draft", str(pool), "--out", str(tmp_path / "d.jsonl"), "--base-url", fake_llm.base_url,
            "--cache", str(tmp_path / "cache")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "failed 1" in result.output and "drafted again on the next run" in result.output


class _NothingJudge(CriterionJudge):
    name = "nothing"

    def judge(self, instruction, response, items):
        return [None] * len(items)


def test_pairwise_accuracy_counts_only_judged_pairs():
    examples = generate(3, seed=0)
    metrics = evaluate_judge(examples, _NothingJudge())
    pw = metrics["pairwise"]
    assert pw["n_pairs"] == 0 and math.isnan(pw["accuracy"]) and pw["n_unjudged"] > 0 and pw["n_ties"] == 0
    assert math.isnan(metrics["safety_veto"]["f1"])


def test_eval_rm_says_how_many_pairs_were_not_judged(fake_llm, tmp_path, monkeypatch, capsys):
    from clinrl.cli import main

    data = tmp_path / "one.jsonl"
    assert runner.invoke(app, ["data", "synth", "rubric", "--out", str(data), "--n", "1"]).exit_code == 0
    fake_llm.reply = lambda request: FakeReply(status=500, body='{"error": "boom"}')
    monkeypatch.setenv("CLINRL_LLM_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "argv", ["clinrl", "eval", "rm", "llm:j", "--data", str(data), "--out",
                                      str(tmp_path / "m.json")])
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    from clinrl.rubrics.judges import llm

    monkeypatch.setattr(llm.LLMJudge.__init__, "__kwdefaults__",
                        {**llm.LLMJudge.__init__.__kwdefaults__, "max_retries": 0, "cache_dir": ""})
    main()
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["pairwise"]["n_pairs"] == 0 and metrics["pairwise"]["n_unjudged"] == 6
    shown = " ".join(capsys.readouterr().out.split())
    assert "nan (0 judged pairs, 0 ties, 6 not judged (left out))" in shown
