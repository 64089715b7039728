"""run_eval and the eval log: scoring, unscored failures, spec, resume after an interruption."""

from __future__ import annotations

import json

import pytest

from clinrl.errors import ConfigError
from clinrl.evaluation.backends import Backend, Generation
from clinrl.evaluation.harness import LOG_VERSION, read_log, run_eval
from clinrl.registry import get_task
from clinrl.types import Sample


def medcalc_samples(n: int) -> list[Sample]:
    """Synthetic MedCalc-style samples (an integer calculator and a decimal one, two categories)."""
    out = []
    for i in range(n):
        if i % 2:
            target = {"calculator_id": 4, "ground_truth": str(i % 5), "lower_limit": str(i % 5),
                      "upper_limit": str(i % 5)}
            meta = {"category": "risk", "calculator_name": "CHA2DS2-VASc Score"}
        else:
            gt = 50.0 + i
            target = {"calculator_id": 2, "ground_truth": f"{gt}", "lower_limit": f"{gt * 0.95}",
                      "upper_limit": f"{gt * 1.05}"}
            meta = {"category": "lab", "calculator_name": "Creatinine Clearance"}
        out.append(Sample(id=f"s{i}", prompt=[{"role": "user", "content": f"question {i}"}], target=target,
                          metadata=meta, prefill="<think>"))
    return out


class ScriptedBackend(Backend):
    """Answers correctly on even-numbered samples, wrongly on odd ones; can fail or crash on demand."""

    name = "scripted"

    def __init__(self, fail_ids=(), crash_after=None):
        self.task = get_task("medcalc")
        self.fail_ids = set(fail_ids)
        self.crash_after = crash_after
        self.calls = 0
        self.generated: list[str] = []

    def describe(self):
        return {"backend": self.name, "model": "scripted-v1"}

    def render(self, sample):
        return sample

    def generate(self, prompts, *, n=1, temperature=0.0, top_p=1.0, max_new_tokens=256, seed=0):
        if self.crash_after is not None and self.calls >= self.crash_after:
            raise KeyboardInterrupt
        self.calls += 1
        out = []
        for sample in prompts:
            self.generated.append(sample.id)
            if sample.id in self.fail_ids:
                out.append([Generation("", 0, False, error="HTTP 500") for _ in range(n)])
                continue
            idx = int(sample.id[1:])
            text = self.task.oracle_completion(sample) if idx % 2 == 0 else '</think><answer>{"answer": 99}</answer>'
            out.append([Generation(text, 12, False) for _ in range(n)])
        return out


def test_run_eval_scores_and_logs(tmp_path):
    task = get_task("medcalc")
    samples = medcalc_samples(6)
    result = run_eval(task, samples, ScriptedBackend(fail_ids={"s3"}), out_dir=tmp_path, progress=False)
    m = result.metrics
    assert m["n"] == 6 and m["n_unscored"] == 1
    assert m["accuracy"]["n"] == 5 and m["accuracy"]["value"] == pytest.approx(3 / 5)
    assert m["n_generation_errors"] == 1 and m["n_unscored_completions"] == 1
    assert set(m["groups"]["category"]) == {"lab", "risk"}
    rec = {r["id"]: r for r in result.records}
    failed = rec["s3"]["completions"][0]
    assert failed["correct"] is None and failed["reward"] is None and "HTTP 500" in failed["explanation"]
    assert rec["s0"]["completions"][0]["correct"] is True
    assert rec["s1"]["completions"][0]["correct"] is False and rec["s1"]["completions"][0]["format_ok"] is True
    log = read_log(tmp_path)
    assert log["version"] == LOG_VERSION and log["status"] == "complete"
    spec = log["spec"]
    assert spec["task"] == "medcalc" and spec["task_version"] == task.version and spec["model"] == "scripted-v1"
    assert spec["decoding"] == {"n_samples": 1, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 256}
    assert "python" in spec["packages"] and "git_revision" in spec
    assert log["records"][0]["prompt"] is not None and log["records"][0]["target"]["calculator_id"] == 2


def test_resume_after_interruption(tmp_path):
    task = get_task("medcalc")
    samples = medcalc_samples(10)
    first = ScriptedBackend(crash_after=2)
    with pytest.raises(KeyboardInterrupt):
        run_eval(task, samples, first, out_dir=tmp_path, progress=False, chunk_size=3)
    partial = read_log(tmp_path)
    assert partial["status"] == "partial" and len(partial["records"]) == 6
    second = ScriptedBackend()
    result = run_eval(task, samples, second, out_dir=tmp_path, progress=False, chunk_size=3)
    assert result.n_resumed == 6 and second.generated == ["s6", "s7", "s8", "s9"]
    assert read_log(tmp_path)["status"] == "complete" and result.metrics["accuracy"]["n"] == 10


def test_resume_refuses_a_different_spec(tmp_path):
    task = get_task("medcalc")
    samples = medcalc_samples(2)
    run_eval(task, samples, ScriptedBackend(), out_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="decoding"):
        run_eval(task, samples, ScriptedBackend(), out_dir=tmp_path, progress=False, max_new_tokens=8)
    # resume=False starts over instead
    result = run_eval(task, samples, ScriptedBackend(), out_dir=tmp_path, progress=False, max_new_tokens=8,
                      resume=False)
    assert result.n_resumed == 0


def test_duplicate_ids_rejected():
    samples = medcalc_samples(2)
    with pytest.raises(ConfigError, match="unique"):
        run_eval(get_task("medcalc"), samples + samples[:1], ScriptedBackend(), progress=False)


def test_pass_at_k_in_metrics_with_several_draws():
    result = run_eval(get_task("medcalc"), medcalc_samples(4), ScriptedBackend(), n_samples=4, temperature=0.7,
                      progress=False)
    pk = result.metrics["pass_at_k"]
    assert set(pk) == {"1", "2", "4"}
    assert pk["4"]["overall"]["value"] == pytest.approx(0.5)
    assert result.metrics["reliable_pass_at_k"]["4"]["overall"]["value"] == pytest.approx(0.5)
    assert json.dumps(result.metrics)  # JSON-serialisable


def test_read_log_errors_name_the_file(tmp_path):
    from clinrl.errors import DataError

    with pytest.raises(DataError, match="no eval log"):
        read_log(tmp_path)
    (tmp_path / "eval_log.json").write_text("{not json")
    with pytest.raises(DataError, match="eval_log.json"):
        read_log(tmp_path)
