"""Lexical retrieval over a sharded index: each shard's part on its own thread, merged.

Every shard is searched with the statistics of the whole index (``EnclosingStatistics`` over the
reader of all shards), so its scores are the ones a single index over the same documents gives;
each returns its best ``limit`` with shard-local doc numbers, shifted by the shard's base into
the enclosing reader's numbering, and ``topk.merge`` keeps the best ``limit`` of them (ties in
shard order: the order of one reader holding the shards one after another). The kernels release
the GIL, so shards are scored in parallel — when that pays: the rest of a shard's search is
Python, which one thread runs at a time, so a query whose terms have few postings runs its shards
one after another on the calling thread (``PARALLEL_MIN_POSTINGS``, measured).

Ranked by score only: a query sorted by a field, or one matching everything (index order), runs
on the enclosing reader instead, as does everything other than retrieval (facets counted from
the shards' matches, stored fields, the feed).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from zhisou.index.sharded import ShardedReader
from zhisou.search.collectors import Collector
from zhisou.search.plan import Plan
from zhisou.search.query import Query
from zhisou.search.similarity import Similarity
from zhisou.search.stats import EnclosingStatistics, ReaderStats
from zhisou.search.strategies import Context, choose
from zhisou.search.strategies.terms import query_keys
from zhisou.search.topk import TopDocs, merge

# Threads pay once a query's terms have this many postings in all (benchmarks/RESULTS.md,
# "Sharded search": 4 shards on 2 cores, synthetic 100k and 1M documents, two runs). A top 10:
# below ~300,000 postings one thread was as fast or faster (1.1-1.7x under 100,000); from
# 300,000 threads were faster, 1.2-1.5x from 600,000. A deeper top-k, whose selection is
# heavier: threads as fast at 100,000 and 1.1-1.3x faster above.
PARALLEL_MIN_POSTINGS = 300_000
PARALLEL_MIN_POSTINGS_DEEP = 100_000
DEEP = 100  # a top-k deeper than this is "deep"
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """Threads shared by every sharded searcher (one per core; tasks never wait on each other)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="zhisou-shard")
        return _pool


class Shifted:
    """A collector fed one shard's matches, passing them on in the enclosing numbering."""

    def __init__(self, collector: Collector, base: int) -> None:
        self.collector, self.base = collector, base
        self.needs_every_match = collector.needs_every_match

    def collect(self, docs: np.ndarray) -> None:
        self.collector.collect(np.asarray(docs, dtype=np.int64) + self.base)


class ShardedRetrieval:
    """One searcher's per-shard contexts (built once per snapshot) and the parallel run."""

    def __init__(self, reader: ShardedReader, stats: ReaderStats, similarity: Similarity) -> None:
        self.enclosing = enclosing = EnclosingStatistics(stats)
        self.contexts = [Context(shard, ReaderStats(shard, enclosing), similarity) for shard in reader.shards]
        self.bases = reader.shard_bases[:-1].tolist()
        self._tree_lock = threading.Lock()

    @staticmethod
    def handles(plan: Plan) -> bool:
        """Whether the plan's result is ranked by score (what merging shard lists needs)."""
        return plan.sort is None and not plan.match_all

    def run(self, name: str, plan: Plan, limit: int, collector: Collector | None) -> TopDocs:
        """The best ``limit`` documents of ``plan`` over all shards, strategy ``name`` on each."""
        tree: list[Query] = []

        def shared_tree() -> Query:  # parsed once, whichever shard asks first
            with self._tree_lock:
                if not tree:
                    tree.append(plan.tree)
                return tree[0]

        def one(number: int) -> TopDocs:
            context, base = self.contexts[number], self.bases[number]
            allowed = plan.allowed
            if allowed is not None:
                allowed = allowed[base : base + context.reader.max_doc]
            part = dataclasses.replace(
                plan, build_tree=shared_tree, allowed=allowed, _tree=plan._tree, _terms=plan.terms
            )
            fed = None if collector is None else Shifted(collector, base)
            top = choose(name, context, part, limit, fed).run(context, part, limit, fed)
            return TopDocs(top.docs + base, top.scores, top.total, top.exact)

        if len(self.contexts) == 1:
            return one(0)
        # The words' document frequencies counted once, here, rather than by every shard's
        # thread at once; their postings say whether threads are worth their cost.
        postings = self.enclosing.look_up(query_keys(plan.words).keys) if plan.words is not None else None
        numbers = range(len(self.contexts))
        threshold = PARALLEL_MIN_POSTINGS_DEEP if limit > DEEP else PARALLEL_MIN_POSTINGS
        if postings is not None and postings < threshold:
            return merge([one(number) for number in numbers], limit)
        return merge(list(pool().map(one, numbers)), limit)
