"""The ehr task: loading, prompts without leakage, adversarial answers, metrics, CLI commands."""

from __future__ import annotations

import json

import pytest

pl = pytest.importorskip("polars")
pq = pytest.importorskip("pyarrow.parquet")

from typer.testing import CliRunner  # noqa: E402

from clinrl.cli import app  # noqa: E402
from clinrl.errors import ConfigError, DataError  # noqa: E402
from clinrl.registry import get_task  # noqa: E402
from clinrl.rewards.contract import wrap_contract  # noqa: E402
from clinrl.tasks.ehr.metrics import auprc, auroc, classification_metrics  # noqa: E402
from clinrl.types import Score  # noqa: E402

TARGET = {"label": 1, "labeling_task": "new_hypertension"}


@pytest.fixture(scope="module")
def task():
    return get_task("ehr", synthetic_subjects=120)


def _answer(answer) -> str:
    return "<think>looking</think><answer>" + (answer if isinstance(answer, str) else json.dumps(answer)) + "</answer>"


@pytest.mark.parametrize("answer,correct", [
    ({"prediction": "new_hypertension", "label": 1}, True),
    ({"prediction": "Hypertension", "label": 1}, True),
    ({"prediction": " new-hypertension ", "label": 1}, True),
    ({"prediction": "new_hypertension", "label": 0}, False),
    ({"prediction": "new_lupus", "label": 1}, False),
    ({"prediction": "new_hypertension", "label": "1"}, False),
    ({"prediction": "new_hypertension", "label": True}, False),
    ({"prediction": "new_hypertension", "label": 1.0}, False),
    ({"prediction": "new_hypertension", "label": 2}, False),
    ({"prediction": "new_hypertension", "label": [1]}, False),
    ({"prediction": ["new_hypertension"], "label": 1}, False),
])
def test_answers_are_checked_strictly(task, answer, correct):
    score = task.score(_answer(answer), TARGET)
    assert score.format_ok is True and score.correct is correct
    assert score.value == (task.scheme.correct if correct else task.scheme.wrong)


@pytest.mark.parametrize("text", [
    _answer('{"prediction": "new_hypertension", "label": 1, "label": 0}'),          # duplicate key
    _answer('{"prediction": "new_hypertension", "label": 1, "confidence": 0.9}'),   # extra key
    _answer('{"label": 1}'),
    _answer({"prediction": "new_hypertension", "label": 1}) + _answer({"prediction": "x", "label": 0}),
    'The answer is {"prediction": "new_hypertension", "label": 1}',
])
def test_malformed_answers_get_the_format_penalty(task, text):
    score = task.score(text, TARGET)
    assert score.format_ok is False and score.value == task.scheme.malformed


def test_load_is_seeded_split_disjoint_and_leak_free(task):
    train = task.load("synthetic", "train", limit=40, seed=3)
    assert [s.id for s in train] == [s.id for s in task.load("synthetic", "train", limit=40, seed=3)]
    assert [s.id for s in train] != [s.id for s in task.load("synthetic", "train", limit=40, seed=4)]
    test = task.load("synthetic", "test", seed=3)
    assert {s.metadata["subject_id"] for s in train}.isdisjoint({s.metadata["subject_id"] for s in test})
    assert all(s.metadata["split"] == "held_out" for s in test)
    for sample in train + test:
        user = sample.prompt[1]["content"]
        assert sample.metadata["timeline_tokens"] <= task.serialize_config.token_budget
        if sample.target["label"] == 1:  # the outcome lies in the future: its code must not be shown
            assert "I10" not in user.split("Task (")[0]
        assert sample.prefill.endswith("<think>")
    assert task.label_reports["new_hypertension"]["n_labels"] > 0


def test_balance_all_tasks_and_bad_options():
    balanced = get_task("ehr", labeling_task="new_acutemi,guo_los", balance=True, synthetic_subjects=120)
    samples = balanced.load("synthetic", "train", seed=0)
    for name in ("new_acutemi", "guo_los"):
        labels = [s.target["label"] for s in samples if s.target["labeling_task"] == name]
        assert labels and labels.count(1) == labels.count(0)
    every = get_task("ehr", labeling_task="all", synthetic_subjects=60).load("synthetic", "train", seed=0)
    assert len({s.category for s in every}) >= 6
    with pytest.raises(ConfigError):
        get_task("ehr", labeling_task="new_gout")
    with pytest.raises(ConfigError):
        get_task("ehr", sections="conditions,vibes")
    with pytest.raises(DataError):
        get_task("ehr").load("/nonexistent/meds", "train")


