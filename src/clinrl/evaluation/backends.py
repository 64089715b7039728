"""Generation backends behind one interface: Hugging Face transformers, vLLM, OpenAI-compatible HTTP.

Every backend turns a :class:`~clinrl.types.Sample` into its own prompt form with :meth:`render`
(text through :func:`clinrl.prompting.render_prompt` for local models, chat messages for an HTTP
endpoint) and answers :meth:`generate` with ``n`` :class:`Generation` objects per prompt, in input
order. A generation that failed (an endpoint that kept failing, an error inside a batch) carries
``error``: the harness records it as *unscored*, never as a wrong answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

from clinrl.errors import ConfigError, require
from clinrl.types import Sample


@dataclass(frozen=True)
class Generation:
    """One completion: its text (without the prompt or the pre-fill), generated tokens, truncation."""

    text: str
    n_tokens: int
    truncated: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend:
    """The interface. Subclasses implement :meth:`generate`; :meth:`render` defaults to text."""

    name = "base"
    #: prompts this backend did not generate because prompt + ``max_new_tokens`` exceed its context (each one
    #: got an error, so it is recorded as unscored); counted over the backend's life
    n_over_context: int = 0

    def describe(self) -> dict[str, Any]:
        """What the eval log records about the backend (no secrets)."""
        return {"backend": self.name}

    def context_length(self) -> int | None:
        """The model's context in tokens, when the backend knows and enforces it (None: unknown)."""
        return None

    def render(self, sample: Sample) -> Any:
        raise NotImplementedError

    def generate(self, prompts: Sequence[Any], *, n: int = 1, temperature: float = 0.0, top_p: float = 1.0,
                 max_new_tokens: int = 256, seed: int = 0) -> list[list[Generation]]:
        raise NotImplementedError


def check_decoding(n: int, temperature: float, top_p: float, max_new_tokens: int) -> None:
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    if temperature < 0:
        raise ConfigError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ConfigError(f"top_p must be in (0, 1], got {top_p}")
    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if n > 1 and temperature == 0:
        raise ConfigError("n > 1 with temperature 0 gives n identical greedy completions; set --temperature "
                          "(EHRMIND samples at 0.6) or use n = 1")


#: first batch size of ``batch_size="auto"``: on 2 CPU cores larger batches stop paying off; on an accelerator
#: decoding is memory-bound, so hundreds of sequences cost about as much per step as one
CPU_BATCH, GPU_BATCH = 16, 256


