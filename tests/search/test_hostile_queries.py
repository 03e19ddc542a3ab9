"""Every query is answered or refused with a zhisou error, in bounded time; misuse of the Python
API is a ZhisouError, never a TypeError, OverflowError or UnicodeEncodeError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhisou import Index, QuerySyntaxError, ZhisouError
from zhisou.search.parser import MAX_CLAUSES, MAX_DEPTH, MAX_QUERY_CHARS


def test_deep_nesting_is_refused_with_its_position(make_index: Callable[..., Index]) -> None:
    index = make_index()
    for depth in (MAX_DEPTH + 1, 1000, 100_000 // 2 - 10):
        text = "(" * depth + "bm25" + ")" * depth
        if len(text) > MAX_QUERY_CHARS:
            with pytest.raises(QuerySyntaxError, match="limit is"):
                index.search(text)
            continue
        with pytest.raises(QuerySyntaxError, match="nested more than") as caught:
            index.search(text)
        assert caught.value.position == MAX_DEPTH
    ok = "(" * MAX_DEPTH + "bm25" + ")" * MAX_DEPTH
    assert index.search(ok).ids == ["b", "d"]


def test_too_many_clauses_and_too_long_queries_are_refused(make_index: Callable[..., Index]) -> None:
    index = make_index()
    with pytest.raises(QuerySyntaxError, match="clauses"):
        index.search(" ".join(f"+w{i}" for i in range(MAX_CLAUSES + 1)))
    with pytest.raises(QuerySyntaxError, match="words"):
        index.search(" ".join(f"w{i}" for i in range(MAX_CLAUSES + 1)), sort="-date", plain=True)
    with pytest.raises(QuerySyntaxError, match="characters"):
        index.search("x" * (MAX_QUERY_CHARS + 1))


def test_a_phrase_of_thousands_of_words_is_linear(make_index: Callable[..., Index]) -> None:
    """Thousands of words used to take minutes (quadratic token filtering and intersection)."""
    words = [f"w{i % 700}" for i in range(1800)]
    index = make_index([{"id": "long", "body": " ".join(words)}, {"id": "other", "body": "w1 w2 w3"}])
    phrase = '"' + " ".join(words[100:1700]) + '"'
    assert index.search(phrase).ids == ["long"]
    assert index.search('"' + " ".join(reversed(words[:1500])) + '"').total == 0
    chinese = "倒排索引是搜索引擎的核心数据结构" * 200
    assert index.search(f'"{chinese}"').total == 0


@pytest.mark.parametrize(
    "options",
    [
        {"page": 2**62},
        {"page": 10**30, "size": 10**30},
        {"size": 2.5},
        {"page": "2"},
        {"page": True},
        {"filters": {"tags": None}},
        {"filters": {"tags": [None]}},
        {"filters": {None: "x"}},
        {"filters": "tags:ir"},
        {"filters": [3]},
        {"default_operator": "xor"},
        {"sort": 5},
        {"sort": "-nosuchfield"},
        {"minimum_should_match": -1},
        {"strategy": None},
        {"fields": ["nosuch"]},
    ],
)
def test_misuse_is_a_zhisou_error(make_index: Callable[..., Index], options: dict[str, Any]) -> None:
    index = make_index()
    with pytest.raises(ZhisouError):
        index.search("bm25", **options)


@pytest.mark.parametrize("query", ["\ud800", "bm25 \udfff", 'title:"\ud800"', None, 42])
def test_a_query_that_is_not_text_is_refused(make_index: Callable[..., Index], query: Any) -> None:
    with pytest.raises(ZhisouError):
        make_index().search(query)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.lists(
        st.sampled_from(
            [
                *'()"+-*:[]{}<>=\\ \t',
                "AND",
                "OR",
                "NOT",
                "TO",
                "a",
                "b",
                "倒排",
                "索",
                "title:",
                "date:",
                "tags:",
                "2024",
                "^",
                "~",
                "^2",
                "~1",
                "^0.5",
                "9" * 4400,  # past the digits Python converts to an int
            ]
        ),
        max_size=30,
    ).map("".join),
    operator=st.sampled_from(["or", "and"]),
)
def test_any_query_text_is_answered_or_refused_cleanly(
    make_index: Callable[..., Index], text: str, operator: str
) -> None:
    index = getattr(test_any_query_text_is_answered_or_refused_cleanly, "index", None)
    if index is None:
        index = make_index()
        test_any_query_text_is_answered_or_refused_cleanly.index = index  # type: ignore[attr-defined]
    try:
        result = index.search(text, default_operator=operator)  # type: ignore[arg-type]
    except QuerySyntaxError as error:
        assert 0 <= error.position <= len(text)
        return
    assert result.total >= len(result.hits)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.lists(
        st.sampled_from(
            [
                *'()"+-:^~ \u3000“”（）：',
                "AND",
                "OR",
                "title:",
                " rnak ",
                " fusoin ",
                " lenght ",
                " Ｒｎａｋ ",
                " 檢索 ",
                " 倒排 ",
                " rank ",
            ]
        ),
        max_size=12,
    ).map("".join)
)
def test_did_you_mean_changes_only_the_misspelt_words(make_index: Callable[..., Index], text: str) -> None:
    """Whatever the query, a correction keeps everything but the words it replaces (a word right
    before a colon is a field name, kept): taking the misspelt words out of the query and their
    corrections out of the answer leaves the same characters, in the same order."""
    import re

    searcher = getattr(test_did_you_mean_changes_only_the_misspelt_words, "searcher", None)
    if searcher is None:
        searcher = make_index().searcher()
        test_did_you_mean_changes_only_the_misspelt_words.searcher = searcher  # type: ignore[attr-defined]
    corrected = searcher.did_you_mean(text)
    if corrected is None:
        return
    kept_in = re.sub(r"(rnak|fusoin|lenght|Ｒｎａｋ|rank|fusion|length)(?![:：])", "", text.strip())
    kept_out = re.sub(r"(rank|fusion|length)(?![:：])", "", corrected)
    assert kept_in == kept_out, (text, corrected)
