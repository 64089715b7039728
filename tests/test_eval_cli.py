"""`clinrl eval`, `clinrl eval compare` and `clinrl report` end to end (OpenAI-compatible backend on a
local test server, so no model is needed), plus the stratified subset."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from clinrl.cli import app
from clinrl.cli.evaluate import stratified_subset
from clinrl.types import Sample

runner = CliRunner()


def test_stratified_subset_covers_every_category_and_is_seeded():
    samples = [Sample(id=str(i), prompt=[], target={}, metadata={"category": c})
               for i, c in enumerate(["lab"] * 50 + ["risk"] * 30 + ["date"] * 3 + ["dosage"] * 1)]
    picked = stratified_subset(samples, 10, seed=1)
    counts = Counter(s.category for s in picked)
    assert len(picked) == 10 and set(counts) == {"lab", "risk", "date", "dosage"} and counts["dosage"] == 1
    assert [s.id for s in picked] == sorted((s.id for s in picked), key=int)  # file order kept
    assert [s.id for s in stratified_subset(samples, 10, seed=1)] == [s.id for s in picked]
    assert [s.id for s in stratified_subset(samples, 10, seed=2)] != [s.id for s in picked]
    assert len(stratified_subset(samples, 500)) == len(samples)


def test_eval_without_task_shows_help():
    result = runner.invoke(app, ["eval"])
    assert result.exit_code == 0 and "--task" in result.output


def test_eval_openai_backend_end_to_end_with_resume_compare_and_report(fake_llm, tmp_path):
    from clinrl.registry import get_task

    task = get_task("medcalc")
    good = {s.prompt[-1]["content"]: task.oracle_completion(s) for s in task.load("synthetic", "test", seed=0)}

    def reply(request):
        content = request["messages"][-1]["content"]
        return good.get(content, "no idea") if request["seed"] % 2 == 0 else "still no idea"

    fake_llm.reply = reply
    common = ["eval", "--task", "medcalc", "--backend", "openai", "--model", "served", "--base-url",
              fake_llm.base_url, "--source", "synthetic", "--limit", "14", "--seed", "0"]
    out = tmp_path / "a"
    result = runner.invoke(app, [*common, "--out", str(out)])
    assert result.exit_code == 0, result.output
    log = json.loads((out / "eval_log.json").read_text())
    assert log["status"] == "complete" and len(log["records"]) == 14
    assert {r["category"] for r in log["records"]} == {"lab", "physical", "date", "dosage", "risk", "severity",
                                                        "diagnosis"}
    assert log["spec"]["source"] == "synthetic" and log["spec"]["backend"] == "openai"
    assert log["metrics"]["accuracy"]["value"] == 1.0
    md = (out / "report.md").read_text()
    assert md.count("| ") > 10 and "| diagnosis |" in md and (out / "report.html").exists()

    n_requests = len(fake_llm.requests)
    again = runner.invoke(app, [*common, "--out", str(out)])
    assert again.exit_code == 0 and "resumed 14" in again.output and len(fake_llm.requests) == n_requests

    out_b = tmp_path / "b"
    result = runner.invoke(app, [*common, "--seed", "1", "--out", str(out_b), "--stratify", "category"])
    # seed 1 picks another subset; compare needs common samples, so compare a with itself and with b
    assert result.exit_code == 0, result.output
    cmp = runner.invoke(app, ["eval", "compare", str(out), str(out)])
    assert cmp.exit_code == 0 and "B − A = +0.0 points" in cmp.output
    html = tmp_path / "both.html"
    rep = runner.invoke(app, ["report", str(out), str(out_b), "--out", str(html)])
    assert rep.exit_code == 0 and html.exists() and html.with_suffix(".md").exists()


def test_eval_rejects_bad_backend(tmp_path):
    result = runner.invoke(app, ["eval", "--task", "medcalc", "--backend", "nope", "--source", "synthetic"])
    assert result.exit_code != 0
    assert "backend" in str(result.exception) + result.output


def test_sampling_options_are_checked_before_data_or_model_load(tmp_path):
    from typer.testing import CliRunner

    from clinrl.cli import app

    result = CliRunner().invoke(app, ["eval", "--task", "medcalc", "--source", str(tmp_path / "missing.csv"),
                                      "--model", str(tmp_path / "no-model"), "--n-samples", "4"])
    assert result.exit_code != 0
    assert "temperature" in str(result.exception) + result.output
    assert not (tmp_path / "missing.csv").exists()


def test_eval_passes_task_options_and_refuses_unknown_ones(tmp_path):
    from typer.testing import CliRunner

    from clinrl.cli import app

    result = CliRunner().invoke(app, ["eval", "--task", "medcalc", "--source", "synthetic:n=2",
                                      "--model", str(tmp_path / "no-model"), "-O", "labels=nonsense"])
    assert result.exit_code != 0 and "nonsense" in str(result.exception)   # reached the task's own check


def test_eval_exits_nonzero_when_every_generation_failed(fake_llm, tmp_path, monkeypatch):
    from fake_llm import FakeReply

    import clinrl.llm.client

    monkeypatch.setattr(clinrl.llm.client.time, "sleep", lambda seconds: None)  # the retries' backoff

    fake_llm.reply = lambda request: FakeReply(status=500, body='{"error": "model not loaded"}')
    out = tmp_path / "down"
    result = runner.invoke(app, ["eval", "--task", "medcalc", "--backend", "openai", "--model", "served", "--base-url",
                                 fake_llm.base_url, "--source", "synthetic", "--limit", "2", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "all 2 generations failed" in result.output and "500" in result.output
    log = json.loads((out / "eval_log.json").read_text())  # nothing lost: the failures stay in the log, unscored
    assert len(log["records"]) == 2 and all(r["completions"][0]["correct"] is None for r in log["records"])
