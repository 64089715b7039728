"""Output that survives pipes and narrow terminals: tables never squeeze a cell to one letter (they fold,
or switch to a vertical layout), and every table-printing command has --json that parses."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from clinrl.cli import app
from clinrl.cli.output import print_table

runner = CliRunner()
MEDS_DEMO = Path(os.environ.get("CLINRL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / \
    "mimic-iv-demo-meds" / "mimic_iv_demo_meds_events.parquet"

#: the shape that broke: `clinrl data labels ehr … | cat` printed this 7-column table with one-letter cells
LABEL_COLUMNS = ["task", "labels", "positive", "negative", "positive %", "subjects", "dropped"]
LABEL_ROWS = [["new_hypertension", "76", "6", "70", "7.9", "37", "already diagnosed at prediction time: 199"],
              ["guo_readmission", "275", "51", "224", "18.5", "100", "-"],
              ["guo_los", "262", "92", "170", "35.1", "100", "stay ends on its admission day: 13"]]
FIELD_ROWS = [["grpo.learning_rate", "2e-05", "Peak learning rate. On the tiny model ≥5e-5 collapsed the SFT skill "
               "and 1e-5 was flat over 40 steps (GUIDE §4); EHRMIND uses 1e-6 on a 3B model."],
              ["grpo.num_generations", "8", "Group size G: completions per prompt that share a baseline."]]


def table_cells(text: str) -> list[str]:
    """The non-empty cell fragments of every bordered table row in ``text``."""
    cells = []
    for line in text.splitlines():
        if line.count("│") >= 2:
            cells += [c.strip() for c in line.strip().strip("│").split("│") if c.strip()]
    return cells


def squeezed(text: str) -> list[str]:
    """Cells cut short: one character, or ending in rich's ellipsis ("d…", "posit…")."""
    return [c for c in table_cells(text) if (len(c) == 1 and not c.isdigit() and c not in "-–?") or c.endswith("…")]


def words(text: str) -> list[str]:
    return re.findall(r"\S+", text)


def render(columns, rows, width: int) -> str:
    buffer = io.StringIO()
    print_table(Console(file=buffer, width=width), columns, rows, title="t")
    return buffer.getvalue()


@pytest.mark.parametrize("columns,rows", [(LABEL_COLUMNS, LABEL_ROWS), (["field", "default", "why"], FIELD_ROWS),
                                          (["metric", "value"], [["accuracy", "34.0%  [22.2, 48.3]  n=47"]])])
