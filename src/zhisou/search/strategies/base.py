"""What every strategy is given and what it promises.

A strategy turns a ``Plan`` into ``TopDocs``: the best ``limit`` documents of the reader with
their scores, and how many matched. Every strategy computes the same scores (the similarity's,
from the same statistics) — they differ only in how much of the postings they read; the
exhaustive one is the reference the others are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from zhisou.index.reader import IndexReader
from zhisou.search.collectors import Collector
from zhisou.search.executor import Executor
from zhisou.search.plan import Plan
from zhisou.search.similarity import Similarity
from zhisou.search.stats import ReaderStats
from zhisou.search.topk import TopDocs


@dataclass(frozen=True)
class Context:
    """One reader snapshot and how it scores."""

    reader: IndexReader
    stats: ReaderStats
    similarity: Similarity

    def executor(self, plan: Plan) -> Executor:
        return Executor(self.reader, self.stats, self.similarity, plan.default_fields, plan.terms)

    def allowed(self, plan: Plan) -> np.ndarray:
        """Live documents that pass the plan's filters and none of its exclusions (once per plan)."""
        if plan.allowed is None:
            allowed = self.reader.live
            if plan.filters or plan.exclusions:
                executor = self.executor(plan)
                for clause in plan.filters:
                    allowed = allowed & executor.evaluate(clause).mask
                for clause in plan.exclusions:
                    allowed = allowed & ~executor.evaluate(clause).mask
            plan.allowed = allowed
        return plan.allowed


class Strategy(Protocol):
    name: str
    prunes: bool  # skips documents that cannot reach the top: totals may be lower bounds

    def supports(self, plan: Plan, collector: Collector | None) -> bool:
        """Whether this strategy can run ``plan`` and feed ``collector``."""

    def run(self, context: Context, plan: Plan, limit: int, collector: Collector | None) -> TopDocs:
        """The best ``limit`` documents of ``plan``; every match goes to ``collector`` when it
        needs every match (only strategies that then do not prune are given one)."""
