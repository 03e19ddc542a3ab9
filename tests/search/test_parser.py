from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou import QuerySyntaxError
from zhisou.search.parser import FieldInfo, parse_query
from zhisou.search.query import BooleanQuery, MatchAllQuery, PhraseQuery, RangeQuery, TermQuery

FIELDS = {
    "title": FieldInfo("text"),
    "tags": FieldInfo("keyword"),
    "date": FieldInfo("date"),
    "views": FieldInfo("number"),
}


def parse(text: str, **options: str) -> object:
    return parse_query(text, FIELDS, **options)  # type: ignore[arg-type]


def test_shapes() -> None:
    assert parse("") == MatchAllQuery()
    assert parse("bm25") == TermQuery("bm25")
    assert parse("a b") == BooleanQuery(should=(TermQuery("a"), TermQuery("b")))
    assert parse("a b", default_operator="and") == BooleanQuery(must=(TermQuery("a"), TermQuery("b")))
    assert parse("a AND b OR c") == BooleanQuery(
        should=(BooleanQuery(must=(TermQuery("a"), TermQuery("b"))), TermQuery("c"))
    )
    assert parse('+a -b "c d"') == BooleanQuery(
        must=(TermQuery("a"),), should=(PhraseQuery("c d"),), must_not=(TermQuery("b"),)
    )
    assert parse("title:x tags:llm") == BooleanQuery(
        should=(TermQuery("x", "title"),), filter=(TermQuery("llm", "tags"),), minimum_should_match=1
    )
    assert parse("index*") == TermQuery("index", prefix=True)
    assert parse("learning-to-rank") == TermQuery("learning-to-rank")
    assert parse(r"a\(b\)") == TermQuery("a(b)")
    assert parse("http://x.y") == TermQuery("http://x.y")


@pytest.mark.parametrize(
    "typed,ascii_form",
    [
        ("“倒排 索引”", '"倒排 索引"'),
        ("＂倒排 索引＂~2", '"倒排 索引"~2'),
        ("（bm25 OR 倒排）^2 title：rank", "(bm25 OR 倒排)^2 title:rank"),
        ("＋倒排 －spark tags：llm", "+倒排 -spark tags:llm"),
        ("注意：事项", "注意:事项"),  # no such field: text, as with an ASCII colon
    ],
)
def test_syntax_typed_with_a_chinese_input_method_means_what_its_ascii_form_does(typed: str, ascii_form: str) -> None:
    assert parse(typed) == parse(ascii_form)


def test_an_error_in_full_width_syntax_shows_the_query_as_typed() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("索引 “倒排")
    assert (info.value.position, info.value.query) == (3, "索引 “倒排") and "unterminated phrase" in str(info.value)
    assert parse("10～20 「倒排索引」") == BooleanQuery(should=(TermQuery("10～20"), TermQuery("「倒排索引」")))


def test_boosts() -> None:
    assert parse("bm25^2") == TermQuery("bm25", boost=2.0)
    assert parse("title:bm25^0.5 rank") == BooleanQuery(
        should=(TermQuery("bm25", "title", boost=0.5), TermQuery("rank"))
    )
    assert parse('"c d"^3') == PhraseQuery("c d", boost=3.0)
    assert parse("(a b)^2") == BooleanQuery(should=(TermQuery("a"), TermQuery("b")), boost=2.0)
    assert parse("title:(a b)^2") == BooleanQuery(should=(TermQuery("a", "title"), TermQuery("b", "title")), boost=2.0)
    assert parse("index*^4") == TermQuery("index", prefix=True, boost=4.0)
    assert parse("+a^2 -b^2") == BooleanQuery(must=(TermQuery("a", boost=2.0),), must_not=(TermQuery("b", boost=2.0),))
    # A caret without a number after it is text, as is an escaped one.
    assert parse("x^y") == TermQuery("x^y")
    assert parse("a ^ b") == BooleanQuery(should=(TermQuery("a"), TermQuery("^"), TermQuery("b")))
    assert parse(r"x\^2") == TermQuery("x^2")


def test_fuzzy_words_and_sloppy_phrases() -> None:
    assert parse("lucene~") == TermQuery("lucene", fuzzy=2)  # Elasticsearch's AUTO: 2 edits past 5 letters
    assert parse("luc~") == TermQuery("luc", fuzzy=1)
    assert parse("ab~") == TermQuery("ab", fuzzy=0)
    assert parse("lucene~1^2 b") == BooleanQuery(should=(TermQuery("lucene", boost=2.0, fuzzy=1), TermQuery("b")))
    assert parse("title:lucene~1") == TermQuery("lucene", "title", fuzzy=1)
    assert parse('"a b"~3') == PhraseQuery("a b", slop=3)
    assert parse('"a b"~3^2') == PhraseQuery("a b", boost=2.0, slop=3)
    # A tilde inside a word, or alone, is text.
    assert parse("a~b") == TermQuery("a~b")
    assert parse("~/notes") == TermQuery("~/notes")
    assert parse("a ~ b") == BooleanQuery(should=(TermQuery("a"), TermQuery("~"), TermQuery("b")))


