"""Planning: a request's query and filters → what the strategies execute, once per request.

A plan holds the query tree (with its filters) that the exhaustive strategy evaluates and —
when the query is free text (words, optionally with filter and exclusion clauses) and the
ranking is by a saturating similarity — its analyzed terms as ``field → term → multiplicity``,
the form the compiled strategies consume. The words are analyzed here, once, whichever
strategy then runs; ``terms`` collects what the highlighter marks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from zhisou.analysis.tokenizers import TokenStream, has_single_chinese_word, is_single_chinese_character
from zhisou.index.reader import IndexReader
from zhisou.search.parser import FieldInfo, parse_query, plain_query
from zhisou.search.query import BooleanQuery, MatchAllQuery, PhraseQuery, Query, TermQuery
from zhisou.search.query_terms import field_terms

if TYPE_CHECKING:
    from zhisou.search.request import SearchRequest


@dataclass(slots=True)
class QueryTerms:
    """Analyzed terms a query looks for, per field: what the highlighter marks."""

    by_field: dict[str, set[str]] = field(default_factory=dict)

    def add(self, field_name: str, term: str) -> None:
        self.by_field.setdefault(field_name, set()).add(term)


@dataclass(slots=True)
class DisjunctionPlan:
    """A free-text query: words (OR), documents restricted by ``filters``, minus ``exclusions``."""

    words: tuple[TermQuery, ...]
    filters: tuple[Query, ...] = ()
    exclusions: tuple[Query, ...] = ()


WordWeights = dict[str, dict[str, float]]  # field → analyzed term → its weight (a repeated word counts again)


@dataclass(slots=True)
class Plan:
    """What one request executes (see the module docstring)."""

    build_tree: Callable[[], Query]  # the query with its filters, built when first asked for
    default_fields: tuple[str, ...]
    words: WordWeights | None = None  # set when the compiled strategies can run the query
    filters: tuple[Query, ...] = ()  # restrict ``words`` (the tree holds them too)
    exclusions: tuple[Query, ...] = ()
    sort: str | None = None
    track_total_hits: int = 10_000
    allowed: np.ndarray | None = None  # documents ``words`` may match; computed on first use
    _tree: Query | None = None
    _terms: QueryTerms | None = None

    @property
    def terms(self) -> QueryTerms:
        """What evaluating the tree looks for (filled by the executor), made on first use."""
        if self._terms is None:
            self._terms = QueryTerms()
        return self._terms

    @property
    def tree(self) -> Query:
        """The query tree the exhaustive strategy evaluates (plain words skip building it)."""
        if self._tree is None:
            self._tree = self.build_tree()
        return self._tree

    @property
    def match_all(self) -> bool:
        return isinstance(self.tree, MatchAllQuery)

    def highlight_terms(self) -> dict[str, set[str]]:
        """field → analyzed terms to mark: the words', and what evaluating the tree found."""
        if self.words:
            for name, counts in self.words.items():
                self.terms.by_field.setdefault(name, set()).update(counts)
        return self.terms.by_field


def _is_word(query: Query, text_fields: set[str] | frozenset[str]) -> bool:
    """A plain word (one Chinese character expands to the words holding it: general path)."""
    return (
        isinstance(query, TermQuery)
        and not query.prefix
        and not query.fuzzy
        and (query.field is None or query.field in text_fields)
        and not is_single_chinese_character(query.text.strip())
    )


def plan_disjunction(tree: Query, text_fields: set[str] | frozenset[str]) -> DisjunctionPlan | None:
    """The free-text shape of ``tree``, or None when it has another shape."""
    filters: tuple[Query, ...] = ()
    exclusions: tuple[Query, ...] = ()
    if isinstance(tree, BooleanQuery) and len(tree.must) == 1 and not tree.should:
        # The shape a request with filters builds: must=(query,), filter=(...).
        filters, exclusions = tree.filter, tree.must_not
        tree = tree.must[0]
    if _is_word(tree, text_fields):
        return DisjunctionPlan((tree,), filters, exclusions)  # type: ignore[arg-type]
    if not isinstance(tree, BooleanQuery) or tree.must or not tree.should or tree.boost != 1.0:
        return None
    if not all(_is_word(q, text_fields) for q in tree.should):
        return None
    # With filters and no required match, Lucene semantics would also return filter-only
    # documents with score 0; the compiled path only returns documents that match a word.
    if tree.minimum_should_match > 1 or (tree.filter and tree.minimum_should_match < 1):
        return None
    return DisjunctionPlan(tree.should, filters + tree.filter, exclusions + tree.must_not)  # type: ignore[arg-type]


def weighted_terms(reader: IndexReader, plan: DisjunctionPlan, default_fields: tuple[str, ...]) -> WordWeights:
    """field → term → how many times the analyzed query produced it (Lucene counts repeats),
    times the boost of the word that produced it."""
    texts: dict[tuple[str, float], list[str]] = {}  # words of one field and one boost: analyzed together
    for word in plan.words:
        for name in (word.field,) if word.field is not None else default_fields:
            texts.setdefault((name, word.boost), []).append(word.text)
    return weigh_texts(reader, texts)


