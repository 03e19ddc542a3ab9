"""Trending searches: the queries whose frequency in a recent window rose most against their own
baseline — not the most frequent ones, which the baseline expects.

For each query, ``recent`` counts its searches (that returned results) in the last ``window``
seconds and ``before`` those in the ``BASELINE_WINDOWS`` windows before it; the baseline
expects ``before / BASELINE_WINDOWS`` in a window. The rise is scored as (recent − expected) /
√(expected + 1): a query steady at 100 a day scores ~0, one that went from 0 to 8 scores 8.
A query needs ``min_count`` recent searches from at least ``min_clients`` distinct clients
(addresses: ``Session.source``), and nothing on the deny-list.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from zhisou.rank.clicks import Session
from zhisou.suggest.keys import MAX_CHARS, normalize
from zhisou.suggest.popular import MIN_CLIENTS, DenyList
from zhisou.values import parse_duration

BASELINE_WINDOWS = 7
MIN_COUNT = 3
DEFAULT_WINDOW = "1d"


@dataclass(frozen=True)
class Trend:
    text: str
    score: float
    recent: int
    expected: float

    def as_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "score": round(self.score, 3),
            "recent": self.recent,
            "expected": round(self.expected, 3),
        }


def window_seconds(window: str) -> float:
    """``6h``, ``1d``, ``7d`` … in seconds (one hour to a year)."""
    return parse_duration(window, "window", high=366 * 86_400)


def trending(
    sessions: Iterable[Session],
    *,
    now: float,
    window: float,
    min_count: int = MIN_COUNT,
    min_clients: int = MIN_CLIENTS,
    deny: DenyList | None = None,
) -> list[Trend]:
    """Rising queries, steepest first (see the module)."""
    start, baseline_start = now - window, now - window * (1 + BASELINE_WINDOWS)
    recent: dict[str, int] = {}
    before: dict[str, int] = {}
    clients: dict[str, set[str]] = {}
    for session in sessions:
        if not session.shown or session.ts < baseline_start or session.ts > now:
            continue
        text = normalize(session.query)
        if not text or len(text) > MAX_CHARS:
            continue
        if session.ts >= start:
            recent[text] = recent.get(text, 0) + 1
            if session.source:
                clients.setdefault(text, set()).add(session.source)
        else:
            before[text] = before.get(text, 0) + 1
    deny = deny or DenyList()
    out = []
    for text, count in recent.items():
        if count < min_count or len(clients.get(text, ())) < min_clients or deny.denies(text):
            continue
        expected = before.get(text, 0) / BASELINE_WINDOWS
        score = (count - expected) / math.sqrt(expected + 1.0)
        if score > 0:
            out.append(Trend(text, score, count, expected))
    out.sort(key=lambda trend: (-trend.score, trend.text))
    return out
