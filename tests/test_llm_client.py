"""The OpenAI-compatible client against a local test server: success, retries, failures, cache."""

from __future__ import annotations

import pytest

from clinrl.errors import ConfigError
from clinrl.llm import ChatClient
from fake_llm import FakeReply

MSG = [{"role": "user", "content": "hi"}]


def test_no_endpoint_configured_refuses_to_send(monkeypatch):
    for name in ("CLINRL_LLM_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="no LLM endpoint configured"):
        ChatClient()


def test_success_and_request_shape(fake_llm):
    fake_llm.reply = lambda req: "hello " + req["messages"][0]["content"]
    client = ChatClient(base_url=fake_llm.base_url, api_key="k", model="m", max_retries=0)
    result = client.chat(MSG, temperature=0.0, max_tokens=5)
    assert result.ok and result.text == "hello hi" and result.attempts == 1
    assert fake_llm.requests[0]["model"] == "m"
    assert fake_llm.requests[0]["temperature"] == 0.0 and fake_llm.requests[0]["max_tokens"] == 5


def test_http_500_is_retried_then_reported(fake_llm):
    fake_llm.reply = lambda req: FakeReply(status=500, body='{"error": "boom"}')
    client = ChatClient(base_url=fake_llm.base_url, max_retries=2, backoff=0.0)
    result = client.chat(MSG)
    assert not result.ok and "HTTP 500" in result.error and result.attempts == 3
    assert len(fake_llm.requests) == 3


def test_recovers_after_transient_failure(fake_llm):
    calls = {"n": 0}

    def reply(req):
        calls["n"] += 1
        return FakeReply(status=503, body="busy") if calls["n"] == 1 else "fine"

    fake_llm.reply = reply
    result = ChatClient(base_url=fake_llm.base_url, max_retries=2, backoff=0.0).chat(MSG)
    assert result.ok and result.text == "fine" and result.attempts == 2


def test_client_error_is_not_retried(fake_llm):
    fake_llm.reply = lambda req: FakeReply(status=400, body='{"error": "bad request"}')
    result = ChatClient(base_url=fake_llm.base_url, max_retries=3, backoff=0.0).chat(MSG)
    assert not result.ok and result.attempts == 1 and len(fake_llm.requests) == 1


def test_invalid_json_and_timeout_fail_cleanly(fake_llm):
    fake_llm.reply = lambda req: FakeReply(body="not json at all")
    result = ChatClient(base_url=fake_llm.base_url, max_retries=1, backoff=0.0).chat(MSG)
    assert not result.ok and "invalid chat-completion reply" in result.error

    fake_llm.reply = lambda req: FakeReply(content="late", delay=1.0)
    result = ChatClient(base_url=fake_llm.base_url, max_retries=0, timeout=0.2).chat(MSG)
    assert not result.ok and "timeout" in result.error


def test_cache_avoids_second_request(fake_llm, tmp_path):
    fake_llm.reply = lambda req: "cached answer"
    client = ChatClient(base_url=fake_llm.base_url, cache_dir=tmp_path, max_retries=0)
    first = client.chat(MSG, temperature=0)
    second = client.chat(MSG, temperature=0)
    assert first.ok and not first.cached and second.cached and second.text == "cached answer"
    assert len(fake_llm.requests) == 1
    client.chat(MSG, temperature=0.5)  # different parameters, different cache key
    assert len(fake_llm.requests) == 2


def test_chat_many_keeps_order_and_failures(fake_llm):
    def reply(req):
        content = req["messages"][0]["content"]
        return FakeReply(status=500, body="x") if content == "fail" else content.upper()

    fake_llm.reply = reply
    client = ChatClient(base_url=fake_llm.base_url, max_retries=0, max_concurrency=3)
    convs = [[{"role": "user", "content": c}] for c in ["a", "b", "fail", "d", "e"]]
    results = client.chat_many(convs)
    assert [r.text if r.ok else None for r in results] == ["A", "B", None, "D", "E"]


def test_multiple_choices(fake_llm):
    fake_llm.reply = lambda req: ["one", "two"]
    result = ChatClient(base_url=fake_llm.base_url, max_retries=0).chat(MSG, n=2)
    assert result.texts == ("one", "two")
