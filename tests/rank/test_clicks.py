"""Reading the search log back: sessions with their clicks; damaged lines reported and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_an_incremental_reading_agrees_with_reading_the_log_afresh(tmp_path: Path, seed: int) -> None:
    """Appends to the day's file (a last line half written, clicks for older searches, a query
    holding U+2028), days passing, an older day's file cut short and removed: after every step
    SessionLog.read gives what a fresh read_sessions gives."""
    import os
    import random

    from zhisou.rank.clicks import SessionLog

    rng = random.Random(seed)
    logs = tmp_path / "logs"
    logs.mkdir()
    days = ["2026-11-28", "2026-11-29", "2026-11-30"]
    base = 1_795_000_000.0
    reader = SessionLog(logs)
    searches: list[tuple[str, list[str]]] = []
    pending: dict[str, bytes] = {}  # a line half written, per file

    def as_tuples(sessions: list) -> list:  # type: ignore[type-arg]
        return sorted((s.query_id, s.query, s.shown, s.ts, sorted(s.clicks.items()), s.client) for s in sessions)

    for step in range(60):
        day = days[step // 20]  # events go to today's file; days pass
        path = logs / f"search-{day}.jsonl"
        older = logs / f"search-{days[0]}.jsonl"
        action = rng.random()
        if action < 0.08 and step >= 20 and older.exists():  # an older day cut short (a prune rewrites it)
            lines = older.read_bytes().splitlines(keepends=True)
            older.write_bytes(b"".join(lines[len(lines) // 2 :]))
        elif action < 0.1 and step >= 40 and older.exists():
            os.remove(older)
        else:
            events = []
            for _ in range(rng.randint(1, 4)):
                if searches and rng.random() < 0.4:
                    query_id, shown = rng.choice(searches)
                    events.append({"ts": base + step, "event": "click", "query_id": query_id, "id": rng.choice(shown)})
                else:
                    query_id, shown = f"q{step}-{len(events)}", [f"d{rng.randint(0, 9)}" for _ in range(3)]
                    searches.append((query_id, shown))
                    query = rng.choice(["倒排索引", "spark\u2028join", "bm25"])
                    events.append(
                        {"ts": base + step, "event": "search", "query_id": query_id, "q": query, "shown": shown}
                    )
            data = (
                pending.pop(path.name, b"") + "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode()
            )
            if rng.random() < 0.3:  # the writer is mid-line when the log is read
                cut = rng.randint(len(data) - 40, len(data) - 1)
                data, pending[path.name] = data[:cut], data[cut:]
            with path.open("ab") as handle:
                handle.write(data)
        since = base + rng.choice([0, 20]) if rng.random() < 0.3 else None
        complete = {name: path for name, path in ((p.name, p) for p in logs.iterdir())}
        fresh_dir = tmp_path / f"fresh{step}"
        fresh_dir.mkdir()
        for name, source in complete.items():  # what a reader sees: whole lines and JSON values so far
            raw = source.read_bytes()
            whole, tail = raw[: raw.rfind(b"\n") + 1], raw[raw.rfind(b"\n") + 1 :]
            try:
                json.loads(tail)
            except ValueError:
                tail = b""
            (fresh_dir / name).write_bytes(whole + tail)
        assert as_tuples(reader.read(since)) == as_tuples(read_sessions(fresh_dir, since).sessions), step


def test_a_last_line_without_its_newline_is_read(tmp_path: Path) -> None:
    """A log written by hand (or by a server killed mid-write) may end without a newline: one
    reading takes the line; an incremental one takes it once it is whole JSON."""
    from zhisou.rank.clicks import SessionLog

    event = {"ts": 1.0, "event": "search", "query_id": "q1", "q": "倒排", "shown": ["a"]}
    path = tmp_path / "search-2026-12-01.jsonl"
    path.write_text(json.dumps(event, ensure_ascii=False), encoding="utf-8")
    assert [s.query_id for s in read_sessions(tmp_path).sessions] == ["q1"]
    log = SessionLog(tmp_path)
    assert [s.query_id for s in log.read()] == ["q1"]
    with path.open("a", encoding="utf-8") as handle:  # its newline, then half of the next line
        handle.write('\n{"ts": 2.0, "event": "click", "query_id": "q1", ')
    assert [s.clicks for s in log.read()] == [{}]
    with path.open("a", encoding="utf-8") as handle:
        handle.write('"id": "a"}\n')
    assert [s.clicks for s in log.read()] == [{"a": 2.0}]
    path.write_text(json.dumps(event)[:-5], encoding="utf-8")  # cut short, no newline: damage
    report = read_sessions(tmp_path)
    assert report.sessions == [] and len(report.skipped) == 1
