"""The LLM judge against the local fake chat server: semantics, parsing, re-asks, failures, cache."""

from __future__ import annotations

import json

import pytest

from clinrl.llm import ChatClient
from clinrl.rubrics import make_rubric
from clinrl.rubrics.judges import make_judge
from clinrl.rubrics.judges.llm import LLMJudge, parse_verdict
from clinrl.rubrics.scoring import RewardConfig
from fake_llm import FakeReply

RUBRIC = make_rubric("r", [
    {"id": "ref", "text": "Advises calling emergency services", "dimension": "proficiency", "weight": 1.0, "points": 5},
    {"id": "wait", "text": "Suggests waiting until tomorrow", "dimension": "safety", "points": -10},
], prompt="Crushing chest pain, what do I do?")


def _judge(fake_llm, tmp_path=None, **kw):
    client = ChatClient(base_url=fake_llm.base_url, max_retries=kw.pop("max_retries", 1), backoff=0,
                        timeout=kw.pop("timeout", 5), cache_dir=tmp_path)
    return LLMJudge(client, **kw)


def _criterion(request):
    text = request["messages"][0]["content"]
    return text.split("<criterion", 1)[1]


@pytest.mark.parametrize("reply, want", [
    ('{"explanation": "x", "criteria_met": true}', True),
    ('```json\n{"explanation": "x", "criteria_met": false}\n```', False),
    ('Sure! {"criteria_met": true, "explanation": "ok"} hope that helps', True),
    ('{"criteria_met": "yes"}', None), ('{"criteria_met": 1}', None), ("criteria_met: true", None),
    ("[true]", None), ("", None), (None, None),
])
def test_parse_verdict(reply, want):
    assert parse_verdict(reply) is want


def test_per_item_semantics_and_prompt(fake_llm):
    def reply(request):
        crit = _criterion(request)
        # the response calls 911 (criterion met) and does not tell the user to wait (violation not met)
        return json.dumps({"explanation": "e", "criteria_met": "emergency services" in crit})
    fake_llm.reply = reply
    judge = _judge(fake_llm)
    verdicts = judge.judge(RUBRIC.instruction, "Call 911 now.", RUBRIC.items)
    assert verdicts == [True, False]
    prompts = [r["messages"][0]["content"] for r in fake_llm.requests]
    assert len(prompts) == 2 and all("Call 911 now." in p and "Crushing chest pain" in p for p in prompts)
    safety_prompt = next(p for p in prompts if "waiting" in p)
    assert "UNDESIRABLE" in safety_prompt and "UNDESIRABLE" not in next(p for p in prompts if "emergency" in p)
    assert RewardConfig().reward_from_labels(RUBRIC, verdicts) == pytest.approx(1.0)


def test_bad_json_is_reasked_then_unscored(fake_llm):
    seen = []

    def reply(request):
        seen.append(request.get("seed"))
        if "emergency" in _criterion(request):
            return "I think it's met" if request.get("seed") is None else '{"criteria_met": true}'
        return "no json, ever"
    fake_llm.reply = reply
    judge = _judge(fake_llm, parse_retries=2)
    verdicts = judge.judge("q", "resp", RUBRIC.items)
    assert verdicts == [True, None]               # the safety item stays unscored, never "not met"
    assert judge.stats["reasked"] == 3 and judge.stats["failed"] == 1
    assert sorted(s for s in seen if s is not None) == [1, 1, 2]   # both re-asked once, then only the bad one
    assert RewardConfig().reward_from_labels(RUBRIC, verdicts) is None


@pytest.mark.parametrize("failure", ["http500", "invalid_body", "timeout"])
def test_transport_failures_are_unscored(fake_llm, failure):
    def reply(request):
        if failure == "http500":
            return FakeReply(status=500, body='{"error": "boom"}')
        if failure == "invalid_body":
            return FakeReply(body="<html>not json</html>")
        return FakeReply(content='{"criteria_met": false}', delay=1.5)
    fake_llm.reply = reply
    judge = _judge(fake_llm, timeout=0.5, max_retries=1)
    verdicts = judge.judge("q", "resp", RUBRIC.items)
    assert verdicts == [None, None]
    assert judge.stats["failed"] == 2 and judge.errors
    assert len(fake_llm.requests) == 4             # first try + one retry per item, by the client


def test_cache_and_batching(fake_llm, tmp_path):
    fake_llm.reply = lambda request: '{"explanation": "", "criteria_met": true}'
    judge = _judge(fake_llm, tmp_path, max_concurrency=4)
    requests = [("q", f"response {i}", RUBRIC.items) for i in range(5)]
    first = judge.judge_many(requests)
    assert first == [[True, True]] * 5 and len(fake_llm.requests) == 10
    again = _judge(fake_llm, tmp_path).judge_many(requests)
    assert again == first and len(fake_llm.requests) == 10   # all from the cache
    assert judge.judge_many([("q", None, RUBRIC.items)]) == [[None, None]]


def test_make_judge_llm_uses_configured_endpoint(fake_llm, monkeypatch, tmp_path):
    monkeypatch.setenv("CLINRL_LLM_BASE_URL", fake_llm.base_url)
    fake_llm.reply = lambda request: '{"criteria_met": false}'
    judge = make_judge("llm:grader-model", cache_dir="", max_retries=0)
    assert judge.judge("q", "r", RUBRIC.items) == [False, False]
    assert fake_llm.requests[0]["model"] == "grader-model"