def _is_oom(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "out of memory" in text or exc.__class__.__name__ in {"OutOfMemoryError", "MemoryError"}


class HFBackend(Backend):
    """Batched generation with a transformers causal LM.

    Batches are real: prompts are sorted by length (least padding), left-padded, and decoded with the
    KV cache. A prompt that, with ``max_new_tokens``, would run past the model's context
    (``max_position_embeddings``) is not generated: it gets an error, so it is counted as unscored
    instead of producing text from positions the model never saw. ``batch_size="auto"`` starts at ``max_batch_size`` and halves after an out-of-memory
    error, keeping the size that worked for the next batches (so a long run pays for one OOM at most).

    Args:
        model: a ``PreTrainedModel`` (eval mode is set here).
        tokenizer: its tokenizer; left padding is forced and a missing pad token falls back to EOS.
        batch_size: an int, or ``"auto"``.
        max_batch_size: the first size ``"auto"`` tries (default 16 on CPU — larger batches stop paying
            off on 2 cores —, 256 on an accelerator, where generation is memory-bound and a large batch is
            nearly free; an out-of-memory error halves it).
        model_name: what the eval log records as the model (default: ``name_or_path``).
    """

    name = "hf"

    def __init__(self, model: Any, tokenizer: Any, batch_size: int | str = "auto", *,
                 max_batch_size: int | None = None, model_name: str | None = None) -> None:
        if batch_size != "auto" and (not isinstance(batch_size, int) or batch_size < 1):
            raise ConfigError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")
        self.model = model
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        on_gpu = getattr(getattr(model, "device", None), "type", "cpu") != "cpu"
        self.auto = batch_size == "auto"
        self.batch_size = (max_batch_size or (GPU_BATCH if on_gpu else CPU_BATCH)) if self.auto else int(batch_size)
        self.model_name = model_name or str(getattr(getattr(model, "config", None), "name_or_path", "") or "model")
        self.oom_backoffs = 0

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_name, "batch_size": "auto" if self.auto else self.batch_size,
                "dtype": str(getattr(self.model, "dtype", "")), "device": str(getattr(self.model, "device", ""))}

    def render(self, sample: Sample) -> str:
        from clinrl.prompting import render_prompt

        return render_prompt(self.tokenizer, sample)

    def context_length(self) -> int | None:
        """The model's positional limit (``max_position_embeddings``), when its config states one."""
        value = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        return value if isinstance(value, int) and value > 0 else None

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (getattr(self.model, "generation_config", None), self.tokenizer):
            value = getattr(source, "eos_token_id", None)
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return ids

    def generate(self, prompts: Sequence[str], *, n: int = 1, temperature: float = 0.0, top_p: float = 1.0,
                 max_new_tokens: int = 256, seed: int = 0) -> list[list[Generation]]:
        check_decoding(n, temperature, top_p, max_new_tokens)
        torch = require("torch", "train")
        # One row per (prompt, sample); sorted by prompt length so each batch pads little.
        lengths = [len(self.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        out: list[list[Generation | None]] = [[None] * n for _ in prompts]
        context = self.context_length()
        for i, length in enumerate(lengths):
            if context and length + max_new_tokens > context:  # would run past the trained positions
                error = (f"prompt of {length} tokens + max_new_tokens {max_new_tokens} exceeds the model's context "
                         f"of {context} tokens")
                out[i] = [Generation(text="", n_tokens=0, truncated=False, error=error) for _ in range(n)]
                self.n_over_context += 1
        rows = sorted(((i, j) for i in range(len(prompts)) for j in range(n) if out[i][j] is None),
                      key=lambda r: (-lengths[r[0]], r))
        eos = self._eos_ids()
        was_training = bool(getattr(self.model, "training", False))
        self.model.eval()  # no dropout while generating; the caller's mode is restored below
        try:
            self._run_rows(rows, prompts, out, temperature, top_p, max_new_tokens, seed, eos, torch)
        finally:
            if was_training:
                self.model.train()
        return [[g for g in per if g is not None] for per in out]

    def _run_rows(self, rows: list[tuple[int, int]], prompts: Sequence[str], out: list[list[Generation | None]],
                  temperature: float, top_p: float, max_new_tokens: int, seed: int, eos: set[int],
                  torch: Any) -> None:
        start, batch_index = 0, 0
        while start < len(rows):
            size = self.batch_size
            batch = rows[start:start + size]
            try:
                gens = self._generate_batch([prompts[i] for i, _ in batch], temperature, top_p, max_new_tokens,
                                            seed + batch_index, eos, torch)
            except Exception as exc:  # OOM: retry smaller; anything else is a real bug and propagates
                if self.auto and _is_oom(exc) and size > 1:
                    self.batch_size = max(1, size // 2)
                    self.oom_backoffs += 1
                    if torch.cuda.is_available():
                        torch.cuda.empty_cache()
                    continue
                raise
            for (i, j), gen in zip(batch, gens):
                out[i][j] = gen
            start += len(batch)
            batch_index += 1

    def _generate_batch(self, texts: list[str], temperature: float, top_p: float, max_new_tokens: int,
                        seed: int, eos: set[int], torch: Any) -> list[Generation]:
        side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "left"  # decoder-only generation; restored for a training tokenizer
        try:
            enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        finally:
            self.tokenizer.padding_side = side
        device = getattr(self.model, "device", None)
        if device is not None:
            enc = {k: v.to(device) for k, v in enc.items()}
        kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "use_cache": True,
                                  "pad_token_id": self.tokenizer.pad_token_id}
        if eos:
            kwargs["eos_token_id"] = sorted(eos)
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        torch.manual_seed(seed)
        with torch.inference_mode():
            output = self.model.generate(**enc, **kwargs)
        new_tokens = output[:, enc["input_ids"].shape[1]:].tolist()
        gens = []
        for row in new_tokens:
            stop = next((k for k, tok in enumerate(row) if tok in eos), None)
            kept = row if stop is None else row[:stop]
            n_tokens = len(row) if stop is None else stop + 1
            gens.append(Generation(text=self.tokenizer.decode(kept, skip_special_tokens=True), n_tokens=n_tokens,
                                   truncated=stop is None and len(row) >= max_new_tokens))
        return gens


class VLLMBackend(Backend):
    """vLLM offline generation (``pip install 'clinrl[vllm]'``; needs a GPU).

    Prompts are rendered with the model's own tokenizer through :func:`clinrl.prompting.render_prompt`,
    exactly as for :class:`HFBackend`, so the two backends see the same text.
    """

    name = "vllm"

    def __init__(self, model_path: str, *, model_name: str | None = None, gpu_memory_utilization: float = 0.85,
                 dtype: str = "auto", max_model_len: int | None = None) -> None:
        vllm = require("vllm", "vllm")
        kwargs: dict[str, Any] = {"model": model_path, "gpu_memory_utilization": gpu_memory_utilization,
                                  "dtype": dtype}
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self._vllm = vllm
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.model_name = model_name or model_path

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_name}

    def render(self, sample: Sample) -> str:
        from clinrl.prompting import render_prompt

        return render_prompt(self.tokenizer, sample)

    def generate(self, prompts: Sequence[str], *, n: int = 1, temperature: float = 0.0, top_p: float = 1.0,
                 max_new_tokens: int = 256, seed: int = 0) -> list[list[Generation]]:
        check_decoding(n, temperature, top_p, max_new_tokens)
        params = self._vllm.SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                                           seed=seed)
        results = self.llm.generate(list(prompts), params, use_tqdm=False)
        return [[Generation(text=o.text, n_tokens=len(o.token_ids), truncated=o.finish_reason == "length")
                 for o in r.outputs] for r in results]


