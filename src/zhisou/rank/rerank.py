"""The learned reranker: a ``Reranker`` stage that orders the head of a list by a ranking model.

``mode=ltr`` runs the first stage the model was trained behind (hybrid when the index holds
vectors, else keyword), computes the features of its top ``depth`` candidates and orders them
by the model's score; documents past the head keep their first-stage order after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from zhisou.rank.features import FeatureMatrix, extract
from zhisou.rank.model import RankingModel
from zhisou.search.topk import TopDocs

if TYPE_CHECKING:
    from zhisou.search.request import SearchRequest
    from zhisou.search.searcher import Searcher

LTR_DEPTH = 100  # candidates a model reorders


def model_order(scores: np.ndarray) -> np.ndarray:
    """Positions sorted by model score, best first; ties keep the first stage's order."""
    return np.lexsort((np.arange(len(scores)), -scores))


class LearnedReranker:
    def __init__(self, model: RankingModel, depth: int = LTR_DEPTH) -> None:
        self.model = model
        self.depth = depth

    def rerank(
        self, request: SearchRequest, searcher: Searcher, top: TopDocs, channels: Sequence[tuple[str, TopDocs]]
    ) -> TopDocs:
        scores = self.model.predict(extract(searcher, request, top.docs, channels, clicks=self.model.clicks))
        order = model_order(scores)
        return TopDocs(top.docs[order], scores[order], top.total, top.exact)

    def explain(
        self,
        request: SearchRequest,
        searcher: Searcher,
        docs: np.ndarray,
        channels: Sequence[tuple[str, TopDocs]],
        head: np.ndarray,
    ) -> list[dict[str, Any]]:
        """Per document of ``docs``: the model, its score and the feature values it read, computed
        as ``rerank`` did — over ``head``, the list it reordered (``@list`` features scale
        within it)."""
        known = set(head.tolist())
        rows = np.concatenate([head, [doc for doc in docs.tolist() if doc not in known]]).astype(np.int64)
        matrix = extract(searcher, request, rows, channels, clicks=self.model.clicks, listed=len(head))
        at = {doc: row for row, doc in enumerate(rows.tolist())}
        picked = [at[doc] for doc in docs.tolist()]
        matrix = FeatureMatrix(matrix.names, matrix.values[picked])
        scores = self.model.predict(matrix)
        values = matrix.select(self.model.features)
        return [
            {
                "model": self.model.describe(),
                "score": float(score),
                "features": {
                    name: (None if np.isnan(value) else round(float(value), 6))
                    for name, value in zip(self.model.features, row)
                },
            }
            for score, row in zip(scores.tolist(), values)
        ]
