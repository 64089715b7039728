"""Generation backends: HF batching on the embedded tiny model, OOM back-off, the OpenAI-compatible
backend against a local test server (including a failing one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinrl.errors import ConfigError
from clinrl.evaluation.backends import HFBackend, OpenAIBackend
from clinrl.evaluation.harness import run_eval
from clinrl.registry import get_task
from clinrl.types import Sample

pytest.importorskip("torch")
from fake_llm import FakeReply  # noqa: E402  (the fake_llm fixture comes from conftest)

PROMPTS = ["<|im_start|>user\nthe creatinine is 1.2<|im_end|>\n<|im_start|>assistant\n",
           "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
           "<|im_start|>user\nweight 70 kg, age 54, compute the clearance please<|im_end|>\n<|im_start|>assistant\n"]


@pytest.fixture(scope="module")
def tiny():
    models = pytest.importorskip("clinrl.models")
    return models.load_model_and_tokenizer("tiny")


def test_hf_batched_greedy_matches_one_by_one(tiny):
    model, tok = tiny
    batched = HFBackend(model, tok, batch_size=3).generate(PROMPTS, max_new_tokens=12)
    single = HFBackend(model, tok, batch_size=1).generate(PROMPTS, max_new_tokens=12)
    assert [g[0].text for g in batched] == [g[0].text for g in single]
    for per in batched:
        assert len(per) == 1 and 1 <= per[0].n_tokens <= 12 and per[0].error is None
        assert per[0].truncated == (per[0].n_tokens == 12)


def test_hf_backend_restores_training_mode_and_padding_side(tiny):
    model, tok = tiny
    side = tok.padding_side
    tok.padding_side = "right"
    model.train()
    try:
        out = HFBackend(model, tok, batch_size=2).generate(PROMPTS, max_new_tokens=3)
        assert len(out) == 3 and model.training and tok.padding_side == "right"
    finally:
        model.eval()
        tok.padding_side = side


def test_hf_sampling_n_per_prompt_and_seed(tiny):
    model, tok = tiny
    backend = HFBackend(model, tok, batch_size=4)
    a = backend.generate(PROMPTS, n=3, temperature=1.0, top_p=0.95, max_new_tokens=8, seed=7)
    b = backend.generate(PROMPTS, n=3, temperature=1.0, top_p=0.95, max_new_tokens=8, seed=7)
    assert [len(x) for x in a] == [3, 3, 3]
    assert [[g.text for g in x] for x in a] == [[g.text for g in x] for x in b]
    assert len({g.text for x in a for g in x}) > 1  # sampling actually samples


def test_hf_auto_batch_size_backs_off_on_oom(tiny):
    model, tok = tiny

    class OOMAbove2:
        def __init__(self, inner):
            self.inner, self.sizes = inner, []

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def eval(self):
            return self

        training = False

        def generate(self, input_ids, **kwargs):
            self.sizes.append(input_ids.shape[0])
            if input_ids.shape[0] > 2:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
            return self.inner.generate(input_ids=input_ids, **kwargs)

    wrapped = OOMAbove2(model)
    backend = HFBackend(wrapped, tok, batch_size="auto", max_batch_size=8)
    out = backend.generate(PROMPTS * 2, max_new_tokens=4)
    assert len(out) == 6 and all(len(x) == 1 for x in out)
    assert backend.batch_size == 2 and backend.oom_backoffs == 2
    assert wrapped.sizes[:3] == [6, 4, 2]  # 8 (all six rows) -> 4 -> 2


def test_hf_prompt_past_the_context_is_an_error_not_text(tiny):
    model, tok = tiny
    backend = HFBackend(model, tok)
    context = backend.context_length()
    assert context and context > 100
    long_prompt = PROMPTS[0] + " 7" * context
    out = backend.generate([PROMPTS[1], long_prompt], max_new_tokens=4)
    assert out[0][0].error is None and out[0][0].n_tokens >= 1
    assert out[1][0].error and "exceeds the model's context" in out[1][0].error and out[1][0].text == ""
    assert backend.n_over_context == 1  # the backend counts what it refused (training reports it, not re-derives it)


def test_hf_other_errors_propagate(tiny):
    model, tok = tiny

    class Broken:
        device = model.device
        training = False

        def eval(self):
            return self

        def generate(self, **kwargs):
            raise ValueError("a real bug")

    with pytest.raises(ValueError):
        HFBackend(Broken(), tok).generate(PROMPTS, max_new_tokens=2)


def test_decoding_validation(tiny):
    model, tok = tiny
    backend = HFBackend(model, tok)
    with pytest.raises(ConfigError, match="temperature"):
        backend.generate(PROMPTS, n=2, temperature=0.0)
    with pytest.raises(ConfigError, match="top_p"):
        backend.generate(PROMPTS, top_p=0)
    with pytest.raises(ConfigError):
        HFBackend(model, tok, batch_size=0)


def test_run_eval_with_tiny_model_renders_prefill(tiny, tmp_path):
    model, tok = tiny
    task = get_task("medcalc")
    sample = Sample(id="1", prompt=[{"role": "user", "content": "Compute the score."}],
                    target={"calculator_id": 4, "ground_truth": "3", "lower_limit": "3", "upper_limit": "3"},
                    metadata={"category": "risk"}, prefill="Let me solve this step by step.\n<think>")
    result = run_eval(task, [sample], HFBackend(model, tok), max_new_tokens=6, out_dir=tmp_path, progress=False)
    rec = result.records[0]
    assert rec["prompt"].endswith("<think>") and "<|im_start|>assistant" in rec["prompt"]
    comp = rec["completions"][0]
    assert comp["format_ok"] is False and comp["correct"] is False and comp["truncated"] is True


# -- OpenAI-compatible backend -------------------------------------------------------------------
def _samples(n):
    return [Sample(id=str(i), prompt=[{"role": "user", "content": f"case {i}"}],
                   target={"calculator_id": 4, "ground_truth": "2", "lower_limit": "2", "upper_limit": "2"},
                   metadata={"category": "risk"}) for i in range(n)]


def _client(fake_llm, **kw):
    from clinrl.llm import ChatClient

    return ChatClient(base_url=fake_llm.base_url, model="m", max_retries=1, backoff=0, **kw)


def test_openai_backend_scores_replies(fake_llm):
    fake_llm.reply = lambda req: "<think>2 points</think><answer>{\"answer\": 2}</answer>"
    backend = OpenAIBackend(_client(fake_llm))
    result = run_eval(get_task("medcalc"), _samples(3), backend, n_samples=2, temperature=0.5, progress=False)
    assert result.metrics["accuracy"]["value"] == 1.0 and result.metrics["n_completions"] == 6
    seeds = sorted(r["seed"] for r in fake_llm.requests)
    assert seeds == [0, 0, 0, 1, 1, 1]  # one request per draw, each with its own seed
    sent = sorted(r["messages"][0]["content"] for r in fake_llm.requests)
    assert sent == ["case 0", "case 0", "case 1", "case 1", "case 2", "case 2"]
    assert all(len(r["messages"]) == 1 and r["max_tokens"] == 256 for r in fake_llm.requests)


@pytest.mark.parametrize("failure", ["http500", "invalid_json", "timeout"])
def test_openai_backend_failures_are_unscored_not_wrong(fake_llm, failure):
    good = "<think>x</think><answer>{\"answer\": 2}</answer>"

    def reply(req):
        if req["messages"][0]["content"] != "case 1":
            return good
        if failure == "http500":
            return FakeReply(status=500, body='{"error": "boom"}')
        if failure == "invalid_json":
            return FakeReply(body="{this is not json")
        return FakeReply(content=good, delay=1.5)

    fake_llm.reply = reply
    backend = OpenAIBackend(_client(fake_llm, timeout=0.5))
    result = run_eval(get_task("medcalc"), _samples(3), backend, progress=False)
    m = result.metrics
    assert m["n_unscored"] == 1 and m["n_generation_errors"] == 1
    assert m["accuracy"] == pytest.approx({**m["accuracy"], "value": 1.0, "n": 2})
    failed = result.records[1]["completions"][0]
    assert failed["correct"] is None and failed["reward"] is None and failed["error"]


def test_openai_backend_needs_a_configured_endpoint(monkeypatch):
    for var in ("CLINRL_LLM_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="endpoint"):
        OpenAIBackend(model="x")


def test_vllm_backend_falls_back_to_hf_with_one_line(monkeypatch, capsys):
    """Without vLLM (or without a CUDA device) ``--backend vllm`` generates with hf and says so in one line."""
    from clinrl.evaluation import backends

    monkeypatch.setattr(backends, "vllm_available", lambda: False)
    notes = []
    backend = backends.local_backend("vllm", "tiny", device="cpu", say=notes.append)
    assert isinstance(backend, backends.HFBackend)
    assert len(notes) == 1 and "vllm is not installed" in notes[0] and "hf instead" in notes[0]
    monkeypatch.setattr(backends, "vllm_available", lambda: True)
    notes.clear()
    backend = backends.local_backend("vllm", "tiny", device="cpu", say=notes.append)
    assert isinstance(backend, backends.HFBackend) and "needs a CUDA device" in notes[0]
    backends.local_backend("vllm", "tiny", device="cpu")  # default: the note goes to stderr, no traceback
    assert "hf instead" in capsys.readouterr().err


def test_grpo_use_vllm_without_vllm_is_a_note_not_an_error(monkeypatch):
    from clinrl.evaluation import backends
    from clinrl.training.config import RunConfig
    from clinrl.training.grpo import grpo_args, vllm_usable

    monkeypatch.setattr(backends, "vllm_available", lambda: False)
    config = RunConfig()
    config.grpo.use_vllm = True
    config.model.device = "cpu"
    assert "not installed" in vllm_usable(config)
    assert grpo_args(config, Path("/tmp/unused"), world_size=1).use_vllm is False
