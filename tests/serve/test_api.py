"""Every /api endpoint over the small hand-written corpus (tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.serve.conftest import BASE_URL, TOKEN
from zhisou import Index
from zhisou.errors import ZhisouError
from zhisou.serve.searchlog import SearchLog
from zhisou.serve.settings import ServeSettings

NEWEST_FIRST = ["f", "d", "c", "g", "a", "h", "b", "e"]


def error_of(response) -> str:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error", "status"} and body["status"] == response.status_code
    assert "\n" not in body["error"]
    return body["error"]


# -- search --------------------------------------------------------------------------------
def test_search_returns_hits_highlights_and_facets(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "rank"}).json()
    assert body["total"] == 3
    assert {hit["id"] for hit in body["hits"]} == {"b", "d", "h"}
    assert [hit["rank"] for hit in body["hits"]] == [1, 2, 3]
    assert body["took_ms"] >= 0 and body["pages"] == 1
    first = body["hits"][0]
    assert set(first) >= {"id", "score", "title", "date", "tags", "excerpt", "highlights"}
    assert "<mark>" in first["highlights"]["body"] or "<mark>" in first["highlights"]["title"]
    assert body["facets"]["tags"][0] == {"value": "ranking", "count": 3}
    assert {f["value"]: f["count"] for f in body["facets"]["tags"]} == {"ranking": 3, "ltr": 1, "fusion": 1}
    assert body["facets"]["year"] == [{"value": "2024", "count": 1}, {"value": "2023", "count": 2}]
    assert body["suggestion"] is None and body["query_id"]


def test_search_filters_by_tags_and_year(client: TestClient) -> None:
    by_tag = client.get("/api/search", params={"q": "rank", "tag": ["ltr", "fusion"]}).json()
    assert {hit["id"] for hit in by_tag["hits"]} == {"d", "h"}  # any of the tags, as a terms filter
    by_year = client.get("/api/search", params={"q": "rank", "year": "2023"}).json()
    assert {hit["id"] for hit in by_year["hits"]} == {"b", "h"}
    assert by_year["facets"]["year"] == [{"value": "2023", "count": 2}]


def test_chinese_search(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "倒排索引"}).json()
    assert body["hits"][0]["id"] in {"a", "f"}
    assert {hit["id"] for hit in body["hits"]} >= {"a", "f"}


def test_an_empty_query_lists_newest_first(client: TestClient) -> None:
    body = client.get("/api/search", params={"size": 100}).json()
    assert [hit["id"] for hit in body["hits"]] == NEWEST_FIRST


@pytest.mark.parametrize(
    "params,status,fragment",
    [
        ({"page": 0}, 422, "page"),
        ({"size": -1}, 422, "size"),
        ({"size": 101}, 422, "size"),
        ({"page": "x"}, 422, "page"),
        ({"mode": "semantic", "q": "x"}, 400, "vectors"),
        ({"mode": "fuzzy", "q": "x"}, 400, "unknown mode"),
        ({"year": "24"}, 400, "four digits"),
    ],
)
def test_search_rejects_bad_parameters_in_one_line(
    client: TestClient, params: dict[str, object], status: int, fragment: str
) -> None:
    response = client.get("/api/search", params=params)
    assert response.status_code == status
    assert fragment in error_of(response)


def test_pagination_edges(client: TestClient) -> None:
    pages = [client.get("/api/search", params={"size": 3, "page": p}).json() for p in (1, 2, 3, 4)]
    assert [len(p["hits"]) for p in pages] == [3, 3, 2, 0]
    assert all(p["pages"] == 3 and p["total"] == 8 for p in pages)
    assert [hit["id"] for p in pages for hit in p["hits"]] == NEWEST_FIRST
    assert [hit["rank"] for hit in pages[2]["hits"]] == [7, 8]


def test_broken_syntax_is_searched_as_plain_words(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": '"learning to rank'}).json()
    assert "position" in body["query_error"]
    assert body["hits"][0]["id"] == "d"


def test_no_results_suggests_a_correction(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "fusoin"}).json()
    assert body["total"] == 0
    assert body["suggestion"] == "fusion"
    assert client.get("/api/search", params={"q": body["suggestion"]}).json()["total"] == 1


# -- latest, documents, related ---------------------------------------------------------------
def test_latest_feed_pages_and_tag(client: TestClient) -> None:
    first = client.get("/api/latest", params={"size": 5}).json()
    second = client.get("/api/latest", params={"size": 5, "page": 2}).json()
    assert [h["id"] for h in first["hits"] + second["hits"]] == NEWEST_FIRST
    assert first["pages"] == 2
    tagged = client.get("/api/latest", params={"tag": "索引"}).json()
    assert [h["id"] for h in tagged["hits"]] == ["f", "a"]
    assert client.get("/api/latest", params={"page": 9}).json()["hits"] == []


def test_get_document(client: TestClient) -> None:
    doc = client.get("/api/docs/d").json()
    assert doc["title"] == "Learning to rank" and doc["tags"] == ["ltr", "ranking"]
    missing = client.get("/api/docs/zzz")
    assert missing.status_code == 404 and "zzz" in error_of(missing)


def test_related_documents_share_distinctive_words(client: TestClient) -> None:
    related = client.get("/api/docs/a/related").json()["hits"]
    ids = [hit["id"] for hit in related]
    assert "a" not in ids
    assert ids[0] == "f"  # the other note about 倒排索引
    assert client.get("/api/docs/zzz/related").status_code == 404
    assert client.get("/api/docs/a/related", params={"size": 0}).status_code == 422


# -- writes ----------------------------------------------------------------------------------
def test_bulk_upsert_json_array_then_search(client: TestClient) -> None:
    docs = [
        {"id": "n1", "title": "向量检索", "body": "向量检索用近似最近邻", "tags": ["ann"], "date": "2026-01-01"},
        {"id": "d", "title": "Learning to rank, revised", "body": "LambdaMART again", "tags": ["ltr"]},
    ]
    result = client.post("/api/docs", json=docs).json()
    assert result["indexed"] == 2 and result["errors"] == [] and result["committed"]
    assert client.get("/api/latest").json()["hits"][0]["id"] == "n1"
    assert client.get("/api/docs/d").json()["title"] == "Learning to rank, revised"
    assert client.get("/api/health").json()["documents"] == 9


def test_bulk_upsert_ndjson_reports_bad_documents(client: TestClient) -> None:
    lines = [json.dumps({"id": "n2", "body": "first"}), json.dumps({"body": "no id"}), "[1]"]
    response = client.post("/api/docs", content="\n".join(lines), headers={"content-type": "application/x-ndjson"})
    result = response.json()
    assert result["indexed"] == 1
    assert [e["position"] for e in result["errors"]] == [1, 2]
    assert all("\n" not in e["error"] for e in result["errors"])
    assert client.get("/api/docs/n2").status_code == 200


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json"])
def test_a_body_sent_with_a_byte_order_mark_loses_no_document(client: TestClient, content_type: str) -> None:
    """``curl --data-binary @docs.jsonl`` of a file an editor saved with a BOM."""
    body = "\ufeff" + "\n".join(json.dumps({"id": f"bom{n}", "body": "字节序"}) for n in range(2))
    if content_type == "application/json":
        body = "\ufeff" + json.dumps([{"id": f"bom{n}", "body": "字节序"} for n in range(2)])
    result = client.post("/api/docs", content=body.encode(), headers={"content-type": content_type}).json()
    assert result["indexed"] == 2 and result["errors"] == []
    assert client.get("/api/docs/bom0").json()["body"] == "字节序"


@pytest.mark.parametrize(
    "content,fragment",
    [("", "empty"), ("[{", "invalid JSON"), ('{"id": "x"}\n{oops', "NDJSON line 2"), (b"\xff\xfe", "UTF-8")],
)
def test_bulk_upsert_rejects_malformed_bodies(client: TestClient, content: str | bytes, fragment: str) -> None:
    response = client.post("/api/docs", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert fragment in error_of(response)


def test_writes_wait_for_commit_when_asked(client: TestClient) -> None:
    client.post("/api/docs", params={"commit": "false"}, json=[{"id": "late", "body": "pending words"}])
    assert client.get("/api/docs/late").status_code == 404
    assert client.post("/api/commit").json()["generation"] >= 2
    assert client.get("/api/docs/late").status_code == 200


def test_delete(client: TestClient) -> None:
    assert client.delete("/api/docs/b").json()["deleted"] == 1
    assert client.get("/api/docs/b").status_code == 404
    assert "rank" in client.get("/api/search", params={"q": "rank"}).text
    assert client.get("/api/search", params={"q": "rank"}).json()["total"] == 2
    missing = client.delete("/api/docs/b")
    assert missing.status_code == 404 and "b" in error_of(missing)


def test_writes_need_the_bearer_token(make_client: Callable[..., TestClient]) -> None:
    client = make_client(token=TOKEN)
    doc = [{"id": "t1", "body": "token test"}]
    assert client.post("/api/docs", json=doc).status_code == 401
    wrong = client.post("/api/docs", json=doc, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "token" in error_of(wrong)
    assert client.delete("/api/docs/a").status_code == 401
    assert client.post("/api/commit").status_code == 401
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/docs", json=doc, headers=good).json()["indexed"] == 1
    assert client.delete("/api/docs/a", headers=good).status_code == 200
    assert client.get("/api/search", params={"q": "token"}).status_code == 200  # reads stay open


def test_read_only_server_refuses_writes(make_client: Callable[..., TestClient]) -> None:
    client = make_client(writes=False)
    response = client.post("/api/docs", json=[{"id": "x", "body": "y"}])
    assert response.status_code == 403 and "read-only" in error_of(response)


def test_writes_on_a_public_address_need_a_token(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHISOU_TOKEN", raising=False)
    with pytest.raises(ZhisouError, match="without a token"):
        ServeSettings(index_dir, host="0.0.0.0").check()
    ServeSettings(index_dir, host="0.0.0.0", writes=False).check()
    ServeSettings(index_dir, host="0.0.0.0", token=TOKEN).check()
    ServeSettings(index_dir, host="::1").check()
    monkeypatch.setenv("ZHISOU_TOKEN", TOKEN)
    ServeSettings(index_dir, host="0.0.0.0").check()


# -- health, stats, docs, logs ------------------------------------------------------------------
def test_health_and_stats(client: TestClient) -> None:
    assert client.get("/api/health").json() == {"status": "ok", "documents": 8, "generation": 1}
    stats = client.get("/api/stats").json()
    assert stats["documents"] == 8 and {f["name"] for f in stats["fields"]} >= {"title", "body", "tags"}


def test_openapi_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "https://" not in page.text and "/api/docs-assets/swagger-ui-bundle.js" in page.text
    assert client.get("/api/docs-assets/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/search", "/api/latest", "/api/docs", "/api/docs/{doc_id}", "/api/commit"} <= set(paths)


def test_size_0_gives_the_total_and_facets_without_hits_and_is_not_logged(client: TestClient, index_dir: Path) -> None:
    full = client.get("/api/search", params={"q": "rank", "size": 100}).json()
    logged = list(SearchLog(index_dir / "logs").events())
    counted = client.get("/api/search", params={"q": "rank", "size": 0}).json()
    assert counted["hits"] == [] and counted["pages"] == 0 and counted["total"] == full["total"] > 0
    assert counted["facets"] == full["facets"] and counted["query_id"] is None
    assert list(SearchLog(index_dir / "logs").events()) == logged  # a count shows nobody a page


def test_search_log_records_searches_and_clicks(client: TestClient, index_dir: Path) -> None:
    body = client.get("/api/search", params={"q": "rank"}).json()
    click = {"query_id": body["query_id"], "id": body["hits"][1]["id"], "rank": 2}
    assert client.post("/api/events/click", json=click).status_code == 204
    assert client.post("/api/events/click", json={"query_id": "q"}).status_code == 422
    events = list(SearchLog(index_dir / "logs").events())
    search, clicked = events[-2], events[-1]
    assert search["event"] == "search" and search["q"] == "rank"
    assert search["shown"] == [hit["id"] for hit in body["hits"]]
    assert clicked == {**clicked, "event": "click", "query_id": body["query_id"], "id": click["id"], "rank": 2}


def test_a_shuffled_share_of_searches_shows_and_logs_the_page_in_random_order(
    make_client: Callable[..., TestClient], index_dir: Path
) -> None:
    plain = make_client().get("/api/search", params={"q": "rank index 索引", "size": 5}).json()
    assert "shuffled" not in list(SearchLog(index_dir / "logs").events())[-1]
    shuffling = make_client(shuffle_share=1.0)
    orders = set()
    for _ in range(12):
        body = shuffling.get("/api/search", params={"q": "rank index 索引", "size": 5}).json()
        event = list(SearchLog(index_dir / "logs").events())[-1]
        ids = [hit["id"] for hit in body["hits"]]
        assert sorted(ids) == sorted(hit["id"] for hit in plain["hits"])  # the same page, reordered
        assert [hit["rank"] for hit in body["hits"]] == [1, 2, 3, 4, 5]  # ranks as displayed
        assert event["shown"] == ids and event["shuffled"] is True and event["size"] == 5
        orders.add(tuple(ids))
    assert len(orders) > 1
    with pytest.raises(ZhisouError, match="shuffle share"):
        ServeSettings(index_dir, shuffle_share=1.5).check()


def test_sort_by_date_in_the_api_and_the_ui(client: TestClient) -> None:
    relevance = client.get("/api/search", params={"q": "rank index 索引"}).json()
    newest = client.get("/api/search", params={"q": "rank index 索引", "sort": "-date"}).json()
    oldest = client.get("/api/search", params={"q": "rank index 索引", "sort": "date"}).json()
    dates = [hit["date"] for hit in newest["hits"]]
    assert newest["sort"] == "-date" and dates == sorted(dates, reverse=True) and len(dates) > 2
    assert [hit["date"] for hit in oldest["hits"]] == sorted(dates)
    assert {h["id"] for h in relevance["hits"]} == {h["id"] for h in newest["hits"]}
    assert [h["id"] for h in relevance["hits"]] != [h["id"] for h in newest["hits"]]  # sort was not ignored
    bad = client.get("/api/search", params={"q": "rank", "sort": "-title"})
    assert bad.status_code == 400 and "cannot sort by '-title'" in error_of(bad)
    page = client.get("/search", params={"q": "rank index 索引", "sort": "-date", "lang": "en"}).text
    newest_link = page.split('data-sort="newest"')[0].rsplit("<a", 1)[1]
    assert "active" in newest_link and "sort=-date" in newest_link
    cards = [page.index(f'data-id="{hit["id"]}"') for hit in newest["hits"]]
    assert cards == sorted(cards)  # the page lists them newest first too


def test_unknown_query_parameters_are_reported(client: TestClient) -> None:
    typo = client.get("/api/search", params={"q": "rank", "sotr": "-date"})
    assert typo.status_code == 400
    assert "unknown query parameter 'sotr' for /api/search" in error_of(typo) and "sort" in error_of(typo)
    assert client.get("/api/latest", params={"pgae": 2}).status_code == 400
    assert client.get("/api/search", params={"q": "rank", "filter": "tags:ranking"}).status_code == 200  # alias


def test_search_log_can_be_switched_off(make_client: Callable[..., TestClient], index_dir: Path) -> None:
    client = make_client(search_log=False)
    client.get("/api/search", params={"q": "rank"})
    assert not (index_dir / "logs").exists()


def test_a_write_while_another_process_holds_the_lock_is_a_conflict(client: TestClient, index_dir: Path) -> None:
    other = Index.open(index_dir)
    other.writer  # noqa: B018 — takes write.lock, as `zhisou index` running elsewhere would
    try:
        response = client.post("/api/docs", json=[{"id": "x", "body": "blocked"}])
        assert response.status_code == 409 and "another writer" in error_of(response)
        assert client.get("/api/search", params={"q": "rank"}).json()["total"] == 3  # reads go on
    finally:
        other.close()
    assert client.post("/api/docs", json=[{"id": "x", "body": "now it works"}]).json()["indexed"] == 1


def test_ids_with_slashes_work_everywhere(client: TestClient) -> None:
    client.post("/api/docs", json=[{"id": "notes/2024/rank", "title": "Nested", "body": "rank fusion again"}])
    assert client.get("/api/docs/notes/2024/rank").json()["title"] == "Nested"
    assert "notes/2024/rank" in [h["id"] for h in client.get("/api/docs/h/related").json()["hits"]]
    assert client.get("/api/docs/notes/2024/rank/related").json()["id"] == "notes/2024/rank"
    page = client.get("/doc/notes/2024/rank")
    assert page.status_code == 200 and "Nested" in page.text
    assert client.delete("/api/docs/notes/2024/rank").json()["deleted"] == 1


def test_the_server_lets_go_of_the_write_lock_after_committing(client: TestClient, index_dir: Path) -> None:
    client.post("/api/docs", json=[{"id": "s1", "body": "from the server"}])
    with Index.open(index_dir) as other:  # as `zhisou index` would, while the server runs
        other.add({"id": "cli1", "body": "from the command line"})
        other.commit()
    assert client.post("/api/commit").status_code == 200  # the server takes the lock back
    assert client.get("/api/docs/cli1").status_code == 200


def test_unexpected_failures_are_one_json_line(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(service, "stats", broken)
    failing = TestClient(client.app, raise_server_exceptions=False, base_url=BASE_URL)
    response = failing.get("/api/stats")
    assert response.status_code == 500 and "No space left on device" in error_of(response)


def test_filter_expressions_and_chosen_facets(client: TestClient) -> None:
    recent = client.get("/api/search", params={"q": "rank", "filter": "date:>=2024-01-01"}).json()
    assert [hit["id"] for hit in recent["hits"]] == ["d"]
    both = client.get("/api/search", params={"filter": ["tags:ranking", "date:[2023 TO 2023]"], "size": 50}).json()
    assert {hit["id"] for hit in both["hits"]} == {"b", "h"}
    misspelt = client.get("/api/search", params={"q": "rank", "filter": "tag:ranking"})
    assert misspelt.status_code == 400 and "unknown filter field 'tag'" in error_of(misspelt)
    bad = client.get("/api/search", params={"q": "rank", "filter": "date:>=(2024"})
    assert bad.status_code == 400 and error_of(bad).startswith("filter 'date:>=(2024': query syntax error")
    only_year = client.get("/api/search", params={"q": "rank", "facets": "year"}).json()["facets"]
    assert list(only_year) == ["year"]
    assert client.get("/api/search", params={"q": "rank", "facets": "none"}).json()["facets"] == {}
    not_facetable = client.get("/api/search", params={"q": "rank", "facets": "body"})
    assert not_facetable.status_code == 400 and "keyword or date" in error_of(not_facetable)


def test_a_search_with_facets_parses_the_query_once_and_scores_it_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zhisou.search import kernels, parser

    parses, scorings = [], []
    real_parse, real_score = parser.parse_query, kernels.score_one_segment
    monkeypatch.setattr(parser, "parse_query", lambda *a, **k: parses.append(a[0]) or real_parse(*a, **k))
    monkeypatch.setattr("zhisou.search.searcher.parse_query", parser.parse_query)
    monkeypatch.setattr("zhisou.search.plan.parse_query", parser.parse_query)
    monkeypatch.setattr(kernels, "score_one_segment", lambda *a: scorings.append(1) or real_score(*a))
    body = client.get("/api/search", params={"q": "rank bm25"}).json()
    assert parses == ["rank bm25"] and len(scorings) == 1
    assert body["query"] == "rank bm25" and body["facets"]["tags"] and body["facets"]["year"]
    searcher = client.app.state.service.index.searcher()  # type: ignore[attr-defined]
    reference = searcher.facets(searcher.match_mask("rank bm25"), ["tags", "date"], 12)
    assert body["facets"]["tags"] == [{"value": f.value, "count": f.count} for f in reference["tags"]]
    assert body["facets"]["year"] == [{"value": f.value, "count": f.count} for f in reference["date"]]


def test_ltr_mode_once_a_model_is_active(index_dir: Path, make_client: Callable[..., TestClient]) -> None:
    pytest.importorskip("lightgbm")
    from zhisou.rank.data import collect
    from zhisou.rank.model import ModelStore
    from zhisou.rank.train import split_dev, train

    client = make_client()
    refused = client.get("/api/search", params={"q": "rank", "mode": "ltr"})
    assert refused.status_code == 400 and "train one with zhisou ltr train" in error_of(refused)
    assert 'data-mode="ltr"' not in client.get("/search", params={"q": "rank"}).text
    index = Index.open(index_dir)
    queries = [("q1", "rank"), ("q2", "索引"), ("q3", "fusion rank"), ("q4", "BM25")]
    judged = {"q1": {"h": 1}, "q2": {"f": 1}, "q3": {"h": 2}, "q4": {"b": 1}}
    data = collect(index.searcher(), queries, judged, depth=10, base="keyword")
    model, _ = train(*split_dev(data), max_rounds=5)
    store = ModelStore(index_dir)
    store.activate(store.save(model))
    index.close()
    body = client.get("/api/search", params={"q": "rank", "mode": "ltr", "explain": "true"}).json()
    assert {hit["id"] for hit in body["hits"]} == {"b", "d", "h"}
    rerank = body["hits"][0]["explain"]["rerank"]
    assert rerank["model"] == "model-1 (lightgbm lambdarank)" and "bm25:title" in rerank["features"]
    # What explain shows is what ranked: features computed over the list the model reordered
    # (its ``@list`` columns scale within it), not over the page alone — sorted by date too.
    for params in ({}, {"sort": "-date"}, {"size": 1, "page": 2}):
        shown = client.get("/api/search", params={"q": "rank", "mode": "ltr", "explain": "true", **params}).json()
        for hit in shown["hits"]:
            if params.get("sort"):
                continue  # sorted: the score is still the model's, the order the date's
            assert hit["explain"]["rerank"]["score"] == pytest.approx(hit["score"]), params
        ranked = client.get("/api/search", params={"q": "rank", "mode": "ltr", "explain": "true", "size": 50}).json()
        model_score = {hit["id"]: hit["explain"]["rerank"]["score"] for hit in ranked["hits"]}
        for hit in shown["hits"]:
            assert hit["explain"]["rerank"]["score"] == pytest.approx(model_score[hit["id"]]), params
    page = client.get("/search", params={"q": "rank", "mode": "ltr"}).text
    assert 'data-mode="ltr"' in page and "mode active" in page and 'class="explain"' not in page
    # ?explain=true in the web UI: a panel per hit with its channel ranks, the model's score and
    # the features it read, the same values the API gives.
    shown = client.get("/search", params={"q": "rank", "mode": "ltr", "explain": "true", "lang": "en"}).text
    first = body["hits"][0]
    panel = shown.split(f'data-explain="{first["id"]}"')[1].split("</details>")[0]
    assert "Why here" in panel and f"{rerank['score']:.4g}" in panel and "bm25:title" in panel
    assert f"#{first['explain']['channels']['bm25']['rank']}" in panel


def test_excerpt_is_plain_text_and_excerpt_html_is_escaped(client: TestClient) -> None:
    """The API's ``excerpt`` is rendered text, not HTML; ``excerpt_html`` is the same escaped."""
    note = {
        "id": "md",
        "title": "比较 a<b",
        "body": "# 比较 a<b\n\n**注意**：a < b && `x_y` ~/.cache\n",
        "date": "2031-01-01",
    }
    assert client.post("/api/docs", json=[note]).status_code == 200
    hit = next(h for h in client.get("/api/search", params={"q": ""}).json()["hits"] if h["id"] == "md")
    assert hit["excerpt"] == "注意：a < b && x_y ~/.cache"
    assert hit["excerpt_html"] == "注意：a &lt; b &amp;&amp; x_y ~/.cache"
    marked = client.get("/api/search", params={"q": "x_y"}).json()["hits"][0]["highlights"]["body"]
    assert "#" not in marked and "<mark>x_y</mark>" in marked and "比较" not in marked  # title not repeated


