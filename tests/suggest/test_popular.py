"""Popular past queries from the search log: decayed frequency and clicks, the distinct-client
threshold, the deny-list, searches that found nothing."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from zhisou.rank.clicks import Session
from zhisou.suggest.popular import DAY, DenyList, popular_queries

NOW = 1_800_000_000.0


def searches(query: str, clients: int, *, age_days: float = 0.0, clicked: int = 0, shown: bool = True) -> list[Session]:
    out = []
    for number in range(clients):
        session = Session(f"{query}-{age_days}-{number}", query, ["d1"] if shown else [], 1, NOW - age_days * DAY)
        session.client = f"client{number}"
        if number < clicked:
            session.clicks["d1"] = session.ts + 5
        out.append(session)
    return out


def test_recent_frequent_and_clicked_queries_weigh_more() -> None:
    log = [
        *searches("倒排索引", 6),  # recent, no clicks
        *searches("bm25 参数", 6, age_days=28),  # as often, two half-lives ago
        *searches("向量检索", 6, clicked=6),  # recent, every search clicked
    ]
    found = popular_queries(log, now=NOW)
    assert [query.text for query in found] == ["向量检索", "倒排索引", "bm25 参数"]
    by_text = {query.text: query for query in found}
    assert abs(by_text["向量检索"].weight - 2 * by_text["倒排索引"].weight) < 1e-9
    assert abs(by_text["bm25 参数"].weight - by_text["倒排索引"].weight / 4) < 1e-6


def test_a_query_needs_enough_distinct_clients() -> None:
    one_client = searches("我的病历号 12345", 1) * 10  # ten searches, one client
    for number, session in enumerate(one_client):
        session.query_id = f"x{number}"
    log = [*one_client, *searches("缓存", 3), *searches("分片", 2)]
    assert [query.text for query in popular_queries(log, now=NOW)] == ["缓存"]
    assert [query.text for query in popular_queries(log, now=NOW, min_clients=2)] == ["缓存", "分片"]


def test_sessions_made_up_at_one_address_count_as_one_client() -> None:
    forged = searches("免费领取 加微信", 5)  # five session cookies ...
    for session in forged:
        session.origin = "address1"  # ... sent from one address
    spread = searches("缓存", 3)
    for number, session in enumerate(spread):
        session.origin = f"address{number}"
    older = searches("分片", 3)  # logged before origins were: the client counts
    found = popular_queries([*forged, *spread, *older], now=NOW)
    assert sorted(query.text for query in found) == ["分片", "缓存"]
    assert {query.text: query.clients for query in found} == {"缓存": 3, "分片": 3}


def test_searches_logged_without_a_client_count_for_none() -> None:
    log = searches("缓存", 5)
    for session in log:
        session.client = None
    assert popular_queries(log, now=NOW) == []


def test_the_deny_list_and_empty_results_keep_queries_out(tmp_path: Path) -> None:
    deny_file = tmp_path / "deny.txt"
    deny_file.write_text("# never suggest\n赌博\nCasino\n", encoding="utf-8")
    deny = DenyList.load(deny_file)
    log = [
        *searches("网上赌博平台", 5),
        *searches("casino bonus", 5),
        *searches("缓存", 5),
        *searches("无结果", 5, shown=False),
    ]
    assert [query.text for query in popular_queries(log, now=NOW, deny=deny)] == ["缓存"]
    assert DenyList.load(tmp_path / "missing.txt").entries == ()


def test_trending_finds_a_rising_query_not_a_steady_popular_one() -> None:
    from zhisou.suggest.trending import trending, window_seconds

    log = []
    for day in range(8):  # 缓存: twenty searches a day, every day
        log += searches("缓存", 20, age_days=day + 0.5)
    log += searches("鸿蒙 适配", 8, age_days=0.2)  # new today
    log += searches("分库分表", 4, age_days=0.3) + searches("分库分表", 4, age_days=3.5)  # up a little
    found = trending(log, now=NOW, window=window_seconds("1d"))
    assert [trend.text for trend in found] == ["鸿蒙 适配", "分库分表"]
    assert found[0].recent == 8 and found[0].expected == 0
    assert trending(log, now=NOW, window=window_seconds("1d"), min_count=9) == []
    for session in log:
        if session.query == "鸿蒙 适配":
            session.origin = "one address"  # eight cookies, one address: not a trend
    assert [trend.text for trend in trending(log, now=NOW, window=window_seconds("1d"))] == ["分库分表"]


def test_a_malformed_window_is_one_clear_error() -> None:
    import pytest

    from zhisou.errors import ZhisouError
    from zhisou.suggest.trending import window_seconds

    assert window_seconds("6h") == 6 * 3600 and window_seconds("7d") == 7 * DAY
    for bad in ("", "0h", "30m", "1y", "400d", "-1d", "1d; drop"):
        with pytest.raises(ZhisouError, match="window"):
            window_seconds(bad)


def test_related_searches_by_co_click_then_by_a_distinctive_word() -> None:
    from zhisou.suggest.popular import popular_queries
    from zhisou.suggest.related_queries import CoClicks

    def clicked(query: str, doc: str, clients: int) -> list[Session]:
        out = searches(query, clients, clicked=clients)
        for session in out:
            session.shown, session.clicks = [doc], {doc: session.ts}
            session.query_id += doc
        return out

    log = [
        *clicked("倒排索引 压缩", "d1", 3),
        *clicked("posting list 压缩", "d1", 4),
        *clicked("前缀编码", "d2", 3),
        *clicked("索引 合并", "d9", 3),
        *clicked("天气", "d7", 3),
    ]
    coclicks = CoClicks(log, popular_queries(log, now=NOW))
    words = str.split
    rarity = {"倒排索引": 2, "压缩": 9, "索引": 5}
    related = coclicks.related(
        "倒排索引 压缩", ["d1", "d2", "d3"], 3, words, lambda ws: [rarity.get(w, 50) for w in ws]
    )
    assert related == ["posting list 压缩", "前缀编码"]  # co-clicked; nothing shares 倒排索引 to fill
    related = coclicks.related("倒排索引", ["d5"], 3, words, lambda ws: [rarity.get(w, 50) for w in ws])
    assert related == ["倒排索引 压缩"]  # no co-clicks: a query holding its word


def log_searches(logs: Path, query: str, ts: float, clients: int = 3) -> None:
    """Append ``clients`` searches for ``query`` at ``ts`` to that day's file of the log."""
    logs.mkdir(exist_ok=True)
    events = [
        {"ts": ts, "event": "search", "query_id": f"{query}{ts}{n}", "q": query, "shown": ["a"], "client": f"c{n}"}
        for n in range(clients)
    ]
    day = time.strftime("%Y-%m-%d", time.gmtime(ts))
    with (logs / f"search-{day}.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(event, ensure_ascii=False) + "\n" for event in events))


def test_suggestions_read_only_the_recent_days_of_the_log(tmp_path: Path) -> None:
    """Days older than LOG_DAYS are not read at all (their files are not opened)."""
    from zhisou.suggest.service import LOG_DAYS, Suggestions

    now = time.time()
    for age, query in ((LOG_DAYS + 5, "很久以前"), (1, "最近")):
        log_searches(tmp_path / "logs", query, now - age * DAY)
    assert [query.text for query in Suggestions(tmp_path).log().popular] == ["最近"]


def test_a_changed_log_is_read_again_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first reading, a request is answered from the last snapshot while a thread reads
    the log again — and only a log that changed is read again."""
    from zhisou.suggest import service

    def log(query: str) -> None:
        log_searches(tmp_path / "logs", query, time.time())

    def settled(suggestions: service.Suggestions) -> service.LogSnapshot:
        for _ in range(500):
            if not suggestions._refreshing:
                break
            time.sleep(0.01)
        return suggestions.log()

    log("向量检索")
    suggestions = service.Suggestions(tmp_path)
    first = suggestions.log()
    monkeypatch.setattr(service, "LOG_REFRESH_SECONDS", 0.0)
    assert suggestions.log() is first  # answered at once; the check runs in a thread
    assert settled(suggestions) is first  # nothing changed: not read again
    gate = threading.Event()
    read = suggestions._read_log
    monkeypatch.setattr(suggestions, "_read_log", lambda: gate.wait(10) and read())
    settled(suggestions)
    log("倒排索引")
    assert suggestions.log() is first and suggestions.log() is first  # not waiting for the reading
    gate.set()
    fresh = first
    for _ in range(500):
        fresh = settled(suggestions)
        if fresh is not first:
            break
    assert sorted(q.text for q in fresh.popular) == ["倒排索引", "向量检索"]


def test_a_new_process_completes_from_the_stored_queries_while_it_reads_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each reading of the log stores its queries' key table; the next Suggestions answers from
    it, memory-mapped, while its own reading runs — only while the log, the deny-list and the
    threshold are what they were."""
    from zhisou.suggest import service
    from zhisou.suggest.complete import StoredCompleter

    for query in ("向量检索", "向量压缩"):
        log_searches(tmp_path / "logs", query, time.time())
    first = service.Suggestions(tmp_path)
    expected = [c.text for c in first.log().completer.complete("xiangl")]
    assert sorted(expected) == ["向量压缩", "向量检索"]
    assert (tmp_path / "suggest" / service.QUERIES_FILE).exists()

    gate = threading.Event()
    monkeypatch.setattr(service.Suggestions, "_read_log", lambda self: gate.wait(10) and None)
    second = service.Suggestions(tmp_path)
    try:
        with second._lock:
            queries = second._queries_locked()
        assert isinstance(queries, StoredCompleter)  # answered before the reading ends
        assert [c.text for c in queries.complete("xiangl")] == expected
    finally:
        gate.set()
    assert service.Suggestions(tmp_path, min_clients=5)._load_stored() is None  # another threshold
    (tmp_path / "suggest" / service.DENY_FILE).write_text("压缩\n", encoding="utf-8")
    assert service.Suggestions(tmp_path)._load_stored() is None  # another deny-list
    (tmp_path / "suggest" / service.DENY_FILE).unlink()
    assert service.Suggestions(tmp_path)._load_stored() is not None
    log_searches(tmp_path / "logs", "向量检索", time.time())
    assert service.Suggestions(tmp_path)._load_stored() is None  # the log grew since


def test_a_search_does_not_wait_long_for_a_first_reading_of_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Related searches are part of every search: while a large log is read for the first time
    they are empty after a short wait, and the reading prepares the word map searches need."""
    from tests.conftest import SMALL_CORPUS
    from zhisou import Index
    from zhisou.suggest import service

    index = Index.create(tmp_path / "ix")
    index.add(SMALL_CORPUS)
    index.commit()
    for query in ("倒排索引 压缩", "倒排索引 合并"):
        log_searches(index.directory / "logs", query, time.time())
    gate = threading.Event()
    read = service.Suggestions._read_log
    monkeypatch.setattr(service.Suggestions, "_read_log", lambda self: gate.wait(10) and read(self))
    monkeypatch.setattr(service, "RELATED_WAIT_SECONDS", 0.05)
    started = time.monotonic()
    assert index.related_searches("倒排索引", []) == []  # the reading goes on in the background
    assert time.monotonic() - started < 5
    gate.set()
    for _ in range(500):
        if not index.suggestions._refreshing:
            break
        time.sleep(0.01)
    assert sorted(index.related_searches("倒排索引", [])) == ["倒排索引 压缩", "倒排索引 合并"]  # its word
    words_first = index.suggestions._related_words
    assert words_first is not None
    log_searches(index.directory / "logs", "倒排索引 构建", time.time())
    monkeypatch.setattr(service, "LOG_REFRESH_SECONDS", 0.0)
    index.suggestions.log()  # stale: read again in the background, the word map made there
    for _ in range(500):
        if not index.suggestions._refreshing:
            break
        time.sleep(0.01)
    snapshot = index.suggestions.log()
    assert words_first[1] in snapshot.coclicks._by_word


def test_a_home_page_does_not_wait_for_a_first_reading_of_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trending with a ``wait`` (what the server asks for) is empty while a large log is read for
    the first time, and the reading goes on; without one (the Python API) it waits for it."""
    from zhisou.suggest import service

    log_searches(tmp_path / "logs", "鸿蒙 适配", time.time() - 3600)
    suggestions = service.Suggestions(tmp_path)
    gate = threading.Event()
    read = suggestions._read_log
    monkeypatch.setattr(suggestions, "_read_log", lambda: gate.wait(10) and read())
    assert suggestions.trending(wait=0.05) == []  # the reading is held: none yet, no page held
    assert suggestions._refreshing  # ... while it goes on in the background
    gate.set()
    assert [trend.text for trend in suggestions.trending()] == ["鸿蒙 适配"]
    assert [trend.text for trend in suggestions.trending(wait=0.05)] == ["鸿蒙 适配"]
