"""``explain``: every hit's rank and score in each channel's own list, and the fusion — enough to
recompute the fused score by hand; in the library, the CLI and the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.embed.test_semantic_search import corpus, semantic_index
from zhisou.search.fusion import RRF_K

pytest.importorskip("onnxruntime")


def test_default_hybrid_fuses_z_scores_half_and_half(tiny_model: Path, tmp_path: Path) -> None:
    """The default fusion, recomputed from each channel's own list (100 deep): each list's scores
    as z-scores, a document missing from a list at that list's lowest, then the mean of the two."""
    index = semantic_index(tiny_model, tmp_path / "ix", corpus(30))
    query = "spark 模型"
    result = index.search(query, mode="hybrid", size=10, explain=True)
    lists = [
        index.search(query, size=100, with_docs=False),
        index.search(query, mode="semantic", size=100, with_docs=False),
    ]
    normalized = []
    for single in lists:
        scores = np.asarray(single.scores)
        z = (scores - scores.mean()) / scores.std()
        normalized.append((dict(zip(single.ids, z.tolist())), float(z.min())))
    expected = {}
    for doc_id in {i for single in lists for i in single.ids}:
        expected[doc_id] = sum(0.5 * z.get(doc_id, floor) for z, floor in normalized)
    best = sorted(expected, key=lambda i: -expected[i])[:10]
    assert result.ids == best
    assert result.scores == pytest.approx([expected[i] for i in best])
    assert result.hits[0].explain["fusion"] == (
        "convex: zscore-normalized, 0.5 × bm25 + 0.5 × semantic over each list's first 100"
    )


def test_hybrid_explanations_recompute_the_fused_score(tiny_model: Path, tmp_path: Path) -> None:
    index = semantic_index(tiny_model, tmp_path / "ix", corpus(30))
    query = "spark 模型"
    result = index.search(query, mode="hybrid", fusion="rrf", size=10, explain=True)
    keyword = index.search(query, size=100, with_docs=False)
    semantic = index.search(query, mode="semantic", size=100, with_docs=False)
    assert len(result.hits) == 10
    for hit in result.hits:
        explain = hit.explain
        assert explain is not None and explain["fusion"].startswith("rrf")
        channels = explain["channels"]
        assert set(channels) == {"bm25", "semantic"}
        fused = 0.0
        for name, single in (("bm25", keyword), ("semantic", semantic)):
            found = channels[name]
            if hit.id in single.ids:
                rank = single.ids.index(hit.id) + 1
                assert found == {"rank": rank, "score": pytest.approx(single.scores[rank - 1])}
                fused += 1.0 / (RRF_K + rank)
            else:
                assert found is None
        assert hit.score == pytest.approx(fused) and explain["score"] == pytest.approx(fused)


def test_convex_and_keyword_explanations(tiny_model: Path, tmp_path: Path) -> None:
    index = semantic_index(tiny_model, tmp_path / "ix", corpus(30))
    convex = index.search("rank fusion", mode="hybrid", fusion="convex", fusion_weight=0.3, size=3, explain=True)
    assert "0.7 × bm25 + 0.3 × semantic" in convex.hits[0].explain["fusion"]
    keyword = index.search("rank fusion", size=5, with_docs=False, explain=True)
    for rank, hit in enumerate(keyword.hits, start=1):
        assert hit.explain == {
            "score": hit.score,
            "channels": {"bm25": {"rank": rank, "score": hit.score}},
            "fusion": None,
        }
    plain = index.search("rank fusion", size=5)
    assert all(hit.explain is None and "explain" not in hit.to_dict() for hit in plain.hits)  # only when asked


def test_cli_and_api_explain(tiny_model: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tests.serve.conftest import BASE_URL
    from zhisou.cli import app
    from zhisou.serve.app import create_app
    from zhisou.serve.settings import ServeSettings

    index = semantic_index(tiny_model, tmp_path / "ix", corpus(30))
    index.close()
    runner = CliRunner()
    shown = runner.invoke(
        app, ["search", "spark 模型", "--index", str(tmp_path / "ix"), "--mode", "hybrid", "--explain"]
    )
    assert shown.exit_code == 0, shown.output
    assert "bm25 #" in shown.output and "semantic #" in shown.output and "convex: zscore-normalized" in shown.output
    as_json = runner.invoke(app, ["search", "spark", "--index", str(tmp_path / "ix"), "--explain", "--json"])
    assert json.loads(as_json.output)["hits"][0]["explain"]["channels"]["bm25"]["rank"] == 1
    with TestClient(create_app(ServeSettings(tmp_path / "ix")), base_url=BASE_URL) as client:
        hits = client.get("/api/search", params={"q": "spark 模型", "mode": "hybrid", "explain": "true"}).json()["hits"]
        assert hits and all(set(h["explain"]["channels"]) == {"bm25", "semantic"} for h in hits)
        assert "explain" not in client.get("/api/search", params={"q": "spark"}).json()["hits"][0]


def test_cli_and_api_take_the_fusion_settings(tiny_model: Path, tmp_path: Path) -> None:
    """`zhisou search` and `GET /api/search` take fusion, fusion_weight and normalization
    (Meilisearch's semanticRatio) and rank as the library does with them; a bad setting is one line."""
    from fastapi.testclient import TestClient

    from tests.serve.conftest import BASE_URL
    from zhisou.cli import app
    from zhisou.serve.app import create_app
    from zhisou.serve.settings import ServeSettings

    index = semantic_index(tiny_model, tmp_path / "ix", corpus(40))
    query = "spark 模型 rank"
    expected = {
        (fusion, weight): index.search(
            query, mode="hybrid", fusion=fusion, fusion_weight=weight, normalization="minmax", with_docs=False
        ).ids
        for fusion, weight in (("convex", 0.0), ("convex", 1.0), ("rrf", 0.5))
    }
    assert expected[("convex", 0.0)] != expected[("convex", 1.0)]  # the setting reaches the ranking
    index.close()
    runner = CliRunner()
    where = ["--index", str(tmp_path / "ix"), "--mode", "hybrid", "--json", "--normalization", "minmax"]
    with TestClient(create_app(ServeSettings(tmp_path / "ix")), base_url=BASE_URL) as client:
        for (fusion, weight), ids in expected.items():
            shown = runner.invoke(app, ["search", query, *where, "--fusion", fusion, "--fusion-weight", str(weight)])
            assert shown.exit_code == 0, shown.output
            assert [hit["id"] for hit in json.loads(shown.output)["hits"]] == ids
            params = {"q": query, "mode": "hybrid", "fusion": fusion, "fusion_weight": weight}
            params["normalization"] = "minmax"
            assert [hit["id"] for hit in client.get("/api/search", params=params).json()["hits"]] == ids
        bad = client.get("/api/search", params={"q": query, "mode": "hybrid", "fusion": "borda"})
        assert bad.status_code == 400 and "unknown fusion 'borda'" in bad.json()["error"]
        assert client.get("/api/search", params={"q": query, "mode": "hybrid", "fusion_weight": 1.5}).status_code == 422
    refused = runner.invoke(app, ["search", query, *where, "--fusion-weight", "2"])
    assert refused.exit_code != 0 and "fusion weight must be between 0 and 1" in refused.output
    assert "Traceback" not in refused.output