def test_sft_rationale_uses_the_record_and_the_gold_label(task):
    sample = next(s for s in task.load("synthetic", "train", seed=0) if s.target["label"] == 1)
    assert "label 1" in sample.metadata["explanation"]
    completion = wrap_contract(task.oracle_answer(sample.target), sample.metadata["explanation"])
    assert task.score(completion, sample.target).correct is True


def test_rationale_reads_out_the_telling_vital_only_when_the_prompt_shows_it(task):
    """With labs in the timeline the rationale names the last systolic pressure, the value the prompt shows;
    without them it names none (a rationale must not cite what the model cannot see)."""
    import re

    plain = task.load("synthetic", "train", limit=20, seed=0)
    assert not any("systolic" in s.metadata["explanation"] for s in plain)
    shown = get_task("ehr", synthetic_subjects=120, sections="conditions,procedures,labs").load(
        "synthetic", "train", limit=20, seed=0)
    for sample in shown:
        said = re.search(r"Last systolic blood pressure: (\d+) mmHg\.", sample.metadata["explanation"])
        assert said, sample.metadata["explanation"]
        prompt = sample.prompt[1]["content"]
        assert re.search(rf"Systolic blood pressure \(mmHg\) \[[^]]+\]: {said.group(1)} \(", prompt)
        completion = wrap_contract(task.oracle_answer(sample.target), sample.metadata["explanation"])
        assert task.score(completion, sample.target).correct is True


def test_rationale_states_the_prompts_age_only_when_asked(task):
    import re

    assert not any("Age:" in s.metadata["explanation"] for s in task.load("synthetic", "train", limit=10, seed=0))
    aged = get_task("ehr", synthetic_subjects=120, rationale_age=True).load("synthetic", "train", limit=10, seed=0)
    for sample in aged:
        said = re.search(r"Age: (\d+) years\.", sample.metadata["explanation"]).group(1)
        assert f", {said} years old at the prediction time" in sample.prompt[1]["content"]
    with pytest.raises(ConfigError, match="rationale_age"):
        get_task("ehr", rationale_age="yes")


def test_reward_functions_take_dataset_columns(task):
    samples = task.load("synthetic", "train", limit=4, seed=0)
    rows = [task.to_row(s) for s in samples]
    from clinrl.training.mixtures import MixtureReward

    columns = {"task": [task.name] * len(rows),
               "target": [json.dumps({"label": r["label"], "labeling_task": r["labeling_task"]}) for r in rows]}
    good = [task.oracle_completion(s) for s in samples]
    bad = ["no tags here"] * len(samples)
    fmt, correct = MixtureReward({task.name: task}).functions()
    assert [f + c for f, c in zip(fmt(None, good, **columns), correct(None, good, **columns))] == [1.1] * 4
    assert fmt(None, bad, **columns) == [-2.0] * 4


def test_auroc_and_auprc_known_values():
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auprc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.8333333)
    assert auroc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert auroc([1, 1], [0.2, 0.3]) != auroc([1, 1], [0.2, 0.3])  # NaN with one class


def test_balanced_accuracy_counts_unreadable_as_wrong():
    m = classification_metrics([1, 0, 0, 0], [1, 0, None, 1])
    assert m["sensitivity"] == 1.0 and m["specificity"] == pytest.approx(1 / 3)
    assert m["balanced_accuracy"] == pytest.approx(2 / 3) and m["n_unreadable"] == 1


def test_one_class_leaves_balanced_accuracy_and_curves_undefined():
    """An always-negative model on a subset without positives must not score balanced accuracy 1.0."""
    nan = classification_metrics([0, 0, 0], [0, 0, 0], [0.1, 0.2, 0.3])
    assert nan["balanced_accuracy"] != nan["balanced_accuracy"] and nan["sensitivity"] != nan["sensitivity"]
    assert nan["specificity"] == 1.0 and (nan["n_positive"], nan["n_negative"]) == (0, 3)
    assert all(nan[k] != nan[k] for k in ("auroc", "auprc"))
    only_pos = classification_metrics([1, 1], [1, 0], [0.9, 0.2])
    assert only_pos["sensitivity"] == 0.5 and only_pos["balanced_accuracy"] != only_pos["balanced_accuracy"]
    assert only_pos["auprc"] != only_pos["auprc"]  # 1.0 for any scores with only positives: not informative
    both = classification_metrics([1, 0], [0, 0])
    assert both["balanced_accuracy"] == pytest.approx(0.5)


