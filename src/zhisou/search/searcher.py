"""Searcher: one reader snapshot, searched as a pipeline of stages.

    SearchRequest → plan (parse once, filters as queries, analyze the words once)
      → strategy (auto/exhaustive/taat/maxscore/blockmax/bmw) + collectors (facets) → TopDocs
      → stages (other retrievers, fuser, rerankers; none by default) → page → hydrate

Each step lives in its own module: ``request.py``, ``plan.py``, ``strategies/``,
``collectors.py``, ``topk.py``, ``stages.py``, ``hits.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from zhisou.errors import QuerySyntaxError, ZhisouError
from zhisou.index.reader import IndexReader
from zhisou.index.sharded import ShardedReader
from zhisou.modes import resolve
from zhisou.search.collectors import FacetCollector, check_facet_fields, facet_counts
from zhisou.search.explain import explain_page
from zhisou.search.facets import FacetCount
from zhisou.search.fusion import RANK_WINDOW
from zhisou.search.hits import hydrate
from zhisou.search.parser import FieldInfo, parse_query
from zhisou.search.plan import Plan, SemanticQuery, plan_request, query_tree, scoring_leaves, semantic_query
from zhisou.search.query import Query
from zhisou.search.related import distinctive_terms
from zhisou.search.request import (
    MAX_PAGE_SIZE,
    MAX_RESULT_WINDOW,
    TRACK_TOTAL_HITS,
    Filters,
    FilterValue,
    SearchRequest,
    filter_clause,
    filter_queries,
)
from zhisou.search.results import Hit, SearchResult
from zhisou.search.similarity import BM25, Similarity
from zhisou.search.stages import Stages
from zhisou.search.stats import ReaderStats, SuppliedStatistics
from zhisou.search.strategies import NAMES as STRATEGIES
from zhisou.search.strategies import Context, choose
from zhisou.search.strategies.exhaustive import sort_by_field
from zhisou.search.suggest import Suggester
from zhisou.search.topk import TopDocs

if TYPE_CHECKING:
    from zhisou.rank.model import RankingModel
    from zhisou.search.sharded import ShardedRetrieval

KEYWORD_STAGES = Stages()  # the lexical retrieval alone
PASSAGE_SNIPPET_CHARS = 240  # the matching passage shown under a semantic hit
SEARCH_OPTIONS = frozenset(f.name for f in dataclasses.fields(SearchRequest)) - {"query"}
# How deep each channel's list goes in hybrid mode at least: the head a fusion scores.
HYBRID_CANDIDATES = RANK_WINDOW

__all__ = ["MAX_PAGE_SIZE", "MAX_RESULT_WINDOW", "STRATEGIES", "TRACK_TOTAL_HITS", "SearchRequest", "Searcher"]


class Searcher:
    """Read-only search over a fixed commit; stays valid while a writer goes on committing.

    ``statistics``: collection statistics computed elsewhere (a shard scores with the whole
    index's); ``stages``: retrievers, a fuser and rerankers run after the lexical retrieval.
    """

    def __init__(
        self,
        reader: IndexReader,
        similarity: Similarity | None = None,
        *,
        statistics: SuppliedStatistics | None = None,
        stages: Stages | None = None,
    ) -> None:
        self.reader = reader
        self.schema = reader.schema
        self.similarity = similarity or BM25()
        self.stats = ReaderStats(reader, statistics)
        self.context = Context(reader, self.stats, self.similarity)
        self._sharded: ShardedRetrieval | None = None
        if isinstance(reader, ShardedReader):
            from zhisou.search.sharded import ShardedRetrieval

            self._sharded = ShardedRetrieval(reader, self.stats, self.similarity)
        self.stages = stages or Stages()
        self._keyword_only = self.stages.empty
        fields = {f.name: FieldInfo(f.type) for f in self.schema.fields}
        fields[self.schema.id_field] = FieldInfo("keyword")
        self._fields = fields
        self._text_fields = tuple(f.name for f in self.schema.text_fields)
        self._text_field_set = frozenset(self._text_fields)
        self._suggester: Suggester | None = None
        self._query_vectors: dict[str, np.ndarray] = {}
        # The last request's semantic reading (see ``semantic_query``).
        self._semantic_of: tuple[SearchRequest, SemanticQuery] | None = None
        self._ranking_model: tuple[object, RankingModel | None] | None = None  # (state stamp, model)

    @property
    def doc_count(self) -> int:
        return self.reader.doc_count

    def with_stages(self, stages: Stages) -> Searcher:
        """A searcher over the same snapshot (sharing its caches) running ``stages``."""
        other = object.__new__(Searcher)
        other.__dict__.update(self.__dict__)
        other.stages = stages
        other._keyword_only = stages.empty
        return other

    # -- query language ----------------------------------------------------------------------
    def parse(self, query: str, *, default_operator: Literal["or", "and"] = "or") -> Query:
        return parse_query(query, self._fields, default_operator=default_operator)

    def filter_query(self, filters: Filters) -> list[Query]:
        """Filters as queries: ``{"tags": ["a", "b"]}`` (any of), ``{"date": ">=2024"}``,
        ``["tags:a"]``, or ``Query`` objects already parsed (kept as they are)."""
        return filter_queries(filters, self._fields)

    def filter_clause(self, name: str, value: FilterValue) -> Query:
        """One field's filter as a query (see ``request.filter_clause``)."""
        return filter_clause(name, value, self._fields)

    # -- the pipeline --------------------------------------------------------------------------
    def search(self, query: str | Query = "", **options: Any) -> SearchResult:
        """Run ``query`` and return page ``page`` (1-based) of ``size`` hits; the options are the
        fields of ``SearchRequest`` (page, size, filters, sort, default_operator,
        minimum_should_match, highlight_fields, fields, with_docs, strategy, plain,
        track_total_hits, facets, facet_size, mode, fusion, fusion_weight, normalization).

        ``mode``: ``keyword`` (BM25), ``semantic`` (passage embeddings; the index must hold
        them) or ``hybrid`` (both lists, ``HYBRID_CANDIDATES`` deep, fused by ``fusion``:
        ``convex`` — the default, each list's scores normalized by ``normalization``, z-scores by
        default, ``fusion_weight`` 0.5 on the semantic list — or ``rrf``).

        ``strategy``: ``auto`` picks one by the rule in ``strategies``; ``exhaustive`` evaluates
        the whole query tree (the reference); ``taat`` scores every posting of a free-text query
        with compiled kernels; ``maxscore`` / ``blockmax`` / ``bmw`` (block-max WAND) prune with term
        or block upper bounds — ``total`` is then exact up to ``track_total_hits`` matches and a
        lower bound past that (``total_exact``). ``facets`` are counted in the same pass as the top hits (a pruning
        strategy then yields to ``taat``: facet counts need every match).
        """
        try:
            request = SearchRequest(query, **options)
        except TypeError as error:  # checked only on failure: a search is tens of microseconds
            unknown = sorted(set(options) - SEARCH_OPTIONS)
            if not unknown:
                raise ZhisouError(f"search: {error}") from None
            names, known = ", ".join(map(repr, unknown)), ", ".join(sorted(SEARCH_OPTIONS))
            raise ZhisouError(f"search: unknown option(s) {names}; options: {known}") from None
        return self.run(request)

    def run(self, request: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        request.check()
        if request.strategy not in STRATEGIES:
            raise ZhisouError(f"unknown strategy {request.strategy!r}; choose one of: {', '.join(STRATEGIES)}")
        collector = (
            FacetCollector(self.reader, self.stats, request.facets, request.facet_size) if request.facets else None
        )
        if self._keyword_only and request.mode == "keyword":
            stages = KEYWORD_STAGES  # the common case, decided without a call
        else:
            stages = self.stages if not self.stages.empty else self.mode_stages(request)
        text = request.text
        if stages is not KEYWORD_STAGES:
            request = self._parsed(request, stages)
        if stages is KEYWORD_STAGES:
            depth = request.window
        elif request.sort is not None:
            depth = stages.depth(HYBRID_CANDIDATES)  # a sort orders a pool of that many, whatever the page
        else:
            depth = stages.depth(request.window)
            if request.facets:
                depth = max(depth, HYBRID_CANDIDATES)  # what facets count: the same for every page
        channels: list[tuple[str, TopDocs]] | None = [] if request.explain else None
        terms: dict[str, set[str]] = {}
        top, plan, ranked = self._retrieve(request, stages, depth, collector, channels)
        first = (request.page - 1) * request.size
        end = first + request.size
        facets = collector.counts() if collector is not None else {}
        docs, scores = top.docs[first:end].tolist(), top.scores[first:end].tolist()
        if request.with_docs:
            if plan is not None:
                terms = plan.highlight_terms()
            hits = hydrate(self.reader, docs, scores, first + 1, terms, request.highlight_fields)
            if not stages.lexical or stages.retrievers:
                self._passage_snippets(request, hits, docs)
            ids, scores = [h.id for h in hits], [h.score for h in hits]
        else:
            hits, ids = None, self.reader.doc_ids(docs)  # ids and scores only: no stored fields read
        explanations = None
        if channels is not None:
            explanations = explain_page(docs, top.scores[first:end].tolist(), channels, stages.fuser)
            page_docs = np.asarray(docs, dtype=np.int64)
            for reranker in stages.rerankers:
                head = ranked.docs[: reranker.depth]  # what it reordered (``top`` may be sorted since)
                for entry, detail in zip(explanations, reranker.explain(request, self, page_docs, channels, head)):
                    entry["rerank"] = detail
        took = (time.perf_counter() - started) * 1000
        return SearchResult(
            text,
            top.total,
            request.page,
            request.size,
            took,
            ids,
            scores,
            hits,
            top.exact,
            facets,
            explanations,
        )

    def _retrieve(
        self,
        request: SearchRequest,
        stages: Stages,
        depth: int,
        collector: FacetCollector | None = None,
        channels: list[tuple[str, TopDocs]] | None = None,
    ) -> tuple[TopDocs, Plan | None, TopDocs]:
        """The final list ``depth`` deep, the lexical plan when there was one, and the list by
        relevance (the final one before a sort by a field); ``channels`` receives each recall
        channel's own list."""
        lexical = plan = None
        keyword = stages.empty
        # Keyword mode sorts as it retrieves; other modes retrieve, fuse and rerank by relevance,
        # then order that list by the field (as Elasticsearch sorts the hits of a kNN search).
        sort = None if keyword else request.sort
        if stages.lexical:  # a semantic search reads the query as text: no syntax to parse
            plan = self.plan(request if sort is None else dataclasses.replace(request, sort=None))
            lexical = self.lexical(request.strategy, plan, depth, collector)
        named = channels if channels is not None or collector is None else []
        top = lexical if keyword else stages.run(request, self, lexical, depth, named)
        assert top is not None
        ranked = top
        if sort is not None:
            # The mode's best HYBRID_CANDIDATES by relevance, ordered by the field: one pool for
            # every page, and the whole result (Elasticsearch sorts a kNN search's k hits).
            pool = top.head(HYBRID_CANDIDATES)
            top = sort_by_field(self.context, TopDocs(pool.docs, pool.scores, len(pool), True), sort)
        if channels is not None and keyword:
            channels.append(("bm25", top))
        if collector is not None and named is not None:
            # Facets count the lexical matches (collected as they were found) and the head of
            # what the other channels found (the same for every page): Elasticsearch
            # aggregates a hybrid search over both.
            for name, found in named:
                if name != "bm25":
                    collector.collect(found.docs[:HYBRID_CANDIDATES])
        return top, plan, ranked

    def candidates(self, request: SearchRequest, depth: int) -> tuple[TopDocs, list[tuple[str, TopDocs]]]:
        """The ranked list of ``request``'s mode ``depth`` deep, and each recall channel's own
        list: what a learned ranker computes its features from."""
        request.check()
        channels: list[tuple[str, TopDocs]] = []
        top, _, _ = self._retrieve(request, self.mode_stages(request), depth, None, channels)
        return top, channels

    def _passage_snippets(self, request: SearchRequest, hits: list[Hit], docs: list[int]) -> None:
        """Semantic and hybrid hits without a keyword snippet show the passage that matched
        best (the text of the schema's passage fields within its span)."""
        spec = self.schema.semantic
        text = self.semantic_query(request).text if spec is not None else ""
        if not text.strip():
            return
        from zhisou.embed.store import passage_text
        from zhisou.search.dense import best_passage
        from zhisou.search.highlight import excerpt

        query = self.query_vector(text)
        for hit, doc in zip(hits, docs):
            if any(name in hit.highlights for name in spec.fields):
                continue
            found = best_passage(self, doc, query)
            if found is not None:
                text = passage_text(hit.doc, spec)[1][found.span[0] : found.span[1]]
                if text.strip():
                    hit.highlights[spec.fields[0]] = html.escape(excerpt(text, PASSAGE_SNIPPET_CHARS))

    def mode_stages(self, request: SearchRequest) -> Stages:
        """The stages a retrieval mode runs: none (keyword), the semantic retriever alone, or
        both channels fused (hybrid, each list HYBRID_CANDIDATES deep)."""
        if request.mode == "keyword":
            return KEYWORD_STAGES
        mode = resolve(request.mode).name
        if mode == "keyword":
            return KEYWORD_STAGES
        if mode == "ltr":
            return self._ltr_stages(request)
        if not self.has_vectors:
            raise ZhisouError(
                f"mode {mode!r} needs an index with vectors; this one has none "
                '(create it with a schema holding "semantic"), use mode keyword'
            )
        from zhisou.search.dense import DenseRetriever
        from zhisou.search.fusion import make_fuser

        if mode == "semantic":
            # At least as deep as hybrid's lists: an approximate (HNSW) search looks further for
            # a deeper list, so a fixed depth keeps the first pages one ranking.
            return Stages(retrievers=(DenseRetriever(),), lexical=False, candidates=HYBRID_CANDIDATES)
        if mode == "hybrid":
            fuser = make_fuser(request.fusion, request.fusion_weight, request.normalization)
            return Stages(retrievers=(DenseRetriever(),), fuser=fuser, candidates=HYBRID_CANDIDATES)
        raise ZhisouError(f"mode {mode!r} is not a search mode; use keyword, semantic, hybrid or ltr")

    def _ltr_stages(self, request: SearchRequest) -> Stages:
        """The stages of the first-stage mode the active model was trained behind (hybrid, or
        keyword on an index without vectors), with the model reordering their head."""
        from zhisou.rank.rerank import LTR_DEPTH, LearnedReranker

        model = self.ranking_model()
        if model is None:
            raise ZhisouError(
                f"mode 'ltr' needs a trained ranking model and {self.reader.directory} has none active; "
                "train one with zhisou ltr train"
            )
        base = str(model.meta.get("base") or "hybrid")
        if base == "hybrid" and not self.has_vectors:
            base = "keyword"
        first = self.mode_stages(dataclasses.replace(request, mode=base))
        return Stages(
            first.retrievers,
            first.fuser,
            (LearnedReranker(model),),
            first.lexical,
            max(first.candidates, LTR_DEPTH),
        )

    def ranking_model(self) -> RankingModel | None:
        """The index's active ranking model (loaded once per version; None when none is active)."""
        from zhisou.rank.model import ModelStore

        store = ModelStore(self.reader.directory)
        stamp = store.state_stamp()  # a stat, not a read, per query
        if stamp is None:
            return None
        cached = self._ranking_model
        if cached is not None and cached[0] == stamp:
            return cached[1]
        version = store.active()
        model = None if version is None else store.load(version)
        self._ranking_model = (stamp, model)
        return model

    @functools.cached_property
    def has_vectors(self) -> bool:
        """Whether some segment holds passage vectors (semantic and hybrid modes can run)."""
        return self.schema.semantic is not None and any("pvc" in s.optional for s in self.reader.segments)

    def query_vector(self, text: str) -> np.ndarray:
        """``text`` encoded by the index's model (kept for the last queries of this searcher)."""
        spec = self.schema.semantic
        if spec is None:
            raise ZhisouError('this index has no semantic model; create it with a schema holding "semantic"')
        found = self._query_vectors.get(text)
        if found is None:
            from zhisou.embed.registry import load_embedder

            found = load_embedder(spec.model).encode_queries([text])[0]
            if len(self._query_vectors) >= 256:
                self._query_vectors.pop(next(iter(self._query_vectors)))
            self._query_vectors[text] = found
        return found

    def highlight_terms(self, request: SearchRequest) -> dict[str, set[str]]:
        """field → the analyzed terms a results page marks for ``request``, found the same way:
        the executor evaluates the query's scoring words (not its filters or exclusions) and
        notes each term it scored — the words, their pinyin forms, what a fuzzy word or a lone
        Chinese character stands for. {} for a query the parser refuses."""
        try:
            plan = self.plan(request)
        except QuerySyntaxError:
            return {}
        executor = self.context.executor(plan)
        for leaf in scoring_leaves(plan.tree, self._text_field_set):
            executor.evaluate(leaf)
        return plan.highlight_terms()

    def _parsed(self, request: SearchRequest, stages: Stages) -> SearchRequest:
        """``request`` with its query parsed, once for every stage that reads it (the keyword
        channel, the semantic channel, snippets, a ranker's features). A semantic search embeds
        a query the parser refuses as typed; with a keyword channel the error is the caller's."""
        query = request.query
        if not isinstance(query, str) or request.plain or not query.strip():
            return request
        try:
            tree = parse_query(query, self._fields, default_operator=request.default_operator)
        except QuerySyntaxError:
            if stages.lexical:
                raise
            return dataclasses.replace(request, plain=True)
        return dataclasses.replace(request, query=tree)

    def semantic_query(self, request: SearchRequest) -> SemanticQuery:
        """What the semantic channel embeds of ``request`` and the clauses its results must
        pass: the request's filters, and the query's own filters and exclusions. A query the
        parser refuses is embedded as it was typed (a semantic search needs no syntax; in
        hybrid mode the lexical channel has reported the error already). Read once per request:
        its channel, its snippets and a ranker's features all ask."""
        memo = self._semantic_of
        if memo is not None and memo[0] is request:
            return memo[1]
        found = self._semantic_query(request)
        self._semantic_of = (request, found)
        return found

    def _semantic_query(self, request: SearchRequest) -> SemanticQuery:
        filters = tuple(self.filter_query(request.filters)) if request.filters else ()
        query = request.query
        if isinstance(query, str) and (request.plain or not query.strip()):
            return SemanticQuery(query, filters)
        try:
            operator = request.default_operator  # it decides which clauses are required
            tree = query if not isinstance(query, str) else parse_query(query, self._fields, default_operator=operator)
        except QuerySyntaxError:
            return SemanticQuery(str(query), filters)
        found = semantic_query(tree, self._text_field_set)
        return SemanticQuery(found.text, filters + found.filters, found.exclusions)

    def allowed(self, query: SemanticQuery) -> np.ndarray:
        """The live documents that pass ``query``'s filters and match none of its exclusions."""
        plan = Plan(
            lambda: query_tree("", self._fields),
            self._text_fields,
            filters=query.filters,
            exclusions=query.exclusions,
        )
        return self.context.allowed(plan)

    def plan(self, request: SearchRequest) -> Plan:
        """What ``request`` executes: parsed once, filters as queries, words analyzed once."""
        filters = tuple(self.filter_query(request.filters)) if request.filters else ()
        default_fields = self._default_fields(request.fields) or self._text_fields
        saturating = self.similarity.saturating
        return plan_request(
            request, self.reader, self._fields, filters, default_fields, saturating, self._text_field_set
        )

    def top_docs(self, request: SearchRequest, depth: int | None = None) -> TopDocs:
        """The lexical ranked list of ``request`` (``depth`` long, default the page's window),
        before any other stage: what a fuser or a shard merge takes."""
        request.check()
        plan = self.plan(request)
        return self.lexical(request.strategy, plan, depth or request.window, None)

    def lexical(self, strategy: str, plan: Plan, limit: int, collector: FacetCollector | None) -> TopDocs:
        """The best ``limit`` documents of ``plan`` by ``strategy`` (``auto``: chosen per plan),
        on each shard's thread when the index is sharded (``sharded.py``)."""
        if self._sharded is not None and self._sharded.threads_pay(plan, limit):
            return self._sharded.run(strategy, plan, limit, collector)
        return choose(strategy, self.context, plan, limit, collector).run(self.context, plan, limit, collector)

    # -- aggregates and neighbours -------------------------------------------------------------
    def match_mask(
        self,
        query: str | Query = "",
        *,
        filters: Mapping[str, FilterValue] | Sequence[str] | None = None,
        fields: Sequence[str] | None = None,
        plain: bool = False,
        default_operator: Literal["or", "and"] = "or",
    ) -> np.ndarray:
        """Which documents ``search`` with these arguments matches (a mask over the reader),
        evaluated exhaustively: the reference for counts collected during a search."""
        filter_clauses = tuple(self.filter_query(filters)) if filters else ()
        tree = query_tree(query, self._fields, filter_clauses, plain=plain, default_operator=default_operator)
        request = SearchRequest(tree, fields=fields, strategy="exhaustive")
        return self.context.executor(self.plan(request)).evaluate(tree).mask

    def facets(self, mask: np.ndarray, fields: Sequence[str], size: int = 10) -> dict[str, list[FacetCount]]:
        """Counts of the values of keyword fields (and of the years of date fields) among the
        documents in ``mask``, most frequent first, at most ``size`` per field."""
        check_facet_fields(self.reader, fields)
        return facet_counts(self.reader, self.stats, mask, fields, size)

    def did_you_mean(self, query: str) -> str | None:
        """A corrected query when some of its words appear nowhere in the index (see ``suggest``)."""
        if self._suggester is None:
            self._suggester = Suggester(self.reader)
        return self._suggester.suggest(query)

    def related(self, doc_id: str, *, size: int = 5) -> SearchResult:
        """Documents related to ``doc_id``: by meaning when the index holds its vectors (nearest
        passages, the document and its near-duplicates left out), else ``more_like_this``."""
        doc = self.reader.find(doc_id)
        if doc is None:
            raise ZhisouError(f"no document with id {doc_id!r}")
        if self.has_vectors:
            from zhisou.search.dense import related_documents

            started = time.perf_counter()
            top = related_documents(self, doc, size)
            if top is not None:
                hits = hydrate(self.reader, top.docs.tolist(), top.scores.tolist(), 1, {})
                took = (time.perf_counter() - started) * 1000
                ids, scores = [h.id for h in hits], [h.score for h in hits]
                return SearchResult(f"related:{doc_id}", top.total, 1, size, took, ids, scores, hits)
        return self.more_like_this(doc_id, size=size)

    def more_like_this(self, doc_id: str, *, size: int = 5, max_terms: int = 25) -> SearchResult:
        """Documents that share the most distinctive words of ``doc_id`` (Lucene's MoreLikeThis:
        its terms weighed by tf·idf, the best ``max_terms`` searched as one disjunction)."""
        started = time.perf_counter()
        doc = self.reader.find(doc_id)
        if doc is None:
            raise ZhisouError(f"no document with id {doc_id!r}")
        stored = self.reader.stored(doc)
        words = distinctive_terms(self.reader, self.stats, self.similarity, stored, max_terms)
        allowed = self.reader.live.copy()
        allowed[doc] = False
        plan = Plan(lambda: query_tree("", self._fields), self._text_fields, words=words, allowed=allowed)
        top = choose("taat", self.context, plan, size, None).run(self.context, plan, size, None)
        hits = hydrate(self.reader, top.docs.tolist(), top.scores.tolist(), 1, plan.highlight_terms())
        took = (time.perf_counter() - started) * 1000
        return SearchResult(
            f"related:{doc_id}", top.total, 1, size, took, [h.id for h in hits], [h.score for h in hits], hits
        )

    def _default_fields(self, fields: Sequence[str] | None) -> tuple[str, ...] | None:
        if fields is None:
            return None
        text_fields = set(self._text_fields)
        unknown = [f for f in fields if f not in text_fields]
        if unknown:
            raise ZhisouError(f"unknown text field(s) {unknown}; text fields: {', '.join(sorted(text_fields))}")
        return tuple(fields)

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self.reader.get(doc_id)
