"""The server as an attacker and a careless user meet it: cross-site writes, foreign Host
headers, oversized bodies, odd tokens, missing headers, failed writes, a read-only or removed
index folder, half-open connections — each refused in one line, nothing lost."""

from __future__ import annotations

import socket
import statistics
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.serve.conftest import TOKEN
from zhisou import Index, ZhisouError
from zhisou.index.writer import IndexWriter
from zhisou.serve import server
from zhisou.serve.background import serving
from zhisou.serve.settings import ServeSettings

DOC = [{"id": "w1", "body": "written"}]


def error_of(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["error"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}, 200),
        ({}, 200),  # programs (curl) send neither
    ],
)
def test_writes_from_other_sites_are_refused(client: TestClient, headers: dict[str, str], status: int) -> None:
    response = client.post("/api/docs", json=DOC, headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert "cross-site" in error_of(response)
        assert client.get("/api/docs/w1").status_code == 404
    for method, path in (("DELETE", "/api/docs/a"), ("POST", "/api/commit")):
        if status == 403:
            assert client.request(method, path, headers=headers).status_code == 403


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
)
def test_documents_must_be_sent_as_json(client: TestClient, content_type: str) -> None:
    """A plain HTML form or a no-cors fetch can only send these types: they are refused."""
    response = client.post(
        "/api/docs", content=b'[{"id": "f1", "body": "form"}]', headers={"content-type": content_type}
    )
    assert response.status_code == 415 and "application/json" in error_of(response)
    assert client.get("/api/docs/f1").status_code == 404


def test_foreign_host_headers_are_refused(client: TestClient) -> None:
    """DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 sends Host: evil.example."""
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.nip.io"):
        response = client.get("/api/search", params={"q": "rank"}, headers={"host": host})
        assert response.status_code == 400 and "does not answer" in error_of(response)
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"):
        assert client.get("/api/health", headers={"host": host}).status_code == 200


def test_allowed_hosts_can_be_named(make_client: Callable[..., TestClient]) -> None:
    client = make_client(allowed_hosts=("search.example",))
    assert client.get("/api/health", headers={"host": "search.example"}).status_code == 200
    assert client.get("/api/health", headers={"host": "other.example"}).status_code == 400


