"""Precise query analysis over a fine-grained index (issue: Chinese-first quality, item 1)."""

from __future__ import annotations

from collections.abc import Callable

from zhisou import Index, Schema
from zhisou.analysis import AnalyzerRegistry
from zhisou.analysis.tokenizers import SUB_WORD
from zhisou.schema import FieldSpec

SCHEMA = Schema((FieldSpec("title", "text", boost=2.0), FieldSpec("body", "text")))
NOTES = [
    {"id": "inverted", "title": "倒排索引", "body": "倒排索引把词映射到包含它的文档。"},
    {"id": "engine", "title": "搜索引擎", "body": "搜索引擎是很常见的工具。"},
    {"id": "index", "title": "数据库", "body": "给表加一个索引能加快查询。"},
    {"id": "dist", "title": "分布式系统", "body": "分布式系统设计要考虑分区。"},
]


def test_a_query_word_does_not_match_across_a_seam(make_index: Callable[..., Index]) -> None:
    """倒排索引 (倒排 + 索引) no longer finds the note that only says 搜索引擎 (搜|索引|擎)."""
    index = make_index(NOTES, SCHEMA)
    found = index.search("倒排索引").ids
    assert found[0] == "inverted" and "engine" not in found
    assert set(index.search("索引").ids) == {"inverted", "index"}


def test_the_parts_of_a_word_still_find_it(make_index: Callable[..., Index]) -> None:
    """A fine-grained index: 倒排 finds 倒排索引, 引擎 and 搜索 find 搜索引擎, 系统 finds 分布式系统."""
    index = make_index(NOTES, SCHEMA)
    assert index.search("倒排").ids[:1] == ["inverted"]
    assert index.search("引擎").ids == ["engine"]
    assert index.search("搜索").ids == ["engine"]
    assert index.search("系统").ids == ["dist"]


def test_a_word_found_nowhere_as_a_word_falls_back_to_sub_words(make_index: Callable[..., Index]) -> None:
    """华人 is no word of any note, only a piece across the seams of 中|华人|民: the query still finds it."""
    extra = [*NOTES, {"id": "prc", "title": "国名", "body": "中华人民共和国成立于1949年。"}]
    index = make_index(extra, SCHEMA)
    assert index.search("华人").ids == ["prc"]


def test_a_word_that_begins_or_ends_a_longer_one_is_its_part(make_index: Callable[..., Index]) -> None:
    """长沙 begins 长沙市 and 上门 ends 找上门 (the rest is one character): both words find both
    notes, though 长沙 and 上门 are words of other notes too."""
    extra = [
        *NOTES,
        {"id": "city", "title": "统计", "body": "长沙市统计局发布了常住人口数据。"},
        {"id": "trip", "title": "旅行", "body": "周末去长沙玩。"},
        {"id": "repair", "title": "维修", "body": "师傅会找上门来修。"},
        {"id": "service", "title": "服务", "body": "提供上门服务。"},
    ]
    index = make_index(extra, SCHEMA)
    assert set(index.search("长沙").ids) == {"city", "trip"}
    assert set(index.search("上门").ids) == {"repair", "service"}


def test_a_compound_query_ranks_its_own_notes_first(make_index: Callable[..., Index]) -> None:
    """分布式系统 matches as one word first; its parts add recall at a lower weight."""
    extra = [*NOTES, {"id": "sys", "title": "操作系统", "body": "操作系统管理进程。"}]
    index = make_index(extra, SCHEMA)
    result = index.search("分布式系统")
    assert result.ids[0] == "dist" and "sys" in result.ids
    assert result.scores[0] > 2 * result.scores[result.ids.index("sys")]


def test_straddling_sub_words_are_indexed_apart() -> None:
    analyzer = AnalyzerRegistry().get("zh")
    terms = analyzer.terms("搜索引擎")
    assert {"搜索", "引擎", "搜索引擎", SUB_WORD + "索引"} == set(terms)
    assert analyzer.parts("分布式系统") == ("分布", "布式", "系统", "分布式")
    # Parts begin or end their word (or a longer part); inner pieces straddle unless they fit.
    assert SUB_WORD + "华人" in analyzer.terms("中华人民共和国")
    assert {"中华", "人民", "共和", "共和国"} <= set(analyzer.terms("中华人民共和国"))
    assert {"长沙", "沙市"} <= set(analyzer.terms("长沙市")) and "上门" in analyzer.terms("找上门")
    assert analyzer.stream("搜索引擎", for_query=True).terms == ["搜索引擎"]


def test_phrases_match_whether_a_piece_is_a_word_or_a_sub_word(make_index: Callable[..., Index]) -> None:
    index = make_index(NOTES, SCHEMA)
    assert index.search('"索引"').ids and set(index.search('"索引"').ids) == {"inverted", "engine", "index"}
    assert index.search('"引擎"').ids == ["engine"]


def test_did_you_mean_offers_words_not_marked_sub_words(make_index: Callable[..., Index]) -> None:
    """The suggester's vocabulary is the words a reader sees: never a straddling sub-word."""
    from zhisou.search.suggest import Suggester

    index = make_index(NOTES, SCHEMA)
    suggester = Suggester(index.searcher().reader)
    vocabulary = suggester._vocabulary()
    assert "搜索引擎" in vocabulary and not any(word.startswith(SUB_WORD) for word in vocabulary)
    assert index.searcher().did_you_mean("搜索引檠") in (None, "搜索引擎")
