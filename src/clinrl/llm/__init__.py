"""A small client for OpenAI-compatible chat endpoints (judges, teachers, the eval backend)."""

from clinrl.llm.client import ChatClient, ChatResult

__all__ = ["ChatClient", "ChatResult"]
