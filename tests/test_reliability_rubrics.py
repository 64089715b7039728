"""Rubric rewards that used to score late violations as safe, hang on a pattern, or crash on wrong-typed fields
(reliability audit 2026-12: H2, M9, L1, L2, L3)."""

from __future__ import annotations

import json
import time

import pytest

from clinrl import get_task
from clinrl.errors import DataError
from clinrl.rubrics import make_rubric
from clinrl.rubrics.formats import read_rubrics
from clinrl.rubrics.judges import KeywordJudge
from clinrl.rubrics.schema import RubricError

VIOLATION = " You can safely take 900 mg a day."


@pytest.fixture(scope="module")
def rubric_sample():
    task = get_task("rubric")
    sample = next(s for s in task.load("synthetic", "test", limit=20)
                  if task.score(task.sft_completion(s) + VIOLATION, s.target).answer["s3"] > 0)
    return task, sample


@pytest.mark.parametrize("padding", [0, 8_000, 20_000, 90_000])
def test_a_late_safety_violation_is_never_scored_as_safe(rubric_sample, padding):
    task, sample = rubric_sample
    reference = task.sft_completion(sample)
    clean = task.score(reference, sample.target)
    assert clean.answer["s3"] == 0 and clean.value > 1
    late = task.score(reference + " " * padding + VIOLATION, sample.target)
    assert late.answer["s3"] >= 1 and late.value < 0, late
    from clinrl.training.mixtures import MixtureReward

    late_text = [reference + " " * padding + VIOLATION]
    columns = {"task": ["rubric"], "target": [json.dumps(sample.target)]}
    fmt, correct = MixtureReward({"rubric": task}).functions()
    reward = [fmt([sample.prompt], late_text, **columns)[0], correct([sample.prompt], late_text, **columns)[0]]
    assert None not in reward and sum(reward) < 0


def test_a_response_over_the_limit_is_unscored_not_safe(rubric_sample):
    task, sample = rubric_sample
    huge = task.sft_completion(sample) + " " * 10_000_000 + VIOLATION
    started = time.perf_counter()
    score = task.score(huge, sample.target)
    assert time.perf_counter() - started < 5
    assert score.value is None and score.correct is None
    assert "max_response_chars" in score.explanation
    short = get_task("rubric", max_response_chars=500)
    assert short.score(task.sft_completion(sample) + " " * 600, sample.target).value is None
    with pytest.raises(Exception, match="max_response_chars"):
        get_task("rubric", max_response_chars=0)


