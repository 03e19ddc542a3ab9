"""Semantic recall: the ``Retriever`` stage that ranks documents by their best passage.

The query is encoded by the index's model (``schema.semantic.model``), each segment's passage
vectors are scored by inner product (they are unit vectors: cosine), a document scores its best
passage, and the documents the request's filters allow (live ones only) are ranked. A segment
is searched exactly — a matrix product over its memory-mapped vectors — or, when it is large
enough to carry one, through its HNSW graph (``embed/ann.py``), with filters and deletes
applied during the walk so that ``k`` allowed documents still come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.search.topk import TopDocs

if TYPE_CHECKING:
    from zhisou.index.segment_reader import SegmentReader
    from zhisou.search.request import SearchRequest
    from zhisou.search.searcher import Searcher


@dataclass(frozen=True)
class PassageHit:
    doc: int  # global doc number
    score: float
    passage: int  # the best passage's number within its document
    span: tuple[int, int]  # its character span in the document's first passage field


class DenseRetriever:
    name = "semantic"

    def retrieve(self, request: SearchRequest, searcher: Searcher, depth: int) -> TopDocs:
        query = searcher.semantic_query(request)
        if not query.text.strip():
            return TopDocs.empty()
        return nearest(searcher, searcher.query_vector(query.text), searcher.allowed(query), depth)


def nearest(searcher: Searcher, query: np.ndarray, allowed: np.ndarray, depth: int) -> TopDocs:
    """The ``depth`` documents ``allowed`` (a mask over the reader) whose best passage is
    nearest ``query``; the total counts every allowed document that has passages."""
    docs_parts, score_parts, total = [], [], 0
    for segment, base in zip(searcher.reader.segments, searcher.reader.bases):
        found = segment_nearest(segment, query, allowed[int(base) : int(base) + segment.meta.doc_count], depth)
        if found is not None:
            docs_parts.append(found[0] + int(base))
            score_parts.append(found[1])
            total += found[2]
    if not docs_parts:
        return TopDocs.empty()
    docs, scores = np.concatenate(docs_parts), np.concatenate(score_parts).astype(np.float64)
    order = np.lexsort((docs, -scores))[:depth]
    return TopDocs(docs[order], scores[order], total)


def segment_nearest(
    segment: SegmentReader, query: np.ndarray, allowed: np.ndarray, depth: int
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Up to ``depth`` of the segment's documents ``allowed`` (a mask over it) by their best
    passage's score, best first, and how many allowed documents have passages; through the
    segment's HNSW graph when it has one (``embed/ann.py``), exactly otherwise. None when the
    segment holds no vectors."""
    vectors = segment.optional.get("pvc")
    counts = segment.optional.get("pcn")
    if vectors is None or counts is None:
        return None
    if vectors.ndim != 2 or (len(vectors) and vectors.shape[1] != len(query)):
        width = vectors.shape[1] if vectors.ndim == 2 else 0
        raise ZhisouError(
            f"segment {segment.meta.name}: vectors of {width} dimensions, the query's model gives {len(query)}; "
            "the index was embedded with another model: reindex it, or search with its model"
        )
    counts = counts.reshape(-1).astype(np.int64)
    has = counts > 0
    candidates = allowed & has
    total = int(candidates.sum())
    query = query.astype(np.float32)
    if not total:
        return np.zeros(0, dtype=np.int64), np.zeros(0), 0
    if "hnsw" in segment.optional:
        from zhisou.embed.ann import graph_of, nearest_documents

        graph = graph_of(segment)
        if graph is not None:
            docs, scores = nearest_documents(graph, vectors, query, candidates, depth)
            return docs, scores, total
    best = np.full(len(counts), -np.inf, dtype=np.float32)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    best[has] = np.maximum.reduceat(vectors @ query, starts[has])
    local = np.flatnonzero(candidates)
    scores = best[local]
    if len(local) > depth:
        part = np.argpartition(-scores, depth - 1)[:depth]
        local, scores = local[part], scores[part]
    order = np.lexsort((local, -scores))
    return local[order], scores[order], total


def passages_of(searcher: Searcher, doc: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Global document ``doc``'s passage vectors and their character spans (None when its
    segment holds no vectors or it has no passage)."""
    reader = searcher.reader
    segment_number = int(np.searchsorted(reader.bases, doc, side="right")) - 1
    segment = reader.segments[segment_number]
    local = doc - int(reader.bases[segment_number])
    vectors, counts, spans = (segment.optional.get(s) for s in ("pvc", "pcn", "psp"))
    if vectors is None or counts is None or spans is None:
        return None
    starts = passage_starts(segment)
    start, stop = int(starts[local]), int(starts[local + 1])
    return (vectors[start:stop], spans[start:stop]) if stop > start else None


def best_passage_scores(searcher: Searcher, docs: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Each of ``docs`` (global numbers): the score of its passage nearest ``query`` (0 for a
    document without passages)."""
    reader = searcher.reader
    out = np.zeros(len(docs))
    owners = np.searchsorted(reader.bases, docs, side="right") - 1
    query = query.astype(np.float32)
    for number in np.unique(owners).tolist():
        segment = reader.segments[number]
        vectors, counts = segment.optional.get("pvc"), segment.optional.get("pcn")
        if vectors is None or counts is None:
            continue
        starts = passage_starts(segment)
        rows = np.flatnonzero(owners == number)
        for row, local in zip(rows.tolist(), (docs[rows] - int(reader.bases[number])).tolist()):
            begin, end = int(starts[local]), int(starts[local + 1])
            if end > begin:
                out[row] = float((vectors[begin:end] @ query).max())
    return out


def passage_starts(segment: SegmentReader) -> np.ndarray:
    """Where each document's passages begin among the segment's vectors (one more entry: the
    end), computed once per segment."""
    found = segment.derived.get("passage-starts")
    if found is None:
        counts = segment.optional["pcn"].reshape(-1).astype(np.int64)
        found = segment.derived["passage-starts"] = np.concatenate(([0], np.cumsum(counts)))
    return found  # type: ignore[return-value]


def best_passage(searcher: Searcher, doc: int, query: np.ndarray) -> PassageHit | None:
    """The passage of global document ``doc`` that best matches ``query`` (for its snippet)."""
    found = passages_of(searcher, doc)
    if found is None:
        return None
    rows, spans = found
    scores = rows @ query.astype(np.float32)
    best = int(np.argmax(scores))
    return PassageHit(doc, float(scores[best]), best, (int(spans[best][0]), int(spans[best][1])))


# Two documents whose vectors agree this closely are copies of each other: not "related".
NEAR_DUPLICATE = 0.985


def document_vector(searcher: Searcher, doc: int) -> np.ndarray | None:
    """The unit mean of a document's passage vectors (None without vectors)."""
    found = passages_of(searcher, doc)
    if found is None:
        return None
    mean = found[0].astype(np.float64).mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def related_documents(searcher: Searcher, doc: int, size: int) -> TopDocs | None:
    """Documents nearest ``doc`` by meaning — their best passage against its mean vector —
    without ``doc`` itself and its near-duplicates; None when ``doc`` has no vectors."""
    vector = document_vector(searcher, doc)
    if vector is None:
        return None
    live = searcher.reader.live
    depth = size * 2 + 8  # room for the document itself and its copies
    while True:
        top = nearest(searcher, vector, live, depth)
        keep = (top.docs != doc) & (top.scores < NEAR_DUPLICATE)
        if keep.sum() >= size or len(top.docs) < depth:
            return TopDocs(top.docs[keep][:size], top.scores[keep][:size], top.total - int((~keep).sum()))
        depth *= 4  # many near-duplicates: look further