def test_ranges() -> None:
    assert parse("date:>=2024-01-01") == RangeQuery("date", "2024-01-01", None, True, True)
    assert parse("views:<10") == RangeQuery("views", None, "10", True, False)
    assert parse("date:[2023 TO 2024]") == RangeQuery("date", "2023", "2024", True, True)
    assert parse("views:{1 TO *]") == RangeQuery("views", "1", None, False, True)
    assert parse("date:2024") == RangeQuery("date", "2024", "2024", True, True)


def test_a_bare_star_matches_everything() -> None:
    assert parse("*") == MatchAllQuery()
    assert parse("  *  ") == MatchAllQuery()
    both = parse("* AND tags:ranking")
    assert isinstance(both, BooleanQuery) and MatchAllQuery() in both.must


@pytest.mark.parametrize(
    "query,position,message",
    [
        ("(a b", 0, "missing ')'"),
        ("a b)", 3, "unexpected ')'"),
        ('"open phrase', 0, "unterminated phrase"),
        ("a AND", 5, "AND needs a search term"),
        ("OR a", 0, "OR needs a search term before it"),
        ("(AND a)", 1, "AND needs a search term before it"),
        ("a OR OR b", 5, "OR needs a search term"),
        ("()", 0, "empty parentheses"),
        ("title: x", 0, "needs a value right after the colon"),
        ("date:[2023 TO", 13, "range on date needs two bounds"),
        ("date:[2023 2024]", 11, "expected TO"),
        ("date:>=yesterday", 7, "expected a date"),
        ("views:>ten", 7, "expected a number"),
        ("title:[a TO b]", 6, "ranges need a date or number field"),
        ("- a", 0, "must be followed directly"),
        ("title:*", 6, "needs a prefix"),
        ("NOT", 3, "NOT needs a search term"),
        ("bm25^0", 4, "a boost must be above 0"),
        ("bm25^99999", 4, "a boost must be above 0 and at most 10000"),
        ("bm25^1.2.3", 4, "a boost is a number"),
        ("a^2b", 1, "a boost is a number"),
        ('"a b"^2^3', 5, "a boost is a number"),
        ("tags:x^2", 0, "a filter"),
        ("date:[2023 TO 2024]^2", 0, "a filter"),
        ("*^2", 0, "a filter"),
        ('"a b"~', 5, "needs a number of positions"),
        ('"a b"~101', 5, "at most 100 positions"),
        ("lucene~3", 6, "at most 2 edits"),
        ("x~2y", 1, "takes a whole number"),
        ("(a b)~2", 5, "follows a word"),
        ("tags:x~", 6, "follows a word"),
        ("index*~", 6, "follows a word"),
        ("a~" + "9" * 5000, 1, "at most 2 edits"),  # more digits than Python converts to an int
        ('"a b"~' + "9" * 5000, 5, "at most 100 positions"),
        ("a^" + "9" * 5000, 1, "at most 10000"),
        (" ".join(["lucene~"] * 21), 8 * 20 + 6, "a fuzzy word counts as 50"),  # 20 fit under 1,024
    ],
)
def test_malformed_queries_report_position(query: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(query)
    assert message in str(info.value)
    assert info.value.position == position
    assert 0 <= info.value.position <= len(query)


QUERY_PIECES = [
    *'abc 索引()"+-*:[]{}<>=\\^“”（）：＋－',
    "^2",
    "^0.5",
    "~",
    "~2",
    "AND ",
    "OR ",
    "NOT ",
    "title:",
    "tags:",
    "date:",
    "views:",
    " TO ",
    "2024",
]
QUERY_ALPHABET = st.sampled_from(QUERY_PIECES)


@settings(max_examples=600, deadline=None)
@given(st.lists(QUERY_ALPHABET, max_size=14).map("".join))
def test_any_input_parses_or_raises_a_positioned_error(text: str) -> None:
    try:
        parse(text)
    except QuerySyntaxError as exc:
        assert 0 <= exc.position <= len(text)
        assert str(exc).startswith(f"query syntax error at position {exc.position}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_arbitrary_unicode_never_crashes(text: str) -> None:
    with contextlib.suppress(QuerySyntaxError):
        parse(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcxyz索引", min_size=1, max_size=5), min_size=1, max_size=5))
def test_plain_words_always_parse(words: list[str]) -> None:
    query = parse(" ".join(words))
    leaves = [query] if isinstance(query, TermQuery) else list(query.should)  # type: ignore[union-attr]
    assert [leaf.text for leaf in leaves] == words


def test_a_term_query_is_a_value_with_every_field_set() -> None:
    """TermQuery writes its own __init__ (for speed): every field is set, and it stays a frozen,
    comparable, hashable value that dataclasses.replace can copy."""
    import dataclasses

    values = {"text": "a", "field": "title", "prefix": True, "boost": 2.0, "fuzzy": 1}
    assert [f.name for f in dataclasses.fields(TermQuery)] == list(values)
    query = TermQuery(**values)  # type: ignore[arg-type]
    assert dataclasses.asdict(query) == values
    assert dataclasses.replace(query, boost=3.0) == TermQuery("a", "title", True, 3.0, 1)
    assert hash(query) == hash(TermQuery(**values))  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.text = "b"  # type: ignore[misc]
