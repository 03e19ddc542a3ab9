"""Search log: what was asked, what was shown, what was clicked — one JSON object per line,
append-only, one file per UTC day under ``<index>/logs/``. Learning to rank trains from it.

Each search gets a ``query_id``; a click names it, so shown lists and clicks join up.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class SearchLog:
    def __init__(self, directory: Path, enabled: bool = True) -> None:
        self.directory = directory
        self.enabled = enabled
        self._lock = threading.Lock()

    def _append(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        now = time.time()
        record = {"ts": round(now, 3), **event}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        path = self.directory / time.strftime("search-%Y-%m-%d.jsonl", time.gmtime(now))
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(line)

    def search(self, query: str, mode: str, page: int, shown: list[str], filters: dict[str, Any]) -> str:
        """Record a search; returns its ``query_id``."""
        query_id = uuid.uuid4().hex[:16]
        self._append(
            {
                "event": "search",
                "query_id": query_id,
                "q": query,
                "mode": mode,
                "page": page,
                "filters": filters,
                "shown": shown,
            }
        )
        return query_id

    def click(self, query_id: str, doc_id: str, rank: int) -> None:
        self._append({"event": "click", "query_id": query_id, "id": doc_id, "rank": rank})

    def events(self) -> Iterator[dict[str, Any]]:
        """Every recorded event, oldest file first."""
        for path in sorted(self.directory.glob("search-*.jsonl")):
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        yield json.loads(line)
