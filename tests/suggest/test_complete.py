"""Autocomplete over the index's phrases and the search log (Index.suggest)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou import Index
from zhisou.suggest.complete import Completer, Completion, Entry, merge

NOTES = [
    {"id": "a", "title": "倒排索引", "body": "倒排索引记录词到文档的映射。", "tags": ["索引", "排障"]},
    {"id": "b", "title": "倒排索引的压缩", "body": "压缩倒排表。", "tags": ["索引"]},
    {"id": "c", "title": "Search engine basics", "body": "How a search engine works.", "tags": ["search"]},
    {"id": "d", "title": "缓存穿透", "body": "缓存穿透的排障记录。", "tags": ["排障"]},
]


def texts(found: list) -> list[str]:  # type: ignore[type-arg]
    return [completion.text for completion in found]


def test_a_new_index_completes_from_its_titles_and_tags(make_index: Callable[..., Index]) -> None:
    index = make_index(NOTES)
    assert texts(index.suggest("倒排")) == ["倒排索引", "倒排索引的压缩"]
    assert texts(index.suggest("daop"))[:1] == ["倒排索引"]  # pinyin
    assert "倒排索引" in texts(index.suggest("dpsy"))  # initials
    assert texts(index.suggest("排")) == ["排障"]  # a tag: two notes carry it
    # One note each: a tie in weight goes to the title.
    assert texts(index.suggest("Sea")) == ["Search engine basics", "search"]  # shown as written


def test_a_typo_in_a_latin_prefix_still_completes(make_index: Callable[..., Index]) -> None:
    index = make_index(NOTES)
    found = index.suggest("serach eng")  # a swap: one edit
    assert texts(found) == ["Search engine basics"] and found[0].corrected
    found = index.suggest("serach")
    assert texts(found) == ["Search engine basics", "search"] and all(c.corrected for c in found)
    assert index.suggest("daopia")[0].text == "倒排索引"  # pinyin typed with a swap
    assert index.suggest("sea") and index.suggest("xyz") == []  # three letters: no typo search


def test_popular_queries_from_the_log_come_first(make_index: Callable[..., Index]) -> None:
    index = make_index(NOTES)
    logs = Path(index.directory) / "logs"
    logs.mkdir()
    now = time.time()
    events = []
    for number in range(4):
        events.append(
            {
                "ts": now,
                "event": "search",
                "query_id": f"q{number}",
                "q": "倒排索引 构建",
                "mode": "keyword",
                "page": 1,
                "shown": ["a"],
                "client": f"c{number}",
            }
        )
    events.append(
        {
            "ts": now,
            "event": "search",
            "query_id": "p",
            "q": "倒排 私密查询",
            "mode": "keyword",
            "page": 1,
            "shown": ["a"],
            "client": "c0",
        }
    )  # one client only: never suggested
    today = time.strftime("%Y-%m-%d", time.gmtime(now))  # the day's file: older days are not read
    (logs / f"search-{today}.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    found = index.suggest("倒排")
    assert texts(found) == ["倒排索引 构建", "倒排索引", "倒排索引的压缩"]
    assert found[0].source == "query" and found[1].source == "title"


def test_deleted_documents_leave_the_suggestions(make_index: Callable[..., Index]) -> None:
    index = make_index(NOTES)
    index.delete("b")
    index.commit()
    index.refresh()
    assert texts(index.suggest("倒排")) == ["倒排索引"]


def test_one_entry_per_text_and_the_size_limit() -> None:
    completer = Completer(
        [Entry("Redis 缓存", "title", 1), Entry("redis  缓存", "tag", 3), Entry("redis 集群", "tag", 2)]
    )
    assert [c.text for c in completer.complete("redis")] == ["redis 缓存", "redis 集群"]
    assert [c.text for c in completer.complete("redis", size=1)] == ["redis 缓存"]
    assert completer.complete("redis hc")[0].text == "redis 缓存"  # pinyin initials after a Latin word


def test_a_past_query_is_shown_as_the_title_it_equals_writes_it() -> None:
    query = Completion("bm25 调参", "query", 5.0)
    title = Completion("BM25 调参", "title", 1.0, key="bm25 调参")
    other = Completion("bm25 入门", "title", 1.0, key="bm25 入门")
    assert merge([[query], [title, other]], 5) == [Completion("BM25 调参", "query", 5.0), other]
    assert merge([[query], [other]], 5) == [query, other]  # no title equals it: as typed


def test_chinese_words_of_several_notes_complete_too(make_index: Callable[..., Index]) -> None:
    """A word two notes hold completes, by pinyin as well — below titles and tags."""
    notes = [*NOTES, {"id": "e", "title": "Redis", "body": "缓存的过期策略。"}]
    index = make_index(notes)
    found = index.suggest("huanc")
    assert [(c.text, c.source) for c in found] == [("缓存穿透", "title"), ("缓存", "word")]
    assert texts(index.suggest("缓")) == ["缓存穿透", "缓存"]


@settings(deadline=None, max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="ab 缓存排", min_size=1, max_size=5),
            st.sampled_from(["query", "title", "tag", "word"]),
            st.integers(1, 5),
        ),
        max_size=60,
    ),
    st.text(alphabet="ab 缓存排hc", min_size=1, max_size=3),
    st.integers(1, 6),
)
def test_completions_agree_with_a_scan_of_every_entry(rows: list[tuple[str, str, int]], prefix: str, size: int) -> None:
    """The ranked, de-duplicated completions equal a scan: every entry with a key starting with
    a form of the prefix, best rank first, the typed text itself left out."""
    from zhisou.suggest.keys import completion_keys, prefix_forms

    completer = Completer([Entry(text, source, weight) for text, source, weight in rows])
    forms = prefix_forms(prefix)
    expected = [
        entry.text
        for entry in completer.entries
        if any(key.startswith(form) for key in completion_keys(entry.text) for form in forms)
        and entry.text not in {form.strip() for form in forms}
    ][:size]
    assert [c.text for c in completer.complete(prefix, size) if not c.corrected] == expected
