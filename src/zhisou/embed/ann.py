"""Approximate nearest passages: an HNSW graph (faiss) over a large segment's passage vectors.

A segment with at least ``SemanticSpec.hnsw_min_passages`` passages gets the graph as a derived
optional component (``hnsw``): built when the segment is flushed, and again from the merged
vectors after a merge. Smaller segments, and any segment written without one, are searched
exactly — a matrix product that is as fast as the graph below some tens of thousands of rows.

Deleted documents and filters never come back: the passages of documents a search may not
return are masked out with an id selector during the graph walk. When they leave few passages
(under ``EXACT_BELOW`` or ``EXACT_SHARE`` of the segment) those are scored exactly instead —
a graph walk that must skip most nodes loses recall, and a small subset is cheap to score.

faiss is imported on first use only: importing zhisou stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zhisou.errors import CorruptIndexError, ZhisouError

if TYPE_CHECKING:
    from zhisou.index.segment_reader import SegmentReader

# Graph degree and construction beam (faiss's HNSW parameters M and efConstruction); the search
# beam is at least EF_SEARCH and never below the number of passages asked for. Measured in
# benchmarks/ann_recall.py (RESULTS.md, "Approximate search").
HNSW_M = 32
EF_CONSTRUCTION = 200
EF_SEARCH = 128
# Passages asked for per document wanted: documents have several passages, and a document's
# second-best passage takes a slot without adding a document.
OVERFETCH = 3
EXACT_BELOW = 4_096
EXACT_SHARE = 0.05


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise ZhisouError(
            "this index has an HNSW graph and faiss is not installed; pip install 'zhisou[semantic]'"
        ) from None
    return faiss


def build_graph(vectors: np.ndarray) -> np.ndarray:
    """The serialized HNSW graph (inner product) over ``vectors`` (rows: unit passage vectors)."""
    faiss = _faiss()
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexHNSWFlat(rows.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    index.add(rows)
    return np.asarray(faiss.serialize_index(index), dtype=np.uint8)


@dataclass
class PassageGraph:
    """A segment's loaded graph and which document each passage belongs to."""

    index: Any  # faiss.IndexHNSWFlat
    owner: np.ndarray  # passage → local document number


def graph_of(segment: SegmentReader) -> PassageGraph | None:
    """The segment's HNSW graph, loaded once per reader; None when it has none."""
    found = segment.derived.get("hnsw")
    if found is None:
        data = segment.optional.get("hnsw")
        counts = segment.optional.get("pcn")
        if data is None or counts is None or not len(data):
            return None
        counts = counts.reshape(-1).astype(np.int64)
        index = _faiss().deserialize_index(np.ascontiguousarray(data))
        if index.ntotal != int(counts.sum()):
            raise CorruptIndexError(
                f"segment {segment.meta.name}: HNSW graph holds {index.ntotal} passages, the segment "
                f"{int(counts.sum())}; the index is damaged (rebuild it)"
            )
        found = segment.derived["hnsw"] = PassageGraph(index, np.repeat(np.arange(len(counts)), counts))
    return found  # type: ignore[no-any-return]


def nearest_documents(
    graph: PassageGraph, vectors: np.ndarray, query: np.ndarray, allowed: np.ndarray, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """(local documents, best passage score) of up to ``depth`` of the documents ``allowed``
    (a mask over the segment) nearest ``query``, best first."""
    passage_allowed = allowed[graph.owner]
    n_allowed = int(passage_allowed.sum())
    if not n_allowed:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if n_allowed < EXACT_BELOW or n_allowed < EXACT_SHARE * len(graph.owner):
        rows = np.flatnonzero(passage_allowed)
        return _best_per_document(graph.owner[rows], vectors[rows] @ query, depth)
    faiss = _faiss()
    everything = n_allowed == len(graph.owner)
    bitmap = None if everything else np.packbits(passage_allowed, bitorder="little")
    asked = min(n_allowed, max(depth * OVERFETCH, 10))
    while True:
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(EF_SEARCH, asked)
        if bitmap is not None:
            params.sel = faiss.IDSelectorBitmap(len(graph.owner), faiss.swig_ptr(bitmap))
        scores, ids = graph.index.search(query.reshape(1, -1).astype(np.float32), asked, params=params)
        found = ids[0] >= 0
        docs, best = _best_per_document(graph.owner[ids[0][found]], scores[0][found], depth)
        if len(docs) >= depth or asked >= n_allowed:
            return docs, best
        asked = min(n_allowed, asked * 4)  # too few distinct documents: widen the beam


def _best_per_document(owners: np.ndarray, scores: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Each document's best passage score, the ``depth`` best documents first."""
    order = np.lexsort((owners, -scores))
    owners, scores = owners[order], scores[order]
    _, first = np.unique(owners, return_index=True)  # a document's first row is its best
    first.sort()
    return owners[first][:depth].astype(np.int64), scores[first][:depth]
