"""Query tree: what the parser produces and the executor evaluates. Values are raw user text;
each field's analyzer turns them into terms at evaluation time."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, init=False)
class TermQuery:
    """A word; ``field=None`` searches every default text field. ``prefix`` matches ``text*``;
    ``fuzzy`` (``word~``, ``word~1``): also the indexed words at most that many edits away.
    ``boost`` multiplies its score (``word^2`` in the query syntax)."""

    text: str
    field: str | None = None
    prefix: bool = False
    boost: float = 1.0
    fuzzy: int = 0

    def __init__(
        self, text: str, field: str | None = None, prefix: bool = False, boost: float = 1.0, fuzzy: int = 0
    ) -> None:
        # Every plain search makes one: a frozen dataclass's own __init__ sets each field through
        # object.__setattr__ (~75 ns a field); writing the instance dict is 2.4× faster.
        values = self.__dict__
        values["text"] = text
        values["field"] = field
        values["prefix"] = prefix
        values["boost"] = boost
        values["fuzzy"] = fuzzy


@dataclass(frozen=True)
class PhraseQuery:
    """Words that must appear next to each other, in order — or, with ``slop`` (``"a b"~3``),
    within that many position moves of it (Lucene's sloppy phrase); ``boost`` multiplies its score."""

    text: str
    field: str | None = None
    boost: float = 1.0
    slop: int = 0


@dataclass(frozen=True)
class RangeQuery:
    """``field`` between two bounds; ``None`` is open. Bounds are raw text (dates or numbers)."""

    field: str
    lower: str | None = None
    upper: str | None = None
    include_lower: bool = True
    include_upper: bool = True


@dataclass(frozen=True)
class MatchAllQuery:
    """Every live document, score 0."""


@dataclass(frozen=True)
class BooleanQuery:
    """``must`` and ``should`` clauses score; ``filter`` and ``must_not`` only restrict.

    Without ``must`` or ``filter`` clauses at least ``max(1, minimum_should_match)`` should
    clauses must match; with them, should clauses only add to the score unless
    ``minimum_should_match`` says otherwise. A query of only ``must_not`` clauses matches
    every other document. ``boost`` multiplies the summed score (``(a b)^2``).
    """

    must: tuple[Query, ...] = ()
    should: tuple[Query, ...] = ()
    must_not: tuple[Query, ...] = ()
    filter: tuple[Query, ...] = field(default=())
    minimum_should_match: int = 0
    boost: float = 1.0


Query = TermQuery | PhraseQuery | RangeQuery | MatchAllQuery | BooleanQuery
