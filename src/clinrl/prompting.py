"""Rendering a Sample's chat prompt (plus the assistant pre-fill) into model input text.

Training (GRPO, SFT) and evaluation render prompts the same way, so a model is evaluated on
exactly the text it was trained on: the tokenizer's chat template with a generation prompt, then
the pre-fill (EHRMIND starts the assistant turn with ``"Let me solve this step by step.\\n<think>"``).
"""

from __future__ import annotations

from typing import Any, Sequence

from clinrl.types import Message, Sample


def render_prompt(tokenizer: Any, messages: Sequence[Message] | Sample, prefill: str = "") -> str:
    """The exact text a model is asked to continue."""
    if isinstance(messages, Sample):
        prefill = prefill or messages.prefill
        messages = messages.prompt
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    else:  # plain-text fallback for tokenizers without a chat template
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
    return text + prefill
