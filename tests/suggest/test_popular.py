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