def weigh_texts(reader: IndexReader, texts: Mapping[tuple[str, float], list[str]]) -> WordWeights:
    """``weighted_terms`` of words already grouped by (field, boost): each group analyzed as one text."""
    schema, analyzers = reader.schema, reader.analyzers
    by_field: WordWeights = {}
    streams: dict[tuple[str, str], TokenStream] = {}  # fields sharing an analyzer: analyzed once
    for (name, boost), words in texts.items():
        spec = schema.get(name)
        if spec is None:
            continue
        text = words[0] if len(words) == 1 else " ".join(words)
        analyzer_name = spec.analyzer_name
        analyzer = analyzers.get(analyzer_name)
        stream = streams.get((analyzer_name, text))
        if stream is None:
            stream = streams[(analyzer_name, text)] = analyzer.stream(text, for_query=True)
        counts = by_field.setdefault(name, {})  # first-seen order kept
        terms = field_terms(reader, name, analyzer, stream.terms, stream.cjk, text if spec.pinyin else None)
        if boost == 1.0:  # the common case, without a multiplication per term
            for term, weight in terms:
                counts[term] = counts.get(term, 0.0) + weight  # a few terms: faster than a Counter
        else:
            for term, weight in terms:
                counts[term] = counts.get(term, 0.0) + weight * boost
    return by_field


@dataclass(frozen=True)
class SemanticQuery:
    """What a semantic channel takes of a query: the words that score, as text without syntax
    (fields, operators, boosts and filters left out), and the clauses every result must pass
    or must not match — the query's own filters hold in every mode, as the request's do."""

    text: str
    filters: tuple[Query, ...] = ()
    exclusions: tuple[Query, ...] = ()


def semantic_query(tree: Query, text_fields: set[str] | frozenset[str]) -> SemanticQuery:
    """The meaning part of ``tree``. Filters and exclusions count where every match needs them
    (at the top, and inside required clauses); those inside optional clauses restrict nothing."""
    words: list[str] = []
    filters: list[Query] = []
    exclusions: list[Query] = []

    def text_of(node: Query) -> None:
        words.extend(leaf.text for leaf in scoring_leaves(node, text_fields))

    def required(node: Query) -> None:
        if not isinstance(node, BooleanQuery):
            text_of(node)
            return
        filters.extend(node.filter)
        exclusions.extend(node.must_not)
        for clause in node.must:
            required(clause)
        for clause in node.should:
            text_of(clause)

    required(tree)
    return SemanticQuery(" ".join(words), tuple(filters), tuple(exclusions))


def scoring_leaves(node: Query, text_fields: set[str] | frozenset[str]) -> Iterator[TermQuery | PhraseQuery]:
    """The words and phrases of ``node`` that score — in its required and optional clauses at
    any depth, not its filters or exclusions — and search text fields."""
    if isinstance(node, TermQuery | PhraseQuery):
        if node.field is None or node.field in text_fields:
            yield node
    elif isinstance(node, BooleanQuery):
        for clause in (*node.must, *node.should):
            yield from scoring_leaves(clause, text_fields)


def query_tree(
    query: str | Query,
    fields: Mapping[str, FieldInfo],
    filters: tuple[Query, ...] = (),
    *,
    plain: bool = False,
    default_operator: Literal["or", "and"] = "or",
    minimum_should_match: int = 0,
) -> Query:
    """The query as a tree (parsed once, or taken as given) with the filters as filter clauses."""
    if not isinstance(query, str):
        tree = query
    elif plain:
        tree = plain_query(query, default_operator=default_operator)
    else:
        tree = parse_query(query, fields, default_operator=default_operator)
    if minimum_should_match and isinstance(tree, BooleanQuery):
        tree = dataclasses.replace(tree, minimum_should_match=minimum_should_match)
    if filters:
        tree = BooleanQuery(must=(tree,), filter=filters)
    return tree


def plan_request(
    request: SearchRequest,
    reader: IndexReader,
    fields: Mapping[str, FieldInfo],
    filters: tuple[Query, ...],
    default_fields: tuple[str, ...],
    saturating: bool,
    text_fields: frozenset[str],
) -> Plan:
    """Plan ``request`` (its ``filters`` already turned into queries; ``text_fields``: the
    schema's text fields, which bare words may search)."""
    query = request.query

    def build_tree() -> Query:
        return query_tree(
            query,
            fields,
            filters,
            plain=request.plain,
            default_operator=request.default_operator,
            minimum_should_match=request.minimum_should_match,
        )

    plan = Plan(build_tree, default_fields, sort=request.sort, track_total_hits=request.track_total_hits)
    if request.sort is not None or not saturating:
        plan.tree  # noqa: B018 -- parse now: a syntax error belongs to planning
        return plan  # the compiled strategies rank by a saturating similarity only
    if (
        request.plain
        and isinstance(query, str)
        and query.strip()
        and not request.minimum_should_match
        and (request.default_operator == "or" or len(query.split()) == 1)
        and not has_single_chinese_word(query)
    ):
        # Plain words are one disjunction: the text analyzed once per field, not word by word.
        plan.words = weigh_texts(reader, {(name, 1.0): [query] for name in default_fields})
        plan.filters = filters
        return plan
    shape = plan_disjunction(plan.tree, text_fields)
    if shape is not None:
        plan.words = weighted_terms(reader, shape, default_fields)
        plan.filters, plan.exclusions = shape.filters, shape.exclusions
    return plan
