"""``SearchRequest``: everything one search asks for, checked before any work; and the
``filters=`` argument turned into ``Query`` objects (no query text is built and parsed again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from zhisou.errors import QuerySyntaxError, ZhisouError
from zhisou.modes import resolve
from zhisou.search.fusion import DEFAULT_FUSION, DEFAULT_NORMALIZATION, DEFAULT_WEIGHT, make_fuser
from zhisou.search.parser import FieldInfo, check_length, check_operator, parse_field_value
from zhisou.search.query import BooleanQuery, PhraseQuery, Query, TermQuery

FilterValue = str | int | float | Sequence[str]
Filters = Mapping[str, FilterValue] | Sequence[str | Query]
MAX_PAGE_SIZE = 1000
# Hits a query can page through (Elasticsearch's ``index.max_result_window``): bounds the
# top-k heap whatever page is asked for.
MAX_RESULT_WINDOW = 10_000
# Like Elasticsearch: count matches exactly up to here, then report "at least".
TRACK_TOTAL_HITS = 10_000


@dataclass(slots=True)  # not frozen: that costs a setattr call per field on the hot path
class SearchRequest:
    """One search. ``sort``: None (by score) or a date/number field, ``-field`` descending;
    ``fields``: the text fields a bare word searches (default all); ``with_docs=False``: ids and
    scores only; ``plain``: the query is plain words, no syntax; ``strategy``: a name from
    ``search.strategies.NAMES``; ``facets``: keyword/date fields counted over every match."""

    query: str | Query = ""
    page: int = 1
    size: int = 10
    filters: Filters | None = None
    sort: str | None = None
    default_operator: Literal["or", "and"] = "or"
    minimum_should_match: int = 0
    highlight_fields: Sequence[str] | None = None
    fields: Sequence[str] | None = None
    with_docs: bool = True
    strategy: str = "auto"
    plain: bool = False
    track_total_hits: int = TRACK_TOTAL_HITS
    facets: Sequence[str] | None = None
    facet_size: int = 10
    mode: str = "keyword"  # keyword (bm25) | semantic (dense) | hybrid: modes.py
    fusion: str = DEFAULT_FUSION  # hybrid: convex | rrf
    fusion_weight: float = DEFAULT_WEIGHT  # convex: the semantic list's weight
    normalization: str = DEFAULT_NORMALIZATION  # convex: zscore | minmax
    explain: bool = False  # each hit says where its score came from (``explain.py``)

    @property
    def window(self) -> int:
        """How many ranked documents the page needs: everything up to its last hit (at least
        one: a request of size 0, the count and facets only, still ranks as a search does)."""
        return max(self.page * self.size, 1)

    @property
    def text(self) -> str:
        return self.query if isinstance(self.query, str) else repr(self.query)

    def check(self) -> None:
        """Refuse misuse with one clear line, before any work (and any overflow)."""
        size, page = self.size, self.page
        if not _is_int(size) or not 0 <= size <= MAX_PAGE_SIZE:
            raise ZhisouError(f"size must be between 0 (the count only) and {MAX_PAGE_SIZE}, got {size!r}")
        if not _is_int(page) or page < 1:
            raise ZhisouError(f"page must be 1 or more (a whole number), got {page!r}")
        if page * size > MAX_RESULT_WINDOW:
            reach = f"page {page} of {size} hits reaches past result {MAX_RESULT_WINDOW:,}"
            raise ZhisouError(f"{reach}; narrow the query or filter instead")
        if self.sort is not None and not isinstance(self.sort, str):
            raise ZhisouError(f"sort must be a field name like '-date', got {type(self.sort).__name__}")
        check_operator(self.default_operator)
        msm = self.minimum_should_match
        if not _is_int(msm) or msm < 0:
            raise ZhisouError(f"minimum_should_match must be a whole number >= 0, got {msm!r}")
        track = self.track_total_hits
        if not _is_int(track) or track < 0:
            raise ZhisouError(f"track_total_hits must be a whole number >= 0, got {track!r}")
        if not isinstance(self.query, str | Query):
            raise ZhisouError(f"the query must be text, got {type(self.query).__name__}")
        if isinstance(self.query, str):
            check_length(self.query)
        if not _is_int(self.facet_size) or self.facet_size < 1:
            raise ZhisouError(f"facet_size must be a whole number >= 1, got {self.facet_size!r}")
        if self.mode != "keyword":
            if not isinstance(self.mode, str):
                raise ZhisouError(f"mode must be text, got {type(self.mode).__name__}")
            resolve(self.mode)  # an unknown mode: one line naming the choices
            make_fuser(self.fusion, self.fusion_weight, self.normalization)  # one line for a bad setting


def _is_int(value: object) -> bool:
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def filter_queries(filters: Filters, fields: Mapping[str, FieldInfo]) -> list[Query]:
    """Filters as queries: ``{"tags": ["a", "b"]}`` (any of), ``{"date": ">=2024"}``,
    ``["tags:a"]`` (filter expressions in query syntax), or ``Query`` objects (kept as they are)."""
    from zhisou.search.parser import parse_filter

    if isinstance(filters, Mapping):
        return [filter_clause(name, value, fields) for name, value in filters.items()]
    if isinstance(filters, str) or not isinstance(filters, Sequence):
        raise ZhisouError(f"filters must be a dict or a list of filter expressions, got {type(filters).__name__}")
    for item in filters:
        if not isinstance(item, str | Query):
            raise ZhisouError(f"a filter expression must be text, got {type(item).__name__}")
    return [item if isinstance(item, Query) else parse_filter(item, fields) for item in filters]


def filter_clause(name: str, value: FilterValue, fields: Mapping[str, FieldInfo]) -> Query:
    """One field's filter: the value (any of several values) as a query on that field — a
    keyword or id value exactly, a text value as a phrase, a date or number value exactly or as
    a range (``>=2024``, ``[1 TO 5]``)."""
    if not isinstance(name, str) or name not in fields:
        known = ", ".join(fields)
        raise QuerySyntaxError(f"unknown filter field {name!r}; fields: {known}", str(name), 0)
    items = [value] if isinstance(value, str | int | float) else value
    if isinstance(items, bytes) or not isinstance(items, Sequence | set | frozenset):
        raise ZhisouError(f"filter {name!r}: expected text, a number or a list of them, got {type(value).__name__}")
    kind = fields[name].type
    clauses: list[Query] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ZhisouError(f"filter {name!r}: expected text or numbers, got {type(item).__name__}")
        text = str(item).strip()
        if not text:
            raise ZhisouError(f"filter {name!r} has an empty value")
        if kind in ("date", "number"):
            clauses.append(parse_field_value(name, text, fields))
        elif kind == "text":
            clauses.append(PhraseQuery(text, name))
        else:
            clauses.append(TermQuery(text, name))
    if not clauses:
        raise ZhisouError(f"filter {name!r} has no values")
    return clauses[0] if len(clauses) == 1 else BooleanQuery(should=tuple(clauses))
