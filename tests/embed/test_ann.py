"""The HNSW graph of large segments: it agrees with exact search, restrictions (filters,
deletes) hold during the walk with ``k`` allowed documents still returned, and the graph is
written at flush, derived again after merges and read back after reopening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.embed.test_semantic_search import corpus, reference_scores
from zhisou import Index, Schema
from zhisou.schema import FieldSpec, SemanticSpec

faiss = pytest.importorskip("faiss")

from zhisou.embed import ann  # noqa: E402  (needs faiss)


def clustered(passages: int, dim: int = 32, seed: int = 3) -> np.ndarray:
    """Unit vectors around 40 centres: the shape real embeddings have (topics), not uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim))
    rows = centres[rng.integers(0, 40, passages)] + 0.6 * rng.standard_normal((passages, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def exact(owner: np.ndarray, vectors: np.ndarray, query: np.ndarray, allowed: np.ndarray, k: int) -> list[int]:
    best: dict[int, float] = {}
    for row, doc in enumerate(owner.tolist()):
        if allowed[doc]:
            best[doc] = max(best.get(doc, -np.inf), float(vectors[row] @ query))
    return sorted(best, key=lambda d: (-best[d], d))[:k]


@pytest.fixture(scope="module")
def graph_case() -> tuple[ann.PassageGraph, np.ndarray, np.ndarray]:
    counts = np.random.default_rng(5).integers(1, 4, 3_000)  # 1-3 passages per document
    vectors = clustered(int(counts.sum()))  # ~6,000: above EXACT_BELOW, so the graph is walked
    index = faiss.deserialize_index(ann.build_graph(vectors))
    owner = np.repeat(np.arange(len(counts)), counts)
    queries = clustered(40, seed=11)
    return ann.PassageGraph(index, owner), vectors, queries


def test_the_graph_finds_what_exact_search_finds(graph_case) -> None:
    graph, vectors, queries = graph_case
    everything = np.ones(graph.owner.max() + 1, dtype=bool)
    recall = []
    for query in queries:
        docs, scores = ann.nearest_documents(graph, vectors, query, everything, 10)
        truth = exact(graph.owner, vectors, query, everything, 10)
        assert len(docs) == 10 and np.all(np.diff(scores) <= 1e-6)  # k documents, best first
        recall.append(len(set(docs.tolist()) & set(truth)) / 10)
    assert np.mean(recall) >= 0.98


@pytest.mark.parametrize("share", [0.5, 0.2, 0.01])
def test_a_filter_still_returns_k_allowed_documents(graph_case, share: float) -> None:
    """Half, a fifth (graph walk with a selector) or 1 % of the documents (scored exactly)."""
    graph, vectors, queries = graph_case
    rng = np.random.default_rng(int(share * 100))
    allowed = rng.random(graph.owner.max() + 1) < share
    for query in queries[:10]:
        docs, _ = ann.nearest_documents(graph, vectors, query, allowed, 10)
        assert len(docs) == min(10, int(allowed.sum()))
        assert allowed[docs].all()
        truth = exact(graph.owner, vectors, query, allowed, 10)
        assert len(set(docs.tolist()) & set(truth)) >= 8


def test_few_distinct_documents_widen_the_search(graph_case) -> None:
    """Asking for more documents than the first beam's passages cover still fills the page."""
    graph, vectors, queries = graph_case
    everything = np.ones(graph.owner.max() + 1, dtype=bool)
    docs, _ = ann.nearest_documents(graph, vectors, queries[0], everything, 500)
    assert len(docs) == 500 and len(set(docs.tolist())) == 500


def test_the_graph_is_written_derived_after_merges_and_read_back(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ann, "EXACT_BELOW", 0)  # walk the graph even on this small index
    monkeypatch.setattr(ann, "EXACT_SHARE", 0.0)
    schema = Schema(
        (FieldSpec("title", "text"), FieldSpec("body", "text"), FieldSpec("tags", "keyword")),
        semantic=SemanticSpec(model=str(tiny_model), passage_tokens=16, overlap_tokens=2, hnsw_min_passages=8),
    )
    docs = corpus(40)
    index = Index.create(tmp_path / "ix", schema)
    for start in range(0, 40, 10):
        index.add(docs[start : start + 10])
        index.commit()
    index.delete(["d3", "d25"])
    index.commit()
    segments = index.searcher().reader.segments
    assert segments and all("hnsw" in s.meta.files for s in segments)
    live = [d for d in docs if d["id"] not in ("d3", "d25")]
    query = "倒排 索引 vector"
    expected = reference_scores(tiny_model, live, query)
    ranked = sorted(expected, key=lambda i: -expected[i])
    for stage in ("segments", "optimized", "reopened"):
        if stage == "optimized":
            index.optimize()
            (merged,) = index.searcher().reader.segments
            assert "hnsw" in merged.meta.files  # derived again from the merged vectors
        if stage == "reopened":
            index.close()
            index = Index.open(tmp_path / "ix")
        result = index.search(query, mode="semantic", size=10, with_docs=False)
        assert result.scores == pytest.approx([expected[i] for i in ranked[:10]], abs=1e-5), stage
        assert "d3" not in result.ids and "d25" not in result.ids
        tagged = index.search(query, mode="semantic", size=5, with_docs=False, filters={"tags": "a"})
        assert len(tagged.ids) == 5 and all(int(i[1:]) % 3 == 0 for i in tagged.ids)
    index.close()


def test_small_segments_get_no_graph(tiny_model: Path, tmp_path: Path) -> None:
    schema = Schema(
        (FieldSpec("title", "text"), FieldSpec("body", "text")),
        semantic=SemanticSpec(model=str(tiny_model), passage_tokens=16, overlap_tokens=2),
    )
    index = Index.create(tmp_path / "ix", schema)
    index.add(corpus(12))
    index.commit()
    (segment,) = index.searcher().reader.segments
    assert "pvc" in segment.meta.files and "hnsw" not in segment.meta.files
    index.close()


def test_hnsw_min_passages_round_trips_through_the_schema() -> None:
    spec = SemanticSpec(model="m", hnsw_min_passages=500)
    schema = Schema((FieldSpec("body", "text"),), semantic=spec)
    assert Schema.from_dict(schema.to_dict()).semantic == schema.semantic
    default = Schema((FieldSpec("body", "text"),), semantic=SemanticSpec(model="m"))
    assert "hnsw_min_passages" not in default.to_dict()["semantic"]  # older schemas read the same
