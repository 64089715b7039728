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
from clinrl.evaluation.report import collect, write_report
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
    for stage, key in (("sft", "loss"), ("grpo", "reward")):
        (run / stage).mkdir(parents=True)
        history = [{"step": s, "loss": 2.0 / (1 + s / 20), **({"reward": -1.5 + s / 40} if key == "reward" else {})}
                   for s in range(1, 101, 5)]
        (run / stage / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    lines = [{"stage": st, "step": s, "task": "medcalc", "accuracy": a, "format_valid": 0.9}
             for st, pts in (("sft", [(0, 0.1), (50, 0.3), (100, 0.45)]), ("grpo", [(0, 0.45), (50, 0.55), (100, 0.6)]))
             for s, a in pts]
    (run / "heldout_eval.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    return run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    run = make_run(root)
    html_path, md_path = write_report([run], root / "out" / "report.html")
    return run, html_path, md_path


def test_collect_reads_stages_in_order_and_curves(report):
    run, _, _ = report
    data = collect([run])
    assert [s.name for s in data.stages] == ["base", "sft", "grpo"]
    assert {"sft loss", "grpo reward", "grpo loss"} <= set(data.curves)
    assert set(data.heldout) == {"sft", "grpo"} and len(data.heldout["grpo"]) == 3
    assert any("not JSON" in s for s in data.skipped)  # a bad line is reported, not silently dropped


def test_html_is_self_contained_and_complete(report):
    _, html_path, md_path = report
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") >= 4  # categories, curves, pass@k, taxonomy
    assert "http://" not in page and "https://" not in page and "<script" not in page
    for text in ("Metrics by stage", "Accuracy by category", "Training", "pass@k", "RLVR viability",
                 "Failure taxonomy", "Example failures", "Provenance", "grpo − base"):
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
