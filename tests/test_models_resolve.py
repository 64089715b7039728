"""Model resolver: embedded tiny build (deterministic, cached), GGUF conversion, clear errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

from clinrl.errors import ConfigError  # noqa: E402
from clinrl.models import load_model_and_tokenizer, load_tokenizer, resolve_model  # noqa: E402
from clinrl.prompting import render_prompt  # noqa: E402
from clinrl.rewards.contract import EHRMIND_PREFILL  # noqa: E402


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINRL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _digest(directory: str) -> str:
    return hashlib.sha256((Path(directory) / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.slow
def test_tiny_is_deterministic_cached_and_seeded(cache, tmp_path, monkeypatch):
    first = resolve_model("tiny")
    assert Path(first).parent == cache / "models"
    assert resolve_model("tiny") == first  # cache hit: same directory
    monkeypatch.setenv("CLINRL_CACHE_DIR", str(tmp_path / "other"))
    again = resolve_model("tiny")
    assert again != first and _digest(again) == _digest(first)
    assert (Path(again) / "tokenizer.json").read_text() == (Path(first) / "tokenizer.json").read_text()
    other_seed = resolve_model("tiny@seed=1")
    assert _digest(other_seed) != _digest(first)


@pytest.mark.slow
def test_tiny_tokenizer_splits_digits_and_renders_chat(cache):
    model, tok = load_model_and_tokenizer("tiny")
    assert tok.padding_side == "left" and tok.pad_token is not None
    ids = tok("sodium 13709", add_special_tokens=False)["input_ids"]
    pieces = [tok.decode([i]) for i in ids]
    assert pieces[-5:] == ["1", "3", "7", "0", "9"]
    for tag in ("<think>", "</think>", "<answer>", "</answer>"):
        assert len(tok(tag, add_special_tokens=False)["input_ids"]) == 1
    text = render_prompt(tok, [{"role": "user", "content": "hi"}], EHRMIND_PREFILL)
    assert text.startswith("<|im_start|>user\nhi<|im_end|>") and text.endswith("assistant\n" + EHRMIND_PREFILL)
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level: lossless round trip
    assert model.config.vocab_size >= len(tok)
    assert model.generation_config.eos_token_id == tok.eos_token_id


def test_offline_hub_id_names_the_alternatives(cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError) as info:
        resolve_model("no-such-org/no-such-model-xyz")
    message = str(info.value)
    for alternative in ("tiny", "smollm2-135m", "local model directory", ".gguf"):
        assert alternative in message


def test_bad_paths_are_config_errors(tmp_path, cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="config.json"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigError, match="unknown tiny option"):
        resolve_model("tiny@layers=3")
    with pytest.raises(ConfigError):
        resolve_model("  ")


def _write_llama_gguf(path: Path, tokenizer_dir: str) -> None:
    """A 2-layer llama GGUF with random weights and the tiny model's byte-level BPE vocabulary."""
    spec = json.loads((Path(tokenizer_dir) / "tokenizer.json").read_text())
    added = {t["content"]: t["id"] for t in spec["added_tokens"]}
    vocab = {**spec["model"]["vocab"], **added}
    tokens = [""] * len(vocab)
    for token, index in vocab.items():
        tokens[index] = token
    merges = [" ".join(m) if isinstance(m, list) else m for m in spec["model"]["merges"]]
    n_vocab, d, ff, layers, heads = len(tokens), 64, 128, 2, 4
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(256)
    w.add_embedding_length(d)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_rope_dimension_count(d // heads)
    w.add_head_count(heads)
    w.add_head_count_kv(heads)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if t in added else gguf.TokenType.NORMAL for t in tokens])
    w.add_token_merges(merges)
    w.add_eos_token_id(added["<|im_end|>"])
    w.add_bos_token_id(added["<|endoftext|>"])
    w.add_pad_token_id(added["<|endoftext|>"])
    rng = np.random.default_rng(0)

    def rand(*shape):
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    w.add_tensor("token_embd.weight", rand(n_vocab, d))
    w.add_tensor("output.weight", rand(n_vocab, d))
    w.add_tensor("output_norm.weight", np.ones(d, np.float32))
    for i in range(layers):
        for name, shape in (("attn_q", (d, d)), ("attn_k", (d, d)), ("attn_v", (d, d)), ("attn_output", (d, d)),
                            ("ffn_gate", (ff, d)), ("ffn_up", (ff, d)), ("ffn_down", (d, ff))):
            w.add_tensor(f"blk.{i}.{name}.weight", rand(*shape))
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(d, np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(d, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.slow
def test_gguf_file_is_converted_once_to_safetensors(cache, tmp_path):
    gguf_file = tmp_path / "small.gguf"
    _write_llama_gguf(gguf_file, resolve_model("tiny"))
    directory = resolve_model(str(gguf_file))
    assert (Path(directory) / "model.safetensors").is_file()
    assert resolve_model(str(gguf_file)) == directory
    model, tok = load_model_and_tokenizer(str(gguf_file))
    assert type(model).__name__ == "LlamaForCausalLM"
    assert tok.padding_side == "left" and tok.chat_template  # ChatML added when the GGUF has none
    assert load_tokenizer(directory)("12")["input_ids"][-2:] == tok("12")["input_ids"][-2:]
