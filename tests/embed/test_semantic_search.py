"""Semantic and hybrid search end to end on the tiny model: vectors written at flush, kept
through deletes, merges and reopening; rankings equal a reference computed straight from the
embedder; filters return k hits that pass; errors in one line."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.embed.conftest import WORDS
from zhisou import Index, Schema
from zhisou.errors import ZhisouError
from zhisou.schema import FieldSpec, SemanticSpec

pytest.importorskip("onnxruntime")


def corpus(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"d{n}",
            "title": " ".join(rng.choices(WORDS, k=2)),
            "body": "。".join(" ".join(rng.choices(WORDS, k=rng.randint(2, 6))) for _ in range(rng.randint(1, 5))),
            "tags": ["a"] if n % 3 == 0 else ["b"],
        }
        for n in range(count)
    ]


def semantic_index(tiny_model: Path, directory: Path, docs: list[dict[str, Any]], per_commit: int = 7) -> Index:
    schema = Schema(
        (FieldSpec("title", "text"), FieldSpec("body", "text"), FieldSpec("tags", "keyword")),
        semantic=SemanticSpec(model=str(tiny_model), passage_tokens=16, overlap_tokens=2),
    )
    index = Index.create(directory, schema)
    for start in range(0, len(docs), per_commit):
        index.add(docs[start : start + per_commit])
        index.commit()
    return index


def reference_scores(tiny_model: Path, docs: list[dict[str, Any]], query: str) -> dict[str, float]:
    """Each document's best passage against the query, computed without the index."""
    from zhisou.embed.passages import split_passages
    from zhisou.embed.registry import load_embedder

    embedder = load_embedder(str(tiny_model))
    passages = split_passages([d["body"] for d in docs], [d["title"] for d in docs], embedder.count_tokens, 16, 2)
    vectors = embedder.encode_passages([p.text for p in passages])
    q = embedder.encode_queries([query])[0]
    best: dict[str, float] = {}
    for passage, vector in zip(passages, vectors):
        doc_id = docs[passage.doc]["id"]
        best[doc_id] = max(best.get(doc_id, -np.inf), float(vector @ q))
    return best


def test_semantic_ranking_survives_deletes_merges_and_reopening(tiny_model: Path, tmp_path: Path) -> None:
    docs = corpus(30)
    index = semantic_index(tiny_model, tmp_path / "ix", docs)
    index.delete(["d3", "d11"])
    index.commit()
    live = [d for d in docs if d["id"] not in ("d3", "d11")]
    query = "倒排 索引 vector"
    expected = reference_scores(tiny_model, live, query)
    ranked = sorted(expected, key=lambda i: -expected[i])
    for stage in ("segments", "optimized", "reopened"):
        if stage == "optimized":
            index.optimize()
        if stage == "reopened":
            index.close()
            index = Index.open(tmp_path / "ix")
        result = index.search(query, mode="semantic", size=10, with_docs=False)
        assert result.scores == pytest.approx([expected[i] for i in ranked[:10]], abs=1e-5), stage
        assert set(result.ids) <= set(expected) and "d3" not in result.ids
        assert result.total == len(live)


def test_filters_hold_in_semantic_mode_with_k_hits(tiny_model: Path, tmp_path: Path) -> None:
    index = semantic_index(tiny_model, tmp_path / "ix", corpus(30))
    result = index.search("rank fusion", mode="semantic", size=5, filters={"tags": "a"})
    assert len(result.hits) == 5 and all(h.doc["tags"] == ["a"] for h in result.hits)
    page2 = index.search("rank fusion", mode="semantic", size=5, page=2, filters={"tags": "a"})
    assert not set(page2.ids) & set(result.ids) and all(h.doc["tags"] == ["a"] for h in page2.hits)


