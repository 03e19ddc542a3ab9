"""Lexical retrieval over a sharded index: each shard's part on its own thread, merged.

Every shard is searched with the statistics of the whole index (``EnclosingStatistics`` over the
reader of all shards), so its scores are the ones a single index over the same documents gives;
each returns its best ``limit`` with shard-local doc numbers, shifted by the shard's base into
the enclosing reader's numbering, and ``topk.merge`` keeps the best ``limit`` of them (ties in
shard order: the order of one reader holding the shards one after another). The kernels release
the GIL, so shards are scored in parallel — when that pays: the rest of a search is Python,
which one thread runs at a time, and four small searches cost more than one over all segments.
So a query runs on threads only when its words have many postings (``threads_pay``, measured);
any other — few postings, phrases and wildcards, a sort by a field, match-all — runs on the
reader of all shards as on any index of many segments, with the same scores. Everything other
than retrieval (facets, stored fields, the feed) reads that reader too.
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

# Threads pay once a query's terms have this many postings in all. Measured with
# benchmarks/sharded_threads.py (4 shards, 2 cores, synthetic 100k and 1M documents; RESULTS.md,
# "Spark builds and sharded indexes"): one thread over the reader of all shards was faster than
# the shards on threads for every top 10 up to the largest query seen (1.1M postings; by 1.06-2x),
# and for every top 1000 below 1M postings (by 1.1-2.3x); threads won only above that (1.13x).
# A shard's search repeats the Python a query costs (planning its terms, the top-k selection)
# and on two cores its kernels' share is too small to make that up; with more cores or longer
# postings the break-even comes earlier.
PARALLEL_MIN_POSTINGS = 2_000_000
PARALLEL_MIN_POSTINGS_DEEP = 1_000_000
DEEP = 100  # a top-k deeper than this is "deep"
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """Threads shared by every sharded searcher (one per core, two at least; tasks never wait on
    each other)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="zhisou-shard")
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

    def threads_pay(self, plan: Plan, limit: int) -> bool:
        """Whether to search ``plan`` shard by shard on threads rather than on the reader of
        all shards: a plan of words ranked by score (what merging shard lists needs) whose terms
        have enough postings. Counts the words' document frequencies on the way, once, for the
        shards' threads to read instead of each counting them."""
        if len(self.contexts) < 2 or plan.words is None or plan.sort is not None or plan.match_all:
            return False
        threshold = PARALLEL_MIN_POSTINGS_DEEP if limit > DEEP else PARALLEL_MIN_POSTINGS
        return self.enclosing.look_up(query_keys(plan.words).keys) >= threshold

    def run(self, name: str, plan: Plan, limit: int, collector: Collector | None) -> TopDocs:
        """The best ``limit`` documents of ``plan`` over all shards, strategy ``name`` on each
        shard's thread (``threads_pay`` first: it counts the document frequencies)."""
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

        return merge(list(pool().map(one, range(len(self.contexts)))), limit)