class OpenAIBackend(Backend):
    """Any OpenAI-compatible ``/chat/completions`` endpoint through :class:`clinrl.llm.ChatClient`.

    The endpoint gets the sample's chat messages. Chat APIs cannot continue a pre-filled assistant
    turn portably, so the pre-fill is not sent; the EHRMIND contract accepts a completion that opens
    its own ``<think>``. A request that still fails after the client's retries (timeout, HTTP 5xx,
    invalid JSON) becomes a ``Generation`` with ``error`` set, which the harness records as unscored.
    Truncation is read from the reported token usage (``completion_tokens >= max_new_tokens``).
    """

    name = "openai"

    def __init__(self, client: Any = None, *, model: str | None = None, **client_options: Any) -> None:
        if client is None:
            from clinrl.llm import ChatClient

            client = ChatClient(model=model or "default", **client_options)
        self.client = client
        self.model_name = model or getattr(client, "model", "default")

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_name, "base_url": getattr(self.client, "base_url", None)}

    def render(self, sample: Sample) -> list[dict[str, str]]:
        return [dict(m) for m in sample.prompt]

    def generate(self, prompts: Sequence[Any], *, n: int = 1, temperature: float = 0.0, top_p: float = 1.0,
                 max_new_tokens: int = 256, seed: int = 0) -> list[list[Generation]]:
        check_decoding(n, temperature, top_p, max_new_tokens)
        conversations = [[{"role": "user", "content": p}] if isinstance(p, str) else list(p) for p in prompts]
        out: list[list[Generation]] = [[] for _ in conversations]
        # One round of requests per sample index with its own seed: works with endpoints that ignore
        # ``n``, and each completion gets its own cache entry.
        for j in range(n):
            params = {"temperature": temperature, "top_p": top_p, "max_tokens": max_new_tokens, "seed": seed + j}
            for i, result in enumerate(self.client.chat_many(conversations, progress=False, **params)):
                out[i].append(self._to_generation(result, max_new_tokens))
        return out

    @staticmethod
    def _to_generation(result: Any, max_new_tokens: int) -> Generation:
        if not result.ok:
            return Generation(text="", n_tokens=0, truncated=False, error=result.error or "request failed")
        used = (result.usage or {}).get("completion_tokens")
        n_tokens = int(used) if isinstance(used, (int, float)) else 0
        return Generation(text=result.text or "", n_tokens=n_tokens, truncated=n_tokens >= max_new_tokens)


def vllm_available() -> bool:
    """True when vLLM imports (it needs a GPU build; CPU machines usually lack it)."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def local_backend(kind: str, model_spec: str, *, device: str | None = "auto", dtype: Any = "auto",
                  batch_size: int | str = "auto", model_name: str | None = None, say: Any = None) -> Backend:
    """A backend for a local model: ``hf`` (transformers on the resolved device) or ``vllm``.

    ``vllm`` without vLLM installed, or without a CUDA device, falls back to ``hf`` and says so in one
    line through ``say`` (default: stderr) — a missing optional extra is not an error.
    """
    from clinrl.models import load_model_and_tokenizer, resolve_model
    from clinrl.device import resolve_device

    if kind not in ("hf", "vllm"):
        raise ConfigError(f"local backend must be 'hf' or 'vllm', got {kind!r}")
    if kind == "vllm":
        where = resolve_device(device)
        reason = ("vllm is not installed (pip install 'clinrl[vllm]')" if not vllm_available() else
                  None if where.startswith("cuda") else f"vLLM needs a CUDA device; the model runs on {where}")
        if reason is None:
            dtype_name = "auto" if str(dtype) == "auto" else str(dtype).replace("torch.", "")
            return VLLMBackend(resolve_model(model_spec), model_name=model_name or model_spec, dtype=dtype_name)
        import sys

        (say or (lambda m: print(m, file=sys.stderr, flush=True)))(
            f"note: backend vllm unavailable ({reason}); generating with hf instead")
    model, tokenizer = load_model_and_tokenizer(model_spec, dtype=dtype, device=device)
    return HFBackend(model, tokenizer, batch_size=batch_size, model_name=model_name or model_spec)