# -- suggestions ----------------------------------------------------------------------------
def test_suggest_completes_titles_and_tags_by_text_and_pinyin(client: TestClient) -> None:
    body = client.get("/api/suggest", params={"q": "倒排"}).json()
    assert body["q"] == "倒排" and [s["text"] for s in body["suggestions"]] == ["倒排索引"]
    assert body["suggestions"][0] == {"text": "倒排索引", "source": "title", "weight": 1, "corrected": False}
    assert [s["text"] for s in client.get("/api/suggest", params={"q": "dpsy"}).json()["suggestions"]] == ["倒排索引"]
    ranking = client.get("/api/suggest", params={"q": "rank", "size": 1}).json()["suggestions"]
    assert [s["text"] for s in ranking] == ["ranking"]  # a tag two notes carry, above a title of one
    assert client.get("/api/suggest", params={"q": ""}).json()["suggestions"] == []


def test_suggest_refuses_hostile_input_in_one_line(client: TestClient) -> None:
    for params in ({"q": "x" * 65}, {"q": "a", "size": 0}, {"q": "a", "size": 21}):
        response = client.get("/api/suggest", params=params)
        assert response.status_code == 422, params  # out of range, as every endpoint says it
        error_of(response)
    unknown = client.get("/api/suggest", params={"q": "a", "sizes": 3})
    assert unknown.status_code == 400 and "'sizes'" in error_of(unknown)
    odd = client.get("/api/suggest", params={"q": "\x00\ud7ff*?[(\"'<script>"})
    assert odd.status_code == 200 and odd.json()["suggestions"] == []


