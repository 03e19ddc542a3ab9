"""Popular past queries from the search log: decayed frequency and clicks, the distinct-client
threshold, the deny-list, searches that found nothing."""

from __future__ import annotations

from pathlib import Path

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


def test_suggestions_read_only_the_recent_days_of_the_log(tmp_path: Path) -> None:
    """Days older than LOG_DAYS are not read at all (their files are not opened)."""
    import json
    import time

    from zhisou.suggest.service import LOG_DAYS, Suggestions

    logs = tmp_path / "logs"
    logs.mkdir()
    now = time.time()
    for age, query in ((LOG_DAYS + 5, "很久以前"), (1, "最近")):
        day = time.strftime("%Y-%m-%d", time.gmtime(now - age * DAY))
        events = [
            {
                "ts": now - age * DAY,
                "event": "search",
                "query_id": f"{query}{n}",
                "q": query,
                "shown": ["a"],
                "client": f"c{n}",
            }
            for n in range(3)
        ]
        (logs / f"search-{day}.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    assert [query.text for query in Suggestions(tmp_path).log().popular] == ["最近"]
