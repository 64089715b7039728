"""OpenAI-compatible chat client with retries, timeouts, bounded concurrency and an on-disk cache.

Nothing is sent anywhere unless an endpoint is configured: the base URL comes from the
constructor or from ``CLINRL_LLM_BASE_URL`` (``OPENAI_BASE_URL`` as a fallback); the key from
``CLINRL_LLM_API_KEY`` (``OPENAI_API_KEY``). A call that still fails after its retries returns a
``ChatResult`` with ``ok=False`` and the reason: callers record that as *unscored* (``None``),
never as a wrong answer or an unmet criterion.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from clinrl.errors import ConfigError, require

Messages = Sequence[dict[str, str]]

#: HTTP statuses worth retrying: rate limits and server-side failures.
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: version of the cache key layout (the endpoint joined the key in version 2)
CACHE_KEY_VERSION = 2
#: a reply check for :meth:`ChatClient.chat`: True when the texts are usable (only those are cached)
Accept = Callable[[Sequence[str]], bool]


class _DeadlinePassed(Exception):
    """A request ran past its total deadline (raised inside :meth:`ChatClient._post`)."""


@dataclass(frozen=True)
class ChatResult:
    """One chat call's outcome. ``text`` is the first choice; ``texts`` all ``n`` choices."""

    ok: bool
    text: str | None = None
    texts: tuple[str, ...] = ()
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    cached: bool = False
    attempts: int = 0


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


