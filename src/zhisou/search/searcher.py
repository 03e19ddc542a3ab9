"""Searcher: parses, evaluates, ranks, paginates and highlights over one reader snapshot."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from zhisou.analysis.tokenizers import has_single_chinese_word
from zhisou.errors import QuerySyntaxError, ZhisouError
from zhisou.index.reader import IndexReader
from zhisou.search.disjunction import (
    TRACK_TOTAL_HITS,
    DisjunctionPlan,
    plan_disjunction,
    score_disjunction,
    weighted_terms,
)
from zhisou.search.executor import Executor, QueryTerms, ReaderStats
from zhisou.search.facets import FacetCount, keyword_counts, year_counts
from zhisou.search.highlight import highlight
from zhisou.search.parser import FieldInfo, check_length, check_operator, parse_query, plain_query
from zhisou.search.query import BooleanQuery, MatchAllQuery, Query, TermQuery
from zhisou.search.related import distinctive_terms
from zhisou.search.results import Hit, SearchResult
from zhisou.search.similarity import BM25, Similarity
from zhisou.search.suggest import Suggester

FilterValue = str | int | float | Sequence[str]
MAX_PAGE_SIZE = 1000
# Hits a query can page through (Elasticsearch's ``index.max_result_window``): bounds the
# top-k heap whatever page is asked for.
MAX_RESULT_WINDOW = 10_000
# strategy → method of the compiled free-text path (None: the general executor).
STRATEGY_METHODS: dict[str, str | None] = {
    "auto": "taat",  # see score_disjunction for why auto does not prune
    "taat": "taat",
    "maxscore": "maxscore",
    "blockmax": "blockmax",
    "exhaustive": None,
}
STRATEGIES = tuple(STRATEGY_METHODS)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_arguments(
    page: object, size: object, sort: object, operator: object, minimum_should_match: object, track_total_hits: object
) -> None:
    """Refuse misuse of ``search`` with one clear line, before any work (and any overflow)."""
    if not _is_int(size) or not 1 <= size <= MAX_PAGE_SIZE:  # type: ignore[operator]
        raise ZhisouError(f"size must be between 1 and {MAX_PAGE_SIZE} (a whole number), got {size!r}")
    if not _is_int(page) or page < 1:  # type: ignore[operator]
        raise ZhisouError(f"page must be 1 or more (a whole number), got {page!r}")
    if page * size > MAX_RESULT_WINDOW:  # type: ignore[operator]
        raise ZhisouError(
            f"page {page} of {size} hits reaches past result {MAX_RESULT_WINDOW:,}; narrow the query or filter instead"
        )
    if sort is not None and not isinstance(sort, str):
        raise ZhisouError(f"sort must be a field name like '-date', got {type(sort).__name__}")
    check_operator(operator)  # type: ignore[arg-type]
    if not _is_int(minimum_should_match) or minimum_should_match < 0:  # type: ignore[operator]
        raise ZhisouError(f"minimum_should_match must be a whole number >= 0, got {minimum_should_match!r}")
    if not _is_int(track_total_hits) or track_total_hits < 0:  # type: ignore[operator]
        raise ZhisouError(f"track_total_hits must be a whole number >= 0, got {track_total_hits!r}")


class Searcher:
    """Read-only search over a fixed commit; stays valid while a writer goes on committing."""

    def __init__(self, reader: IndexReader, similarity: Similarity | None = None) -> None:
        self.reader = reader
        self.schema = reader.schema
        self.similarity = similarity or BM25()
        self._stats = ReaderStats(reader)
        fields = {f.name: FieldInfo(f.type) for f in self.schema.fields}
        fields[self.schema.id_field] = FieldInfo("keyword")
        self._fields = fields
        self._text_fields = tuple(f.name for f in self.schema.text_fields)
        self._suggester: Suggester | None = None

    @property
    def doc_count(self) -> int:
        return self.reader.doc_count

    def parse(self, query: str, *, default_operator: Literal["or", "and"] = "or") -> Query:
        return parse_query(query, self._fields, default_operator=default_operator)

    def filter_query(self, filters: Mapping[str, FilterValue] | Sequence[str | Query]) -> list[Query]:
        """Filters as queries: ``{"tags": ["a", "b"]}`` (any of), ``{"date": ">=2024"}``,
        ``["tags:a"]``, or ``Query`` objects already parsed (kept as they are)."""
        if isinstance(filters, Mapping):
            return [self.parse(self.filter_text(name, value)) for name, value in filters.items()]
        if isinstance(filters, str) or not isinstance(filters, Sequence):
            raise ZhisouError(f"filters must be a dict or a list of filter expressions, got {type(filters).__name__}")
        for item in filters:
            if not isinstance(item, str | Query):
                raise ZhisouError(f"a filter expression must be text, got {type(item).__name__}")
        return [item if isinstance(item, Query) else self.parse(item) for item in filters]

    def filter_text(self, name: str, value: FilterValue) -> str:
        """One filter in query syntax: ``field:"value"``, or an OR of them for several values;
        a date or number value may be a range (``>=2024``, ``[1 TO 5]``)."""
        if not isinstance(name, str) or name not in self._fields:
            known = ", ".join(self._fields)
            raise QuerySyntaxError(f"unknown filter field {name!r}; fields: {known}", str(name), 0)
        items = [value] if isinstance(value, str | int | float) else value
        if isinstance(items, bytes) or not isinstance(items, Sequence | set | frozenset):
            raise ZhisouError(f"filter {name!r}: expected text, a number or a list of them, got {type(value).__name__}")
        texts = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise ZhisouError(f"filter {name!r}: expected text or numbers, got {type(item).__name__}")
            text = str(item).strip()
            if self._fields[name].type in ("date", "number") and text[:1] in "<>[{":
                texts.append(f"{name}:{text}")
            else:
                escaped = text.replace("\\", "\\\\").replace('"', '\\"')
                texts.append(f'{name}:"{escaped}"')
        if not texts:
            raise ZhisouError(f"filter {name!r} has no values")
        return " OR ".join(f"({t})" for t in texts) if len(texts) > 1 else texts[0]

    def search(
        self,
        query: str | Query = "",
        *,
        page: int = 1,
        size: int = 10,
        filters: Mapping[str, FilterValue] | Sequence[str | Query] | None = None,
        sort: str | None = None,
        default_operator: Literal["or", "and"] = "or",
        minimum_should_match: int = 0,
        highlight_fields: Sequence[str] | None = None,
        fields: Sequence[str] | None = None,
        with_docs: bool = True,
        strategy: str = "auto",
        plain: bool = False,
        track_total_hits: int = TRACK_TOTAL_HITS,
        facets: Sequence[str] | None = None,
        facet_size: int = 10,
    ) -> SearchResult:
        """Run ``query`` and return page ``page`` (1-based) of ``size`` hits.

        ``sort`` is ``None`` (by score) or a date/number field, ``-field`` for descending.
        ``fields`` limits which text fields a bare term searches (default: all of them).
        ``with_docs=False`` returns ids and scores only (no stored fields, no highlights).
        ``plain=True`` reads the query as plain words: no operators, fields or phrases.
        ``strategy``: ``auto`` runs free-text queries through a compiled kernel that scores every
        posting (``taat``), ``maxscore`` / ``blockmax`` through (block-max) MaxScore pruning, and
        everything else through the general executor; ``exhaustive`` forces the general executor (the
        reference the others are tested against). With pruning, ``total`` is exact up to
        ``track_total_hits`` matches and a lower bound past that (``total_exact`` says which).
        ``facets``: keyword or date fields whose value counts over every match come back in
        ``result.facets``, collected in the same pass as the top hits (a pruning strategy then
        runs term-at-a-time: facet counts need every match).
        """
        started = time.perf_counter()
        check_arguments(page, size, sort, default_operator, minimum_should_match, track_total_hits)
        if not isinstance(query, str | Query):
            raise ZhisouError(f"the query must be text, got {type(query).__name__}")
        if isinstance(query, str):
            check_length(query)
        if strategy not in STRATEGIES:
            raise ZhisouError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
        text = query if isinstance(query, str) else repr(query)
        filter_clauses = tuple(self.filter_query(filters)) if filters else ()
        default_fields = self._default_fields(fields) or self._text_fields
        executor = Executor(self.reader, self._stats, self.similarity, default_fields)
        # The compiled strategies compute the saturation family; a similarity outside it runs exhaustively.
        compiled = sort is None and STRATEGY_METHODS[strategy] is not None and self.similarity.saturating
        plan = None
        tree: Query | None = None
        if (
            compiled
            and plain
            and isinstance(query, str)
            and not minimum_should_match
            and (default_operator == "or" or len(query.split()) == 1)
            and query.strip()
            and not has_single_chinese_word(query)
        ):
            # Plain words are one disjunction: analyze the text once instead of word by word.
            plan = DisjunctionPlan((TermQuery(query),), filter_clauses)
        else:
            tree = self._tree(query, filter_clauses, plain, default_operator, minimum_should_match)
            if compiled:
                plan = plan_disjunction(tree, set(self._text_fields))
        match_mask: np.ndarray | None = None
        if plan is not None:
            allowed = self.reader.live
            for clause in plan.filters:
                allowed = allowed & executor.evaluate(clause).mask
            for clause in plan.exclusions:
                allowed = allowed & ~executor.evaluate(clause).mask
            method = STRATEGY_METHODS[strategy]
            collected: list[np.ndarray] | None = [] if facets else None
            order, order_scores, total, exact = score_disjunction(
                self.reader,
                self._stats,
                self.similarity,
                weighted_terms(self.reader, plan, default_fields),
                allowed,
                page * size,
                executor.terms,
                method="taat" if facets else method,
                track_total_hits=track_total_hits,
                matches=collected,
            )
            if collected is not None:
                match_mask = np.zeros(self.reader.max_doc, dtype=np.bool_)
                for docs in collected:
                    match_mask[docs] = True
        else:
            assert tree is not None
            matches = executor.evaluate(tree)
            match_mask = matches.mask
            candidates = np.flatnonzero(matches.mask)
            total, exact = len(candidates), True
            order = self._rank(candidates, matches.scores, sort, isinstance(tree, MatchAllQuery), page * size)
            order_scores = matches.scores[order]
        facet_counts = self.facets(match_mask, facets, facet_size) if facets and match_mask is not None else {}
        first = (page - 1) * size
        page_docs = order[first:].tolist()
        if not with_docs:
            took = (time.perf_counter() - started) * 1000
            ids = self.reader.doc_ids(page_docs)
            scores = order_scores[first:].tolist()
            return SearchResult(text, total, page, size, took, ids, scores, total_exact=exact, facets=facet_counts)
        hits = self._hits(page_docs, order_scores[first:].tolist(), first + 1, executor.terms, highlight_fields)
        took = (time.perf_counter() - started) * 1000
        scores = [h.score for h in hits]
        return SearchResult(
            text, total, page, size, took, [h.id for h in hits], scores, hits, total_exact=exact, facets=facet_counts
        )

    def _tree(
        self,
        query: str | Query,
        filter_clauses: tuple[Query, ...],
        plain: bool,
        default_operator: Literal["or", "and"],
        minimum_should_match: int = 0,
    ) -> Query:
        if not isinstance(query, str):
            tree = query
        elif plain:
            tree = plain_query(query, default_operator=default_operator)
        else:
            tree = self.parse(query, default_operator=default_operator)
        if minimum_should_match and isinstance(tree, BooleanQuery):
            tree = BooleanQuery(tree.must, tree.should, tree.must_not, tree.filter, minimum_should_match)
        if filter_clauses:
            tree = BooleanQuery(must=(tree,), filter=filter_clauses)
        return tree

    def _hits(
        self,
        docs: list[int],
        scores: list[float],
        first_rank: int,
        terms: QueryTerms,
        highlight_fields: Sequence[str] | None = None,
    ) -> list[Hit]:
        hits = []
        for rank, (doc, score) in enumerate(zip(docs, scores), start=first_rank):
            stored = self.reader.stored(doc)
            highlights = self._highlights(stored, terms.by_field, highlight_fields)
            hits.append(Hit(str(stored.get(self.schema.id_field)), score, rank, stored, highlights))
        return hits

    def match_mask(
        self,
        query: str | Query = "",
        *,
        filters: Mapping[str, FilterValue] | Sequence[str] | None = None,
        fields: Sequence[str] | None = None,
        plain: bool = False,
        default_operator: Literal["or", "and"] = "or",
    ) -> np.ndarray:
        """Which documents ``search`` with these arguments matches (a mask over the reader)."""
        filter_clauses = tuple(self.filter_query(filters)) if filters else ()
        tree = self._tree(query, filter_clauses, plain, default_operator)
        default_fields = self._default_fields(fields) or self._text_fields
        return Executor(self.reader, self._stats, self.similarity, default_fields).evaluate(tree).mask

    def facets(self, mask: np.ndarray, fields: Sequence[str], size: int = 10) -> dict[str, list[FacetCount]]:
        """Counts of the values of keyword fields (and of the years of date fields) among the
        documents in ``mask``, most frequent first, at most ``size`` per field."""
        out: dict[str, list[FacetCount]] = {}
        for name in fields:
            spec = self.schema.get(name)
            if spec is None or spec.type not in ("keyword", "date"):
                facetable = ", ".join(f.name for f in self.schema.fields if f.type in ("keyword", "date"))
                raise ZhisouError(f"cannot count values of {name!r}: facets need a keyword or date field ({facetable})")
            if spec.type == "keyword":
                out[name] = keyword_counts(self.reader, name, mask, size)
            else:
                out[name] = year_counts(self._stats.column(name), mask, size)
        return out

    def did_you_mean(self, query: str) -> str | None:
        """A corrected query when some of its words appear nowhere in the index (see ``suggest``)."""
        if self._suggester is None:
            self._suggester = Suggester(self.reader)
        return self._suggester.suggest(query)

    def more_like_this(self, doc_id: str, *, size: int = 5, max_terms: int = 25) -> SearchResult:
        """Documents that share the most distinctive words of ``doc_id`` (Lucene's MoreLikeThis:
        its terms weighed by tf·idf, the best ``max_terms`` searched as one disjunction)."""
        started = time.perf_counter()
        doc = self.reader.find(doc_id)
        if doc is None:
            raise ZhisouError(f"no document with id {doc_id!r}")
        stored = self.reader.stored(doc)
        terms_by_field = distinctive_terms(self.reader, self._stats, self.similarity, stored, max_terms)
        allowed = self.reader.live.copy()
        allowed[doc] = False
        terms = QueryTerms()
        order, order_scores, total, _ = score_disjunction(
            self.reader, self._stats, self.similarity, terms_by_field, allowed, size, terms
        )
        hits = self._hits(order.tolist(), order_scores.tolist(), 1, terms)
        took = (time.perf_counter() - started) * 1000
        return SearchResult(
            f"related:{doc_id}", total, 1, size, took, [h.id for h in hits], [h.score for h in hits], hits
        )

    def _default_fields(self, fields: Sequence[str] | None) -> tuple[str, ...] | None:
        if fields is None:
            return None
        text_fields = {f.name for f in self.schema.text_fields}
        unknown = [f for f in fields if f not in text_fields]
        if unknown:
            raise ZhisouError(f"unknown text field(s) {unknown}; text fields: {', '.join(sorted(text_fields))}")
        return tuple(fields)

    def _rank(
        self, candidates: np.ndarray, scores: np.ndarray, sort: str | None, match_all: bool, limit: int
    ) -> np.ndarray:
        """The first ``limit`` candidates in result order; ties keep index order."""
        if sort is None and match_all:
            return candidates[:limit]
        if sort is None:
            keys = -scores[candidates]
        else:
            name = sort.lstrip("-")
            spec = self.schema.get(name)
            if spec is None or spec.type not in ("date", "number"):
                raise ZhisouError(f"cannot sort by {name!r}: sorting needs a date or number field")
            values = self._stats.column(name)[candidates]
            keys = np.where(np.isnan(values), np.inf, -values if sort.startswith("-") else values)
        if len(candidates) > limit:
            part = np.argpartition(keys, limit - 1)[:limit]
            threshold = keys[part].max()
            part = np.flatnonzero(keys <= threshold)  # keep every tie at the cut, then order stably
            candidates, keys = candidates[part], keys[part]
        order = np.lexsort((candidates, keys))
        return candidates[order][:limit]

    def _highlights(
        self, stored: dict[str, Any], terms: dict[str, set[str]], wanted: Sequence[str] | None
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for spec in self.schema.text_fields:
            if wanted is not None and spec.name not in wanted:
                continue
            value = stored.get(spec.name)
            field_terms = terms.get(spec.name)
            if not isinstance(value, str) or not field_terms:
                continue
            snippet = highlight(value, self.reader.analyzers.get(spec.analyzer_name), field_terms)
            if snippet is not None:
                out[spec.name] = snippet
        return out

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self.reader.get(doc_id)
