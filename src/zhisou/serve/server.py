"""How uvicorn runs the app (the CLI and the background server share it): connection limits,
and a protocol that closes connections which never finish sending a request head, and takes
the request lines people type.

``curl 'http://127.0.0.1:8000/api/search?q=倒排索引'`` sends the query's UTF-8 bytes unescaped in
the request line, which the HTTP parser refuses ("Invalid HTTP request received"). Bytes above
ASCII in a request line are percent-encoded on arrival — what a browser sends for the same URL —
so the app reads the query as UTF-8. Headers and bodies pass untouched.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

# A connection gets this long to send a complete request head (after connecting, or after its
# previous response); otherwise it is closed, so half-open and trickling ("slowloris")
# connections cannot pile up. Idle keep-alive connections close after KEEP_ALIVE_SECONDS.
HEAD_TIMEOUT_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5
MAX_CONNECTIONS = 512


_RAW_BYTE = re.compile(rb"[\x80-\xff]")


class GuardedH11Protocol(H11Protocol):
    _request_line = True  # the next bytes start a request line

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._request_line = True
        self._arm_head_timeout()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._request_line = True
        self._arm_head_timeout()

    def data_received(self, data: bytes) -> None:
        if self._request_line:
            end = data.find(b"\n")
            line, rest = (data, b"") if end < 0 else (data[: end + 1], data[end + 1 :])
            self._request_line = end < 0
            data = _RAW_BYTE.sub(lambda byte: b"%%%02X" % byte.group()[0], line) + rest
        super().data_received(data)

    def _arm_head_timeout(self) -> None:
        waiting_for = self.cycle
        self.loop.call_later(HEAD_TIMEOUT_SECONDS, self._head_timeout, waiting_for)

    def _head_timeout(self, waiting_for: Any) -> None:
        """Close the connection if no new request head arrived since the timer was armed."""
        idle = self.cycle is None or self.cycle.response_complete
        if self.cycle is waiting_for and idle and not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(app: Any, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=GuardedH11Protocol,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=MAX_CONNECTIONS,
    )
