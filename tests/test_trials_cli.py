"""`clinrl data synth trials` and `clinrl data rationales trials` as a user runs them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clinrl.cli import app
from clinrl.registry import get_task

runner = CliRunner()


def test_synth_file_round_trips_through_the_task(tmp_path):
    out = tmp_path / "synth.jsonl"
    result = runner.invoke(app, ["data", "synth", "trials", "--out", str(out), "--n", "12", "--preset", "hard",
                                 "--set", "negation_rate=0.6,distractors=3", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "not relevant 4, excluded 4, eligible 4" in " ".join(result.output.split())
    task = get_task("trials")
    from_file = task.load(str(out))
    generated = task.load("synthetic:hard;negation_rate=0.6;distractors=3", "train", limit=12, seed=4)
    assert [(s.id, s.target, s.prompt) for s in from_file] == [(s.id, s.target, s.prompt) for s in generated]
    again = tmp_path / "again.jsonl"
    runner.invoke(app, ["data", "synth", "trials", "--out", str(again), "--n", "12", "--preset", "hard",
                        "--set", "negation_rate=0.6,distractors=3", "--seed", "4"])
    assert again.read_bytes() == out.read_bytes()


def test_synth_rejects_bad_knobs(tmp_path):
    result = runner.invoke(app, ["data", "synth", "trials", "--out", str(tmp_path / "x.jsonl"), "--set", "bogus=1"])
    assert result.exit_code != 0 and "unknown config field 'bogus'" in str(result.exception or result.output)


def test_rationales_command_against_fake_server(tmp_path, fake_llm):
    fake_llm.reply = lambda request: json.dumps({"rationale": "Checked each criterion against the note.",
                                                 "confidence": 5})
    out = tmp_path / "rationales"
    args = ["data", "rationales", "trials", "--source", "synthetic:easy", "--out", str(out), "--per-class", "2",
            "--base-url", fake_llm.base_url, "--model", "teacher", "--max-retries", "0", "--cache-dir",
            str(tmp_path / "cache")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert sorted(r["trial_label"] for r in rows) == [0, 0, 1, 1, 2, 2]
    assert json.loads((out / "report.json").read_text())["accepted_per_class"] == \
        {"not relevant": 2, "excluded": 2, "eligible": 2}
    # a rerun finds everything done in the journal and sends nothing
    fake_llm.requests.clear()
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and fake_llm.requests == [] and "finished earlier and skipped: 6" in " ".join(result.output.split())


def test_synth_refuses_other_suffixes_and_n_below_one(tmp_path):
    for name in ("st.txt", "st.json", "st.parquet", "st"):
        result = runner.invoke(app, ["data", "synth", "trials", "--out", str(tmp_path / name), "--n", "5"])
        assert result.exit_code != 0 and "unsupported output type" in str(result.exception), name
        assert not (tmp_path / name).exists()
    for n in ("0", "-1"):
        out = tmp_path / f"n{n}.jsonl"
        result = runner.invoke(app, ["data", "synth", "trials", "--out", str(out), "--n", n])
        assert result.exit_code != 0 and not out.exists(), n
        assert "greater than or equal to 1" in " ".join(result.output.split()), n
    upper = tmp_path / "ok.JSONL"
    assert runner.invoke(app, ["data", "synth", "trials", "--out", str(upper), "--n", "3"]).exit_code == 0


def test_rationales_output_prints_bracketed_data_verbatim(tmp_path, monkeypatch):
    """Skip reasons, failure texts and paths are data: rich markup must not eat a "[bracketed]" part."""
    from collections import Counter

    from clinrl.tasks.trials import rationales

    def fake_generate(task, samples, client, out, *, config):
        return rationales.RationaleReport(
            requested=3, statuses=Counter(ok=1, failed=1), accepted_per_class={"eligible": 1},
            available_per_class={"[bold]eligible[/bold]": 3}, skipped=Counter({"[no criteria] in corpus": 2}),
            failures=Counter({"HTTP 502 [upstream]": 1}))

    monkeypatch.setattr(rationales, "generate_rationales", fake_generate)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["data", "rationales", "trials", "--source", "synthetic:easy", "--out", "r[draft]",
                                 "--per-class", "1", "--base-url", "http://127.0.0.1:9/v1", "--cache-dir", "c"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for shown in ("skipped 2 pair(s): [no criteria] in corpus", "HTTP 502 [upstream] ×1",
                  "to r[draft]/train.jsonl", "[bold]eligible[/bold]"):
        assert shown in text, shown
