"""clinrl report: a run directory with three stages, training curves and held-out accuracy renders into
one self-contained HTML file (checked in headless Chromium when it is installed) and a markdown summary."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from clinrl.evaluation.backends import Backend, Generation
from clinrl.evaluation.harness import run_eval
from clinrl.evaluation.report import write_report
from clinrl.evaluation.report_data import collect
from clinrl.registry import get_task
from clinrl.types import Sample

pytest.importorskip("matplotlib")

CATEGORY_CALCULATORS = {"lab": (2, "Creatinine Clearance (Cockcroft-Gault Equation)"),
                        "physical": (5, "Mean Arterial Pressure (MAP)"), "date": (13, "Estimated Due Date"),
                        "dosage": (24, "Steroid Conversion Calculator"),
                        "risk": (4, "CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk"),
                        "severity": (45, "CURB-65 Score for Pneumonia Severity"),
                        "diagnosis": (48, "PERC Rule for Pulmonary Embolism")}
WRONG = ["I think the value is probably normal.",  # no contract at all: format failure
         "The answer depends on several factors.</think>\n<answer>{\"answer\": 999}</answer>",  # missing knowledge
         "Adding the points: 1 + 1 + 1 = 4.</think>\n<answer>{\"answer\": 4}</answer>"]  # arithmetic slip


def samples() -> list[Sample]:
    out = []
    for i in range(42):
        category = list(CATEGORY_CALCULATORS)[i % 7]
        cid, name = CATEGORY_CALCULATORS[category]
        if cid == 13:
            target = {"calculator_id": cid, "ground_truth": "10/17/2023", "lower_limit": "", "upper_limit": ""}
        elif cid in (4, 45, 48):
            target = {"calculator_id": cid, "ground_truth": "2", "lower_limit": "2", "upper_limit": "2"}
        else:
            target = {"calculator_id": cid, "ground_truth": "60.0", "lower_limit": "57.0", "upper_limit": "63.0"}
        out.append(Sample(id=str(i), prompt=[{"role": "user", "content": f"note {i}"}], target=target,
                          metadata={"category": category, "calculator_name": name}, prefill="<think>"))
    return out


class StageBackend(Backend):
    """Right with probability ``p`` (higher for later stages); wrong answers of three kinds."""

    name = "scripted"

    def __init__(self, p: float, seed: int):
        self.p, self.rng, self.task = p, random.Random(seed), get_task("medcalc")

    def describe(self):
        return {"backend": self.name, "model": f"scripted-p{self.p}"}

    def render(self, sample):
        return sample

    def generate(self, prompts, *, n=1, temperature=0.0, top_p=1.0, max_new_tokens=256, seed=0):
        out = []
        for s in prompts:
            per = []
            for _ in range(n):
                ok = self.rng.random() < self.p
                text = self.task.oracle_completion(s, "Apply the rule.") if ok else self.rng.choice(WRONG)
                per.append(Generation(text, self.rng.randint(20, 120), self.rng.random() < 0.05))
            out.append(per)
        return out


def make_run(root: Path) -> Path:
    run = root / "run"
    task = get_task("medcalc")
    data = samples()
    for i, (stage, p) in enumerate((("base", 0.15), ("sft", 0.45), ("grpo", 0.6))):
        k = 4 if stage == "base" else 1
        run_eval(task, data, StageBackend(p, i), n_samples=k, temperature=0.6 if k > 1 else 0.0, progress=False,
                 out_dir=run / "eval" / stage, extra_spec={"stage": stage, "split": "train" if k > 1 else "test"})
    write_trainer_logs(run)
    lines = [{"stage": st, "step": s, "task": "medcalc", "accuracy": a, "format_valid": 0.9}
             for st, pts in (("sft", [(0, 0.1), (50, 0.3), (100, 0.45)]), ("grpo", [(0, 0.45), (50, 0.55), (100, 0.6)]))
             for s, a in pts]
    (run / "heldout_eval.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    return run


#: the GRPO keys TRL 1.16 logs (plus clinrl's within-group spread), as the report reads them
GRPO_KEYS = ("reward", "reward_std", "reward_std_within_group", "frac_reward_zero_std", "kl",
             "completions/mean_length", "completions/clipped_ratio", "entropy", "rewards/format/mean",
             "rewards/correct/mean")


def write_trainer_logs(run: Path, *, within_group: bool = True) -> None:
    (run / "sft").mkdir(parents=True, exist_ok=True)
    sft = [{"step": s, "loss": 2.0 / (1 + s / 20), "mean_token_accuracy": min(0.95, 0.2 + s / 120)}
           for s in range(1, 81, 5)]
    (run / "sft" / "trainer_state.json").write_text(json.dumps({"log_history": sft}))
    (run / "grpo" / "checkpoint-30").mkdir(parents=True, exist_ok=True)  # a run stopped before writing grpo/
    grpo = []
    for s in range(1, 31):
        row = {"step": s, "loss": 0.01, "reward": -1.5 + s / 20, "reward_std": 1.0, "frac_reward_zero_std": 0.8 - s / 50,
               "kl": s * 1e-4, "completions/mean_length": 40 - s / 3, "completions/clipped_ratio": 0.5 - s / 70,
               "entropy": 1.2 - s / 60, "rewards/format/mean": -1 + s / 30, "rewards/correct/mean": s / 40}
        if within_group:
            row["reward_std_within_group"] = 0.4
        grpo.append(row)
    grpo.append({"step": 30, "train_runtime": 12.0, "train_loss": 0.01})  # TRL's closing entry has no reward
    (run / "grpo" / "checkpoint-30" / "trainer_state.json").write_text(json.dumps({"log_history": grpo}))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    run = make_run(root)
    html_path, md_path = write_report([run], root / "out" / "report.html")
    return run, html_path, md_path


def test_collect_reads_stages_in_order_and_curves(report):
    from clinrl.evaluation.curves import series

    run, _, _ = report
    data = collect([run])
    assert [s.name for s in data.stages] == ["base", "sft", "grpo"]
    assert set(data.training) == {"sft", "grpo"}  # grpo from its latest checkpoint: no grpo/trainer_state.json
    assert len(series(data.training["sft"], "mean_token_accuracy")) == 16
    assert len(series(data.training["grpo"], "reward")) == 30  # the closing entry without a reward is skipped
    assert {r["stage"] for r in data.heldout} == {"sft", "grpo"}
    assert len([r for r in data.heldout if r["stage"] == "grpo"]) == 3
    assert any("not JSON" in s for s in data.skipped)  # a bad line is reported, not silently dropped


def test_header_names_the_runs_starting_model_not_a_stage_checkpoint(tmp_path):
    from clinrl.evaluation.render import render
    from clinrl.evaluation.report_data import model_label

    run = make_run(tmp_path)  # each stage's eval log names its own checkpoint
    assert model_label(collect([run])) == "one per stage (see Provenance)"
    (run / "config.yaml").write_text("name: quickstart\nmodel:\n  spec: tiny\n")
    data = collect([run])
    assert data.run_model == "tiny"
    assert model_label(data) == "tiny, trained in this run (base → sft → grpo)"
    last = data.stages[-1]
    data.stages.append(type(last)("grpo-real", last.log, last.path))  # the GRPO model on real rows
    assert model_label(data) == "tiny, trained in this run (base → sft → grpo)"  # an extra eval is not a stage
    data.stages.pop()
    html, md = render(data)
    assert "model: tiny, trained in this run" in html and "Model: tiny, trained in this run" in md
    # a single eval directory: its own model, as before
    assert model_label(collect([run / "eval" / "sft"])) == "scripted-p0.45"
    (run / "config.yaml").write_text("- not\n- a mapping\n")
    bad = collect([run])
    assert bad.run_model is None and any("not a run config" in s for s in bad.skipped)


def test_each_stage_gets_its_own_figure_with_the_grpo_signals(report):
    _, html_path, md_path = report
    page = html_path.read_text()
    for stage in ("sft", "grpo"):
        start = page.index(f"<figure id='curves-{stage}'>")
        figure = page[start:page.index("</figure>", start)]
        assert "data:image/png;base64," in figure
    grpo = page[page.index("<figure id='curves-grpo'>"):]
    grpo = grpo[:grpo.index("</figure>")]
    for panel in ("reward mean ± within-group std (held-out points overlaid)", "groups with tied rewards",
                  "KL to the reference", "completion length and truncation", "entropy", "reward by function"):
        assert panel in grpo, panel
    sft = page[page.index("<figure id='curves-sft'>"):]
    assert "loss" in sft[:sft.index("</figure>")] and "token accuracy" in sft[:sft.index("</figure>")]
    md = md_path.read_text()
    assert "| groups tied | 78.0% (step 1) | 20.0% (step 30) |" in md
    assert "| truncated |" in md and "| KL |" in md and "| reward within-group std |" in md


def test_grpo_figure_draws_every_signal_on_its_own_step_axis():
    from clinrl.evaluation.curves import GRPO_PANELS, stage_figure
    from clinrl.evaluation.report_data import _plt

    plt = _plt()
    history = [{"step": s, **{k: 0.1 * s for k in GRPO_KEYS}} for s in (1, 5, 10)]
    heldout = [{"stage": "grpo", "step": 5, "task": "medcalc", "accuracy": 0.3},
               {"stage": "grpo", "step": 10, "task": "medcalc", "accuracy": 0.4,
                "headline": {"name": "balanced accuracy", "value": 0.6}}]
    fig, titles = stage_figure("grpo", history, heldout, plt)
    assert len(titles) == len(GRPO_PANELS)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    reward_ax = axes[0]
    assert reward_ax.get_xlabel() == "GRPO step" and reward_ax.get_lines()[0].get_xdata().tolist() == [1, 5, 10]
    assert reward_ax.collections  # the ± within-group std band
    overlay = [ax for ax in fig.axes if any(line.get_marker() == "D" for line in ax.get_lines())]
    assert overlay and sorted(y for line in overlay[0].get_lines() for y in line.get_ydata()) == [30.0, 60.0]
    plt.close(fig)
    # an older log without clinrl's within-group spread says which spread it shows
    older = [{k: v for k, v in row.items() if k != "reward_std_within_group"} for row in history]
    fig, titles = stage_figure("grpo", older, [], plt)
    assert titles[0] == "reward mean ± batch std (TRL reward_std)"
    plt.close(fig)


def test_first_card_is_the_paired_gain_and_health_lists_warnings(tmp_path):
    run = make_run(tmp_path)
    metrics = {"paired_gain": {"task": "medcalc", "metric": "accuracy", "from_stage": "sft", "to_stage": "grpo",
                               "delta": 0.12, "ci": [0.031, 0.209], "n": 42},
               "health": [{"kind": "reward_collapse", "stage": "grpo", "message": "reward fell from 0.4 to -2.0"},
                          {"kind": "constant_answers", "stage": "grpo", "message": "83% of answers are 2"}],
               "kept_checkpoint": {"stage": "grpo", "step": 20, "path": "runs/x/grpo/checkpoint-20",
                                   "policy": "best", "metric": 0.55}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    html_path, md_path = write_report([run], tmp_path / "r.html")
    page = html_path.read_text()
    first = page.index("<div class='cards'>") + len("<div class='cards'>")
    assert page.startswith("<div class='card gain'>", first)  # the first card
    card = page[first:page.index("</div></div>", first)]
    assert "+12.0 pts" in card and "[+3.1, +20.9]" in card and "paired on 42" in card and "grpo − sft" in card
    health = page[page.index("<h2>Run health</h2>"):]
    assert "reward collapsed" in health and "constant answers" in health and "83% of answers are 2" in health
    assert "Kept checkpoint: grpo step 20 (the best held-out score, 55.0%), runs/x/grpo/checkpoint-20" in health
    assert "chosen on the held-out split itself, so its held-out score is optimistic" in health
    md = md_path.read_text()
    assert "Paired gain grpo − sft on medcalc accuracy: +12.0 points, 95% CI [+3.1, +20.9] (n=42)." in md
    assert "## Run health" in md


def test_a_run_without_the_new_metrics_keys_still_renders(report):
    run, html_path, _ = report
    page = html_path.read_text()
    assert "Run health" not in page  # no metrics.json in this run: nothing to say, nothing invented
    first = page[page.index("<div class='cards'>"):]
    assert "grpo − sft" in first[:first.index("</div></div>")]  # RL over the warm-up, from the eval logs, first


def test_answers_are_shown_by_the_task_output_type(report):
    from clinrl.registry import get_task

    _, html_path, _ = report
    page = html_path.read_text()
    assert "answer 4 ·" in page and "answer 4.0" not in page  # an integer score, read as 4.0 by the parser
    task = get_task("medcalc")
    assert task.display_answer(3.0, {"calculator_id": 45, "ground_truth": "2"}) == "3"
    assert task.display_target({"calculator_id": 45, "ground_truth": "2.0"}) == "2"
    assert task.display_answer("2023-10-18", {"calculator_id": 13, "ground_truth": "10/17/2023"}) == "10/18/2023"
    assert task.display_answer([4, 3], {"calculator_id": 69, "ground_truth": "(4, 2)"}) == "4 weeks, 3 days"
    assert task.display_target({"calculator_id": 2, "ground_truth": "60.0", "lower_limit": "57.0",
                                "upper_limit": "63.0"}) == "60 (accepted 57 to 63)"


def test_html_is_self_contained_and_complete(report):
    _, html_path, md_path = report
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") >= 4  # categories, curves, pass@k, taxonomy
    assert "http://" not in page and "https://" not in page and "<script" not in page
    for text in ("Metrics by stage", "Accuracy by category", "<h2>Training</h2>", "pass@k", "RLVR viability",
                 "Failure taxonomy", "Example failures", "Provenance", "grpo − sft"):
        assert text in page, text
    md = md_path.read_text()
    for category in CATEGORY_CALCULATORS:
        assert f"| {category} |" in md
    assert "| accuracy (Wilson 95% CI) |" in md and "## Failure taxonomy" in md


def test_single_eval_dir_and_errors(report, tmp_path):
    from clinrl.errors import DataError

    run, _, _ = report
    html_path, _ = write_report([run / "eval" / "sft"], tmp_path / "r.html", title="just one")
    assert "just one" in html_path.read_text()
    with pytest.raises(DataError, match="no such"):
        write_report([tmp_path / "missing"], tmp_path / "x.html")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="neither a run directory"):
        write_report([tmp_path / "empty"], tmp_path / "x.html")


def test_report_renders_in_headless_chromium(report):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium) — the render check needs it")
    _, html_path, _ = report
    shot = html_path.with_suffix(".png")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        f"--screenshot={shot}", "--window-size=1280,2000", html_path.resolve().as_uri()],
                       check=True, capture_output=True, timeout=90)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a blank page compresses far smaller


def test_run_markdown_report_leads_with_the_gain_and_lists_the_logged_signals(tmp_path):
    from types import SimpleNamespace

    from clinrl.training.common import StageResult
    from clinrl.training.config import RunConfig
    from clinrl.training.report import write_report as write_run_report

    grpo = [{"step": s, "reward": -1 + s / 10, "reward_std_within_group": 0.5, "frac_reward_zero_std": 0.25,
             "kl": 0.001 * s, "completions/mean_length": 30.0, "completions/clipped_ratio": 0.1, "entropy": 1.0}
            for s in (1, 5, 10)]
    metrics = {"seconds": 12.0, "stages": {}, "paired_gain": {"task": "medcalc", "metric": "accuracy",
                                                              "from_stage": "sft", "to_stage": "grpo", "delta": -0.05,
                                                              "ci": [-0.15, 0.04], "n": 64},
               "health": [{"kind": "heldout_drop", "stage": "grpo", "message": "accuracy fell 20 points"}]}
    result = SimpleNamespace(evals={}, notes=[], metrics=metrics,
                             stages={"grpo": StageResult("grpo", tmp_path / "grpo" / "final", 10, log_history=grpo)})
    text = write_run_report(tmp_path, RunConfig(), result).read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[2].startswith("Paired gain grpo − sft on medcalc accuracy: -5.0 points, 95% CI [-15.0, +4.0]")
    assert "**held-out metric fell** (grpo): accuracy fell 20 points" in text
    assert "| reward within-group std | 0.500 (step 1) | 0.500 (step 10) |" in text
    assert "| groups tied | 25.0% (step 1) |" in text


def test_a_real_rows_stage_after_grpo_does_not_hide_the_gain_over_the_warm_up(tmp_path):
    run = make_run(tmp_path)
    real = [Sample(id=f"real-{s.id}", prompt=s.prompt, target=s.target, metadata=s.metadata, prefill=s.prefill)
            for s in samples()[:7]]
    run_eval(get_task("medcalc"), real, StageBackend(0.1, 9), progress=False, out_dir=run / "eval" / "grpo-real",
             extra_spec={"stage": "grpo-real"})
    page = write_report([run], tmp_path / "r.html")[0].read_text()
    cards = page[page.index("<div class='cards'>"):]
    assert "grpo − sft" in cards[:cards.index("</div></div>")]  # not dropped for grpo-real's unpaired samples
    assert "By group: what grpo changed" in page  # grpo against the warm-up, on their shared samples
    assert "Accuracy by calculator (grpo-real, 7 calculators)" in page  # and the real rows' own breakdown


def test_a_report_written_into_its_run_directory_keeps_the_runs_own_report_md(tmp_path):
    run = make_run(tmp_path)
    (run / "report.md").write_text("# the run's own summary\n")
    html_path, md_path = write_report([run], run / "report.html")
    assert (run / "report.md").read_text() == "# the run's own summary\n"
    assert md_path == run / "report-summary.md" and md_path.read_text().startswith("# clinrl report")


def test_provenance_states_device_and_dtype():
    from clinrl.evaluation.render import _placement

    assert _placement({"backend_options": {"device": "cuda:0", "dtype": "torch.bfloat16"}}) == "cuda:0 / bfloat16"
    assert _placement({"backend_options": {"backend": "openai"}}) == "–"


def _record(i: int, ok: bool | None, **groups: str) -> dict:
    return {"id": str(i), "groups": groups, "completions": [{"correct": ok}]}


def test_paired_by_group_pairs_each_group_on_its_own_samples():
    from clinrl.evaluation.metrics import paired_by_group

    a = [_record(0, False, calc="x"), _record(1, True, calc="x"), _record(2, False, calc="y"),
         _record(3, True, calc="y")]
    b = [_record(0, True, calc="x"), _record(1, True, calc="x"), _record(2, False, calc="y"),
         _record(3, False, calc="y"), _record(4, True, calc="y")]  # sample 4: scored by B only
    got = paired_by_group(a, b, n_resamples=200)
    assert list(got) == ["calc"] and list(got["calc"]) == ["x", "y"]
    x, y = got["calc"]["x"], got["calc"]["y"]
    assert (x["n_paired"], x["accuracy_a"], x["accuracy_b"], x["b_only"], x["a_only"]) == (2, 0.5, 1.0, 1, 0)
    assert (y["n_paired"], y["accuracy_a"], y["accuracy_b"], y["b_only"], y["a_only"]) == (2, 0.5, 0.0, 0, 1)
    assert y["n_only_in_b"] == 1 and x["difference"]["value"] == pytest.approx(0.5)


def test_group_changes_lead_with_where_the_model_still_fails():
    from clinrl.evaluation.report_data import group_changes

    a, b = [], []
    for i in range(30):  # calculator k: B right on i % 3 < k's share; one category for all: left out
        calc = "abc"[i % 3]
        a.append(_record(i, False, calc=calc, cat="all", gold="pos" if i % 2 else "neg"))
        b.append(_record(i, {"a": i < 20, "b": i < 5, "c": True}[calc], calc=calc, cat="all",
                         gold="pos" if i % 2 else "neg"))
    changes = group_changes(a, b, limit=2)
    assert [c["grouping"] for c in changes] == ["gold", "calc"]  # coarser first; "cat" has one group
    calc = changes[1]
    assert [row[0] for row in calc["rows"]] == ["b", "a"] and calc["omitted"] == 1  # lowest accuracy after B first
    assert calc["rows"][0][1:4] == [10, "0.0%", "20.0%"]
    assert calc["rows"][0][4].startswith("+20.0 [") and calc["rows"][0][5] == "2 / 0"


def test_report_shows_what_grpo_changed_group_by_group(report):
    _, html_path, md_path = report
    page, md = html_path.read_text(), md_path.read_text()
    assert "By group: what grpo changed" in page and "## By group: what grpo changed" in md
    section = md[md.index("## By group"):]
    header = "| category | n | sft | grpo | grpo − sft, points [95% CI] | fixed / broken |"
    assert header in section and "| calculator | n | sft | grpo |" in section
    rows = [line for line in section.split(header)[1].split("\n\n")[0].splitlines()[2:]]
    assert len(rows) == 7 and all(row.split(" | ")[1] == "6" for row in rows)  # 7 categories of 6 samples
    after = [float(row.split(" | ")[3].rstrip("%")) for row in rows]
    assert after == sorted(after)  # where grpo still fails first
    assert "Accuracy by calculator (" not in page  # the last stage (grpo) is in the table above


def test_run_markdown_report_shows_what_grpo_changed_group_by_group(tmp_path):
    from types import SimpleNamespace

    from clinrl.training.config import RunConfig
    from clinrl.training.report import write_report as write_run_report

    run = make_run(tmp_path)
    (run / "heldout_eval.jsonl").unlink()  # make_run's has a broken line on purpose (for `clinrl report`)
    gain = {"task": "medcalc", "metric": "accuracy", "from_stage": "sft", "to_stage": "grpo", "delta": 0.1,
            "ci": [0.0, 0.2], "n": 42}
    result = SimpleNamespace(evals={}, notes=[], stages={},
                             metrics={"seconds": 1.0, "stages": {}, "paired_gain": gain, "paired_gains": [gain]})
    text = write_run_report(run, RunConfig(), result).read_text()
    section = text[text.index("## By group: what grpo changed"):text.index("## Training")]
    assert "| calculator | n | sft | grpo | grpo − sft, points [95% CI] | fixed / broken |" in section
    assert "| 45: CURB-65 Score for Pneumonia Severity | 6 |" in section
    assert section.count("| category | n |") == 1
