"""Evaluates any ``Query`` over an ``IndexReader`` (what the exhaustive strategy runs, and the
reference every other strategy is tested against).

Every clause becomes dense arrays over the reader's documents: a match mask and a score per
document. Term postings are gathered from all segments first, so statistics (N, avgdl, df)
count exactly the live documents of the whole index: a score does not depend on how the
index is split into segments or on deleted documents awaiting a merge.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from zhisou.analysis import Token
from zhisou.analysis.normalize import CJK_CHAR
from zhisou.analysis.pinyin import FULL, INITIALS
from zhisou.analysis.tokenizers import SUB_WORD, is_single_chinese_character
from zhisou.index.reader import IndexReader
from zhisou.index.termdict import term_key
from zhisou.search.parser import MAX_FUZZY_EXPANSIONS
from zhisou.search.plan import QueryTerms
from zhisou.search.query import BooleanQuery, MatchAllQuery, PhraseQuery, Query, RangeQuery, TermQuery
from zhisou.search.query_terms import query_terms
from zhisou.search.similarity import BM25, Similarity
from zhisou.search.stats import ReaderStats
from zhisou.values import date_span, parse_number

MAX_PREFIX_EXPANSIONS = 1024  # terms of a prefix or one-character query handed to the highlighter (all are scored)
PREFIX_BATCH_POSTINGS = 1 << 22  # a prefix's postings decoded at most this many at a time (but one term whole)
_NOT_WORDS = frozenset((SUB_WORD, FULL, INITIALS))  # first characters of forms that are not words


@dataclass
class Postings:
    """Live postings of one term over the whole reader (global doc ids, ascending)."""

    docs: np.ndarray
    freqs: np.ndarray


@dataclass
class Matches:
    mask: np.ndarray
    scores: np.ndarray


class Executor:
    def __init__(
        self,
        reader: IndexReader,
        stats: ReaderStats,
        similarity: Similarity | None = None,
        default_fields: tuple[str, ...] | None = None,
        terms: QueryTerms | None = None,
    ) -> None:
        self.reader = reader
        self.stats = stats
        self.similarity = similarity or BM25()
        self.schema = reader.schema
        self.default_fields = default_fields or tuple(f.name for f in self.schema.text_fields)
        self.terms = terms if terms is not None else QueryTerms()
        self._postings: dict[bytes, Postings] = {}
        self._size = reader.max_doc

    # -- postings --------------------------------------------------------------------------
    def _union_postings(self, keys: tuple[bytes, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(docs, summed frequencies) over several keys: a word and the same word as a sub-word."""
        parts = [self.postings(key) for key in keys]
        parts = [part for part in parts if len(part.docs)]
        if len(parts) <= 1:
            return (parts[0].docs, parts[0].freqs) if parts else (np.zeros(0, np.int64), np.zeros(0, np.int32))
        docs = np.concatenate([part.docs for part in parts])
        freqs = np.concatenate([part.freqs for part in parts]).astype(np.int64)
        unique, inverse = np.unique(docs, return_inverse=True)
        return unique, np.bincount(inverse, weights=freqs).astype(np.int32)

    def postings(self, key: bytes) -> Postings:
        cached = self._postings.get(key)
        if cached is not None:
            return cached
        docs_parts, freq_parts = [], []
        for segment, base in zip(self.reader.segments, self.reader.bases):
            docs, freqs = segment.postings(key)  # bound-checked
            if not len(docs):
                continue
            if segment.live is not None:
                keep = segment.live[docs]
                docs, freqs = docs[keep], freqs[keep]
            docs_parts.append(docs.astype(np.int64) + int(base))
            freq_parts.append(freqs)
        if docs_parts:
            result = Postings(np.concatenate(docs_parts), np.concatenate(freq_parts))
        else:
            result = Postings(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))
        self._postings[key] = result
        return result

    def empty(self) -> Matches:
        return Matches(np.zeros(self._size, dtype=np.bool_), np.zeros(self._size))

    def _scored(self, docs: np.ndarray, scores: np.ndarray) -> Matches:
        out = self.empty()
        out.mask[docs] = True
        out.scores[docs] = scores
        return out

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, query: Query) -> Matches:
        result = self._evaluate(query)
        result.mask &= self.reader.live
        result.scores[~result.mask] = 0.0
        return result

    def _evaluate(self, query: Query) -> Matches:
        if isinstance(query, RangeQuery):
            return self._range(query)
        if isinstance(query, MatchAllQuery):
            return Matches(self.reader.live.copy(), np.zeros(self._size))
        if isinstance(query, TermQuery):
            found = self._over_fields(query.field, lambda f: self._term(f, query))
        elif isinstance(query, PhraseQuery):
            found = self._over_fields(query.field, lambda f: self._phrase(f, query.text, query.slop))
        elif isinstance(query, BooleanQuery):
            found = self._boolean(query)
        else:
            raise TypeError(f"unknown query node {query!r}")
        if query.boost != 1.0:
            found.scores *= query.boost  # a new array of this node's (never a cached one)
        return found

    def _over_fields(self, field_name: str | None, evaluate_field) -> Matches:  # type: ignore[no-untyped-def]
        names = (field_name,) if field_name is not None else self.default_fields
        total = self.empty()
        for name in names:
            part = evaluate_field(name)
            total.mask |= part.mask
            total.scores += part.scores
        return total

    def _term(self, field_name: str, query: TermQuery) -> Matches:
        spec = self.schema.get(field_name)
        if field_name == self.schema.id_field:
            analyzer, boost, scored = self.reader.analyzers.get("exact"), 1.0, False
        elif spec is None:
            return self.empty()
        else:
            analyzer = self.reader.analyzers.get(spec.analyzer_name)
            boost, scored = spec.boost, spec.type == "text"
        if query.prefix:
            return self._prefix(field_name, query.text, boost, scored)
        if scored:
            terms = query_terms(self.reader, field_name, analyzer, query.text, pinyin=spec is not None and spec.pinyin)
        else:
            terms = [(term, 1.0) for term in analyzer.stream(query.text, for_query=True).terms]
        total = self.empty()
        if scored and len(terms) == 1 and is_single_chinese_character(terms[0][0]):
            total = self._containing(field_name, terms[0][0], boost)
        for term, weight in terms:  # a repeated token counts again, as in Lucene
            if query.fuzzy and scored and not CJK_CHAR.search(term):
                part = self._fuzzy(field_name, term, query.fuzzy, boost * weight)
                total.mask |= part.mask
                total.scores += part.scores
                continue
            key = term_key(field_name, term)
            postings = self.postings(key)
            if scored:
                self.terms.add(field_name, term)
                idf = self._idf(field_name, [key])
                part = self._bm25(field_name, postings.docs, postings.freqs, idf, boost * weight)
            else:
                part = self._scored(postings.docs, np.zeros(len(postings.docs)))
            total.mask |= part.mask
            total.scores += part.scores
        return total

    def _fuzzy(self, field_name: str, term: str, edits: int, boost: float) -> Matches:
        """The field's words at most ``edits`` edits from ``term`` (a transposition is one), as
        Lucene's fuzzy query scores them: one idf for all (the most frequent one's, so a rare
        misspelling does not outrank the word meant), each weighted by its closeness
        1 − edits / the shorter length."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        by_length = self._vocabulary(field_name)
        found: list[tuple[str, int]] = []
        options = {"scorer": OSA.distance, "score_cutoff": edits, "limit": MAX_FUZZY_EXPANSIONS}
        for length in range(max(1, len(term) - edits), len(term) + edits + 1):  # an edit changes it by one
            words = by_length.get(length, [])
            found += [(word, int(distance)) for word, distance, _ in process.extract(term, words, **options)]
        found = sorted(found, key=lambda pair: (pair[1], pair[0]))[:MAX_FUZZY_EXPANSIONS]  # closest, then by word
        if not found:
            return self.empty()
        keys = [term_key(field_name, word) for word, _ in found]
        live = np.array([len(self.postings(key).docs) for key in keys], dtype=np.int64)
        stats = self.stats.field(field_name)
        idf = self.similarity.idf(int(self.stats.doc_freqs(keys, live).max()), stats)
        lengths = self.stats.lengths(field_name)
        docs_parts, score_parts = [], []
        for (word, distance), key in zip(found, keys):
            postings = self.postings(key)
            if not len(postings.docs):
                continue
            self.terms.add(field_name, word)
            closeness = 1.0 - distance / min(len(term), len(word))
            scores = self.similarity.score(idf, postings.freqs, lengths[postings.docs], stats)
            docs_parts.append(postings.docs)
            score_parts.append(boost * closeness * scores)
        return self._summed(docs_parts, score_parts)  # up to 50 words

    def _vocabulary(self, field_name: str) -> dict[int, list[str]]:
        """The field's indexed words (no sub-word or pinyin forms) by length, once per reader."""
        memo = self.reader.memo.setdefault("fuzzy-vocabulary", {})
        found = memo.get(field_name)
        if found is None:
            words: set[str] = set()
            for segment in self.reader.segments:
                terms, _, _ = segment.field_terms(field_name, remember=False)
                words.update(terms)
            found = {}
            for word in sorted(words):
                if word and word[0] not in _NOT_WORDS:
                    found.setdefault(len(word), []).append(word)
            memo[field_name] = found
        return found

    def _containing(self, field_name: str, char: str, boost: float) -> Matches:
        """The indexed words that contain ``char``, each scored as a term of its own and summed
        (a one-character query also finds ``索引`` for ``索``): every such word, however many,
        summed sparsely (a common character is in thousands); the highlighter is told the
        ``MAX_PREFIX_EXPANSIONS`` found in the most documents."""
        found: set[str] = set()
        prefix_length = len(term_key(field_name, ""))
        for segment in self.reader.segments:
            for ordinal in segment.terms_containing(field_name, char):
                found.add(segment.term_text(ordinal, prefix_length))
        words = sorted(found)
        if not words:
            return self.empty()
        keys = [term_key(field_name, word) for word in words]
        postings = [self.postings(key) for key in keys]
        live = np.array([len(p.docs) for p in postings], dtype=np.int64)
        stats = self.stats.field(field_name)
        lengths = self.stats.lengths(field_name)
        docs_parts, score_parts = [], []
        for p, doc_freq in zip(postings, self.stats.doc_freqs(keys, live).tolist()):
            if len(p.docs):
                idf = self.similarity.idf(int(doc_freq), stats)
                docs_parts.append(p.docs)
                score_parts.append(boost * self.similarity.score(idf, p.freqs, lengths[p.docs], stats))
        for number in sorted(np.flatnonzero(live).tolist(), key=lambda n: -live[n])[:MAX_PREFIX_EXPANSIONS]:
            self.terms.add(field_name, words[number])
        return self._summed(docs_parts, score_parts)

    def _summed(self, docs_parts: list[np.ndarray], score_parts: list[np.ndarray]) -> Matches:
        """Several words' (docs, scores) added up sparsely: one dense array per word would cost
        the reader's size each."""
        total = self.empty()
        if docs_parts:
            docs = np.concatenate(docs_parts)
            total.mask[docs] = True
            total.scores += np.bincount(docs, weights=np.concatenate(score_parts), minlength=self._size)
        return total

    def _idf(self, field_name: str, keys: list[bytes]) -> float:
        stats = self.stats.field(field_name)
        live = np.array([len(self.postings(k).docs) for k in keys], dtype=np.int64)
        return sum(self.similarity.idf(int(df), stats) for df in self.stats.doc_freqs(keys, live))

    def _bm25(self, field_name: str, docs: np.ndarray, freqs: np.ndarray, idf: float, boost: float) -> Matches:
        if not len(docs):
            return self.empty()
        stats = self.stats.field(field_name)
        lengths = self.stats.lengths(field_name)[docs]
        return self._scored(docs, boost * self.similarity.score(idf, freqs, lengths, stats))

    def _prefix(self, field_name: str, text: str, boost: float, scored: bool) -> Matches:
        """Constant-score prefix match (score = field boost), as Elasticsearch does: every term
        with the prefix counts, however many (Lucene's constant-score rewrite); the
        highlighter is told the first ``MAX_PREFIX_EXPANSIONS`` of them."""
        from zhisou.analysis.normalize import fold

        prefix = term_key(field_name, fold(text).text)
        field_length = len(term_key(field_name, ""))
        total = self.empty()
        shown: set[str] = set()
        for segment, base in zip(self.reader.segments, self.reader.bases):
            ordinals = segment.terms.prefix_range(prefix)
            if not ordinals:
                continue
            # The terms' postings decoded a batch of terms at a time (at most ~32 MB of them).
            ends = np.cumsum(segment.term_info[ordinals.start : ordinals.stop, 1], dtype=np.int64)
            low = ordinals.start
            while low < ordinals.stop:
                done = int(ends[low - ordinals.start - 1]) if low > ordinals.start else 0
                high = ordinals.start + int(np.searchsorted(ends, done + PREFIX_BATCH_POSTINGS, side="right"))
                high = min(max(high, low + 1), ordinals.stop)
                docs, _ = segment.postings_of_rows(low, high)
                total.mask[docs.astype(np.int64) + int(base)] = True
                low = high
            if scored and len(shown) < MAX_PREFIX_EXPANSIONS:
                for ordinal in ordinals[: MAX_PREFIX_EXPANSIONS - len(shown)]:
                    shown.add(segment.term_text(ordinal, field_length))
        if scored:
            for term in sorted(shown)[:MAX_PREFIX_EXPANSIONS]:
                self.terms.add(field_name, term)
            total.scores[total.mask] = boost
        return total

    def _phrase(self, field_name: str, text: str, slop: int = 0) -> Matches:
        spec = self.schema.get(field_name)
        if spec is None or spec.type != "text":
            return self.empty()
        tokens = _phrase_tokens(self.reader.analyzers.get(spec.analyzer_name).analyze(text))
        if not tokens:
            return self.empty()
        for token in tokens:
            self.terms.add(field_name, token.text)
        # A piece of the phrase may be a word in one document and a sub-word in another: either.
        forms = [_both_forms(field_name, t.text) for t in tokens]
        keys = [max(pair, key=lambda key: len(self.postings(key).docs)) for pair in forms]  # for idf
        if len(tokens) == 1:
            docs, freqs = self._union_postings(forms[0])
            total = self._bm25(field_name, docs, freqs, self._idf(field_name, keys), spec.boost)
            if is_single_chinese_character(tokens[0].text):  # "擎": the character inside 引擎 too
                part = self._containing(field_name, tokens[0].text, spec.boost)
                total.mask |= part.mask
                total.scores += part.scores
            return total
        first = tokens[0].position
        offsets = [t.position - first for t in tokens]
        docs_parts, freq_parts = [], []
        for segment, base in zip(self.reader.segments, self.reader.bases):
            found = _phrase_in_segment(segment, forms, offsets, slop)
            if found is None:
                continue
            docs, freqs = found
            if segment.live is not None:
                keep = segment.live[docs]
                docs, freqs = docs[keep], freqs[keep]
            docs_parts.append(docs.astype(np.int64) + int(base))
            freq_parts.append(freqs)
        if not docs_parts:
            return self.empty()
        return self._bm25(
            field_name, np.concatenate(docs_parts), np.concatenate(freq_parts), self._idf(field_name, keys), spec.boost
        )

    def _range(self, query: RangeQuery) -> Matches:
        spec = self.schema.get(query.field)
        if spec is None or spec.type not in ("date", "number"):
            return self.empty()
        values = self.stats.column(query.field)
        mask = ~np.isnan(values)
        if query.lower is not None:
            if spec.type == "date":
                start, end = date_span(query.lower)
                mask &= values >= start if query.include_lower else values >= end
            else:
                bound = parse_number(query.lower)
                mask &= values >= bound if query.include_lower else values > bound
        if query.upper is not None:
            if spec.type == "date":
                start, end = date_span(query.upper)
                mask &= values < end if query.include_upper else values < start
            else:
                bound = parse_number(query.upper)
                mask &= values <= bound if query.include_upper else values < bound
        return Matches(mask, np.zeros(self._size))

    def _boolean(self, query: BooleanQuery) -> Matches:
        size = self._size
        scores = np.zeros(size)
        mask: np.ndarray | None = None
        for clause in query.must:
            part = self._evaluate(clause)
            mask = part.mask if mask is None else mask & part.mask
            scores += part.scores
        for clause in query.filter:
            part = self._evaluate(clause)
            mask = part.mask if mask is None else mask & part.mask
        if query.should:
            should_count = np.zeros(size, dtype=np.int32)
            for clause in query.should:
                part = self._evaluate(clause)
                should_count += part.mask
                scores += part.scores
            required = query.minimum_should_match
            if mask is None:
                mask = should_count >= max(1, required)
            elif required:
                mask &= should_count >= required
        if mask is None:  # only must_not clauses: everything else matches
            mask = self.reader.live.copy()
        for clause in query.must_not:
            mask &= ~self._evaluate(clause).mask
        scores[~mask] = 0.0
        return Matches(mask, scores)