def test_the_search_log_records_a_hashed_client_not_the_address(client: TestClient, index_dir: Path) -> None:
    client.get("/api/search", params={"q": "rank"})
    for session in ("s1", "s2"):
        client.cookies.set("zhisou_session", session)
        client.get("/api/search", params={"q": "rank"})
    events = [e for e in SearchLog(index_dir / "logs").events() if e["event"] == "search"]
    clients = [e["client"] for e in events[-3:]]
    assert len(set(clients)) == 3 and all(len(c) == 16 for c in clients)
    assert "testclient" not in json.dumps(events) and "s1" not in clients


def test_popular_queries_need_distinct_addresses_not_just_cookies(
    make_client: Callable[..., TestClient], index_dir: Path
) -> None:
    forger = make_client()
    for session in ("s1", "s2", "s3", "s4"):  # four made-up sessions from one address
        forger.cookies.set("zhisou_session", session)
        forger.get("/api/search", params={"q": "ranking forged"})
    app = forger.app
    for number in range(3):  # three people, each from an address of their own
        with TestClient(app, base_url=BASE_URL, client=(f"10.0.0.{number + 1}", 50000)) as person:
            person.get("/api/search", params={"q": "ranking shared"})
    events = [e for e in SearchLog(index_dir / "logs").events() if e["event"] == "search"]
    assert len({e["client"] for e in events[:4]}) == 4 and len({e["origin"] for e in events[:4]}) == 1
    reader = make_client()  # a new server reads the log afresh
    offered = [s["text"] for s in reader.get("/api/suggest", params={"q": "ranking"}).json()["suggestions"]]
    assert "ranking shared" in offered and "ranking forged" not in offered