def test_score_prints_and_writes_undefined_balanced_accuracy_with_class_counts(tmp_path):
    rows = [{"id": f"s{i}", "label": 0, "labeling_task": "new_hypertension",
             "completion": _answer({"prediction": "new_hypertension", "label": 0})} for i in range(2)]
    (tmp_path / "preds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["score", "ehr", "-c", str(tmp_path / "preds.jsonl"), "-o",
                                      str(tmp_path / "o.jsonl")], terminal_width=200)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "balanced accuracy" in x)
    assert "undefined" in line and "1.0000" not in line
    assert "0 / 2" in next(x for x in result.output.splitlines() if "gold positive / negative" in x)
    metrics = json.loads((tmp_path / "o.metrics.json").read_text())  # strict JSON: null, not NaN
    for block in (metrics["classification"], metrics["per_task"]["new_hypertension"]):
        assert block["balanced_accuracy"] is None and block["n_positive"] == 0 and block["n_negative"] == 2


def _always(label: int):
    """A generation backend that answers ``label`` for every timeline."""
    from clinrl.evaluation.backends import Backend, Generation

    class Always(Backend):
        name = f"always-{label}"

        def render(self, sample):
            return sample

        def generate(self, prompts, *, n=1, **_):
            text = f'</think><answer>{{"prediction": "new_hypertension", "label": {label}}}</answer>'
            return [[Generation(text=text, n_tokens=9, truncated=False)] * n for _ in prompts]

    return Always()


def test_eval_log_and_report_survive_an_undefined_balanced_accuracy(task, tmp_path):
    from clinrl.evaluation.harness import run_eval
    from clinrl.evaluation.report import write_report

    negatives = [s for s in task.load("synthetic", "train", seed=0) if s.target["label"] == 0][:3]
    result = run_eval(task, negatives, _always(0), out_dir=tmp_path, progress=False)
    block = result.metrics["classification"]
    assert block["balanced_accuracy"] != block["balanced_accuracy"] and block["n_positive"] == 0

    def no_nan(token):
        raise AssertionError(f"non-standard JSON constant {token} in the eval log")

    log = json.loads((tmp_path / "eval_log.json").read_text(), parse_constant=no_nan)
    assert log["metrics"]["classification"]["balanced_accuracy"] is None
    html, md = write_report([tmp_path], tmp_path / "report.html")
    assert html.stat().st_size > 0 and "100.0%" in md.read_text()


def test_task_metrics_per_task_and_votes(task):
    samples = task.load("synthetic", "train", seed=0)
    pos = [s for s in samples if s.target["label"] == 1][:2]
    neg = [s for s in samples if s.target["label"] == 0][:2]
    picked = pos + neg

    def score(s, label):
        return task.score(_answer({"prediction": "new_hypertension", "label": label}), s.target)

    always_no = task.metrics(picked, [score(s, 0) for s in picked])
    assert always_no["classification"]["balanced_accuracy"] == pytest.approx(0.5)
    assert "auroc" not in always_no["classification"]
    assert always_no["per_task"]["new_hypertension"]["n"] == 4
    votes = [[score(s, 1), score(s, 1), score(s, 0)] for s in pos] + [[score(s, 0), score(s, 0), score(s, 1)]
                                                                    for s in neg]
    voted = task.vote_metrics(picked, votes)
    assert voted["classification"]["auroc"] == pytest.approx(1.0)
    assert voted["classification"]["n_voted_samples"] == 4
    crashed = task.metrics(picked, [Score.unscored("boom")] * 4)
    assert crashed["n_unscored"] == 4 and crashed["classification"]["n"] == 0


def test_labels_learnable_from_risk_factors(task):
    """A one-line rule on the visible record beats chance on the synthetic cohort."""
    samples = task.load("synthetic", "all", seed=0)
    rule = [int(any(code in s.prompt[1]["content"] for code in ("E669", "E119", "N183"))) for s in samples]
    result = classification_metrics([s.target["label"] for s in samples], rule)
    assert result["balanced_accuracy"] > 0.6


