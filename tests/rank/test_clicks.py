"""Reading the search log back: sessions with their clicks; damaged lines reported and skipped."""

from __future__ import annotations

import json
from pathlib import Path

from zhisou.rank.clicks import read_sessions
from zhisou.serve.searchlog import SearchLog


def test_sessions_join_searches_and_clicks_and_skip_damage(tmp_path: Path) -> None:
    log = SearchLog(tmp_path / "logs")
    first = log.search("BM25 ranking", "keyword", 1, ["b", "d", "h"], {})
    second = log.search("rank", "keyword", 2, ["x", "y"], {})
    short = log.search("rank", "keyword", 3, ["z"], {}, size=10)  # a last page, shorter than the rest
    log.click(first, "d", 2)
    log.click(first, "zzz", 9)  # not shown: ignored
    log.click("never-logged", "b", 1)  # its search is gone: ignored
    path = next((tmp_path / "logs").iterdir())
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
        handle.write("[1, 2]\n")
        handle.write(json.dumps({"event": "search", "query_id": "q9", "q": "x"}) + "\n")  # no shown list
        handle.write(json.dumps({"event": "click", "id": "b"}) + "\n")  # no query id
        handle.write(json.dumps({"query_id": "q9"}) + "\n")  # no event kind
        handle.write(json.dumps({"event": "heartbeat"}) + "\n")  # another kind: not an error
    report = read_sessions(tmp_path / "logs")
    by_id = {s.query_id: s for s in report.sessions}
    assert set(by_id) == {first, second, short}
    assert list(by_id[first].clicks) == ["d"] and by_id[first].clicked() == [False, True, False]
    assert by_id[second].first_rank == 3  # page 2 of two-hit pages (no size logged: pages were full)
    assert by_id[short].first_rank == 21
    assert len(report.skipped) == 5
    assert all(line.startswith(path.name + ":") for line in report.skipped)
    assert "not JSON" in report.skipped[0] and "not a JSON object" in report.skipped[1]