@pytest.mark.parametrize("width", [60, 80, 200])
def test_no_cell_is_squeezed_to_one_character_and_nothing_is_lost(columns, rows, width):
    text = render(columns, rows, width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert not squeezed(text), text
    # every word of every cell is printed whole (folded tables and the vertical layout break between words)
    printed = set(words(text))
    for row in rows:
        for value in row:
            for word in words(value):
                assert word in printed, (word, text)


def test_narrow_terminals_get_the_vertical_layout_and_wide_ones_a_table():
    narrow, wide = render(LABEL_COLUMNS, LABEL_ROWS, 60), render(LABEL_COLUMNS, LABEL_ROWS, 200)
    assert "│" not in narrow and "labels: 76 · positive: 6" in narrow
    assert "│" in wide and "new_hypertension" in wide


@pytest.fixture
def narrow(monkeypatch):
    """The commands' consoles at 60 columns (rich reads COLUMNS when a console is created, at import)."""
    import clinrl.cli.calc
    import clinrl.cli.core
    import clinrl.cli.ehr
    import clinrl.cli.train

    for module in (clinrl.cli.core, clinrl.cli.calc, clinrl.cli.ehr, clinrl.cli.train):
        monkeypatch.setattr(module.console, "_width", 60)


def _ok(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.mark.parametrize("args", [["tasks", "--options"], ["calc", "list"], ["train", "show-config", "--fields"]])
def test_table_commands_at_60_columns(narrow, args):
    out = _ok(*args).stdout
    assert max(len(line) for line in out.splitlines()) <= 60
    assert not squeezed(out), out
    printed = set(words(out))
    if args[0] == "calc":
        assert {"cockcroft_gault", "Creatinine", "(Cockcroft-Gault", "mL/min/1.73"} <= printed
    if args[0] == "train":
        assert {"grpo.learning_rate", "grpo.eval_every", "collapsed"} <= printed


def meds_source(tmp_path: Path) -> Path:
    if MEDS_DEMO.is_file():
        return MEDS_DEMO
    pytest.importorskip("polars")
    from clinrl.data.meds_synth import write_cohort

    write_cohort(tmp_path / "cohort", n_subjects=40, seed=0)
    return tmp_path / "cohort"


def test_data_labels_ehr_at_60_columns_and_as_json(narrow, tmp_path):
    pytest.importorskip("polars")
    meds = meds_source(tmp_path)
    out = _ok("data", "labels", "ehr", "--meds", str(meds)).stdout
    assert not squeezed(out), out
    assert max(len(line) for line in out.splitlines()) <= 60
    printed = set(words(out))
    assert {"new_hypertension", "guo_readmission", "guo_los", "positive", "negative", "subjects", "dropped"} <= \
        {w.rstrip(":") for w in printed}
    rows = json.loads(_ok("data", "labels", "ehr", "--meds", str(meds), "--json").stdout)
    assert {r["task"] for r in rows} >= {"new_hypertension", "guo_los"}


def test_json_of_tasks_calc_show_config_and_data_show():
    tasks = json.loads(_ok("tasks", "--json").stdout)
    assert {t["name"] for t in tasks} >= {"medcalc", "trials", "ehr", "rubric"} and "options" in tasks[0]
    calcs = json.loads(_ok("calc", "list", "--json").stdout)
    assert len(calcs) == 55
    config = json.loads(_ok("train", "show-config", "--json", "--set", "grpo.max_steps=7").stdout)
    assert config["grpo"]["max_steps"] == 7
    fields = json.loads(_ok("train", "show-config", "--fields", "--json").stdout)
    assert {"field", "default", "why"} == set(fields[0]) and any(f["field"] == "grpo.eval_every" for f in fields)
    samples = json.loads(_ok("data", "show", "medcalc", "--source", "synthetic", "-n", "2", "--json").stdout)
    assert len(samples) == 2 and samples[0]["prompt"][-1]["role"] == "user" and "ground_truth" in samples[0]["target"]


def test_json_of_score_keeps_notes_off_stdout(tmp_path):
    target = {"calculator_id": 45, "ground_truth": "2", "lower_limit": "2", "upper_limit": "2"}
    rows = [{"id": "a", "completion": "<think>w</think><answer>{\"answer\": 2}</answer>", **target},
            {"id": "a", "completion": "nothing", **target}]  # a repeated id: the note must go to stderr
    comp = tmp_path / "c.jsonl"
    comp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _ok("score", "medcalc", "--completions", str(comp), "--out", str(tmp_path / "s.jsonl"), "--json")
    metrics = json.loads(result.stdout)
    assert metrics["accuracy"]["value"] == 0.5 and metrics["task"] == "medcalc"


def test_json_of_eval(fake_llm, tmp_path):
    from clinrl.registry import get_task

    task = get_task("medcalc")
    good = {s.prompt[-1]["content"]: task.oracle_completion(s) for s in task.load("synthetic", "test", seed=0)}
    fake_llm.reply = lambda request: good.get(request["messages"][-1]["content"], "no idea")
    result = _ok("eval", "--task", "medcalc", "--backend", "openai", "--model", "served", "--base-url",
                 fake_llm.base_url, "--source", "synthetic", "--limit", "7", "--out", str(tmp_path / "e"), "--json")
    metrics = json.loads(result.stdout)
    assert metrics["accuracy"]["value"] == 1.0 and metrics["n"] == 7


def test_json_of_review_stats(tmp_path):
    pytest.importorskip("sqlalchemy")
    from test_review_store import rubric

    db = f"sqlite:///{tmp_path / 'r.db'}"
    rubrics = tmp_path / "rubrics.jsonl"
    rubrics.write_text("".join(json.dumps(rubric(r).to_dict()) + "\n" for r in ("r1", "r2")))
    _ok("review", "import", str(rubrics), "--db", db)
    stats = json.loads(_ok("review", "stats", "--db", db, "--json").stdout)
    assert stats[0]["round"] == 1 and stats[0]["total"] == 2 and stats[0]["pending"] == 2


def test_the_kept_line_says_what_the_kept_model_scored():
    from clinrl.cli.train import kept_text

    kept = {"stage": "grpo", "step": 10, "path": "runs/q/grpo/best", "policy": "best", "metric": 0.6}
    line = kept_text(kept, "accuracy")
    assert line.startswith("kept: runs/q/grpo/best (grpo step 10, held-out accuracy 60.0%, the best held-out")
    assert "optimistic" in line
    assert ", held-out " not in kept_text({**kept, "metric": None})  # an unscored candidate: no number invented