def test_cli_synth_then_labels(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cohort"
    result = runner.invoke(app, ["data", "synth", "ehr", "--out", str(out), "-n", "40", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert (out / "metadata" / "subject_splits.parquet").exists() and "new_hypertension" in result.output
    labels = tmp_path / "labels.parquet"
    result = runner.invoke(app, ["data", "labels", "ehr", "--meds", str(out), "--task", "guo_los", "--out",
                                 str(labels), "--report", str(tmp_path / "counts.json")])
    assert result.exit_code == 0, result.output
    table = pq.read_table(labels)
    assert table.column_names == ["subject_id", "prediction_time", "boolean_value"]
    counts = json.loads((tmp_path / "counts.json").read_text())
    assert counts[0]["task"] == "guo_los" and counts[0]["n_labels"] == table.num_rows
    result = runner.invoke(app, ["data", "labels", "ehr", "--meds", str(out), "--task", "new_gout", "--icd10", "M10"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["data", "labels", "ehr", "--meds", str(out), "--icd10", "M10"])
    assert result.exit_code != 0


def test_cli_refuses_a_file_like_dataset_dir_and_points_the_demo_folder_at_its_file(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["data", "synth", "ehr", "-o", str(tmp_path / "x.parquet"), "-n", "3"])
    assert result.exit_code != 0 and "looks like a file name" in str(result.exception)
    assert not (tmp_path / "x.parquet").exists()
    result = runner.invoke(app, ["data", "labels", "ehr", "--meds", str(tmp_path), "-o", str(tmp_path / "l.parquet")])
    assert "one TASK.parquet each" in str(result.exception) and not (tmp_path / "l.parquet").exists()
    folder = tmp_path / "export"
    runner.invoke(app, ["data", "synth", "ehr", "-o", str(tmp_path / "cohort"), "-n", "4"])
    folder.mkdir()
    (tmp_path / "cohort" / "data" / "0.parquet").rename(folder / "events.parquet")
    for args, flag in ((["data", "labels", "ehr", "--meds", str(folder)], "--meds"),
                       (["data", "show", "ehr", "--source", str(folder)], "--source")):
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        assert f"{flag} {folder.resolve() if flag == '--source' else folder}/events.parquet" in str(result.exception)


def test_synthetic_source_options(task):
    small = task.load("synthetic:subjects=30;seed=4", "all", seed=0)
    assert {s.metadata["source"] for s in small} == {"synthetic(seed=4, n=30)"}
    assert len({s.metadata["subject_id"] for s in small}) <= 30
    for bad in ("synthetic:subjects=0", "synthetic:colour=red", "synthetic:n=ten"):
        with pytest.raises(ConfigError):
            task.load(bad, "train")


def test_report_and_eval_summary_show_the_task_headline_numbers(task, tmp_path, capsys):
    from clinrl.cli.evaluate import print_summary
    from clinrl.evaluation.harness import run_eval
    from clinrl.evaluation.report import write_report

    samples = task.load("synthetic", "train", seed=0)
    pos = [s for s in samples if s.target["label"] == 1][:2]
    neg = [s for s in samples if s.target["label"] == 0][:2]
    result = run_eval(task, pos + neg, _always(1), out_dir=tmp_path, progress=False)
    _, md = write_report([tmp_path], tmp_path / "report.html")
    text = md.read_text()
    # balanced accuracy of an always-yes model on 2 + 2 samples is (1 + 0) / 2
    assert "| classification: balanced accuracy | 0.5000 |" in text
    assert "| classification: gold positive / negative | 2 / 2 |" in text
    print_summary(result.metrics)
    printed = capsys.readouterr().out
    # the harness's numbers are in the generation table only, not repeated among the task's rows
    assert printed.count("n completions") == 1 and printed.count("truncation rate") == 1


def test_heldout_rows_carry_balanced_accuracy_where_accuracy_would_mislead(task):
    from clinrl.training.callbacks import headline_text

    # always "no" is what GRPO collapsed to in the EHR quickstart: accuracy = the majority rate
    samples = task.load("synthetic", "train", seed=0)
    pos = [s for s in samples if s.target["label"] == 1][:1]
    neg = [s for s in samples if s.target["label"] == 0][:3]
    scores = [task.score('</think><answer>{"prediction": "new_hypertension", "label": 0}</answer>', s.target)
              for s in pos + neg]
    metrics = task.metrics(pos + neg, scores)
    assert metrics["accuracy"]["value"] == 0.75
    assert task.headline_value(metrics) == 0.5
    row = {"headline": {"name": task.headline[0], "value": task.headline_value(metrics)}}
    assert headline_text(row) == "balanced accuracy 0.500"
    one_class = task.metrics(neg, scores[1:])
    assert task.headline_value(one_class) is None   # undefined, never a flattering number


def test_the_task_takes_a_tokenizer_or_a_counter_and_refuses_a_model_spec(monkeypatch):
    """Tasks never load models: a spec string is resolved where the task is built (recipes, --option)."""
    import clinrl.models as models

    with pytest.raises(ConfigError, match="resolve_task_options"):
        get_task("ehr", tokenizer="tiny")
    assert get_task("ehr", tokenizer=len).count_tokens is len  # a counting callable is used as is

    class Tokenizer:
        def encode(self, text):
            return text.split()

        def __call__(self, text, add_special_tokens=True):
            return {"input_ids": text.split()}

    monkeypatch.setattr(models, "load_tokenizer", lambda spec: Tokenizer())
    options = models.resolve_task_options({"tokenizer": "tiny", "labeling_task": "new_hypertension"})
    assert isinstance(options["tokenizer"], Tokenizer) and options["labeling_task"] == "new_hypertension"
    assert get_task("ehr", **options).count_tokens("three word text") == 3
