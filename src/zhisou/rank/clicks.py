"""The search log read back as sessions: what was shown for a query, and what was clicked.

A *session* is one logged search: its query, the ids shown in order and which of them were
clicked. Lines that are not JSON objects, or search events without a query or shown list, are
counted and skipped — a log written by a crashing server or edited by hand must not stop
training. A click whose ``query_id`` was never logged (its search fell in a trimmed file) is
skipped likewise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from zhisou.serve.searchlog import log_files


@dataclass
class Session:
    query_id: str
    query: str
    shown: list[str]  # ids in the order shown, the page's first hit first
    first_rank: int  # 1-based rank of ``shown[0]`` (pages after the first start further down)
    ts: float
    clicks: dict[str, float] = field(default_factory=dict)  # id → time of its first click
    client: str | None = None  # the hashed address or session that searched, when logged

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
    sessions: dict[str, Session] = {}
    skipped: list[str] = []
    first_day = time.strftime("%Y-%m-%d", time.gmtime(since)) if since is not None else ""
    for path in log_files(directory):
        if path.name[len("search-") : len("search-YYYY-MM-DD")] < first_day:
            continue  # a whole day before ``since``: not even read
        for number, line in _lines(path, skipped):
            where = f"{path.name}:{number}"
            try:
                event = json.loads(line)
            except json.JSONDecodeError as error:
                skipped.append(f"{where}: not JSON ({error.msg})")
                continue
            if not isinstance(event, dict):
                skipped.append(f"{where}: not a JSON object")
                continue
            kind = event.get("event")
            if kind == "search":
                session = _session(event)
                if session is None:
                    skipped.append(f"{where}: a search without query_id, q or shown ids")
                elif since is None or session.ts >= since:
                    sessions[session.query_id] = session
            elif kind == "click":
                query_id, doc_id = event.get("query_id"), event.get("id")
                if not isinstance(query_id, str) or not isinstance(doc_id, str):
                    skipped.append(f"{where}: a click without query_id or id")
                    continue
                session = sessions.get(query_id)
                if session is not None and doc_id in session.shown:
                    session.clicks.setdefault(doc_id, _number(event.get("ts"), 0.0))
            elif kind is not None:
                continue  # another kind of event: not ours to judge
            else:
                skipped.append(f"{where}: no event kind")
    return LogReport(list(sessions.values()), skipped)


def _lines(path: Path, skipped: list[str]) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line
    except OSError as error:
        skipped.append(f"{path}: cannot be read ({error.strerror})")


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
    client = event.get("client")
    return Session(
        query_id,
        query,
        list(shown),
        first_rank,
        _number(event.get("ts"), time.time()),
        client=client if isinstance(client, str) and client else None,
    )
