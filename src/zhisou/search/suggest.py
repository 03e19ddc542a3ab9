"""Did-you-mean: replace query words the index does not know by the closest known word.

The candidates are the surface words of the stored text (tokenized and folded, not stemmed,
so a suggestion reads as a word), counted over at most ``MAX_DOCUMENTS`` documents of the
snapshot, spread evenly over it (the newest documents, last in the index, count as the first
ones do), and built on first use. Closeness is edit distance counting a transposition as one
edit (optimal string alignment, from rapidfuzz): one edit for words of three to five
characters, two for longer ones; among equally close words the most frequent wins, as in
Lucene's DirectSpellChecker.
"""

from __future__ import annotations

from collections import Counter

from rapidfuzz import process
from rapidfuzz.distance import OSA

from zhisou.analysis.tokenizers import SUB_WORD
from zhisou.index.reader import IndexReader
from zhisou.search.parser import KEYWORDS

MAX_DOCUMENTS = 10_000  # ~1 s of tokenizing on first use; a larger index samples documents evenly


def _max_edits(word: str) -> int:
    return 0 if len(word) < 3 else 1 if len(word) <= 5 else 2


class Suggester:
    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader
        self._counts: Counter[str] | None = None
        self._words: list[str] = []

    def _vocabulary(self) -> Counter[str]:
        if self._counts is None:
            counts: Counter[str] = Counter()
            fields = self.reader.schema.text_fields
            step = max(1, -(-self.reader.max_doc // MAX_DOCUMENTS))  # ceiling: at most MAX_DOCUMENTS
            for doc in range(0, self.reader.max_doc, step):
                if not self.reader.live[doc]:
                    continue
                stored = self.reader.stored(doc)
                for spec in fields:
                    value = stored.get(spec.name)
                    if isinstance(value, str):
                        counts.update(self._words_of(value, spec.analyzer_name))
            self._counts = counts
            self._words = list(counts)
        return self._counts

    def _words_of(self, text: str, analyzer: str) -> list[str]:
        """Words as a reader sees them: not the straddling sub-words the index keeps apart."""
        terms = self.reader.analyzers.get(analyzer).tokenizer.stream(text, offsets=False).terms
        return [term for term in terms if not term.startswith(SUB_WORD)]

    def _query_analyzer(self) -> str:
        """The analyzer that cuts the query into words: the one most text fields use (the first
        declared on a tie), so a query is cut as the words it is checked against were."""
        names = Counter(spec.analyzer_name for spec in self.reader.schema.text_fields)
        return max(names, key=names.__getitem__)  # Counter keeps declaration order; max keeps the first

    def suggest(self, query: str) -> str | None:
        """The query with unknown words corrected in place, or None when there is nothing to
        correct. The rest of the query is kept as typed: quotes, ``-``, operators and field names
        (a word followed by a colon) are syntax, not words to correct."""
        counts = self._vocabulary()
        stream = self.reader.analyzers.get(self._query_analyzer()).tokenizer.stream(query, offsets=True)
        out, end = [], 0
        for word, start, stop in zip(stream.terms, stream.starts, stream.ends, strict=True):
            if word.startswith(SUB_WORD) or word in counts or not (limit := _max_edits(word)):
                continue
            if query[start:stop] in KEYWORDS or query[stop : stop + 1] in (":", "："):
                continue
            matches = process.extract(word, self._words, scorer=OSA.distance, score_cutoff=limit, limit=20)
            if matches and start >= end:
                out += [query[end:start], min(matches, key=lambda match: (match[1], -counts[match[0]], match[0]))[0]]
                end = stop
        return "".join([*out, query[end:]]).strip() if out else None
