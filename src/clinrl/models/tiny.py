"""The embedded ``tiny`` model: a small Qwen3-style causal LM built locally from a seed.

It exists so that every clinrl command runs with no network and on a laptop CPU: the quickstart,
the smoke tests, the benches. Nothing is downloaded. The build is

1. a byte-level BPE tokenizer trained locally (a few seconds) on clinrl's own task text (prompts,
   the output contract, clinical vocabulary with numbers and units) plus generic English text, with
   every digit split into its own token (a model that sees ``"137"`` as three tokens can learn to
   copy and compare numbers digit by digit), the contract tags as single tokens, and a ChatML chat
   template;
2. a randomly initialised ``Qwen3ForCausalLM`` (≈ 3.7M parameters with the defaults) from ``seed``.

The result is cached under ``~/.cache/clinrl/models/tiny-<hash>`` keyed by the hash of
:class:`TinySpec`, so the same spec always gives the same weights and tokenizer.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from clinrl.models.cache import cached_build

#: bump when the corpus or the build changes, so old cache entries are not reused
BUILDER_VERSION = 2

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
#: output-contract tags kept whole so the format costs the model four tokens, not twenty
CONTRACT_TOKENS = ("<think>", "</think>", "<answer>", "</answer>")


@dataclass(frozen=True)
class TinySpec:
    """What defines a ``tiny`` build (every field enters the cache key).

    The defaults are the size GUIDE §4 measured on 2 CPU cores: SFT ≈ 0.8 s/step at batch 16, GRPO
    ≈ 3 s/step for 16 completions of ≤ 64 tokens, peak RSS ≈ 1.5 GB.
    """

    seed: int = 0
    vocab_size: int = 4096  # target BPE vocabulary: whole words for the task's boilerplate, still a cheap embedding
    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 4
    num_attention_heads: int = 8
    num_key_value_heads: int = 4  # grouped-query attention, as in Qwen3
    max_position_embeddings: int = 2048  # synthetic notes + prompt + 256-token answers fit
    corpus_lines: int = 6000  # generated corpus size for the tokenizer (≈ 2 s of training)


_WORDS = (
    "patient presents with history of hypertension diabetes mellitus chronic kidney disease heart failure "
    "atrial fibrillation stroke pneumonia sepsis admitted emergency department complains chest pain shortness "
    "breath fever cough nausea vomiting abdominal pain headache dizziness fatigue weight loss examination "
    "reveals blood pressure heart rate respiratory rate temperature oxygen saturation weight height body mass "
    "index laboratory results serum creatinine sodium potassium chloride bicarbonate glucose albumin bilirubin "
    "hemoglobin platelet count white blood cell calcium magnesium urea nitrogen age years old male female "
    "woman man medication dose daily mg kg mL L dL mmol mEq beats per minute breaths mmHg cm m in lb "
    "calculate compute score value formula step answer note question result units convert using the and of "
    "is was were has had with without on in at to for from by a an as no not yes normal elevated low high "
    "last menstrual period date weeks days gestational age estimated due conception cycle length"
).split()

_GENERIC = (
    "The quick brown fox jumps over the lazy dog.",
    "A careful reader checks every number twice before writing the final answer.",
    "First we list the values we need, then we apply the formula, then we round the result.",
    "Rules are applied in order; each step uses only what is written in the note.",
    "When a value is missing we say so instead of guessing.",
    "The report was written in plain language so that anyone could follow it.",
)


def corpus(seed: int, n_lines: int) -> Iterator[str]:
    """Deterministic tokenizer-training text: task prompts, contract examples, clinical sentences."""
    from clinrl.rewards.contract import EHRMIND_PREFILL, wrap_contract
    from clinrl.tasks.medcalc import prompts

    rng = random.Random(seed)
    roles = "system user assistant " * 20  # chat-template role names become single tokens
    fixed = [roles, prompts.EHRMIND_SYSTEM, prompts.ZERO_SHOT_SYSTEM, EHRMIND_PREFILL, *prompts.ANSWER_FORMAT_HINT.values(),
             *_GENERIC]
    for line in fixed:
        yield line
    yield from task_text(seed)
    for i in range(n_lines):
        kind = i % 4
        if kind == 0:
            words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 16))]
            yield " ".join(words).capitalize() + "."
        elif kind == 1:
            name = rng.choice(("sodium", "creatinine", "glucose", "weight", "height", "heart rate", "age"))
            unit = rng.choice(("mg/dL", "mmol/L", "kg", "cm", "years", "mEq/L", "beats/min"))
            yield f"The patient's {name} is {rng.uniform(0, 400):.{rng.randint(0, 2)}f} {unit}."
        elif kind == 2:
            value: object = rng.choice((rng.randint(0, 200), round(rng.uniform(0, 100), 2),
                                        f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1990, 2030)}"))
            think = f" {rng.choice(_WORDS)} = {rng.randint(0, 99)} + {rng.randint(0, 99)}. "
            yield wrap_contract({"answer": value}, think)
        else:
            yield rng.choice(_GENERIC) + " " + " ".join(rng.choice(_WORDS) for _ in range(8))


def task_text(seed: int, n_rows: int = 400) -> Iterator[str]:
    """Rendered MedCalc prompts and worked explanations from clinrl's synthetic generator.

    Training the tokenizer on the task's own text makes its boilerplate (instructions, units, finding
    names) a few tokens long, so a prompt costs ~3× fewer tokens than with a generic vocabulary — the
    largest single saving in CPU training time.
    """
    try:
        from clinrl.tasks.medcalc.synth import generate_rows
        from clinrl.tasks.medcalc.scoring import output_kind
    except ImportError:  # a trimmed install without the generator: generic text only
        return
    from clinrl.tasks.medcalc import prompts

    for row in generate_rows(n_rows, seed=seed + 7919, difficulty="mixed"):
        messages, _ = prompts.ehrmind_messages(row["Patient Note"], row["Question"],
                                               output_kind(int(row["Calculator ID"])))
        yield "\n".join(m["content"] for m in messages)
        yield str(row.get("Ground Truth Explanation") or "")


def build_tokenizer(spec: TinySpec):
    """Train the byte-level BPE tokenizer (digits split) and wrap it for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(spec.seed, spec.corpus_lines), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=None,
        padding_side="left",
        model_max_length=spec.max_position_embeddings,
    )
    fast.add_tokens(list(CONTRACT_TOKENS))  # normal (decoded) tokens, kept whole
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(spec: TinySpec, vocab_size: int):
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.hidden_size // spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        use_sliding_window=False,
    )
    torch.manual_seed(spec.seed)
    model = Qwen3ForCausalLM(config)
    return model


def build_tiny(out_dir: Path, spec: TinySpec) -> None:
    """Write tokenizer + model (safetensors) for ``spec`` into ``out_dir``."""
    tokenizer = build_tokenizer(spec)
    vocab = ((len(tokenizer) + 63) // 64) * 64  # round up: cheaper matmuls, room for added tokens
    model = build_model(spec, vocab)
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.bos_token_id = None
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def tiny_dir(spec: TinySpec | None = None) -> Path:
    """The cached directory of the ``tiny`` model for ``spec`` (built on first use)."""
    spec = spec or TinySpec()
    payload = {"builder": BUILDER_VERSION, **asdict(spec)}
    return cached_build("tiny", payload, lambda out: build_tiny(out, spec))
