"""Teacher rationales against the local fake OpenAI-compatible server: balance, drops, failures, resume."""

from __future__ import annotations

import json
import re

import pytest

from clinrl.errors import DataError
from clinrl.llm import ChatClient
from clinrl.registry import get_task
from clinrl.tasks.trials.rationales import RationaleConfig, generate_rationales, parse_teacher_reply
from fake_llm import FakeReply


def decision_of(request) -> str:
    return re.search(r'the correct decision for this patient and trial is "([a-z ]+)"',
                     request["messages"][1]["content"]).group(1)


def good_reply(request, confidence=5):
    return json.dumps({"rationale": f"The patient has the target condition; checking criteria one by one, the "
                                    f"note supports that the patient is {decision_of(request)}.",
                       "confidence": confidence})


@pytest.fixture
def setup(tmp_path):
    task = get_task("trials")
    samples = task.load("synthetic", "train", limit=30, seed=3)
    return task, samples, tmp_path / "rationales"


def _client(fake_llm):
    return ChatClient(base_url=fake_llm.base_url, model="teacher", max_retries=1, backoff=0, max_concurrency=4)


def _rows(out):
    return [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]


def test_class_balanced_rows_score_correct_and_hide_the_label(fake_llm, setup):
    task, samples, out = setup
    fake_llm.reply = good_reply
    report = generate_rationales(task, samples, _client(fake_llm), out, config=RationaleConfig(per_class=3),
                                 progress=False)
    rows = _rows(out)
    assert report.accepted_per_class == {"not relevant": 3, "excluded": 3, "eligible": 3} and not report.shortfall
    assert len(fake_llm.requests) == 9 and report.requested == 9
    by_id = {s.id: s for s in samples}
    for row in rows:
        sample = by_id[row["id"]]
        assert task.score(row["completion"], sample.target).correct is True
        assert row["prefill"] == sample.prefill and row["prompt"] == sample.prompt
    # the teacher is told the gold decision; the prompt it gets carries the student's task verbatim
    first = fake_llm.requests[0]["messages"][1]["content"]
    assert "Patient note:" in first and "do not say or hint that the decision was given" in first
    assert fake_llm.requests[0]["model"] == "teacher"


def test_low_confidence_and_invalid_replies_are_dropped_and_replaced(fake_llm, setup):
    task, samples, out = setup
    calls = {"n": 0}

    def reply(request):
        calls["n"] += 1
        if calls["n"] % 4 == 1:
            return good_reply(request, confidence=2)
        if calls["n"] % 4 == 2:
            return json.dumps({"rationale": "Given the gold label, eligible.", "confidence": 5})
        if calls["n"] % 4 == 3:
            return "Sure! Here is my reasoning without JSON."
        return good_reply(request)

    fake_llm.reply = reply
    report = generate_rationales(task, samples, _client(fake_llm), out, config=RationaleConfig(per_class=2),
                                 progress=False)
    journal = [json.loads(line) for line in (out / "rationales.jsonl").read_text().splitlines()]
    assert report.statuses["low_confidence"] >= 1 and report.statuses["invalid"] >= 2
    assert all(r["status"] != "ok" or r["confidence"] >= 4 for r in journal)
    ok_ids = {r["id"] for r in journal if r["status"] == "ok"}
    assert {row["id"] for row in _rows(out)} <= ok_ids
    assert not any("gold label" in row["completion"].lower() for row in _rows(out))
    assert report.requested > 6  # dropped candidates were replaced by the next ones of their class
    assert len(_rows(out)) == sum(report.accepted_per_class.values()) == len(ok_ids & {r["id"] for r in _rows(out)})