def test_filters_written_in_the_query_hold_in_every_mode(tiny_model: Path, tmp_path: Path) -> None:
    """``tags:a`` and ``-tags:b`` inside the query restrict the semantic channel as the filters
    argument does; the channel embeds the words alone (no field names, operators or boosts)."""
    docs = corpus(30)
    index = semantic_index(tiny_model, tmp_path / "ix", docs)
    tags = {d["id"]: d["tags"] for d in docs}
    plain = index.search("rank fusion", mode="semantic", size=30, filters={"tags": "a"}, with_docs=False)
    for query in ("rank fusion tags:a", "rank^2 title:fusion -tags:b", "+(rank fusion) +tags:a"):
        for mode in ("semantic", "hybrid"):
            result = index.search(query, mode=mode, size=30, with_docs=False)
            assert result.ids and all(tags[i] == ["a"] for i in result.ids), (query, mode)
            assert result.total <= sum(t == ["a"] for t in tags.values()), (query, mode)
        semantic = index.search(query, mode="semantic", size=30, with_docs=False)
        assert semantic.ids == plain.ids and semantic.scores == pytest.approx(plain.scores), query
    # A filter inside an optional clause restricts nothing; words of any text field count.
    loose = index.search("rank OR (fusion tags:a)", mode="semantic", size=30, with_docs=False)
    assert loose.total == len(docs)
    # What is required follows the default operator, as in keyword mode.
    both = index.search("(rank tags:a) fusion", mode="semantic", size=30, default_operator="and", with_docs=False)
    assert both.total == sum(t == ["a"] for t in tags.values())
    either = index.search("(rank tags:a) fusion", mode="semantic", size=30, with_docs=False)
    assert either.total == len(docs)
    # A query the parser refuses is embedded as typed in semantic mode.
    assert index.search("rank (fusion", mode="semantic", size=3, with_docs=False).ids


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_a_sort_orders_the_modes_best_documents_by_the_field(tiny_model: Path, tmp_path: Path, mode: str) -> None:
    """Semantic and hybrid modes rank by relevance first (the lexical channel too), then order
    their best documents by the field, newest first, equal dates in relevance order; every page
    comes from the same pool."""
    from zhisou.search.searcher import HYBRID_CANDIDATES

    docs = corpus(40)
    for n, doc in enumerate(docs):
        if n % 7:  # every seventh document has no date: last
            doc["date"] = f"2024-{1 + n % 4:02d}-01"  # few distinct dates: ties
    schema = Schema(
        (
            FieldSpec("title", "text"),
            FieldSpec("body", "text"),
            FieldSpec("tags", "keyword"),
            FieldSpec("date", "date"),
        ),
        semantic=SemanticSpec(model=str(tiny_model), passage_tokens=16, overlap_tokens=2),
    )
    index = Index.create(tmp_path / "ix", schema)
    index.add(docs)
    index.commit()
    dates = {d["id"]: d.get("date", "") for d in docs}
    query = "rank fusion 模型"
    relevance = index.search(query, mode=mode, size=HYBRID_CANDIDATES, with_docs=False)
    assert len(relevance.ids) == len(docs)  # the whole corpus fits the pool here
    expected = sorted(relevance.ids, key=lambda i: (dates[i] == "", [-ord(c) for c in dates[i]]))
    newest = index.search(query, mode=mode, size=10, sort="-date", with_docs=False)
    second = index.search(query, mode=mode, size=10, page=2, sort="-date", with_docs=False)
    assert newest.ids + second.ids == expected[:20]
    assert newest.total == relevance.total
    oldest = index.search(query, mode=mode, size=40, sort="date", with_docs=False)
    dated = [dates[i] for i in oldest.ids if dates[i]]
    assert dated == sorted(dated) and all(not dates[i] for i in oldest.ids[len(dated) :])


def test_facets_count_every_channels_documents_whatever_the_page_size(tiny_model: Path, tmp_path: Path) -> None:
    """Semantic mode counts its best HYBRID_CANDIDATES documents (not just the page, and the
    same for every page); hybrid mode counts the keyword matches and those documents together."""
    from zhisou.search.searcher import HYBRID_CANDIDATES

    docs = corpus(150)
    for n, doc in enumerate(docs):
        doc["tags"] = [f"t{n % 5}"] + (["x"] if n % 11 == 0 else [])
    index = semantic_index(tiny_model, tmp_path / "ix", docs, per_commit=40)
    searcher = index.searcher()
    ids = searcher.reader.doc_ids(list(range(searcher.reader.max_doc)))
    number = {doc_id: n for n, doc_id in enumerate(ids)}
    query = "rank fusion"

    def counts(mask: np.ndarray) -> dict[str, int]:
        return {c.value: c.count for c in searcher.facets(mask, ["tags"], size=10)["tags"]}

    nearest = index.search(query, mode="semantic", size=HYBRID_CANDIDATES, with_docs=False).ids
    semantic_pool = np.zeros(searcher.reader.max_doc, dtype=bool)
    semantic_pool[[number[i] for i in nearest]] = True
    for mode, mask in (("semantic", semantic_pool), ("hybrid", semantic_pool | searcher.match_mask(query))):
        for size, page in ((3, 1), (20, 1), (10, 12)):  # page 12: lists 120 deep, the same counts
            found = index.search(query, mode=mode, size=size, page=page, facets=["tags"], with_docs=False)
            assert {c.value: c.count for c in found.facets["tags"]} == counts(mask), (mode, size, page)


