"""Training data for ranking: per query, the first stage's candidates with their features and a
relevance label each — from judgments (a BEIR split) or from click sessions.

Rows of one query are contiguous and in first-stage order, so "the untrained order" is simply
each group's row order, and every learner sees groups the way LightGBM and XGBoost want them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zhisou.rank.clickstats import ClickStats
from zhisou.rank.features import extract, feature_names
from zhisou.search.request import SearchRequest

if TYPE_CHECKING:
    from zhisou.search.searcher import Searcher


@dataclass
class RankingData:
    names: tuple[str, ...]  # feature names, column order
    values: np.ndarray  # (rows, features)
    labels: np.ndarray  # (rows,) relevance grade (or a click model's estimate)
    groups: np.ndarray  # (queries,) rows per query
    query_ids: list[str]
    doc_ids: list[str]  # per row
    weights: np.ndarray | None = None  # per query: how much it counts (inverse propensities …)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(self.groups))).astype(np.int64)

    def __len__(self) -> int:
        return len(self.groups)

    def take(self, queries: Sequence[int] | np.ndarray) -> RankingData:
        """The data of the queries at ``queries`` (positions), in that order."""
        offsets = self.offsets
        rows = (
            np.concatenate([np.arange(offsets[q], offsets[q + 1]) for q in queries])
            if len(queries)
            else np.zeros(0, dtype=np.int64)
        )
        return RankingData(
            self.names,
            self.values[rows],
            self.labels[rows],
            self.groups[list(queries)],
            [self.query_ids[q] for q in queries],
            [self.doc_ids[r] for r in rows.tolist()],
            None if self.weights is None else self.weights[list(queries)],
        )

    def relabel(self, judgments: Mapping[str, Mapping[str, float]]) -> RankingData:
        """The same rows labelled from ``judgments`` (query id → doc id → grade; others 0)."""
        offsets = self.offsets
        labels = np.zeros(len(self.labels))
        for number, query_id in enumerate(self.query_ids):
            judged = judgments.get(query_id, {})
            for row in range(int(offsets[number]), int(offsets[number + 1])):
                labels[row] = float(judged.get(self.doc_ids[row], 0))
        return RankingData(self.names, self.values, labels, self.groups, self.query_ids, self.doc_ids, self.weights)

    def fingerprint(self) -> str:
        """Changes whenever the rows, labels or features change: recorded with a model."""
        digest = hashlib.sha1()
        digest.update("\x1f".join(self.names).encode())
        for array in (self.values, self.labels, self.groups):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        digest.update("\x1f".join(self.query_ids).encode())
        return digest.hexdigest()[:16]

    def run(self, scores: np.ndarray) -> dict[str, dict[str, float]]:
        """A TREC-style run: per query, its candidates with ``scores`` (one per row)."""
        run: dict[str, dict[str, float]] = {}
        offsets = self.offsets
        for number, query_id in enumerate(self.query_ids):
            begin, end = int(offsets[number]), int(offsets[number + 1])
            run[query_id] = dict(zip(self.doc_ids[begin:end], scores[begin:end].tolist()))
        return run

    def first_stage_scores(self) -> np.ndarray:
        """Scores that reproduce each group's row order (the first stage's ranking)."""
        offsets = self.offsets
        positions = np.arange(len(self.labels)) - np.repeat(offsets[:-1], self.groups)
        return -positions.astype(np.float64)

    def write_svmlight(self, path: Path) -> None:
        """LETOR / SVMlight text: ``label qid:N 1:v 2:v … # doc-id``; missing values are left out
        (the format has no missing marker); feature numbers follow ``names`` from 1."""
        offsets = self.offsets
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("# features: " + " ".join(f"{i}:{name}" for i, name in enumerate(self.names, 1)) + "\n")
            for number, query_id in enumerate(self.query_ids):
                for row in range(int(offsets[number]), int(offsets[number + 1])):
                    cells = " ".join(
                        f"{i}:{value:.6g}" for i, value in enumerate(self.values[row].tolist(), 1) if value == value
                    )
                    label = self.labels[row]
                    shown = int(label) if float(label).is_integer() else round(float(label), 6)
                    handle.write(f"{shown} qid:{number + 1} {cells} # {query_id} {self.doc_ids[row]}\n")


def collect(
    searcher: Searcher,
    queries: Sequence[tuple[str, str]],
    judgments: Mapping[str, Mapping[str, float]],
    *,
    depth: int,
    base: str,
    on_progress: Callable[[int], None] | None = None,
    clicks: ClickStats | None = None,
) -> RankingData:
    """For each (query id, text): the ``base`` mode's top ``depth`` candidates, their features
    (click features from ``clicks``), and labels from ``judgments`` (query id → doc id → grade;
    unjudged documents are 0)."""
    blocks, groups, query_ids, doc_ids = [], [], [], []
    names: tuple[str, ...] = ()
    for done, (query_id, text) in enumerate(queries, start=1):
        request = SearchRequest(text, size=min(depth, 1000), mode=base, plain=True, with_docs=False)
        top, channels = searcher.candidates(request, depth)
        ids = searcher.reader.doc_ids(top.docs.tolist())
        matrix = extract(searcher, request, top.docs, channels, clicks=clicks)
        names = matrix.names
        blocks.append(matrix.values)
        groups.append(len(ids))
        query_ids.append(query_id)
        doc_ids += ids
        if on_progress is not None:
            on_progress(done)
    if not names:
        names = feature_names(searcher)
    width = len(names)
    return RankingData(
        names,
        np.concatenate(blocks) if blocks else np.zeros((0, width)),
        np.zeros(len(doc_ids)),
        np.array(groups, dtype=np.int64),
        query_ids,
        doc_ids,
    ).relabel(judgments)
