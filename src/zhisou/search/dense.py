"""Semantic recall: the ``Retriever`` stage that ranks documents by their best passage.

The query is encoded by the index's model (``schema.semantic.model``), each segment's passage
vectors are scored by inner product (they are unit vectors: cosine), a document scores its best
passage, and the documents the request's filters allow (live ones only) are ranked. Search is
exact, a matrix product over the memory-mapped vectors of each segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.search.topk import TopDocs

if TYPE_CHECKING:
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
        text = request.query if isinstance(request.query, str) else ""
        if not text.strip():
            return TopDocs.empty()
        query = searcher.query_vector(text)
        allowed = searcher.filter_mask(request)
        docs_parts, score_parts = [], []
        for segment, base in zip(searcher.reader.segments, searcher.reader.bases):
            best = best_passages(segment, query)
            if best is None:
                continue
            local = np.flatnonzero(allowed[int(base) : int(base) + segment.meta.doc_count] & best[1])
            docs_parts.append(local + int(base))
            score_parts.append(best[0][local])
        if not docs_parts:
            return TopDocs.empty()
        docs, scores = np.concatenate(docs_parts), np.concatenate(score_parts).astype(np.float64)
        part = np.argpartition(-scores, depth - 1)[:depth] if len(docs) > depth else np.arange(len(docs))
        order = part[np.lexsort((docs[part], -scores[part]))]
        return TopDocs(docs[order], scores[order], len(docs))


def best_passages(segment, query: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:  # type: ignore[no-untyped-def]
    """Per document of ``segment``: the score of its best passage, and whether it has any;
    None when the segment holds no vectors."""
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
    best = np.full(len(counts), -np.inf)
    if len(vectors):
        scores = vectors @ query.astype(np.float32)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        best[has] = np.maximum.reduceat(scores, starts[has])
    return best, has


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
    counts = counts.reshape(-1).astype(np.int64)
    start = int(counts[:local].sum())
    stop = start + int(counts[local])
    return (vectors[start:stop], spans[start:stop]) if stop > start else None


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
    docs_parts, score_parts = [], []
    for segment, base in zip(searcher.reader.segments, searcher.reader.bases):
        best = best_passages(segment, vector)
        if best is None:
            continue
        live = segment.live_mask() & best[1]
        local = np.flatnonzero(live)
        docs_parts.append(local + int(base))
        score_parts.append(best[0][local])
    if not docs_parts:
        return TopDocs.empty()
    docs, scores = np.concatenate(docs_parts), np.concatenate(score_parts).astype(np.float64)
    keep = (docs != doc) & (scores < NEAR_DUPLICATE)
    docs, scores = docs[keep], scores[keep]
    order = np.lexsort((docs, -scores))[:size]
    return TopDocs(docs[order], scores[order], len(docs))
