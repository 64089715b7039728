"""Conformance on the real TREC CT 2021/2022 + SIGIR files and the 100 TREC-2021 pairs in ../shared/data."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinrl.cli import app
from clinrl.errors import DataError
from clinrl.registry import get_task
from clinrl.tasks.trials import TrialDataWarning
from clinrl.tasks.trials.loader import load_source

pytestmark = pytest.mark.conformance

# SOURCE.md: patients in queries, judgments, per-label counts (0 not relevant, 1 excluded, 2 eligible), trials
EXPECTED = {
    "trec_2021": (75, 35832, {0: 24243, 1: 6019, 2: 5570}, 26162),
    "trec_2022": (50, 35394, {0: 28419, 1: 3036, 2: 3939}, 26585),
    "sigir": (59, 3835, {0: 2733, 1: 681, 2: 421}, None),
}


@pytest.fixture(scope="module")
def trec_dir(shared_data: Path) -> Path:
    path = shared_data / "trec-clinical-trials"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_queries_and_qrels_counts(trec_dir, name):
    n_patients, n_judgments, per_label, n_trials = EXPECTED[name]
    pairs, report = load_source(str(trec_dir / name))
    assert report.n_queries == n_patients
    assert report.n_judgments == n_judgments == len(pairs)
    assert report.label_counts == per_label
    # no corpus ships with these folders: every judgment is counted as missing its trial text, none dropped
    assert report.judgments_missing_trial == n_judgments and report.corpus is None
    if n_trials is not None:
        assert len(report.missing_trials) == n_trials
    if name == "sigir":
        assert report.queries_without_judgments == 1  # 59 patients in queries, 58 judged


def test_trialgpt_dir_warns_with_counts(trec_dir):
    task = get_task("trials", missing_criteria="keep")
    with pytest.warns(TrialDataWarning, match=r"3835 judgment\(s\) over \d+ trial\(s\) have no criteria text"):
        samples = task.load(str(trec_dir / "sigir"))
    assert len(samples) == 3835 and not any(s.metadata["has_trial_text"] for s in samples)


@pytest.mark.parametrize("name, split, n", [("trec_2021", "test", 35832), ("sigir", "train", None)])
def test_folders_without_corpus_refuse_to_become_samples(trec_dir, name, split, n):
    """No corpus ships here: every prompt would lack the criteria, so loading for training / eval refuses."""
    counts = rf"{n} of {n}" if n else r"(\d+) of \1"
    with pytest.raises(DataError, match=rf"every pair lacks criteria text.*{counts} judged pair\(s\) of split "
                                        rf"'{split}'.*corpus JSONL"):
        get_task("trials").load(str(trec_dir / name), split)


@pytest.fixture(scope="module")
def pairs_file(trec_dir: Path) -> Path:
    return trec_dir / "trec2021_pairs_100.jsonl"


def test_pairs_load_and_gold_scores_correct(pairs_file):
    task = get_task("trials")
    samples = task.load(str(pairs_file))
    assert len(samples) == 100
    counts = {label: sum(s.target["trial_label"] == label for s in samples) for label in (0, 1, 2)}
    assert counts == {0: 38, 1: 32, 2: 30}
    assert len({s.metadata["query_id"] for s in samples}) == 49
    names = ("not relevant", "excluded", "eligible")
    for s in samples:
        gold = s.target["trial_label"]
        ok = f'<think>.</think><answer>{{"prediction": "{names[gold]}", "idx": {gold}}}</answer>'
        assert task.score(ok, s.target).correct is True
        wrong_idx = (gold + 1) % 3
        mismatch = f'<think>.</think><answer>{{"prediction": "{names[gold]}", "idx": {wrong_idx}}}</answer>'
        wrong = f'<think>.</think><answer>{{"prediction": "{names[wrong_idx]}", "idx": {wrong_idx}}}</answer>'
        assert task.score(mismatch, s.target).correct is False
        assert task.score(wrong, s.target).correct is False
        assert "Inclusion criteria" in s.prompt[1]["content"] and s.metadata["has_trial_text"]


def test_pairs_labels_agree_with_trec_2021_qrels(trec_dir, pairs_file):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrialDataWarning)
        qrels = {p.id: p.label for p in load_source(str(trec_dir / "trec_2021"))[0]}
    for p in load_source(str(pairs_file))[0]:
        assert qrels[p.id] == p.label


def test_pairs_patient_split(pairs_file):
    task = get_task("trials")
    parts = {s: task.load(str(pairs_file), s, seed=0) for s in ("train", "test_seen", "test_unseen")}
    assert sum(len(v) for v in parts.values()) == 100
    train_patients = {s.metadata["query_id"] for s in parts["train"]}
    assert not train_patients & {s.metadata["query_id"] for s in parts["test_unseen"]}
    assert {s.metadata["query_id"] for s in parts["test_seen"]} <= train_patients
    balanced = get_task("trials", balance=True).load(str(pairs_file), "all", limit=60)
    assert [sum(s.target["trial_label"] == c for s in balanced) for c in (0, 1, 2)] == [20, 20, 20]


def _score_cli(tmp_path, source, rows):
    comp = tmp_path / "completions.jsonl"
    comp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    result = CliRunner().invoke(app, ["score", "trials", "--source", source, "--completions", str(comp),
                                      "--out", str(out)])
    return result, out


def test_score_command_with_pairs_and_with_trialgpt_dir(tmp_path, trec_dir, pairs_file):
    rows = [{"id": "trec-202154::NCT00104299", "completion": '<think>.</think><answer>{"prediction": "eligible", '
             '"idx": 2}</answer>'},
            {"id": "trec-202154::NCT00104299", "completion": "no answer"}]
    result, out = _score_cli(tmp_path, str(pairs_file), rows)
    assert result.exit_code == 0, result.output
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["reward"] for r in scored] == [pytest.approx(1.1), -2.0]
    # the TrialGPT folder has qrels but no corpus: targets are found, the missing trial text is reported
    with pytest.warns(TrialDataWarning):
        result, out = _score_cli(tmp_path, str(trec_dir / "trec_2021"), rows)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["correct"] for line in out.read_text().splitlines()] == [True, False]
