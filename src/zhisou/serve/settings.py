"""What ``zhisou serve`` runs with, and the start-up checks that keep writes safe."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from zhisou.errors import ZhisouError

TOKEN_ENV = "ZHISOU_TOKEN"
MIN_TOKEN_CHARS = 8
LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    index: Path
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # bearer token for write endpoints; default: $ZHISOU_TOKEN
    writes: bool = True
    search_log: bool = True  # queries, shown ids and clicks, for learning to rank
    page_size: int = 10
    threads: int = 1  # worker threads for reads (see app.py); writes get one more
    allowed_hosts: tuple[str, ...] = ()  # Host names to answer to (default: see guard.allowed_hosts)
    log_max_bytes: int = 1 << 30  # the search log's files together; the oldest go first
    # Share of logged searches whose page is shown in a random order: the intervention that lets
    # the click model tell a rank's pull from a document's (rank/clickmodel.py). 0: never.
    shuffle_share: float = 0.0

    @property
    def write_token(self) -> str | None:
        return self.token or os.environ.get(TOKEN_ENV) or None

    def check(self) -> None:
        """Refuse a configuration that would let anyone on the network change the index."""
        if self.writes and not self.write_token and not is_loopback(self.host):
            raise ZhisouError(
                f"refusing to serve writes on {self.host} without a token: set {TOKEN_ENV} or --token, "
                "pass --read-only, or bind to 127.0.0.1"
            )
        token = self.write_token
        if token is not None and (len(token) < MIN_TOKEN_CHARS or not all("!" <= c <= "~" for c in token)):
            raise ZhisouError(
                f"the token must be at least {MIN_TOKEN_CHARS} printable ASCII characters without spaces "
                "(HTTP headers carry ASCII); make one with: python -c 'import secrets; print(secrets.token_urlsafe())'"
            )
        if not 1 <= self.threads <= 64:
            raise ZhisouError(f"threads must be between 1 and 64, got {self.threads}")
        if not 0.0 <= self.shuffle_share <= 1.0:
            raise ZhisouError(f"shuffle share must be between 0 and 1, got {self.shuffle_share}")
        if not 1 <= self.page_size <= 100:
            raise ZhisouError(f"page size must be between 1 and 100, got {self.page_size}")

    @property
    def log_directory(self) -> Path:
        return self.index / "logs"
