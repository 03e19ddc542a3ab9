"""``TopDocs``: the ranked list every stage hands to the next.

A strategy produces one (the best documents of a reader, best first, with the number of
matches); a second recall channel produces another; a fuser turns several into one, a reranker
reorders one; paging and hydration read the final one. Documents are the reader's global doc
numbers (``IndexReader.bases`` + segment-local id); ``sources`` says which list or shard each
came from when lists from several readers are merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)  # built once per search and stage: no frozen-dataclass setattr cost
class TopDocs:
    docs: np.ndarray  # int64 doc numbers, best first
    scores: np.ndarray  # float64, same order (non-increasing when ranked by score)
    total: int  # documents that matched (a lower bound when ``exact`` is False)
    exact: bool = True
    sources: np.ndarray | None = None  # per doc, the index of the list it came from (merges)

    @classmethod
    def empty(cls) -> TopDocs:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0), 0)

    def __len__(self) -> int:
        return len(self.docs)

    def head(self, count: int) -> TopDocs:
        """The first ``count`` entries (the total is kept)."""
        sources = None if self.sources is None else self.sources[:count]
        return TopDocs(self.docs[:count], self.scores[:count], self.total, self.exact, sources)

    def page(self, first: int, size: int) -> TopDocs:
        """Entries ``first`` .. ``first + size - 1`` (0-based), the total kept."""
        sources = None if self.sources is None else self.sources[first : first + size]
        return TopDocs(
            self.docs[first : first + size], self.scores[first : first + size], self.total, self.exact, sources
        )


def merge(lists: Sequence[TopDocs], limit: int) -> TopDocs:
    """The best ``limit`` of several lists whose scores are comparable (shards scored with the
    same collection statistics): by score, ties by list then position — deterministic, and the
    order a single reader holding the shards one after another would give. Totals add up."""
    if not lists:
        return TopDocs.empty()
    docs = np.concatenate([top.docs for top in lists]).astype(np.int64, copy=False)
    scores = np.concatenate([top.scores for top in lists]).astype(np.float64, copy=False)
    sources = np.concatenate([np.full(len(top), number, dtype=np.int64) for number, top in enumerate(lists)])
    positions = np.concatenate([np.arange(len(top), dtype=np.int64) for top in lists])
    order = np.lexsort((positions, sources, -scores))[:limit]
    return TopDocs(
        docs[order],
        scores[order],
        sum(top.total for top in lists),
        all(top.exact for top in lists),
        sources[order],
    )
