"""Request-level protections of the review app: CSRF tokens, the Origin/Referer check, body caps,
security headers and the login throttle.

* **CSRF token.** Every form carries a token derived from the session cookie (an HMAC keyed by it), so
  it is per session, needs no server-side state, works across server processes and dies with the
  session. The login form, which has no session yet, is bound the same way to a short-lived pre-login
  cookie. A page on another origin can read neither cookie, so it cannot compute the token.
* **Origin/Referer.** A state-changing request (POST, PUT, PATCH, DELETE) whose ``Origin`` (or, without
  one, ``Referer``) is not this server's own origin, or that the browser marks ``Sec-Fetch-Site:
  cross-site``/``same-site``, is refused before it reaches a handler. Requests without those headers
  are not from a browser page (scripts, curl) and still need the token or a JSON content type.
* **Body caps.** A body larger than its route's cap (:func:`clinrl.review.limits.body_limit`) is
  refused from its ``Content-Length`` before a byte is read, and cut off at the cap when it is sent
  chunked.
* **Headers.** A strict Content-Security-Policy (own scripts and styles only, no framing),
  ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``
  and ``Cache-Control: no-store`` on every page and API response.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinrl.review.limits import body_limit

CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


def csrf_token(secret: str | None) -> str:
    """The form token bound to a session (or pre-login) cookie value; empty without one."""
    if not secret:
        return ""
    return hmac.new(secret.encode(), b"clinrl-review-csrf-v1", hashlib.sha256).hexdigest()


def csrf_valid(secret: str | None, submitted: Any) -> bool:
    expected = csrf_token(secret)
    return bool(expected) and isinstance(submitted, str) and hmac.compare_digest(expected, submitted)


def is_loopback(host: str) -> bool:
    """True for an address that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, default ports dropped; None when it has no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def cross_origin_reason(scope: Scope, trusted: Iterable[str] = ()) -> str | None:
    """Why a state-changing request must be refused as cross-origin, or None when it may proceed."""
    fetch_site = (_header(scope, b"sec-fetch-site") or "").lower()
    if fetch_site in ("cross-site", "same-site"):
        return f"the browser reports this request as {fetch_site}"
    own = origin_of(f"{scope.get('scheme', 'http')}://{_header(scope, b'host') or ''}")
    allowed = {o for o in (own, *(origin_of(t) for t in trusted)) if o}  # never None: garbage matches nothing
    origin = _header(scope, b"origin")
    if origin is not None:
        if origin_of(origin) not in allowed:
            return f"Origin {origin[:200]!r} is not this site"
        return None
    referer = _header(scope, b"referer")
    if referer is not None and origin_of(referer) not in allowed:
        return "the Referer is not this site"
    return None  # no Origin and no Referer: not a browser page (curl, scripts); tokens and content types still apply


class SecurityMiddleware:
    """Outermost layer: refuse cross-origin writes and oversized bodies, add the security headers."""

    def __init__(self, app: ASGIApp, *, trusted_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted_origins = tuple(trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k not in dict(SECURITY_HEADERS)]
                headers += list(SECURITY_HEADERS)
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        api = scope["path"].startswith("/api/")
        if scope["method"] in UNSAFE_METHODS:
            reason = cross_origin_reason(scope, self.trusted_origins)
            if reason is not None:
                text = f"refused: {reason}; state-changing requests are accepted only from this site's own pages"
                response = JSONResponse({"error": text}, 403) if api else PlainTextResponse(text, 403)
                await response(scope, receive, send_with_headers)
                return
        limit = body_limit(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = True
            if too_big:
                text = f"request body over the {limit:,}-byte limit of {scope['path']}"
                response = JSONResponse({"error": text}, 413) if api else PlainTextResponse(text, 413)
                await response(scope, receive, send_with_headers)
                return
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"request body over the {limit:,}-byte limit of {scope['path']}")
            return message

        await self.app(scope, capped_receive, send_with_headers)


class LoginThrottle:
    """Failed-login backoff per user name and per client address (in memory, per server process).

    After ``user_free`` failures for one user name (``address_free`` for one address) each further attempt
    must wait ``base_delay · 2^(extra failures − 1)`` seconds, at most ``max_delay``, counted from the last
    failure; the check is refused unread while it waits, so waiting costs the server nothing. Unknown user
    names are counted like real ones, so the throttle reveals nothing about which names exist. A success
    clears the user's count; counts are forgotten ``forget_after`` seconds after their last failure.
    Every attempt is counted as a failure when it starts, so a burst of parallel guesses cannot all slip
    through before the first one fails.
    """

    def __init__(self, *, user_free: int = 5, address_free: int = 20, base_delay: float = 1.0,
                 max_delay: float = 900.0, forget_after: float = 3600.0, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.user_free, self.address_free = user_free, address_free
        self.base_delay, self.max_delay, self.forget_after = base_delay, max_delay, forget_after
        self.max_keys, self.clock = max_keys, clock
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", username[:200]), ("addr", address[:200])

    def _wait(self, key: tuple[str, str], now: float) -> float:
        count, last = self._failures.get(key, (0, 0.0))
        if count and now - last > self.forget_after:
            self._failures.pop(key, None)
            return 0.0
        free = self.user_free if key[0] == "user" else self.address_free
        if count < free:
            return 0.0
        delay = min(self.max_delay, self.base_delay * 2 ** min(count - free, 40))
        return max(0.0, last + delay - now)

    def begin(self, username: str, address: str) -> float:
        """Seconds to wait before this attempt may be checked (0: go ahead, and it is counted as failed)."""
        with self._lock:
            now = self.clock()
            keys = self._keys(username, address)
            wait = max(self._wait(key, now) for key in keys)
            if wait > 0:
                return wait
            for key in keys:
                count, _ = self._failures.pop(key, (0, 0.0))
                self._failures[key] = (count + 1, now)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
            return 0.0

    def succeeded(self, username: str, address: str) -> None:
        """The password was right: clear the user's failures and take this attempt off the address."""
        with self._lock:
            user, addr = self._keys(username, address)
            self._failures.pop(user, None)
            count, last = self._failures.get(addr, (0, 0.0))
            if count > 1:
                self._failures[addr] = (count - 1, last)
            else:
                self._failures.pop(addr, None)