def _phrase_tokens(tokens: list[Token]) -> list[Token]:
    """The finest tokens of a phrase: drop a search-mode word when a shorter token lies inside it.

    The finest split matches documents whatever granularity they were segmented at, because
    sub-words are indexed at the position of their first character. Tokens are sorted by start
    and only those starting inside a token can lie inside it, so this is linear in the phrase
    length (tokens are words: a few characters each).
    """
    ordered = sorted(tokens, key=lambda t: (t.start, t.end))
    starts = [t.start for t in ordered]
    kept = []
    for token in ordered:
        inner = False
        for index in range(bisect.bisect_left(starts, token.start), len(ordered)):
            other = ordered[index]
            if other.start >= token.end:
                break
            if other is not token and other.end <= token.end and (other.end - other.start) < (token.end - token.start):
                inner = True
                break
        if not inner:
            kept.append(token)
    kept.sort(key=lambda t: (t.position, t.start))
    return kept


def _sloppy_phrase(
    encoded_terms: list[tuple[int, np.ndarray, list[int]]], slop: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(local docs, sloppy frequencies) of the documents holding every piece within ``slop``
    (``kernels.sloppy_phrase_freqs``); ``encoded_terms``: each distinct piece's (doc << 32 |
    position) pairs, sorted, and its offsets in the phrase. Frequencies are fractional, as in
    Lucene: an exact occurrence counts 1, one at spread d counts 1 / (1 + d)."""
    from zhisou.search import kernels

    candidates: np.ndarray | None = None
    for _, encoded, _ in encoded_terms:
        docs = np.unique(encoded >> 32)
        candidates = docs if candidates is None else np.intersect1d(candidates, docs, assume_unique=True)
    if candidates is None or not len(candidates):
        return None
    places, first, last, offsets, words = [], [], [], [], []
    size = 0
    for word, (_, encoded, term_offsets) in enumerate(encoded_terms):
        docs = encoded >> 32
        begin, end = np.searchsorted(docs, candidates, "left"), np.searchsorted(docs, candidates, "right")
        positions = encoded & 0xFFFFFFFF
        for offset in term_offsets:  # a repeated word is one piece per place it takes
            places.append(positions - offset)
            first.append(begin + size)
            last.append(end + size)
            offsets.append(offset)
            words.append(word)
            size += len(encoded)
    freqs = kernels.sloppy_phrase_freqs(
        np.concatenate(places),
        np.array(first),
        np.array(last),
        slop,
        np.array(offsets, dtype=np.int64),
        np.array(words, dtype=np.int64),
    )
    found = freqs > 0
    return candidates[found].astype(np.int32), freqs[found]


def _both_forms(field_name: str, text: str) -> tuple[bytes, ...]:
    """The keys a phrase piece may be indexed under: a Chinese word as a word or as a sub-word."""
    bare = text.removeprefix(SUB_WORD)
    if not CJK_CHAR.match(bare):
        return (term_key(field_name, text),)
    return (term_key(field_name, bare), term_key(field_name, SUB_WORD + bare))


def _phrase_in_segment(
    segment, forms: list[tuple[bytes, ...]], offsets: list[int], slop: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:  # type: ignore[no-untyped-def]
    """(local docs, phrase frequencies) where every piece sits at its offset from the first —
    or, with ``slop``, within that spread of it (``_sloppy_phrase``); a piece is any of its
    keys (``forms``: a word or the same word as a sub-word).

    Each distinct piece's (doc, position) pairs are built once; pieces are intersected rarest
    first and the search stops as soon as nothing is left, so a phrase costs one pass over its
    terms' positions, not one per word pair.
    """
    wanted: dict[tuple[bytes, ...], list[int]] = {}
    for keys, offset in zip(forms, offsets):
        wanted.setdefault(keys, []).append(offset)
    encoded_terms = []
    for keys, term_offsets in wanted.items():
        parts = []
        for ordinal in segment.terms.ordinals(list(keys)).tolist():
            if ordinal < 0:
                continue
            docs, freqs = segment.postings_at(ordinal)
            positions = segment.positions_at(ordinal).astype(np.int64)
            parts.append((np.repeat(docs.astype(np.int64), freqs) << 32) | (positions & 0xFFFFFFFF))
        if not parts:
            return None
        encoded = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))
        encoded_terms.append((len(encoded), encoded, term_offsets))
    if slop:
        return _sloppy_phrase(encoded_terms, slop)
    encoded_terms.sort(key=lambda item: item[0])
    matches: np.ndarray | None = None
    for _, encoded, term_offsets in encoded_terms:
        for offset in term_offsets:
            # (doc, position - offset): where the phrase would start for this occurrence.
            starts = encoded - offset
            matches = starts if matches is None else np.intersect1d(matches, starts)
            if not len(matches):
                return None
    assert matches is not None
    docs, counts = np.unique(matches >> 32, return_counts=True)
    return docs.astype(np.int32), counts.astype(np.int32)
