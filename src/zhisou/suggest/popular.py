"""Popular past queries, from the search log: what autocomplete offers before the index's own
phrases.

A logged search counts when it returned results. Its weight decays with age (halved every
``HALF_LIFE_DAYS``); a query's weight is the sum over its searches times (1 + its click-through
rate: the share of its searches with a click), so a query people act on ranks above one they
retype. Privacy: a query seen from fewer than ``min_clients`` distinct clients (a client is the
hashed address the server logged — ``Session.source`` — so that made-up session cookies from one
address count once; searches logged without one count for none) is never offered, nor is one
that holds an entry of the deny-list.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zhisou.errors import ZhisouError
from zhisou.rank.clicks import Session
from zhisou.suggest.keys import MAX_CHARS, normalize

HALF_LIFE_DAYS = 14.0
MIN_CLIENTS = 3
CLIENTS_COUNTED_BY = "origin"  # Session.source: the address, else the logged client
DAY = 86_400.0


@dataclass(frozen=True)
class PopularQuery:
    text: str  # normalized
    weight: float
    searches: int
    clicked: int  # searches with at least one click
    clients: int


class DenyList:
    """Entries (folded) that no suggestion may contain: a file of one entry a line, ``#`` for
    comments. Matching is by substring of the folded text, so 赌博 also stops 网上赌博平台."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.entries = tuple(sorted({normalize(entry) for entry in entries if normalize(entry)}))

    @classmethod
    def load(cls, path: Path | None) -> DenyList:
        if path is None or not path.exists():
            return cls()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ZhisouError(f"cannot read the deny-list {path}: {error}; fix or remove the file") from None
        return cls(line for line in lines if line.strip() and not line.lstrip().startswith("#"))

    def denies(self, text: str) -> bool:
        if not self.entries:
            return False
        folded = normalize(text)
        return any(entry in folded for entry in self.entries)


def popular_queries(
    sessions: Iterable[Session],
    *,
    now: float,
    min_clients: int = MIN_CLIENTS,
    deny: DenyList | None = None,
    half_life_days: float = HALF_LIFE_DAYS,
) -> list[PopularQuery]:
    """The queries that may be suggested, heaviest first (see the module)."""
    decay = math.log(2) / (half_life_days * DAY)
    weights: dict[str, float] = {}
    searches: dict[str, int] = {}
    clicked: dict[str, int] = {}
    clients: dict[str, set[str]] = {}
    normalized: dict[str, str] = {}  # a query is searched again and again: fold it once
    for session in sessions:
        if not session.shown:
            continue  # returned nothing: not a query to lead anyone to
        text = normalized.get(session.query)
        if text is None:
            text = normalized[session.query] = normalize(session.query)
        if not text or len(text) > MAX_CHARS:
            continue
        weights[text] = weights.get(text, 0.0) + math.exp(-decay * max(now - session.ts, 0.0))
        searches[text] = searches.get(text, 0) + 1
        clicked[text] = clicked.get(text, 0) + bool(session.clicks)
        if session.source:
            clients.setdefault(text, set()).add(session.source)
    deny = deny or DenyList()
    out = [
        PopularQuery(text, weight * (1.0 + clicked[text] / searches[text]), searches[text], clicked[text], len(seen))
        for text, weight in weights.items()
        if len(seen := clients.get(text, set())) >= min_clients and not deny.denies(text)
    ]
    out.sort(key=lambda query: (-query.weight, query.text))
    return out