def _log_searches(index_dir: Path, rows: list[tuple[str, float, str, list[str], list[str]]]) -> None:
    """Write search (and click) events: (query, age in days, client, shown ids, clicked ids)."""
    import time as clock

    now = clock.time()
    lines = []
    for number, (query, age_days, client_id, shown, clicked) in enumerate(rows):
        ts = now - age_days * 86_400
        lines.append(
            {
                "ts": ts,
                "event": "search",
                "query_id": f"t{number}",
                "q": query,
                "mode": "keyword",
                "page": 1,
                "shown": shown,
                "client": client_id,
            }
        )
        lines += [{"ts": ts + 1, "event": "click", "query_id": f"t{number}", "id": doc, "rank": 1} for doc in clicked]
    logs = index_dir / "logs"
    logs.mkdir(exist_ok=True)
    today = clock.strftime("%Y-%m-%d", clock.gmtime(now))  # the day's file: older days are not read
    (logs / f"search-{today}.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in lines))


def test_trending_and_related_searches_from_the_log(make_client: Callable[..., TestClient], index_dir: Path) -> None:
    rows = [("倒排索引 压缩", 0.1, f"c{n}", ["a"], ["a"]) for n in range(4)]
    rows += [("bm25 参数", 0.2, f"c{n}", ["b", "a"], ["a"]) for n in range(3)]  # clicked the same note
    rows += [("spark", day + 0.5, f"c{n}", ["f"], []) for day in range(8) for n in range(3)]  # steady
    _log_searches(index_dir, rows)
    client = make_client()
    trending = client.get("/api/trending", params={"window": "1d"}).json()
    assert [t["text"] for t in trending["trending"]] == ["倒排索引 压缩", "bm25 参数"]
    bad = client.get("/api/trending", params={"window": "1y"})
    assert bad.status_code == 400 and "window '1y'" in error_of(bad)
    body = client.get("/api/search", params={"q": "倒排索引"}).json()
    assert body["hits"][0]["id"] == "a" and body["related_searches"] == ["倒排索引 压缩", "bm25 参数"]
    home = client.get("/").text
    assert 'class="trending"' in home and "倒排索引 压缩" in home


def test_logs_prune_removes_old_events_only(index_dir: Path) -> None:
    import time as clock

    log = SearchLog(index_dir / "logs")
    now = clock.time()
    day = clock.strftime("%Y-%m-%d", clock.gmtime(now - 100 * 86_400))
    (index_dir / "logs").mkdir(exist_ok=True)
    old_file = index_dir / "logs" / "search-2001-05-05.jsonl"
    old_file.write_text(json.dumps({"ts": 989_000_000, "event": "search"}) + "\n")
    boundary = index_dir / "logs" / f"search-{day}.jsonl"
    boundary.write_text(
        json.dumps({"ts": now - 100.5 * 86_400, "event": "search", "q": "old"})
        + "\n"
        + json.dumps({"ts": now - 89 * 86_400, "event": "search", "q": "kept"})
        + "\n"
    )
    recent_id = log.search("recent", "keyword", 1, [], {})
    assert log.prune(100 * 86_400, now=now) == (1, 2)  # a day file (one event) and one line of the cut's day
    remaining = list(log.events())
    assert not old_file.exists() and [e.get("q") for e in remaining] == ["kept", "recent"]
    assert remaining[-1]["query_id"] == recent_id
    with pytest.raises(ZhisouError, match="at least 1d"):
        log.prune(3600)