def test_bodies_are_limited_before_and_while_reading(client: TestClient) -> None:
    big = b'{"query_id": "q", "id": "a", "rank": 1, "pad": "' + b"x" * 200_000 + b'"}'
    declared = client.post("/api/events/click", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "64 KB" in error_of(declared)

    def chunks():  # no Content-Length: the limit holds while the body streams in
        for _ in range(100):
            yield b"x" * 10_000

    streamed = client.post("/api/events/click", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    lying = client.post(
        "/api/docs", content=b"[]", headers={"content-type": "application/json", "content-length": "999999999999"}
    )
    assert lying.status_code == 413


def test_a_non_ascii_authorization_header_is_401_not_500(make_client: Callable[..., TestClient]) -> None:
    client = make_client(token=TOKEN)
    for header in (b"Bearer \xff\xfe\xfd", "Bearer 密码".encode(), b"\xff", b"Bearer"):
        response = client.post("/api/docs", json=DOC, headers=[(b"authorization", header)])
        assert response.status_code == 401, header
    good = client.post("/api/docs", json=DOC, headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200


@pytest.mark.parametrize("token", ["密码密码密码密码", "has space inside", "short", "tab\tinside-token"])
def test_unusable_tokens_are_refused_at_start_up(index_dir: Path, token: str) -> None:
    with pytest.raises(ZhisouError, match="printable ASCII"):
        ServeSettings(index_dir, token=token).check()


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/search?q=rank", "/doc/a", "/api/search?q=rank", "/api/docs", "/nowhere", "/static/app.js"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
    page = client.get("/search", params={"q": "rank"}).text
    assert "<script>" not in page.replace('<script src="', "")  # no inline script in any page


def test_clicks_are_rate_limited_per_client(client: TestClient) -> None:
    query_id = client.get("/api/search", params={"q": "rank"}).json()["query_id"]
    statuses = [
        client.post("/api/events/click", json={"query_id": query_id, "id": "b", "rank": 1}).status_code
        for _ in range(120)
    ]
    assert statuses[:50] == [204] * 50
    assert 429 in statuses


def test_overlong_queries_are_refused(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "x" * 10_001})
    assert response.status_code == 422 and "q:" in error_of(response)
    nested = client.get("/api/search", params={"q": "(" * 2000 + "rank" + ")" * 2000})
    assert nested.status_code == 200 and nested.json()["query_error"]  # searched as plain words


def lock_is_free(index_dir: Path) -> bool:
    try:
        IndexWriter(index_dir).close()
    except ZhisouError:
        return False
    return True


def test_failed_writes_let_go_of_the_write_lock(client: TestClient, index_dir: Path) -> None:
    assert client.delete("/api/docs/no-such-id").status_code == 404
    assert lock_is_free(index_dir)
    bad = client.post("/api/docs", json=[{"title": "no id"}, {"id": "x", "body": {"not": "text"}}])
    assert bad.status_code == 200 and bad.json()["indexed"] == 0
    assert lock_is_free(index_dir)
    surrogate = client.post(
        "/api/docs", content=b'[{"id": "s", "body": "\\ud800"}]', headers={"content-type": "application/json"}
    )
    assert surrogate.json()["indexed"] == 0 and "surrogate" in surrogate.json()["errors"][0]["error"]
    assert lock_is_free(index_dir)
    assert client.post("/api/docs", json=DOC).json()["committed"]  # and writes still work
    assert lock_is_free(index_dir)


def test_a_write_that_fails_midway_drops_only_itself(
    client: TestClient, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    real_commit = Index.commit

    def disk_full(self: Index) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Index, "commit", disk_full)
    failing = TestClient(client.app, raise_server_exceptions=False, base_url=str(client.base_url))
    response = failing.post("/api/docs", json=[{"id": "lost", "body": "not committed"}])
    assert response.status_code == 500 and "No space left" in error_of(response)
    assert lock_is_free(index_dir)  # the failed write let go of the lock
    monkeypatch.setattr(Index, "commit", real_commit)
    assert client.post("/api/docs", json=DOC).json()["committed"]
    assert client.get("/api/docs/w1").status_code == 200
    assert client.get("/api/docs/lost").status_code == 404  # it was reported as failed, not accepted
    assert service.index.open_writer is None


def test_pending_writes_are_committed_on_shutdown(make_client: Callable[..., TestClient], index_dir: Path) -> None:
    client = make_client()
    response = client.post("/api/docs", params={"commit": "false"}, json=[{"id": "late", "body": "pending at exit"}])
    assert response.json()["committed"] is False
    client.__exit__(None, None, None)  # the server stops
    assert Index.open(index_dir).get("late") is not None


def test_an_unwritable_search_log_never_breaks_search(index_dir: Path, make_client: Callable[..., TestClient]) -> None:
    (index_dir / "logs").write_text("a file where the log folder should be")  # as a read-only folder would
    client = make_client()
    for _ in range(3):
        response = client.get("/api/search", params={"q": "rank"})
        assert response.status_code == 200 and response.json()["total"] == 3


def test_a_removed_index_folder_is_not_recreated(index_dir: Path, make_client: Callable[..., TestClient]) -> None:
    import shutil

    client = make_client()
    shutil.rmtree(index_dir)
    client.get("/api/search", params={"q": "rank"})
    client.post("/api/events/click", json={"query_id": "q", "id": "a", "rank": 1})
    assert not index_dir.exists()


def test_idle_and_half_open_connections_are_closed(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "HEAD_TIMEOUT_SECONDS", 0.5)
    with serving(ServeSettings(index_dir, port=0, search_log=False)) as url:
        host, port = url.removeprefix("http://").split(":")
        silent = socket.create_connection((host, int(port)))
        trickle = socket.create_connection((host, int(port)))
        trickle.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes the head
        for connection in (silent, trickle):
            connection.settimeout(5)
            assert connection.recv(1024) == b""  # closed by the server
            connection.close()
        assert urllib.request.urlopen(url + "/api/health", timeout=5).status == 200


def test_the_readmes_curl_with_raw_chinese_in_the_url_works(index_dir: Path) -> None:
    """curl sends 倒排索引 as raw UTF-8 bytes in the request line (not percent-encoded): the
    server answers it, and reads the query as UTF-8 — the same hits as the encoded form."""
    import json
    import re
    import shutil
    import subprocess

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    command = re.search(r"curl -s '(http://127\.0\.0\.1:8000/api/search\?q=倒排索引[^']*)'", readme)
    assert command is not None  # the README still shows it
    with serving(ServeSettings(index_dir, port=0, search_log=False)) as url:
        target = command.group(1).replace("http://127.0.0.1:8000", url)
        encoded = target.replace("倒排索引", urllib.parse.quote("倒排索引"))
        with urllib.request.urlopen(encoded, timeout=5) as response:
            expected = [hit["id"] for hit in json.loads(response.read())["hits"]]
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            path = target.removeprefix(url)
            raw.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            reply = b""
            while chunk := raw.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:80]
        answer = json.loads(body)
        assert answer["query"] == "倒排索引" and [hit["id"] for hit in answer["hits"]] == expected and expected
        if shutil.which("curl"):  # the very command, when curl is there
            done = subprocess.run(["curl", "-s", target], capture_output=True, timeout=10, check=False)
            assert json.loads(done.stdout)["query"] == "倒排索引"


def test_a_bounded_load_runs_without_errors(index_dir: Path) -> None:
    """Eight loopback clients, 40 searches each: every answer a 200 (figures in RELIABILITY.md)."""
    queries = ["rank", "倒排索引", "bm25 ranking", '"learning to rank"', "混合 精度", "spark"]
    latencies: list[float] = []
    errors: list[str] = []
    with serving(ServeSettings(index_dir, port=0)) as url:

        def client(number: int) -> None:
            for i in range(40):
                query = urllib.parse.quote(queries[(number + i) % len(queries)])
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(f"{url}/api/search?q={query}", timeout=10) as response:
                        if response.status != 200:
                            errors.append(str(response.status))
                except Exception as error:  # the finding is any failure at all
                    errors.append(repr(error))
                latencies.append(time.perf_counter() - started)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert len(latencies) == 320 and statistics.median(latencies) < 10


def test_ids_a_path_cannot_carry_work_by_query_parameter(client: TestClient) -> None:
    from zhisou.serve.ui import doc_url

    odd = "notes/../secret/./x"
    client.post("/api/docs", json=[{"id": odd, "title": "Dot segments", "body": "zebracorn"}])
    link = doc_url(odd)
    assert link.startswith("/doc?id=")
    assert "Dot segments" in client.get(link).text
    assert client.get("/api/doc", params={"id": odd}).json()["title"] == "Dot segments"
    assert client.get("/api/doc/related", params={"id": odd}).json()["id"] == odd
    page = client.get("/search", params={"q": "zebracorn"}).text
    assert 'href="/doc?id=notes%2F..%2Fsecret%2F.%2Fx&amp;q=zebracorn"' in page  # the query rides along
    assert doc_url("notes/2024/rank") == "/doc/notes/2024/rank"
    assert client.delete("/api/doc", params={"id": odd}).json()["deleted"] == 1


def test_a_failed_commit_never_drops_writes_accepted_before_it(
    client: TestClient, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = client.post("/api/docs", params={"commit": "false"}, json=[{"id": "kept", "body": "accepted earlier"}])
    assert accepted.json() == {**accepted.json(), "indexed": 1, "committed": False}
    real_commit = Index.commit

    def disk_full(self: Index) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Index, "commit", disk_full)
    failing = TestClient(client.app, raise_server_exceptions=False, base_url=str(client.base_url))
    assert failing.post("/api/docs", json=[{"id": "retried", "body": "sent during the fault"}]).status_code == 500
    monkeypatch.setattr(Index, "commit", real_commit)
    assert client.post("/api/commit").status_code == 200  # the fault is gone: everything accepted lands
    assert client.get("/api/docs/kept").status_code == 200
    assert lock_is_free(index_dir)


def test_damage_found_while_serving_is_a_503_naming_the_file(
    client: TestClient, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zhisou.errors import CorruptIndexError

    service = client.app.state.service  # type: ignore[attr-defined]

    def damaged(*args: object, **kwargs: object) -> None:
        raise CorruptIndexError(f"{index_dir}/seg_000000.doc: postings out of range; the index is damaged")

    monkeypatch.setattr(service, "search", damaged)
    response = client.get("/api/search", params={"q": "rank"})
    assert response.status_code == 503 and "seg_000000.doc" in error_of(response)


def test_the_search_log_rolls_over_and_stays_bounded(tmp_path: Path) -> None:
    from zhisou.serve.searchlog import SearchLog

    log = SearchLog(tmp_path / "logs", max_bytes=16 * 1024)  # parts of 1 KB, 16 KB in all
    for number in range(600):
        log.search(f"query {number} 倒排索引", "keyword", 1, [f"doc{number}"], {})
    files = sorted((tmp_path / "logs").iterdir())
    assert len(files) > 10
    assert sum(f.stat().st_size for f in files) <= 16 * 1024 + 1024 + 200
    events = list(log.events())
    assert events[-1]["q"] == "query 599 倒排索引"  # the newest are kept, in order
    assert [e["q"] for e in events] == sorted((e["q"] for e in events), key=lambda q: int(q.split()[1]))
