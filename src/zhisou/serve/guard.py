"""What every request passes before the app sees it, as one ASGI middleware: the ``Host``
allow-list (DNS rebinding), body limits enforced while the body streams in, and the security
headers on every response. Plus the pieces the write endpoints use: the same-origin check, the
bearer-token comparison in bytes, and a per-client rate limiter.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from zhisou.serve.settings import is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DOCUMENT_BODY_BYTES = 64 * 1024 * 1024  # POST /api/docs: a bulk of documents
SMALL_BODY_BYTES = 64 * 1024  # every other request (a click event is ~200 bytes)
# No inline script or style anywhere (the pages and the API docs load theirs from /static).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def host_name(host_header: str) -> str:
    """``Host`` without its port, lower case (``[::1]:8000`` → ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts(bind_host: str, extra: tuple[str, ...]) -> frozenset[str] | None:
    """Host names this server answers to; None: any (bound to every interface, no list given).

    A server on a loopback address answers only to loopback names, so a web page whose domain
    was re-pointed at 127.0.0.1 (DNS rebinding) is refused."""
    if extra:
        return frozenset(h.lower() for h in extra) | (
            {bind_host.lower()} if bind_host not in ("0.0.0.0", "::") else set()
        )
    if is_loopback(bind_host):
        return LOOPBACK_HOSTS | {bind_host.lower()}
    if bind_host in ("0.0.0.0", "::", ""):
        return None
    return frozenset({bind_host.lower()}) | LOOPBACK_HOSTS


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


class Guard:
    """The ASGI middleware: Host allow-list, streamed body limits, security headers."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.hosts is not None:
            host = (_header(scope, b"host") or b"").decode("latin-1")
            if host_name(host) not in self.hosts:
                await _refuse(send, 400, f"invalid Host header {host!r}: this server does not answer to that name")
                return
        limit = DOCUMENT_BODY_BYTES if scope["method"] == "POST" and scope["path"] == "/api/docs" else SMALL_BODY_BYTES
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _refuse(send, 400, "Content-Length is not a number")
                return
            if length > limit:
                await _refuse(send, 413, f"request body over {_size(limit)}; send smaller batches")
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"request body over {_size(limit)}; send smaller batches")
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", ())) + list(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)


def _size(limit: int) -> str:
    return f"{limit >> 20} MB" if limit >= 1 << 20 else f"{limit >> 10} KB"


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + list(SECURITY_HEADERS)})
    await send({"type": "http.response.body", "body": body})


def bearer_matches(raw_authorization: bytes | None, token: str) -> bool:
    """Compare the header's bytes with the token's: a non-ASCII header is simply wrong (never
    an error), and the comparison takes the same time wherever they differ."""
    if not raw_authorization:
        return False
    scheme, _, given = raw_authorization.strip().partition(b" ")
    return scheme.lower() == b"bearer" and secrets.compare_digest(given.strip(), token.encode("utf-8"))


def same_origin(headers: Any) -> str | None:
    """Why a write request comes from another site, or None when it does not: browsers send
    ``Origin`` (and ``Sec-Fetch-Site``) with cross-site requests; programs such as curl send
    neither. The request's own ``Host`` already passed the allow-list."""
    site = headers.get("sec-fetch-site")
    if site not in (None, "same-origin", "none"):
        return f"a {site} request (Sec-Fetch-Site)"
    origin = headers.get("origin")
    if origin is None:
        return None
    # Host and port only: behind a TLS proxy the page is https while the server sees http.
    if origin.lower().partition("://")[2] != headers.get("host", "").lower():
        return f"origin {origin!r} is not this server's"
    return None


class RateLimiter:
    """A token bucket per client: ``rate`` events a second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: float, max_clients: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if len(self._buckets) >= self.max_clients and client not in self._buckets:
                self._buckets.clear()  # bounded memory under a flood of client addresses
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return False
            self._buckets[client] = (tokens - 1, now)
            return True
