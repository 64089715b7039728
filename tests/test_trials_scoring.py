"""Trial matching: the answer contract (adversarial inputs), label schemes, metrics, splits, loaders (unit tier)."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import pytest

from clinrl.errors import ConfigError, DataError
from clinrl.registry import get_task
from clinrl.tasks.trials import TrialDataWarning, TrialMatchingTask
from clinrl.tasks.trials.labels import normalise_name
from clinrl.tasks.trials.loader import Pair, load_source
from clinrl.tasks.trials.metrics import classification_metrics, ranking_metrics
from clinrl.tasks.trials.splits import SplitConfig, balanced_sample, split_pairs
from clinrl.types import Score


def wrap(answer_json: str) -> str:
    return f"<think>checked every criterion</think><answer>{answer_json}</answer>"


@pytest.fixture(scope="module")
def task() -> TrialMatchingTask:
    return get_task("trials")


ELIGIBLE = {"trial_label": 2}


def test_registered_and_gold_wrapped_scores_full_reward(task):
    for label, name in enumerate(("not relevant", "excluded", "eligible")):
        score = task.score(wrap(json.dumps({"prediction": name, "idx": label})), {"trial_label": label})
        assert score.correct is True and score.value == pytest.approx(1.1) and score.format_ok


@pytest.mark.parametrize("answer, why", [
    ('{"prediction": "eligible", "idx": 1}', "name/index mismatch"),
    ('{"prediction": "excluded", "idx": 2}', "name/index mismatch"),
    ('{"prediction": "excluded", "idx": 1}', "wrong class"),
    ('{"prediction": "eligible", "idx": "2"}', "idx as a string"),
    ('{"prediction": "eligible", "idx": 2.0}', "idx as a float (decided: JSON integers only)"),
    ('{"prediction": "eligible", "idx": 2e0}', "idx in exponent notation is a float"),
    ('{"prediction": "eligible", "idx": true}', "idx as a boolean"),
    ('{"prediction": "eligible", "idx": [2]}', "idx as a list"),
    ('{"prediction": "eligible", "idx": 3}', "idx out of range"),
    ('{"prediction": "eligible", "idx": -1}', "negative idx"),
    ('{"prediction": "eligible", "idx": "２"}', "full-width digit"),
    ('{"prediction": "qualified", "idx": 2}', "unknown name"),
    ('{"prediction": "eligible or excluded", "idx": 2}', "two names"),
    ('{"prediction": ["eligible"], "idx": 2}', "name as a list"),
    ('{"prediction": null, "idx": 2}', "null name"),
    ('{"prediction": "", "idx": 2}', "empty name"),
])
def test_wrong_answers_never_rewarded(task, answer, why):
    score = task.score(wrap(answer), ELIGIBLE)
    assert score.correct is False, why
    assert score.value == 0.0, why  # well-formed JSON contract, wrong content: 0, never the reward


@pytest.mark.parametrize("completion, why", [
    (wrap('{"prediction": "eligible", "idx": 2}') + "<answer>{\"prediction\": \"excluded\", \"idx\": 1}</answer>",
     "two answer blocks"),
    (wrap('{"prediction": "eligible", "idx": 2, "confidence": 0.9}'), "extra key"),
    (wrap('{"prediction": "eligible"}'), "missing idx"),
    (wrap('{"prediction": "eligible", "idx": 2, "idx": 1}'), "duplicate key"),
    (wrap('[{"prediction": "eligible", "idx": 2}]'), "array instead of object"),
    ('The patient is eligible. {"prediction": "eligible", "idx": 2}', "answer outside the tags"),
    (wrap('{"prediction": "eligible", "idx": NaN}'), "NaN"),
    ("", "empty completion"),
])
def test_malformed_gets_format_penalty(task, completion, why):
    score = task.score(completion, ELIGIBLE)
    assert score.format_ok is False and score.value == -2.0 and score.correct is False, why


def test_name_spelling_is_forgiven_only_for_case_space_underscore(task):
    assert task.score(wrap('{"prediction": " Not_Relevant ", "idx": 0}'), {"trial_label": 0}).correct
    assert task.score(wrap('{"prediction": "ELIGIBLE", "idx": 2}'), ELIGIBLE).correct
    for bad in ("irrelevant", "not-relevant!", "eligible.", "not relevent"):
        assert normalise_name(bad) is None, bad


def test_reward_functions_sum_to_scheme(task):
    completions = [wrap('{"prediction": "eligible", "idx": 2}'), wrap('{"prediction": "eligible", "idx": "2"}'),
                   "garbage"]
    from clinrl.training.mixtures import MixtureReward

    fmt, correct = MixtureReward({task.name: task}).functions()
    kwargs = {"task": [task.name] * 3, "target": [json.dumps({"trial_label": 2})] * 3}
    totals = [a + b for a, b in zip(fmt([None] * 3, completions, **kwargs), correct([None] * 3, completions, **kwargs))]
    assert totals == [pytest.approx(1.1), 0.0, -2.0]


def test_bad_gold_label_is_unscored_not_wrong(task):
    score = task.score(wrap('{"prediction": "eligible", "idx": 2}'), {"trial_label": "2"})
    assert score.value is None and score.correct is None


def test_swapped_scheme_is_explicit_and_reproduces_the_paper(task):
    swapped = TrialMatchingTask(label_scheme="ehrmind_swapped")
    # TREC gold 0 (not relevant) is expected as "excluded" under the reproduced defect
    assert swapped.oracle_answer({"trial_label": 0}) == {"prediction": "excluded", "idx": 0}
    assert swapped.score(wrap('{"prediction": "excluded", "idx": 0}'), {"trial_label": 0}).correct
    assert not swapped.score(wrap('{"prediction": "not relevant", "idx": 0}'), {"trial_label": 0}).correct
    assert not task.score(wrap('{"prediction": "excluded", "idx": 0}'), {"trial_label": 0}).correct
    assert task.label_scheme == "trec"
    assert '\n0 "excluded": ' in swapped.load("synthetic", limit=1)[0].prompt[1]["content"]
    with pytest.raises(ConfigError):
        TrialMatchingTask(label_scheme="swapped")


# -- metrics -------------------------------------------------------------------------------------------------
def _brute_force(gold, scores, k=10):
    """Mean NDCG@k / P@k / RR over every order of the tied items (the definition the closed form must match)."""
    order = sorted(set(scores), reverse=True)
    groups = [[g for g, s in zip(gold, scores) if s == level] for level in order]
    totals = [0.0, 0.0, 0.0]
    perms = list(itertools.product(*[list(itertools.permutations(g)) for g in groups]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(gold, reverse=True)[:k]))
    for perm in perms:
        ranked = [g for group in perm for g in group]
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(ranked[:k]))
        totals[0] += dcg / ideal
        totals[1] += sum(1 for g in ranked[:k] if g == 2) / k
        totals[2] += next((1 / (i + 1) for i, g in enumerate(ranked) if g == 2), 0.0)
    return [t / len(perms) for t in totals]


@pytest.mark.parametrize("gold, scores, k", [
    ([2, 0, 1, 2, 0, 1], [2, 2, 1, 1, 0, 0], 10),
    ([0, 0, 2, 1, 2, 0, 1], [1, 1, 1, 1, 2, 0, 0], 3),
    ([0, 1, 0, 2], [0, 0, 0, 0], 2),
    ([2, 1, 0], [0.9, 0.5, 0.1], 10),
])
def test_tie_aware_ranking_equals_average_over_tie_orders(gold, scores, k):
    got = ranking_metrics(["p"] * len(gold), gold, scores, k=k)
    want = _brute_force(gold, scores, k)
    assert got[f"ndcg@{k}"] == pytest.approx(want[0])
    assert got[f"p@{k}"] == pytest.approx(want[1])
    assert got["mrr"] == pytest.approx(want[2])


def test_ranking_perfect_and_patients_without_eligible():
    got = ranking_metrics(["a", "a", "a", "b", "b"], [2, 1, 0, 0, 1], [3, 2, 1, 0, 5])
    assert got["n_patients"] == 2 and got["patients_without_eligible"] == 1
    assert got["mrr"] == 1.0  # only patient a counts, eligible trial ranked first
    assert got["ndcg@10"] == pytest.approx(1.0)


def test_classification_metrics_and_confusion():
    m = classification_metrics([0, 0, 1, 2, 2], [0, 1, 1, 2, None], ("not relevant", "excluded", "eligible"))
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["per_class"]["excluded"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["eligible"]["recall"] == pytest.approx(0.5)
    assert m["confusion"]["matrix"]["eligible"]["invalid"] == 1
    f1 = [2 / 3, 2 / 3, 2 / 3]
    assert m["macro_f1"] == pytest.approx(sum(f1) / 3)


def test_task_metrics_count_invalid_and_unscored(task):
    samples = task.load("synthetic", "test", limit=6, seed=3)
    completions = [task.oracle_completion(s) for s in samples[:3]]
    completions += [wrap('{"prediction": "eligible", "idx": 1}'), "malformed", "x"]
    scores = [task.score(c, s.target) for c, s in zip(completions, samples)]
    scores[-1] = Score.unscored("judge down")
    m = task.metrics(samples, scores, ranking_scores=[0.5] * 6)
    assert m["n_unscored"] == 1 and m["classification"]["n"] == 5
    assert sum(row["invalid"] for row in m["classification"]["confusion"]["matrix"].values()) == 2
    assert m["ranking"]["n_patients"] == 2 and "ranking_by_score" in m


# -- splits --------------------------------------------------------------------------------------------------
def _pairs(n_patients=20, per_patient=6):
    return [Pair(f"q{p}", f"t{p}-{j}", (p + j) % 3, "note", None) for p in range(n_patients) for j in range(per_patient)]


def test_patient_split_disjoint_seen_and_deterministic():
    pairs, config = _pairs(), SplitConfig(seed=4)
    parts = {s: split_pairs(pairs, s, config) for s in ("train", "test_seen", "test_unseen")}
    ids = {s: {p.id for p in v} for s, v in parts.items()}
    assert sum(len(v) for v in ids.values()) == len(pairs) and not (ids["train"] & ids["test_seen"])
    train_pts = {p.query_id for p in parts["train"]}
    assert {p.query_id for p in parts["test_seen"]} <= train_pts and parts["test_seen"]
    assert not train_pts & {p.query_id for p in parts["test_unseen"]}
    assert len({p.query_id for p in parts["test_unseen"]}) == 4  # 20% of 20 patients
    assert [p.id for p in split_pairs(list(reversed(pairs)), "test_seen", config)] == \
        [p.id for p in reversed(parts["test_seen"])]  # independent of file order
    assert split_pairs(pairs, "train", SplitConfig(seed=5)) != parts["train"]
    with pytest.raises(ConfigError):
        split_pairs(pairs, "validation", config)


def test_balanced_sample_reports_availability():
    pairs = [Pair("q", f"t{i}", 0 if i < 10 else (1 if i < 13 else 2), "n", None) for i in range(20)]
    sample, available = balanced_sample(pairs, None, seed=0)
    assert available == {0: 10, 1: 3, 2: 7}
    assert sorted(p.label for p in sample) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert balanced_sample(pairs, 5, seed=0)[0] == balanced_sample(pairs, 5, seed=0)[0]


# -- loaders -------------------------------------------------------------------------------------------------
def _trialgpt_dir(tmp_path, corpus=True):
    (tmp_path / "queries.jsonl").write_text(
        json.dumps({"_id": "p1", "text": "note one"}) + "\n" + json.dumps({"_id": "p2", "text": "note two"}) + "\n")
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\np1\tNCT1\t2\np1\tNCT2\t0\np2\tNCT1\t1\np3\tNCT1\t0\n")
    if corpus:
        (tmp_path / "corpus.jsonl").write_text(json.dumps(
            {"_id": "NCT1", "title": "T", "text": "", "metadata": {"inclusion_criteria": "inc", "exclusion_criteria": "exc"}}
        ) + "\n")
    return tmp_path


def test_trialgpt_dir_reports_missing_patients_and_trials(tmp_path):
    _trialgpt_dir(tmp_path)
    keep = get_task("trials", missing_criteria="keep")
    with pytest.warns(TrialDataWarning, match=r"1 judgment\(s\) name 1 patient.*1 judgment\(s\) over 1 trial"):
        samples = keep.load(str(tmp_path))
    assert [s.id for s in samples] == ["p1::NCT1", "p1::NCT2", "p2::NCT1"]
    assert [s.metadata["has_trial_text"] for s in samples] == [True, False, True]
    assert "inc" in samples[0].prompt[1]["content"]
    report = keep.last_report
    assert report.judgments_missing_patient == 1 and report.judgments_missing_trial == 1
    # the older spelling still works: require_trial_text=True is missing_criteria="exclude"
    strict = TrialMatchingTask(require_trial_text=True)
    with pytest.warns(TrialDataWarning, match="1 pair\\(s\\) skipped"):
        assert len(strict.load(str(tmp_path))) == 2


def test_pairs_without_criteria_are_excluded_by_default_with_a_count(tmp_path):
    _trialgpt_dir(tmp_path)
    task = get_task("trials")
    with pytest.warns(TrialDataWarning) as caught:
        samples = task.load(str(tmp_path))
    assert [s.id for s in samples] == ["p1::NCT1", "p2::NCT1"]
    assert all(s.metadata["has_trial_text"] for s in samples)
    assert not any("criteria text not available" in s.prompt[-1]["content"] for s in samples)
    message = " ".join(str(w.message) for w in caught)
    assert "1 pair(s) skipped: left out of the 3 of split 'test'" in message
    assert "no criteria text" in message and "corpus JSONL" in message
    assert sum(task.last_report.skipped.values()) == 1


def test_every_pair_without_criteria_is_an_error_not_an_empty_list(tmp_path):
    _trialgpt_dir(tmp_path, corpus=False)
    with pytest.raises(DataError, match=r"every pair lacks criteria text.*3 of 3 judged pair\(s\) of split "
                                        r"'test'.*first: p1::NCT1 at .*test.tsv:2.*corpus JSONL"):
        get_task("trials").load(str(tmp_path))
    # "keep" loads them all (placeholder prompt), for scoring; load_for_scoring does so for one call
    with pytest.warns(TrialDataWarning):
        assert len(get_task("trials", missing_criteria="keep").load(str(tmp_path))) == 3
    task = get_task("trials")
    with pytest.warns(TrialDataWarning):
        assert len(task.load_for_scoring(str(tmp_path))) == 3
    assert task.missing_criteria == "exclude"


def test_missing_criteria_error_mode_and_bad_options(tmp_path):
    _trialgpt_dir(tmp_path)
    with pytest.raises(DataError, match=r"1 of 3 judged pair\(s\).*first: p1::NCT2"):
        get_task("trials", missing_criteria="error").load(str(tmp_path))
    with pytest.raises(ConfigError, match="missing_criteria must be one of exclude, keep, error"):
        get_task("trials", missing_criteria="drop")
    with pytest.raises(ConfigError, match="contradicts"):
        get_task("trials", missing_criteria="error", require_trial_text=False)
    assert get_task("trials", require_trial_text=False).missing_criteria == "keep"


def test_score_cli_keeps_pairs_without_criteria(tmp_path):
    from typer.testing import CliRunner

    from clinrl.cli import app

    (tmp_path / "d").mkdir()
    data = _trialgpt_dir(tmp_path / "d", corpus=False)
    comp = tmp_path / "c.jsonl"
    comp.write_text(json.dumps({"id": "p1::NCT2", "completion": wrap('{"prediction": "not relevant", "idx": 0}')})
                    + "\n")
    out = tmp_path / "scored.jsonl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrialDataWarning)
        result = CliRunner().invoke(app, ["score", "trials", "--source", str(data), "--completions", str(comp),
                                          "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["correct"] is True


def test_bad_rows_name_file_row_field(tmp_path):
    _trialgpt_dir(tmp_path)
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\np1\tNCT1\t3\n")
    with pytest.raises(DataError, match=r"test.tsv, row 2, field 'score'"):
        load_source(str(tmp_path))
    pairs = tmp_path / "pairs.jsonl"
    row = {"query_id": "q", "trial_id": "t", "label": 0, "label_name": "eligible", "patient_note": "n",
           "trial_title": "", "inclusion_criteria": "", "exclusion_criteria": ""}
    pairs.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"row 1, field 'label_name'"):
        load_source(str(pairs))
    del row["label_name"], row["patient_note"]
    pairs.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"row 1, field 'patient_note'"):
        load_source(str(pairs))


def test_hub_id_goes_through_download(tmp_path, monkeypatch):
    from clinrl.tasks.trials import loader

    _trialgpt_dir(tmp_path)
    monkeypatch.setattr(loader, "download_hub_dataset", lambda dataset_id: tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrialDataWarning)
        pairs, report = load_source("someone/trec-ct-2021")
    assert len(pairs) == 3 and report.source == "someone/trec-ct-2021"
    with pytest.raises(DataError, match="no such file"):
        load_source(str(tmp_path / "absent.jsonl"))


def test_limit_on_real_source_is_a_seeded_spread_subset(tmp_path, task):
    rows = [{"query_id": f"q{p}", "trial_id": f"t{j}", "label": j % 3, "patient_note": "n", "trial_title": "T",
             "inclusion_criteria": "i", "exclusion_criteria": "e"} for p in range(10) for j in range(10)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    picked = task.load(str(path), limit=20, seed=1)
    assert len(picked) == 20 and len({s.metadata["query_id"] for s in picked}) > 3
    assert [s.id for s in picked] == [s.id for s in task.load(str(path), limit=20, seed=1)]
    assert [s.id for s in picked] != [s.id for s in task.load(str(path), limit=20, seed=2)]


def test_eval_harness_reports_trials_metrics(tmp_path, task):
    from clinrl.evaluation.backends import Backend, Generation
    from clinrl.evaluation.harness import run_eval

    samples = task.load("synthetic", "test", limit=9, seed=4)
    answers = {s.id: task.oracle_completion(s) for s in samples}
    answers[samples[0].id] = wrap('{"prediction": "eligible", "idx": 1}')  # a name/index mismatch

    class Oracle(Backend):
        name = "oracle"

        def render(self, sample):
            return sample.id

        def generate(self, prompts, **kwargs):
            return [[Generation(answers[p], 10, False)] for p in prompts]

    result = run_eval(task, samples, Oracle(), out_dir=tmp_path, progress=False)
    m = result.metrics
    assert m["accuracy"]["value"] == pytest.approx(8 / 9) and m["classification"]["n"] == 9
    assert sum(row["invalid"] for row in m["classification"]["confusion"]["matrix"].values()) == 1
    assert m["ranking"]["n_patients"] == 3 and 0 < m["ranking"]["ndcg@10"] <= 1
    assert (tmp_path / "eval_log.json").exists() and task.answer_space_size == 3
