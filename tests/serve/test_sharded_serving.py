"""The server serves a sharded index as it serves any: search, feed, documents, related, writes."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SMALL_CORPUS
from tests.serve.conftest import BASE_URL, TOKEN
from zhisou import Index
from zhisou.index.sharded import ShardedReader
from zhisou.serve.app import create_app
from zhisou.serve.settings import ServeSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def test_a_sharded_index_is_served_like_one(make_index: Callable[..., Index], tmp_path: Path) -> None:
    single = make_index(SMALL_CORPUS)
    sharded = make_index(SMALL_CORPUS, shards=3)
    assert isinstance(sharded.searcher().reader, ShardedReader)
    sharded.close()
    with TestClient(create_app(ServeSettings(sharded.directory, token=TOKEN)), base_url=BASE_URL) as client:
        for query in ("倒排索引", "bm25", "检索 排序"):
            data = client.get("/api/search", params={"q": query, "facets": "tags"}).json()
            expected = single.search(query, facets=["tags"])
            assert data["total"] == expected.total, query
            scores = sorted(hit["score"] for hit in data["hits"])
            assert scores == pytest.approx(sorted(expected.scores), abs=1e-4), query  # rounded to 4 places
        latest = client.get("/api/latest").json()
        assert len(latest["hits"]) > 0
        doc_id = latest["hits"][0]["id"]
        assert client.get(f"/api/docs/{doc_id}").status_code == 200
        assert client.get(f"/api/docs/{doc_id}/related").status_code == 200
        assert client.get("/", headers={"accept": "text/html"}).status_code == 200
        assert client.get("/search", params={"q": "倒排索引"}).status_code == 200
        auth = {"Authorization": f"Bearer {TOKEN}"}
        added = client.post("/api/docs", json=[{"id": "new-1", "title": "分片", "body": "分片 索引"}], headers=auth)
        assert added.status_code in (200, 201), added.text
        client.post("/api/commit", headers=auth)
        assert client.get("/api/search", params={"q": "分片"}).json()["total"] == 1
        assert client.get("/api/stats").json()["shards"] == 3
