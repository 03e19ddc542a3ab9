"""Search log: what was asked, what was shown, what was clicked — one JSON object per line,
append-only, files per UTC day under ``<index>/logs/``. Learning to rank trains from it.

Each search gets a ``query_id``; a click names it, so shown lists and clicks join up. A search
also records its ``client`` — the session cookie or address it came from — and its ``origin``,
the address alone, both hashed with a secret salt kept next to the log (``.client-salt``), so
distinct clients can be counted and no address is written down. Suggestions count distinct
origins: anyone can send three made-up cookies, not from three addresses.

The log never stands in the way of searching: when it cannot be written (a read-only index
folder, a full disk, the folder deleted) the search is answered and the log says why once in
the server's log. It stays bounded: a day's file rolls over at ``max_bytes / 16`` and the
oldest files go once all of them pass ``max_bytes``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from zhisou.errors import ZhisouError
from zhisou.index.directory import atomic_write_bytes

logger = logging.getLogger("zhisou.serve")
_FILE = re.compile(r"^search-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl$")
DAY_SECONDS = 86_400


def _timestamp(line: str) -> float:
    """A logged line's ``ts``; a line without one is kept (+inf): pruning only drops what it can date."""
    try:
        value = json.loads(line).get("ts")
    except (json.JSONDecodeError, AttributeError):
        return float("inf")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float("inf")


def log_files(directory: Path) -> list[Path]:
    """A search log's files, oldest first (none when the folder does not exist)."""
    try:
        found = [(m.group(1), int(m.group(2) or 0), p) for p in directory.iterdir() if (m := _FILE.match(p.name))]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [p for *_, p in sorted(found)]


class Client(NamedTuple):
    """Who searched, as the log records it (``SearchLog.who``): ``id`` hashed from the session
    cookie, else the address; ``origin`` hashed from the address alone."""

    id: str | None
    origin: str | None


class SearchLog:
    def __init__(self, directory: Path, enabled: bool = True, *, max_bytes: int = 1 << 30) -> None:
        self.directory = directory
        self.enabled = enabled
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._failing = False
        self._path: Path | None = None
        self._salt_bytes: bytes | None = None

    def client(self, address: str | None, session: str | None = None) -> str | None:
        """The logged form of a client: its session (else its address) hashed with this log's
        salt; None when there is neither, the log is off, or the salt cannot be kept."""
        source = session or address
        if not source or not self.enabled:
            return None
        salt = self._salt()
        if salt is None:
            return None
        return hashlib.sha256(salt + source.encode("utf-8", "replace")).hexdigest()[:16]

    def who(self, address: str | None, session: str | None = None) -> Client:
        """The client and the origin of a search from ``address`` with ``session``."""
        return Client(self.client(address, session), self.client(address))

    def _salt(self) -> bytes | None:
        if self._salt_bytes is None:
            path = self.directory / ".client-salt"
            try:
                if not path.exists():
                    # Written whole beside it, then linked in only if no other process was first
                    # (a replace could swap the salt under a process that already read it).
                    self.directory.mkdir(exist_ok=True)
                    temporary = path.with_name(f".client-salt.{os.getpid()}-{threading.get_ident()}")
                    temporary.write_text(secrets.token_hex(16), encoding="ascii")
                    with contextlib.suppress(FileExistsError):
                        os.link(temporary, path)
                    temporary.unlink()
                self._salt_bytes = path.read_bytes().strip()
            except OSError:
                return None
        return self._salt_bytes

    def _files(self) -> list[Path]:
        return log_files(self.directory)

    def _target(self, now: float) -> Path:
        """Today's file, or its next part once the current part is full."""
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        path = self._path
        if path is None or not path.name.startswith(f"search-{day}"):
            parts = [p for p in self._files() if p.name.startswith(f"search-{day}")]
            path = parts[-1] if parts else self.directory / f"search-{day}.jsonl"
        if path.exists() and path.stat().st_size >= self.max_bytes // 16:
            match = _FILE.match(path.name)
            part = int(match.group(2) or 0) + 1 if match else 1
            path = self.directory / f"search-{day}.{part}.jsonl"
            self._trim()
        self._path = path
        return path

    def _trim(self) -> None:
        files = self._files()
        sizes = [p.stat().st_size for p in files]
        total = sum(sizes)
        for path, size in zip(files[:-1], sizes):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def _append(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        now = time.time()
        record = {"ts": round(now, 3), **event}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            try:
                # Inside the index folder only: never re-create an index folder that was removed.
                self.directory.mkdir(exist_ok=True)
                with open(self._target(now), "a", encoding="utf-8") as handle:
                    handle.write(line)
            except (OSError, UnicodeEncodeError) as error:
                if not self._failing:
                    logger.warning("search log disabled until it can be written: %s", error)
                self._failing = True
                return
            if self._failing:
                logger.warning("search log writable again")
                self._failing = False

    def search(
        self,
        query: str,
        mode: str,
        page: int,
        shown: list[str],
        filters: dict[str, Any],
        size: int | None = None,
        shuffled: bool = False,
        client: Client | None = None,
    ) -> str:
        """Record a search (``size``: the page length, so that the ranks of a short last page are
        known; ``shuffled``: the page was shown in a random order; ``client``: from ``who``);
        returns its ``query_id``."""
        query_id = uuid.uuid4().hex[:16]
        event: dict[str, Any] = {"event": "search", "query_id": query_id, "q": query, "mode": mode, "page": page}
        if size is not None:
            event["size"] = size
        if shuffled:
            event["shuffled"] = True
        if client is not None and client.id:
            event["client"] = client.id
        if client is not None and client.origin:
            event["origin"] = client.origin
        self._append(event | {"filters": filters, "shown": shown})
        return query_id

    def click(self, query_id: str, doc_id: str, rank: int) -> None:
        self._append({"event": "click", "query_id": query_id, "id": doc_id, "rank": rank})

    def prune(self, older_than: float, *, now: float | None = None) -> tuple[int, int]:
        """Remove what was logged more than ``older_than`` seconds ago (at least a day: the
        server appends to today's file): whole days go, and the day the cut falls in is
        rewritten without its older lines (atomically). Returns (files removed, lines removed)."""
        if older_than < DAY_SECONDS:
            raise ZhisouError("--older-than must be at least 1d: the server is appending to today's log")
        cutoff = (time.time() if now is None else now) - older_than
        cutoff_day = time.strftime("%Y-%m-%d", time.gmtime(cutoff))
        files = lines = 0
        with self._lock:
            for path in self._files():
                match = _FILE.match(path.name)
                if match is None or match.group(1) > cutoff_day:
                    continue
                if match.group(1) < cutoff_day:
                    with open(path, encoding="utf-8", errors="replace") as handle:
                        lines += sum(1 for line in handle if line.strip())
                    path.unlink()
                    files += 1
                    continue
                kept: list[str] = []
                with open(path, encoding="utf-8", errors="replace") as handle:
                    for line in handle:
                        if not line.strip():
                            continue
                        if _timestamp(line) < cutoff:
                            lines += 1
                        else:
                            kept.append(line)
                atomic_write_bytes(path, "".join(kept).encode("utf-8"), unique=True)
        return files, lines

    def events(self) -> Iterator[dict[str, Any]]:
        """Every recorded event, oldest file first."""
        for path in self._files():
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        yield json.loads(line)
