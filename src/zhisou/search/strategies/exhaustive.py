"""Exhaustive: evaluate the whole query tree into dense match and score arrays, then rank.

Runs every query shape (phrases, prefixes, AND, ranges, sorting by a field, any similarity):
the fallback of the other strategies and the reference they are tested against.
"""

from __future__ import annotations

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.search.collectors import Collector
from zhisou.search.plan import Plan
from zhisou.search.strategies.base import Context
from zhisou.search.topk import TopDocs


class Exhaustive:
    name = "exhaustive"
    prunes = False

    def supports(self, plan: Plan, collector: Collector | None) -> bool:
        return True

    def run(self, context: Context, plan: Plan, limit: int, collector: Collector | None) -> TopDocs:
        matches = context.executor(plan).evaluate(plan.tree)
        candidates = np.flatnonzero(matches.mask)
        if collector is not None:
            collector.collect(candidates)
        order = rank(context, candidates, matches.scores, plan.sort, plan.match_all, limit)
        return TopDocs(order.astype(np.int64, copy=False), matches.scores[order], len(candidates))


def rank(
    context: Context, candidates: np.ndarray, scores: np.ndarray, sort: str | None, match_all: bool, limit: int
) -> np.ndarray:
    """The first ``limit`` candidates in result order (by score, or by a date or number field,
    ``-field`` descending, missing values last); ties keep index order."""
    if sort is None and match_all:
        return candidates[:limit]
    keys = -scores[candidates] if sort is None else field_keys(context, sort, candidates)
    if len(candidates) > limit:
        part = np.argpartition(keys, limit - 1)[:limit]
        threshold = keys[part].max()
        part = np.flatnonzero(keys <= threshold)  # keep every tie at the cut, then order stably
        candidates, keys = candidates[part], keys[part]
    order = np.lexsort((candidates, keys))
    return candidates[order][:limit]


def field_keys(context: Context, sort: str, docs: np.ndarray) -> np.ndarray:
    """Ascending sort keys of ``docs`` for ``sort`` (a date or number field, ``-field``
    descending); documents without a value get +inf: last either way."""
    name = sort.lstrip("-")
    spec = context.reader.schema.get(name)
    if spec is None or spec.type not in ("date", "number"):
        raise ZhisouError(f"cannot sort by {name!r}: sorting needs a date or number field")
    values = context.stats.column(name)[docs]
    return np.where(np.isnan(values), np.inf, -values if sort.startswith("-") else values)


def sort_by_field(context: Context, top: TopDocs, sort: str) -> TopDocs:
    """``top`` reordered by ``sort``; documents with equal values keep their order in ``top``."""
    order = np.lexsort((np.arange(len(top.docs)), field_keys(context, sort, top.docs)))
    return TopDocs(top.docs[order], top.scores[order], top.total, top.exact)
