"""Token filters: small steps an analyzer chains after its tokenizer (stream in, stream out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import Stemmer

from zhisou.analysis.tokenizers import TokenStream


class TokenFilter(Protocol):
    def __call__(self, stream: TokenStream) -> TokenStream: ...


class StopFilter:
    """Drops stopwords; positions are kept, so phrases still see the gap (as in Lucene)."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(words)

    def __call__(self, stream: TokenStream) -> TokenStream:
        words = self.words
        if words.isdisjoint(stream.terms):
            return stream
        return stream.keep([i for i, term in enumerate(stream.terms) if term not in words])


class StemFilter:
    """Snowball stemming (PyStemmer) of non-Chinese words, through a memo of seen words."""

    def __init__(self, language: str = "english", cache_size: int = 200_000) -> None:
        self._language = language
        # PyStemmer's own cache (10,000 words by default) is off: the memo here does that job,
        # and once a vocabulary outgrows it, its upkeep made every miss cost 1.4 µs instead of
        # 0.3 µs (a corpus of 330k distinct words: ~4 µs of every document's analysis).
        self._stemmer = Stemmer.Stemmer(language, 0)
        self._memo: dict[str, str] = {}
        self._cache_size = cache_size

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as its settings (the C stemmer is rebuilt; the memo starts empty)."""
        return {"language": self._language, "cache_size": self._cache_size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["language"], state["cache_size"])  # type: ignore[misc]

    def _stem(self, word: str) -> str:
        stem = self._stemmer.stemWord(word)
        if len(self._memo) < self._cache_size:
            self._memo[word] = stem
        return stem

    def __call__(self, stream: TokenStream) -> TokenStream:
        if all(stream.cjk):  # Chinese words only (most Chinese queries): nothing to stem
            return stream
        memo = self._memo
        stream.terms = [
            term if is_cjk else (memo.get(term) or self._stem(term)) for term, is_cjk in zip(stream.terms, stream.cjk)
        ]
        return stream


class SynonymFilter:
    """Adds the synonyms of a term at the same position (query time only, so no reindexing)."""

    def __init__(self, synonyms: Mapping[str, tuple[str, ...]]) -> None:
        self._synonyms = synonyms

    def __call__(self, stream: TokenStream) -> TokenStream:
        order: list[int] = []
        extra: list[str | None] = []
        for index, term in enumerate(stream.terms):
            order.append(index)
            extra.append(None)
            for synonym in self._synonyms.get(term, ()):
                if synonym != term:
                    order.append(index)
                    extra.append(synonym)
        if len(order) == len(stream.terms):
            return stream
        expanded = stream.keep(order)
        expanded.terms = [
            term if replacement is None else replacement for term, replacement in zip(expanded.terms, extra)
        ]
        return expanded