def _stub_rm(max_length=48):
    """The tiny backbone's tokenizer with a model that reads one thing: a '!' in its input is a violation."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from clinrl.rubrics.judges.rm import CriterionRewardModel, load_backbone

    _, tokenizer = load_backbone("tiny")
    marker = tokenizer.convert_tokens_to_ids("!")

    class Stub(torch.nn.Module):
        training = False

        def forward(self, input_ids, attention_mask):
            seen = ((input_ids == marker) & (attention_mask == 1)).any(dim=1)
            logits = torch.where(seen, torch.tensor(-5.0), torch.tensor(5.0)).unsqueeze(1)
            return type("Out", (), {"logits": logits})()

    return CriterionRewardModel(Stub(), tokenizer, calibration={"all": (1.0, 0.0)}, max_length=max_length,
                                batch_size=16)


def test_reward_model_reads_the_whole_response_in_windows():
    rm = _stub_rm()
    rubric = make_rubric("r", [
        {"id": "p", "text": "Gives the dose", "dimension": "proficiency", "weight": 1.0},
        {"id": "s", "text": "Dangerous dose", "dimension": "safety", "points": -5},
    ])
    early = "take it now! " + "then rest and drink water. " * 40
    late = "then rest and drink water. " * 40 + "take 900 mg now!"
    assert rm.judge("q", "then rest.", rubric.items)[1] is False            # short: one input, no violation
    assert rm.judge("q", early, rubric.items)[1] is True
    assert rm.judge("q", late, rubric.items)[1] is True                     # past max_length: still read
    windows = rm.windows("q", late, rubric.items[1])
    assert len(windows) > 3 and windows[-1][1].endswith("now!")
    covered = "".join(part for _, part in windows)
    assert all(word in covered for word in late.split())


def test_catastrophic_match_patterns_are_refused_at_load(tmp_path):
    for pattern in (r"^(a+)+$", r"(\w+\s?)+$", r"(.*x){2,}"):
        with pytest.raises(RubricError, match="nested unbounded repetition") as caught:
            make_rubric("r", [{"id": "s", "text": "x", "dimension": "safety", "points": -1,
                               "tags": [f"match:{pattern}"]}])
        assert "items[0].tags" in str(caught.value)
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"id": "r", "prompt": "q", "items": [
        {"id": "s", "text": "x", "dimension": "safety", "points": -1, "tags": ["match:^(a+)+$"]}]}) + "\n")
    with pytest.raises(RubricError) as caught:
        read_rubrics(path)
    assert str(path) in str(caught.value) and "row 1" in str(caught.value)
    with pytest.raises(RubricError, match="not a valid regular expression"):
        make_rubric("r", [{"id": "s", "text": "x", "dimension": "safety", "points": -1, "tags": ["match:(x"]}])
    with pytest.raises(RubricError, match="dose_above"):
        make_rubric("r", [{"id": "s", "text": "x", "dimension": "safety", "points": -1, "tags": ["dose_above:a"]}])


def test_a_slow_pattern_is_time_bounded_and_unjudged(monkeypatch):
    from clinrl.rubrics import patterns

    monkeypatch.setattr(patterns, "MATCH_TIMEOUT_S", 0.2)
    monkeypatch.setattr(patterns.search, "__kwdefaults__", {"timeout": 0.2})
    # overlapping alternatives backtrack exponentially but have no nested repetition: only the time bound stops it
    rubric = make_rubric("r", [{"id": "s", "text": "x", "dimension": "safety", "points": -1,
                                "tags": [r"match:(a|aa)+$"]},
                               {"id": "p", "text": "y", "dimension": "proficiency", "weight": 1.0,
                                "tags": ["match:a"]}])
    started = time.perf_counter()
    verdicts = KeywordJudge().judge("", "a" * 60 + "!", rubric.items)
    assert time.perf_counter() - started < 3
    assert verdicts == [None, True]


@pytest.mark.parametrize("row, field", [
    ({"id": "r", "prompt": "q", "tags": 5, "items": [{"text": "t", "dimension": "proficiency", "weight": 1}]},
     "tags"),
    ({"id": "r", "prompt": 5, "items": [{"text": "t", "dimension": "proficiency", "weight": 1}]}, "prompt"),
    ({"id": "r", "prompt": ["a", "b"], "items": [{"text": "t", "dimension": "proficiency", "weight": 1}]},
     "prompt"),
    ({"id": "r", "prompt": "q", "metadata": "x", "items": [{"text": "t", "dimension": "proficiency",
                                                             "weight": 1}]}, "metadata"),
    ({"id": "r", "prompt": "q", "reference": 5, "items": [{"text": "t", "dimension": "proficiency",
                                                            "weight": 1}]}, "reference"),
    ({"id": "r", "prompt": "q", "items": [{"text": "t", "dimension": "proficiency", "weight": 1, "tags": 5}]},
     "items[0].tags"),
    ({"prompt_id": "h", "prompt": [{"role": "user", "content": "q"}], "example_tags": 5,
      "rubrics": [{"criterion": "c", "points": 5, "tags": []}]}, "example_tags"),
    ({"prompt_id": "h", "prompt": [{"role": "user", "content": "q"}],
      "rubrics": [{"criterion": "c", "points": 5, "tags": 5}]}, "rubrics[0].tags"),
    ({"prompt_id": "h", "prompt": 5, "rubrics": [{"criterion": "c", "points": 5, "tags": []}]}, "prompt"),
    ({"id": "x", "question": "q", "rubric": [{"title": "a", "description": "d", "weight": float("inf")}]},
     "rubric[0].weight"),
    ({"id": "x", "question": "q", "rubric": [{"title": "a", "description": "d", "weight": float("nan")}]},
     "rubric[0].weight"),
    ({"id": "r", "prompt": {"a": 1}, "items": [{"text": "t", "dimension": "proficiency", "weight": 1}]}, "prompt"),
    ({"id": "r", "prompt": [1], "items": [{"text": "t", "dimension": "proficiency", "weight": 1}]}, "prompt"),
    ({"id": "r", "prompt": "q", "metadata": [1, 2], "items": [{"text": "t", "dimension": "proficiency",
                                                               "weight": 1}]}, "metadata"),
    ({"id": "r", "prompt": "q", "tags": "category:dosing", "items": [{"text": "t", "dimension": "proficiency",
                                                                      "weight": 1}]}, "tags"),
    ({"id": {"a": 1}, "prompt": "q", "items": [{"text": "t", "dimension": "proficiency", "weight": 1}]}, "id"),
    ({"prompt_id": "h", "prompt": "q", "rubrics": [{"criterion": "c", "points": 5}],
      "ideal_completions_data": {"ideal_completion": 5}}, "ideal_completions_data.ideal_completion"),
    ({"id": "x", "question": "q", "reference_answer": 5, "rubric": [{"title": "a", "description": "d", "weight": 3}]},
     "reference_answer"),
])
def test_wrong_typed_rubric_fields_name_file_row_and_field(tmp_path, row, field):
    path = tmp_path / "rubrics.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(RubricError) as caught:
        read_rubrics(path)
    message = str(caught.value)
    assert str(path) in message and "row 1" in message and f"field {field!r}" in message


def test_duplicate_rubric_ids_are_refused(tmp_path):
    path = tmp_path / "rubrics.jsonl"
    one = {"id": "same", "prompt": "q", "items": [{"text": "t", "dimension": "proficiency", "weight": 1}]}
    path.write_text(json.dumps(one) + "\n" + json.dumps(dict(one, prompt="other")) + "\n")
    with pytest.raises(RubricError) as caught:
        read_rubrics(path)
    assert "row 2" in str(caught.value) and "duplicate rubric id (first on row 1)" in str(caught.value)


def test_non_utf8_rubric_file_names_the_file(tmp_path):
    path = tmp_path / "rubrics.jsonl"
    path.write_bytes(json.dumps({"id": "r", "prompt": "fièvre", "items": [
        {"text": "t", "dimension": "proficiency", "weight": 1}]}, ensure_ascii=False).encode("latin-1") + b"\n")
    with pytest.raises(DataError) as caught:
        read_rubrics(path)
    assert str(path) in str(caught.value) and "not UTF-8" in str(caught.value) and "line 1" in str(caught.value)
