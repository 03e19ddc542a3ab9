"""The search log read back as sessions: what was shown for a query, and what was clicked.

A *session* is one logged search: its query, the ids shown in order and which of them were
clicked. Lines that are not JSON objects, or search events without a query or shown list, are
counted and skipped — a log written by a crashing server or edited by hand must not stop
training. A click whose ``query_id`` was never logged (its search fell in a trimmed file) is
skipped likewise.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from zhisou.serve.searchlog import log_files

READ_BYTES = 16 << 20  # the log is read in blocks of this many bytes


@dataclass
class Session:
    query_id: str
    query: str
    shown: list[str]  # ids in the order shown, the page's first hit first
    first_rank: int  # 1-based rank of ``shown[0]`` (pages after the first start further down)
    ts: float
    clicks: dict[str, float] = field(default_factory=dict)  # id → time of its first click
    client: str | None = None  # the hashed address or session that searched, when logged
    origin: str | None = None  # the hashed address alone, when logged

    @property
    def source(self) -> str | None:
        """Who counts as one client where suggestions need several: the address the search came
        from (a cookie costs nothing to make up, an address does), else the logged client for
        searches logged without one."""
        return self.origin or self.client

    def clicked(self) -> list[bool]:
        return [doc_id in self.clicks for doc_id in self.shown]


@dataclass
class LogReport:
    """What reading the log found: sessions, and what was skipped and why (one line each)."""

    sessions: list[Session]
    skipped: list[str]


def normalize_query(text: str) -> str:
    """The form queries are counted under: case and spacing folded."""
    return " ".join(text.lower().split())


def read_sessions(directory: Path, since: float | None = None) -> LogReport:
    """Sessions from the search log in ``directory`` (searches from ``since`` on, epoch seconds)."""
    log = SessionLog(directory, final=True)
    return LogReport(log.read(since), log.skipped)


class SessionLog:
    """A search log read incrementally: each ``read`` parses only what was appended to its files
    since the last one (a file that shrank or was replaced — pruned — is read again whole, as
    is a file the ``since`` of an earlier read skipped), and never half a line still being
    written. Long-lived readers (suggestions re-read the log every minute) pay for new events only."""

    def __init__(self, directory: Path, *, final: bool = False) -> None:
        """``final``: one reading, nothing written after it: a last line without its newline is
        taken as it is (damaged, it is counted as skipped). Otherwise such a line is taken only
        once it is a whole JSON value, and else left for the next reading."""
        self.directory = directory
        self.final = final
        self.skipped: list[str] = []
        self._sessions: dict[str, Session] = {}
        self._read_to: dict[str, tuple[int, int, int]] = {}  # file name → (inode, bytes read, lines read)
        self._first_day = ""

    def read(self, since: float | None = None) -> list[Session]:
        """Every session from ``since`` on, the new events of the log applied."""
        first_day = time.strftime("%Y-%m-%d", time.gmtime(since)) if since is not None else ""
        files = log_files(self.directory)
        names = {path.name for path in files}
        if first_day < self._first_day or any(name not in names for name in self._read_to):
            self._sessions, self._read_to = {}, {}  # an earlier day is wanted, or a file went: again
        self._first_day = first_day
        for path in files:
            if path.name[len("search-") : len("search-YYYY-MM-DD")] < first_day:
                continue  # a whole day before ``since``: not even read
            self._read_file(path)
        if since is None:
            return list(self._sessions.values())
        # Sessions well before the first file read are let go (an earlier ``since`` reads again).
        self._sessions = {key: s for key, s in self._sessions.items() if s.ts >= since - 2 * 86_400}
        return [session for session in self._sessions.values() if session.ts >= since]

    def _read_file(self, path: Path) -> None:
        try:
            with open(path, "rb") as handle:
                status = os.fstat(handle.fileno())
                inode, size = status.st_ino, status.st_size
                old_inode, offset, number = self._read_to.get(path.name, (inode, 0, 0))
                if old_inode != inode or size < offset:  # replaced or cut (pruned): from the start
                    self._sessions, self._read_to = {}, {}
                    self._read_again()
                    return
                handle.seek(offset)
                position, rest = offset, b""
                while position < size:
                    block = handle.read(min(READ_BYTES, size - position))
                    if not block:
                        break
                    position += len(block)
                    data = rest + block
                    end = data.rfind(b"\n") + 1  # a last line without its newline is still being written
                    rest = data[end:]
                    # Split on newlines only: a JSON string may hold U+2028 and the like.
                    for raw in data[:end].decode("utf-8", errors="replace").split("\n")[:-1]:
                        number += 1
                        if raw.strip():
                            self._apply(raw, f"{path.name}:{number}")
        except OSError as error:
            self.skipped.append(f"{path}: cannot be read ({error.strerror})")
            return
        consumed = position - len(rest)
        if rest.strip():  # a last line without its newline: written by hand, or being written now
            text = rest.decode("utf-8", errors="replace")
            if self.final or _whole_json(text):
                number += 1
                self._apply(text, f"{path.name}:{number}")
                consumed = position
        self._read_to[path.name] = (inode, consumed, number)

    def _read_again(self) -> None:
        for path in log_files(self.directory):
            if path.name[len("search-") : len("search-YYYY-MM-DD")] >= self._first_day:
                self._read_file(path)

    def _apply(self, line: str, where: str) -> None:
        skipped, sessions = self.skipped, self._sessions
        try:
            event = json.loads(line)
        except json.JSONDecodeError as error:
            skipped.append(f"{where}: not JSON ({error.msg})")
            return
        if not isinstance(event, dict):
            skipped.append(f"{where}: not a JSON object")
            return
        kind = event.get("event")
        if kind == "search":
            session = _session(event)
            if session is None:
                skipped.append(f"{where}: a search without query_id, q or shown ids")
            else:
                sessions[session.query_id] = session
        elif kind == "click":
            query_id, doc_id = event.get("query_id"), event.get("id")
            if not isinstance(query_id, str) or not isinstance(doc_id, str):
                skipped.append(f"{where}: a click without query_id or id")
                return
            session = sessions.get(query_id)
            if session is not None and doc_id in session.shown:
                session.clicks.setdefault(doc_id, _number(event.get("ts"), 0.0))
        elif kind is None:
            skipped.append(f"{where}: no event kind")
        # another kind of event: not ours to judge


def _whole_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _number(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _session(event: dict[str, object]) -> Session | None:
    query_id, query, shown = event.get("query_id"), event.get("q"), event.get("shown")
    if not isinstance(query_id, str) or not isinstance(query, str) or not isinstance(shown, list):
        return None
    if not all(isinstance(doc_id, str) for doc_id in shown):
        return None
    page, size = event.get("page"), event.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < len(shown):
        size = len(shown)  # logs written before the page length was: every page was full
    first_rank = 1 + (page - 1) * size if isinstance(page, int) and not isinstance(page, bool) and page > 1 else 1
    client, origin = event.get("client"), event.get("origin")
    return Session(
        query_id,
        query,
        list(shown),
        first_rank,
        _number(event.get("ts"), time.time()),
        client=client if isinstance(client, str) and client else None,
        origin=origin if isinstance(origin, str) and origin else None,
    )
