"""Related searches: other logged queries for a query, shown under its results.

First by co-click: the logged queries whose clicked documents overlap most with this query's
results (people who clicked the same documents were after the same thing), more shared documents
first, then the more popular. When the log has too few of those, the popular logged queries that
share this query's most distinctive word (the one fewest documents hold) fill the list. Only
queries autocomplete may offer (enough distinct clients, nothing denied) are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from zhisou.rank.clicks import Session
from zhisou.suggest.keys import normalize
from zhisou.suggest.popular import PopularQuery


class CoClicks:
    """Which documents each query's searches led to (clicked), for the queries given."""

    def __init__(self, sessions: Iterable[Session], popular: Sequence[PopularQuery]) -> None:
        self.popular = {query.text: query for query in popular}
        self.clicked: dict[str, set[str]] = {}
        for session in sessions:
            if not session.clicks:
                continue
            text = normalize(session.query)
            if text in self.popular:
                self.clicked.setdefault(text, set()).update(session.clicks)

    def related(
        self,
        query: str,
        results: Sequence[str],
        size: int,
        words: Callable[[str], list[str]],
        rarity: Callable[[list[str]], list[int]],
    ) -> list[str]:
        """Up to ``size`` related queries for ``query`` whose results are the ids ``results``.
        ``words``: a text's words; ``rarity``: how many documents hold each word (lower: more
        distinctive)."""
        own = normalize(query)
        shown = set(results)
        scored = []
        for text, docs in self.clicked.items():
            shared = len(docs & shown)
            if shared and text != own:
                scored.append((-shared, -self.popular[text].weight, text))
        out = [text for *_, text in sorted(scored)][:size]
        if len(out) < size:
            query_words = list(dict.fromkeys(words(own)))
            if query_words:
                counts = rarity(query_words)
                distinctive = min(zip(counts, query_words))[1]
                for text in self.popular:  # heaviest first
                    if len(out) >= size:
                        break
                    if text != own and text not in out and distinctive in words(text):
                        out.append(text)
        return out