class ChatClient:
    """Client for ``POST {base_url}/chat/completions``.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``. Default: ``CLINRL_LLM_BASE_URL`` or ``OPENAI_BASE_URL``.
        api_key: default ``CLINRL_LLM_API_KEY`` or ``OPENAI_API_KEY`` (may be empty for local servers).
        model: the model name sent with every request.
        timeout: total seconds per request attempt, from connecting to the last byte of the reply (a server
            that trickles its reply byte by byte is cut off too, not only one that goes silent).
        max_retries: retries after the first attempt for timeouts, connection errors, 429/5xx and
            replies that are not valid chat-completion JSON.
        backoff: base of the exponential backoff in seconds (``backoff * 2**attempt`` + jitter, ≤ 30 s).
        max_concurrency: parallel requests in :meth:`chat_many`.
        cache_dir: directory of the on-disk cache (successful replies only); ``None`` disables it. The key
            covers the endpoint, the model, the messages and the parameters; a caller can refuse to cache a
            reply it cannot use (``accept``), and a cached reply it refuses is asked again.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, model: str = "default",
                 timeout: float = 60.0, max_retries: int = 3, backoff: float = 1.0, max_concurrency: int = 8,
                 cache_dir: str | os.PathLike[str] | None = None) -> None:
        url = base_url or _env("CLINRL_LLM_BASE_URL", "OPENAI_BASE_URL")
        if not url:
            raise ConfigError(
                "no LLM endpoint configured: pass base_url (e.g. --base-url http://127.0.0.1:8000/v1) or set "
                "CLINRL_LLM_BASE_URL. clinrl never sends data to an endpoint you did not configure."
            )
        if max_retries < 0 or max_concurrency < 1 or timeout <= 0:
            raise ConfigError("max_retries must be >= 0, max_concurrency >= 1 and timeout > 0")
        self.base_url = url.rstrip("/")
        self.api_key = api_key if api_key is not None else (_env("CLINRL_LLM_API_KEY", "OPENAI_API_KEY") or "")
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_concurrency = max_concurrency
        self.cache_dir = Path(cache_dir) if cache_dir else None
        if self.cache_dir:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    # -- HTTP --------------------------------------------------------------------------------
    def _http(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            httpx = require("httpx", "judge")
            headers = {"Content-Type": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            # no keep-alive: each request opens its own connection, whose socket the total deadline can cut
            client = httpx.Client(timeout=self.timeout, headers=headers,
                                  limits=httpx.Limits(max_keepalive_connections=0))
            self._local.client = client
        return client

    def _post(self, payload: dict[str, Any]) -> Any:
        """POST with a total deadline of ``timeout`` seconds.

        httpx's timeouts apply to each network operation, so a server that sends one byte a second never
        trips them. A timer shuts the request's socket down when the deadline passes, which ends any read
        at once; the failure is then reported as a timeout."""
        sockets: list[socket.socket] = []
        expired = threading.Event()

        def trace(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.complete":
                stream = info.get("return_value")
                sock = stream.get_extra_info("socket") if stream is not None else None
                if sock is not None:
                    sockets.append(sock)
                    if expired.is_set():  # connected just as the deadline passed
                        _shutdown(sock)

        def expire() -> None:
            expired.set()
            for sock in list(sockets):
                _shutdown(sock)

        timer = threading.Timer(self.timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            return self._http().post(f"{self.base_url}/chat/completions", json=payload,
                                     extensions={"trace": trace})
        except Exception:
            if expired.is_set():
                raise _DeadlinePassed() from None
            raise
        finally:
            timer.cancel()

    def _payload(self, messages: Messages, params: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model, "messages": list(messages)}
        payload.update({k: v for k, v in params.items() if v is not None})
        return payload

    def _cache_path(self, payload: dict[str, Any]) -> Path | None:
        if not self.cache_dir:
            return None
        keyed = {"v": CACHE_KEY_VERSION, "endpoint": self.base_url, "payload": payload}
        key = hashlib.sha256(json.dumps(keyed, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        return self.cache_dir / key[:2] / f"{key}.json"

    def chat(self, messages: Messages, *, accept: Accept | None = None, **params: Any) -> ChatResult:
        """One chat completion. ``params`` go to the endpoint (temperature, max_tokens, n, seed, ...).

        ``accept(texts)`` says whether a reply is usable (a judge: "it parses into a verdict"). A refused reply
        is returned but never cached, and a refused cached reply is dropped and asked again, so one bad reply
        cannot stick to every later run."""
        payload = self._payload(messages, params)
        cache_path = self._cache_path(payload)
        if cache_path and cache_path.exists():
            try:
                data = json.loads(cache_path.read_text(encoding="utf-8"))
                texts = tuple(data["texts"])
                if texts and all(isinstance(t, str) for t in texts) and (accept is None or accept(texts)):
                    return ChatResult(ok=True, text=texts[0], texts=texts, usage=data.get("usage", {}), cached=True)
                cache_path.unlink(missing_ok=True)  # an entry the caller cannot use is asked again
            except (ValueError, KeyError, TypeError, OSError):
                pass  # a corrupt cache entry is ignored and overwritten
        httpx = require("httpx", "judge")
        error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = min(30.0, self.backoff * (2 ** (attempt - 1))) * (0.5 + random.random() / 2)
                time.sleep(delay)
            try:
                response = self._post(payload)
            except (_DeadlinePassed, httpx.TimeoutException):
                error = f"timeout after {self.timeout:g}s"
                continue
            except httpx.HTTPError as exc:
                error = f"{exc.__class__.__name__}: {exc}"
                continue
            if response.status_code != 200:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code in RETRY_STATUSES:
                    continue
                return ChatResult(ok=False, error=error, attempts=attempt + 1)
            try:
                data = response.json()
                texts = tuple(_content(choice) for choice in data["choices"])
                if not texts:
                    raise ValueError("no choices")
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                error = f"invalid chat-completion reply ({exc.__class__.__name__}: {exc})"
                continue
            usage = data.get("usage") or {}
            if cache_path and (accept is None or accept(texts)):
                cache_path.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache_path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(json.dumps({"texts": list(texts), "usage": usage}), encoding="utf-8")
                os.replace(tmp, cache_path)
            return ChatResult(ok=True, text=texts[0], texts=texts, usage=usage, attempts=attempt + 1)
        return ChatResult(ok=False, error=error, attempts=self.max_retries + 1)

    def chat_many(self, conversations: Sequence[Messages], *, progress: bool = False,
                  description: str = "LLM calls", accept: Accept | None = None, **params: Any) -> list[ChatResult]:
        """Many chat calls with at most ``max_concurrency`` in flight; results keep input order."""
        results: list[ChatResult | None] = [None] * len(conversations)
        bar = None
        if progress:
            from rich.progress import Progress

            bar = Progress(transient=False)
            bar.start()
            task_id = bar.add_task(description, total=len(conversations))
        try:
            with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
                futures = {pool.submit(self.chat, conv, accept=accept, **params): i
                           for i, conv in enumerate(conversations)}
                for future in as_completed(futures):
                    i = futures[future]
                    try:
                        results[i] = future.result()
                    except Exception as exc:  # never lose a slot: record the failure
                        results[i] = ChatResult(ok=False, error=f"{exc.__class__.__name__}: {exc}")
                    if bar is not None:
                        bar.advance(task_id)
        finally:
            if bar is not None:
                bar.stop()
        return [r if r is not None else ChatResult(ok=False, error="not run") for r in results]


def _content(choice: Any) -> str:
    """The text of one choice. A null or non-text ``content`` is an invalid reply (retried, then a failure),
    never an empty answer: scoring it would turn an endpoint fault into a wrong answer."""
    content = choice["message"]["content"]
    if not isinstance(content, str):
        kind = "null" if content is None else type(content).__name__
        raise ValueError(f"message content is {kind}, not text")
    return content


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