def test_hybrid_fuses_the_keyword_and_semantic_lists(tiny_model: Path, tmp_path: Path) -> None:
    from zhisou.search.fusion import ReciprocalRankFusion
    from zhisou.search.request import SearchRequest
    from zhisou.search.searcher import HYBRID_CANDIDATES

    index = semantic_index(tiny_model, tmp_path / "ix", corpus(30))
    searcher = index.searcher()
    query = "spark 模型"
    lexical = searcher.top_docs(SearchRequest(query), HYBRID_CANDIDATES)
    from zhisou.search.dense import DenseRetriever

    dense = DenseRetriever().retrieve(SearchRequest(query), searcher, HYBRID_CANDIDATES)
    expected = ReciprocalRankFusion().fuse([lexical, dense], 10)
    hybrid = index.search(query, mode="hybrid", fusion="rrf", size=10, with_docs=False)
    assert hybrid.scores == pytest.approx(expected.scores.tolist())
    assert hybrid.ids == searcher.reader.doc_ids(expected.docs.tolist())
    convex = index.search(query, mode="hybrid", fusion="convex", fusion_weight=1.0, size=5, with_docs=False)
    semantic = index.search(query, mode="semantic", size=5, with_docs=False)
    assert convex.ids == semantic.ids  # all weight on the semantic list


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_a_search_in_every_mode_parses_its_query_once(
    tiny_model: Path, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyword channel, the semantic channel and the passage snippets read one parse; the
    result still names the query as typed."""
    from zhisou.search import parser

    index = semantic_index(tiny_model, tmp_path / "ix", corpus(12))
    index.search("warm", mode=mode)  # loads the model
    parses: list[str] = []
    real = parser.parse_query
    counting = lambda *a, **k: parses.append(a[0]) or real(*a, **k)  # noqa: E731
    for where in ("zhisou.search.parser", "zhisou.search.searcher", "zhisou.search.plan"):
        monkeypatch.setattr(f"{where}.parse_query", counting)
    result = index.search("rank fusion -tags:b", mode=mode, facets=["tags"])
    assert parses == ["rank fusion -tags:b"] and result.query == "rank fusion -tags:b"
    assert result.hits and all(hit.doc["tags"] == ["a"] for hit in result.hits)
    parses.clear()
    if mode == "semantic":  # refused by the parser: embedded as typed, tried once
        assert index.search("rank (fusion", mode=mode).hits and parses == ["rank (fusion"]


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_a_web_search_in_every_mode_parses_its_query_once(
    tiny_model: Path, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server parses the query to report a syntax error; the search then reads that tree
    (semantic mode reads the text and parses nothing until its filters need it: once)."""
    from fastapi.testclient import TestClient

    from tests.serve.conftest import BASE_URL
    from zhisou.search import parser
    from zhisou.serve.app import create_app
    from zhisou.serve.settings import ServeSettings

    semantic_index(tiny_model, tmp_path / "ix", corpus(12)).close()
    parses: list[str] = []
    real = parser.parse_query
    counting = lambda *a, **k: parses.append(a[0]) or real(*a, **k)  # noqa: E731
    with TestClient(create_app(ServeSettings(tmp_path / "ix")), base_url=BASE_URL) as client:
        client.get("/api/search", params={"q": "warm", "mode": mode})  # loads the model
        for where in ("zhisou.search.parser", "zhisou.search.searcher", "zhisou.search.plan"):
            monkeypatch.setattr(f"{where}.parse_query", counting)
        body = client.get("/api/search", params={"q": "rank fusion -tags:b", "mode": mode}).json()
    assert parses == ["rank fusion -tags:b"] and body["query"] == "rank fusion -tags:b" and body["mode"] == mode
    assert body["hits"] and all(hit["tags"] == ["a"] for hit in body["hits"])


def test_modes_refuse_what_cannot_run(tiny_model: Path, tmp_path: Path) -> None:
    from zhisou.embed.registry import _LOADED, register_embedder

    plain = Index.create(tmp_path / "plain", Schema.default())
    plain.add({"id": "x", "title": "rank", "body": "rank"})
    plain.commit()
    with pytest.raises(ZhisouError, match="needs an index with vectors"):
        plain.search("rank", mode="semantic")
    with pytest.raises(ZhisouError, match="unknown mode"):
        plain.search("rank", mode="telepathy")
    semantic_index(tiny_model, tmp_path / "ix", corpus(5))

    class Wider:
        name, dimension, max_tokens = "wider", 48, 16

        def encode_queries(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 48), dtype=np.float32) / np.sqrt(48)

    real = _LOADED[str(tiny_model)]
    register_embedder(str(tiny_model), Wider())  # type: ignore[arg-type]
    try:
        with pytest.raises(ZhisouError, match="another model"):
            Index.open(tmp_path / "ix").search("rank", mode="semantic")
    finally:
        register_embedder(str(tiny_model), real)


