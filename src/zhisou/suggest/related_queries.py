"""Related searches: other logged queries for a query, shown under its results.

First by co-click: the logged queries whose clicked documents overlap most with this query's
results (people who clicked the same documents were after the same thing), more shared documents
first, then the more popular. When the log has too few of those, the popular logged queries that
share this query's most distinctive word (the one fewest documents hold) fill the list. Only
queries autocomplete may offer (enough distinct clients, nothing denied) are shown.

Both lookups go through maps built once per reading of the log — document → queries that led to
a click on it, word → queries holding it (the ``WORD_POOL`` most popular) — so a search costs
its results' entries, not a pass over the log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence

from zhisou.rank.clicks import Session
from zhisou.suggest.keys import normalize
from zhisou.suggest.popular import PopularQuery

WORD_POOL = 20_000  # the most popular queries the word fallback draws from


class CoClicks:
    """Which queries led to clicks on each document, and which popular queries hold each word."""

    def __init__(self, sessions: Iterable[Session], popular: Sequence[PopularQuery]) -> None:
        self.popular = {query.text: query for query in popular}
        self.by_doc: dict[str, set[str]] = {}
        for session in sessions:
            if not session.clicks:
                continue
            text = normalize(session.query)
            if text in self.popular:
                for doc in session.clicks:
                    self.by_doc.setdefault(doc, set()).add(text)
        self._by_word: dict[Hashable, dict[str, list[str]]] = {}

    def related(
        self,
        query: str,
        results: Sequence[str],
        size: int,
        words: Callable[[str], list[str]],
        rarity: Callable[[list[str]], list[int]],
        analysis: Hashable = None,
    ) -> list[str]:
        """Up to ``size`` related queries for ``query`` whose results are the ids ``results``.
        ``words``: a text's words; ``rarity``: how many documents hold each word (lower: more
        distinctive); ``analysis``: what ``words`` depends on (its word map is kept under it)."""
        own = normalize(query)
        shared: Counter[str] = Counter()
        for doc in set(results):
            shared.update(self.by_doc.get(doc, ()))
        shared.pop(own, None)
        out = sorted(shared, key=lambda text: (-shared[text], -self.popular[text].weight, text))[:size]
        if len(out) < size:
            query_words = list(dict.fromkeys(words(own)))
            if query_words:
                distinctive = min(zip(rarity(query_words), query_words))[1]
                for text in self.prepare(words, analysis).get(distinctive, ()):  # heaviest first
                    if len(out) >= size:
                        break
                    if text != own and text not in out:
                        out.append(text)
        return out

    def prepare(self, words: Callable[[str], list[str]], analysis: Hashable) -> dict[str, list[str]]:
        """The word → queries map for ``analysis``, made on first use (a reader of the log makes
        it ahead, so that no search pays for analysing the pool)."""
        found = self._by_word.get(analysis)
        if found is None:
            found = {}
            for text in list(self.popular)[:WORD_POOL]:  # ``popular`` is heaviest first
                for word in dict.fromkeys(words(text)):
                    found.setdefault(word, []).append(text)
            self._by_word[analysis] = found
        return found