def test_server_failures_are_retried_recorded_and_resumed(fake_llm, setup):
    task, samples, out = setup
    fake_llm.reply = lambda r: FakeReply(status=500, body='{"error": "boom"}') if decision_of(r) == "excluded" \
        else good_reply(r)
    config = RationaleConfig(per_class=2)
    report = generate_rationales(task, samples, _client(fake_llm), out, config=config, progress=False)
    assert report.accepted_per_class["excluded"] == 0 and report.shortfall == {"excluded": 2}
    assert report.statuses["failed"] >= 2 and report.failures
    assert all(row["category"] != "excluded" for row in _rows(out))  # a failure never becomes a rationale
    failed = [json.loads(x) for x in (out / "rationales.jsonl").read_text().splitlines()]
    assert all(r["status"] == "failed" and r["attempts"] == 2 for r in failed if r["trial_label"] == 1)

    # the endpoint recovers: the rerun asks only for what is missing
    fake_llm.requests.clear()
    fake_llm.reply = good_reply
    again = generate_rationales(task, samples, _client(fake_llm), out, config=config, progress=False)
    assert again.resumed == 4 and again.accepted_per_class == {"not relevant": 2, "excluded": 2, "eligible": 2}
    assert {decision_of(r) for r in fake_llm.requests} == {"excluded"} and len(fake_llm.requests) == 2
    assert len(_rows(out)) == 6


def test_endpoint_down_stops_after_one_round(fake_llm, setup):
    task, samples, out = setup
    fake_llm.reply = lambda r: FakeReply(status=200, body="not json at all")
    report = generate_rationales(task, samples, _client(fake_llm), out, config=RationaleConfig(per_class=5),
                                 progress=False)
    assert report.requested == 15 and report.statuses == {"failed": 15}
    assert _rows(out) == [] and sum(report.shortfall.values()) == 15


@pytest.mark.parametrize("reply, error", [
    ('```json\n{"rationale": "The note shows X.", "confidence": 5}\n```', ""),
    ('{"rationale": "ok", "confidence": 4.0}', ""),
    ('{"rationale": "ok", "confidence": "5"}', "confidence"),
    ('{"rationale": "ok", "confidence": true}', "confidence"),
    ('{"rationale": "ok", "confidence": 7}', "confidence"),
    ('{"rationale": "", "confidence": 5}', "no rationale"),
    ('{"rationale": "ends </think><answer>x</answer>", "confidence": 5}', "tags"),
    ('{"rationale": "As instructed, the answer is eligible.", "confidence": 5}', "reveals"),
    ('{"rationale": "The ground truth says excluded.", "confidence": 5}', "reveals"),
    ('{"rationale": "a", "rationale": "b", "confidence": 5}', "parse"),
    ("no json here", "no JSON"),
])
def test_parse_teacher_reply(reply, error):
    _, _, got = parse_teacher_reply(reply, RationaleConfig())
    assert (error in got) if error else got == ""


def test_rationales_attach_to_samples_for_the_warm_up(fake_llm, setup):
    from clinrl.data.sft import explanation_for
    from clinrl.tasks.trials import TrialMatchingTask
    task, samples, out = setup
    fake_llm.reply = good_reply
    generate_rationales(task, samples, _client(fake_llm), out, config=RationaleConfig(per_class=1), progress=False)
    rows = {r["id"]: r for r in _rows(out)}
    with_rationales = TrialMatchingTask(rationales=str(out / "train.jsonl"))
    loaded = with_rationales.load("synthetic", "train", limit=30, seed=3)
    matched = [s for s in loaded if s.id in rows]
    assert len(matched) == 3 and with_rationales.last_report.samples_with_rationale == 3
    for s in matched:
        assert with_rationales.sft_completion(s) == rows[s.id]["completion"]
        assert with_rationales.sft_completion(s, "last_line") == rows[s.id]["completion"]  # a rationale is kept whole
        assert explanation_for(s)[0].startswith("The patient has the target condition")
    (out / "bad.jsonl").write_text(json.dumps({**next(iter(rows.values())), "trial_label": 9}) + "\n")
    with pytest.raises(DataError, match="written for label 9"):
        TrialMatchingTask(rationales=str(out / "bad.jsonl")).load("synthetic", "train", limit=30, seed=3)