def test_related_by_vector_leaves_out_the_document_and_its_copies(tiny_model: Path, tmp_path: Path) -> None:
    docs = corpus(20)
    docs.append({**docs[4], "id": "copy-of-d4"})  # the same text under another id
    index = semantic_index(tiny_model, tmp_path / "ix", docs)
    searcher = index.searcher()
    related = searcher.related("d4", size=5)
    assert len(related.ids) == 5
    assert "d4" not in related.ids and "copy-of-d4" not in related.ids
    assert related.scores == sorted(related.scores, reverse=True) and max(related.scores) < 0.985
    from zhisou.search.dense import document_vector

    doc = searcher.reader.find("d4")
    vector = document_vector(searcher, doc)
    assert vector is not None and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
    plain = Index.create(tmp_path / "plain", Schema.default())
    plain.add([{"id": "a", "title": "rank bm25", "body": "rank"}, {"id": "b", "title": "rank", "body": "bm25"}])
    plain.commit()
    assert plain.searcher().related("a", size=3).ids == ["b"]  # no vectors: more-like-this


def test_semantic_hits_show_the_passage_that_matched(tiny_model: Path, tmp_path: Path) -> None:
    import html

    index = semantic_index(tiny_model, tmp_path / "ix", corpus(12))
    result = index.search("spark 模型", mode="semantic", size=5)
    for hit in result.hits:
        shown = html.unescape(hit.highlights["body"]).rstrip("…")
        assert shown and shown in " ".join(hit.doc["body"].split())  # a piece of the body, not the title
    keyword = index.search("spark", size=3)
    assert all("<mark>" in h.highlights.get("body", "<mark>") for h in keyword.hits)


@pytest.mark.parametrize("fusion", ["convex", "rrf"])
def test_hybrid_pages_follow_each_other_whatever_the_page_size(tiny_model: Path, tmp_path: Path, fusion: str) -> None:
    """Pages past the fusion's window (page 11 of 10 hits, whose lists go 110 deep) continue the
    earlier ones: no document twice, none skipped, and one search of 1,000 hits (an
    evaluation's) starts with the page a user sees."""
    from zhisou.search.searcher import HYBRID_CANDIDATES

    docs = corpus(260)
    index = semantic_index(tiny_model, tmp_path / "ix", docs, per_commit=90)
    for query in ("rank fusion", "spark 模型 检索"):
        whole = index.search(query, mode="hybrid", fusion=fusion, size=1000, with_docs=False)
        assert len(whole.ids) > HYBRID_CANDIDATES + 20  # the test reaches past the window
        pages: list[str] = []
        for page in range(1, (HYBRID_CANDIDATES + 20) // 10 + 1):
            pages += index.search(query, mode="hybrid", fusion=fusion, size=10, page=page, with_docs=False).ids
        assert pages == whole.ids[: len(pages)]
        wide = index.search(query, mode="hybrid", fusion=fusion, size=60, page=2, with_docs=False)
        assert wide.ids == whole.ids[60:120]


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_a_sorted_search_pages_through_one_pool(tiny_model: Path, tmp_path: Path, mode: str) -> None:
    """A sort in these modes orders the mode's best HYBRID_CANDIDATES documents, whatever the
    page: page 11 of 10 does not fetch a larger pool that repeats or skips what pages 1-10
    showed; the pool is the result (its total), as a sorted kNN search's k hits are."""
    from zhisou.search.searcher import HYBRID_CANDIDATES

    docs = corpus(170)
    for n, doc in enumerate(docs):
        doc["date"] = f"20{10 + n % 13}-{1 + n % 12:02d}-{1 + n % 28:02d}"
    schema = Schema(
        (FieldSpec("title", "text"), FieldSpec("body", "text"), FieldSpec("date", "date")),
        semantic=SemanticSpec(model=str(tiny_model), passage_tokens=16, overlap_tokens=2),
    )
    index = Index.create(tmp_path / "ix", schema)
    index.add(docs)
    index.commit()
    dates = {d["id"]: d["date"] for d in docs}
    query = "rank fusion 模型"
    best = index.search(query, mode=mode, size=HYBRID_CANDIDATES, with_docs=False).ids
    expected = sorted(best, key=lambda i: [-ord(c) for c in dates[i]])  # newest first, ties by relevance
    pages: list[str] = []
    for page in range(1, 13):
        result = index.search(query, mode=mode, size=10, page=page, sort="-date", with_docs=False)
        assert result.total == HYBRID_CANDIDATES and result.total_exact
        pages += result.ids
    assert pages == expected
    assert index.search(query, mode=mode, size=60, page=2, sort="-date", with_docs=False).ids == expected[60:]
