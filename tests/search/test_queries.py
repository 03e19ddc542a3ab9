"""Query semantics on the small corpus: boolean logic, phrases, fields, filters, ranges, paging."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from zhisou import Index, QuerySyntaxError, ZhisouError


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    from tests.conftest import SMALL_CORPUS

    ix = Index.create(tmp_path_factory.mktemp("q") / "ix")
    ix.add(SMALL_CORPUS[:4])
    ix.commit()
    ix.add(SMALL_CORPUS[4:])
    ix.commit()
    return ix


def found(index: Index, query: str, **options: object) -> set[str]:
    return {h.id for h in index.search(query, size=100, **options).hits}  # type: ignore[arg-type]


def test_default_or_and_explicit_and(index: Index) -> None:
    assert found(index, "fusion lambdamart") == {"d", "h"}
    assert found(index, "fusion AND lambdamart") == set()
    assert found(index, "rank AND lambdamart") == {"d"}
    assert found(index, "fusion lambdamart", default_operator="and") == set()


def test_must_and_must_not(index: Index) -> None:
    assert found(index, "rank -fusion") == {"b", "d"}  # b: "ranks"
    assert found(index, "rank NOT fusion") == {"b", "d"}
    assert found(index, "+bm25 rank") == {"b", "d"}
    assert found(index, "-tags:ranking") == {"a", "c", "e", "f", "g"}


def test_parentheses_and_precedence(index: Index) -> None:
    assert found(index, "(fusion OR lambdamart) AND bm25") == {"d"}
    assert found(index, "fusion OR lambdamart AND bm25") == {"h", "d"}


def test_phrase_requires_adjacency(index: Index) -> None:
    assert found(index, '"混合精度"') == {"c"}  # e has 混合 and 精度, but not next to each other
    assert found(index, "混合 精度", default_operator="and") == {"c", "e"}
    assert found(index, '"混合 精度"') == {"c"}  # spaces between Chinese words do not break a phrase
    assert found(index, '"learning to rank"') == {"d"}
    assert found(index, '"rank learning"') == set()


def test_phrase_matches_sub_words(index: Index) -> None:
    # 搜索引擎 is one word in the documents; the phrase of its parts still matches.
    assert found(index, '"搜索引擎"') == {"a", "e"}
    assert found(index, '"引擎"') == {"a", "e"}


def test_field_queries(index: Index) -> None:
    assert found(index, "title:rank") == {"d", "h"}
    assert found(index, "title:(bm25 OR 分词)") == {"b", "e"}
    assert found(index, 'title:"learning to rank"') == {"d"}
    assert found(index, "id:c") == {"c"}
    assert found(index, "nofield:rank") == {"b", "d", "h"}  # unknown field: the colon is plain text


def test_keyword_filters_do_not_score(index: Index) -> None:
    result = index.search("tags:ranking", size=10)
    assert {h.id for h in result.hits} == {"b", "d", "h"}
    assert all(h.score == 0 for h in result.hits)
    assert found(index, "tags:RANKING") == {"b", "d", "h"}  # keyword analyzer folds case
    scored = index.search("bm25 tags:ranking").hits
    assert {h.id for h in scored} == {"b", "d"} and all(h.score > 0 for h in scored)


def test_date_ranges(index: Index) -> None:
    assert found(index, "date:>=2024-07-01") == {"c", "d", "f"}
    assert found(index, "date:<2023") == {"e"}
    assert found(index, "date:[2023 TO 2023]") == {"b", "h"}
    assert found(index, "date:{2023-06-01 TO 2024-01-10]") == {"a", "h"}
    assert found(index, "date:2024-03") == {"g"}


def test_prefix(index: Index) -> None:
    assert found(index, "lambda*") == {"d"}
    assert found(index, "倒排*") == {"a", "f"}


def scores(index: Index, query: str, strategy: str = "auto") -> dict[str, float]:
    result = index.search(query, size=100, strategy=strategy)
    return dict(zip(result.ids, result.scores))


@pytest.mark.parametrize("strategy", ["auto", "exhaustive"])
def test_a_boost_multiplies_its_clause_score(index: Index, strategy: str) -> None:
    bm25, rank = scores(index, "bm25", strategy), scores(index, "rank", strategy)
    assert bm25 and rank
    boosted = scores(index, "bm25^2.5", strategy)
    assert boosted == pytest.approx({doc: 2.5 * score for doc, score in bm25.items()})
    # In a disjunction only the boosted word's share grows.
    mixed = scores(index, "bm25^3 rank", strategy)
    expected = {doc: 3 * bm25.get(doc, 0.0) + rank.get(doc, 0.0) for doc in {*bm25, *rank}}
    assert mixed == pytest.approx(expected)
    # Phrases, fields, prefixes and groups take boosts too; the boost follows the clause.
    phrase = scores(index, '"混合精度"', strategy)
    assert phrase and scores(index, '"混合精度"^0.5', strategy) == pytest.approx({d: s / 2 for d, s in phrase.items()})
    group = scores(index, "(bm25 rank)", strategy)
    assert scores(index, "(bm25 rank)^2", strategy) == pytest.approx({d: 2 * s for d, s in group.items()})
    prefix = scores(index, "ran*", strategy)
    assert prefix and scores(index, "ran*^4", strategy) == pytest.approx({d: 4 * s for d, s in prefix.items()})


def test_a_caret_without_a_number_is_text_and_a_bad_boost_is_refused(index: Index) -> None:
    assert found(index, "bm25^x") == found(index, "bm25 x")  # ^ then a letter: ordinary text
    assert found(index, "bm25\\^2") == found(index, "bm25 2")  # an escaped caret too
    for query, position, reason in [
        ("bm25^0", 4, "above 0"),
        ("bm25^2x", 4, "a boost is a number"),
        ("tags:ranking^2", 0, "filter"),
        ("date:>=2024^2", 0, "filter"),
    ]:
        with pytest.raises(QuerySyntaxError) as info:
            index.search(query)
        assert info.value.position == position and reason in str(info.value), query


def test_a_fuzzy_word_finds_the_words_a_few_edits_away(index: Index) -> None:
    assert found(index, "lambdamrt") == set()
    assert found(index, "lambdamrt~") == found(index, "lambdamart") == {"d"}  # AUTO: 2 edits past 5 letters
    assert found(index, "lambdamrt~0") == set()
    assert found(index, "lmabdamart~1") == {"d"}  # a transposition is one edit
    assert found(index, "bm26~") == found(index, "bm25")
    # Scored as Lucene does: each word found weighs 1 - edits / the shorter length, under one idf.
    exact = scores(index, "lambdamart")
    assert scores(index, "lambdamrt~1") == pytest.approx({d: (1 - 1 / 9) * s for d, s in exact.items()})
    assert scores(index, "lambdamart~1") == pytest.approx(exact)  # no other word within one edit
    with pytest.raises(QuerySyntaxError, match="at most 2 edits"):
        index.search("lambdamart~3")


def test_a_phrase_with_slop_allows_that_many_moves(index: Index) -> None:
    assert found(index, '"learning rank"') == set()
    assert found(index, '"learning rank"~1') == {"d"}  # "learning to rank": one word between
    assert found(index, '"rank learning"~1') == set()
    assert found(index, '"rank learning"~3') == {"d"}  # swapped (2) and one apart (1)
    assert found(index, '"混合精度"~0') == found(index, '"混合精度"') == {"c"}
    # Chinese positions count characters (punctuation not): in e 精度 comes 13 characters
    # before 混合, a spread of 13 + 2 from the phrase's order.
    assert found(index, '"混合 精度"~14') == {"c"}
    assert found(index, '"混合 精度"~15') == {"c", "e"}
    # Nearer occurrences weigh more (1 / (1 + spread)), so a looser match scores lower.
    tight, loose = scores(index, '"learning to rank"'), scores(index, '"learning rank"~1')
    assert set(tight) == set(loose) == {"d"} and loose["d"] < tight["d"]


def test_filters_argument_removes_documents(index: Index) -> None:
    assert found(index, "rank", filters={"tags": "fusion"}) == {"h"}
    assert found(index, "rank", filters={"tags": ["fusion", "ltr"]}) == {"d", "h"}
    assert found(index, "", filters={"date": ">=2024-07-01", "tags": "spark"}) == {"f"}
    assert found(index, "rank", filters=["date:<2024"]) == {"b", "h"}
    with pytest.raises(QuerySyntaxError, match="unknown filter field"):
        index.search("rank", filters={"color": "red"})


def test_a_filter_expression_on_a_field_the_schema_lacks_is_an_error(index: Index) -> None:
    # In a query an unknown ``name:`` is text (``注意:`` in a sentence); in a filter it is a
    # misspelt field, which would quietly match nothing.
    assert found(index, "rank tag:ltr") == found(index, "rank tag ltr")
    misspelt = (("tag:ltr", "tag"), ("date:>=2024 colour:red", "colour"), ("(标签:x OR tags:ltr)", "标签"))
    for expression, name in misspelt:
        with pytest.raises(QuerySyntaxError, match=f"unknown filter field '{name}'; fields: .*tags") as caught:
            index.search("rank", filters=[expression])
        assert caught.value.position == expression.index(name)
    assert found(index, "rank", filters=["ltr"]) == found(index, "rank ltr", default_operator="and")


def test_filter_never_leaks_non_matching_documents(index: Index) -> None:
    result = index.search("rank", filters={"tags": "ltr"}, size=100)
    assert [h.id for h in result.hits] == ["d"] and result.total == 1


def test_empty_query_lists_everything_and_sorts(index: Index) -> None:
    result = index.search("", size=100, sort="-date")
    assert result.total == 8
    dates = [h.doc["date"] for h in result.hits]
    assert dates == sorted(dates, reverse=True)
    assert index.search("", size=3, sort="date").hits[0].id == "e"
    with pytest.raises(ZhisouError, match="cannot sort by 'title'"):
        index.search("", sort="title")


def test_pagination(index: Index) -> None:
    everything = [h.id for h in index.search("rank 索引 训练", size=100).hits]
    pages = [index.search("rank 索引 训练", page=p, size=2) for p in range(1, 5)]
    assert [h.id for p in pages for h in p.hits] == everything[:8]
    assert pages[0].total == len(everything) and pages[0].pages == (len(everything) + 1) // 2
    assert pages[0].hits[0].rank == 1 and pages[1].hits[0].rank == 3
    assert index.search("rank", page=99).hits == []
    with pytest.raises(ZhisouError, match="page must be 1 or more"):
        index.search("rank", page=0)
    with pytest.raises(ZhisouError, match="size must be between"):
        index.search("rank", size=-1)
    with pytest.raises(ZhisouError, match="size must be between"):
        index.search("rank", size=1001)


def test_ranking_puts_best_match_first(index: Index) -> None:
    assert index.search("倒排索引").hits[0].id == "a"
    assert index.search("learning to rank").hits[0].id == "d"
    assert index.search("混合精度").hits[0].id == "c"


def test_with_docs_false_returns_ids_only(index: Index) -> None:
    full = index.search("rank")
    bare = index.search("rank", with_docs=False)
    assert [(h.id, h.score) for h in full.hits] == [(h.id, h.score) for h in bare.hits]
    assert all(h.doc == {} and h.highlights == {} for h in bare.hits)


def test_minimum_should_match(make_index: Callable[..., Index]) -> None:
    ix = make_index()
    assert {h.id for h in ix.search("rank bm25 lambdamart", minimum_should_match=2, size=20).hits} == {"b", "d"}


def test_plain_text_equals_parsed_words(index: Index) -> None:
    for query in ("rank 索引 bm25", "倒排索引", "learning to rank"):
        plain = index.search(query, plain=True, size=20)
        parsed = index.search(query, size=20)
        assert plain.ids == parsed.ids and plain.scores == pytest.approx(parsed.scores, abs=1e-12)
    # Plain mode has no syntax: operators and quotes are just characters.
    assert index.search('"unbalanced (rank', plain=True).ids == index.search("unbalanced rank").ids


def test_one_chinese_character_finds_the_words_that_hold_it(index: Index) -> None:
    # Search mode cannot split 引擎 further, so 擎 alone would find nothing without expansion.
    assert found(index, "擎") == {"a", "e"}
    assert found(index, "擎", plain=True) == {"a", "e"}
    result = index.search("擎")
    assert all(h.score > 0 for h in result.hits)
    assert "<mark>" in result.hits[0].highlights["body"]
    assert found(index, "title:擎") == set()
    assert found(index, "擎 -id:a") == {"e"}
    # Quoted, the character is the text asked for, and 引擎 holds it: a phrase of one character
    # finds what the character finds.
    quoted, unquoted = index.search('"擎"', size=20), index.search("擎", size=20)
    assert quoted.ids == unquoted.ids and quoted.scores == pytest.approx(unquoted.scores)


def test_one_character_finds_every_word_holding_it_past_the_highlight_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """擎 alone finds the documents of every indexed word that holds it, however many, each word
    scored as a term of its own: capping what the highlighter is told (here at 2) changes no
    document and no score, and the words marked are those in the most documents."""
    from zhisou.search import executor

    texts = ["引擎很好", "擎天柱来了", "众擎易举", "他高擎火炬", "擎受", "发动机引擎", "一柱擎天"]
    ix = Index.create(tmp_path / "ix")
    ix.add([{"id": f"d{n}", "title": "note", "body": text} for n, text in enumerate(texts[:4])])
    ix.commit()
    ix.add([{"id": f"d{n}", "title": "note", "body": text} for n, text in enumerate(texts) if n >= 4])
    ix.add([{"id": "none", "title": "note", "body": "没有这个字"}])
    ix.commit()
    full = ix.search("擎", size=20)
    assert set(full.ids) == {f"d{n}" for n in range(len(texts))}
    monkeypatch.setattr(executor, "MAX_PREFIX_EXPANSIONS", 2)
    capped = ix.search("擎", size=20)
    assert dict(zip(capped.ids, capped.scores)) == pytest.approx(dict(zip(full.ids, full.scores)))
    marked = {h.id for h in capped.hits if "<mark>" in h.highlights.get("body", "")}
    assert {"d0", "d5"} <= marked  # 引擎, in two documents, is among the words marked


def test_a_prefix_matches_every_term_it_begins_past_the_highlight_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lucene's constant-score rewrite: every term with the prefix matches, however many; only
    the terms handed to the highlighter are capped (here at 2 of 6)."""
    from zhisou.search import executor

    ix = Index.create(tmp_path / "ix")
    ix.add([{"id": f"d{n}", "title": f"zeta{n}x note", "body": "other words"} for n in range(6)])
    ix.commit()
    ix.add([{"id": "late", "title": "zeta9x", "body": "in a second segment"}])
    ix.commit()
    monkeypatch.setattr(executor, "MAX_PREFIX_EXPANSIONS", 2)
    for batch in (1 << 22, 2, 1):  # the postings decoded all at once, or a few terms at a time
        monkeypatch.setattr(executor, "PREFIX_BATCH_POSTINGS", batch)
        result = ix.search("zeta*", size=20)
        assert set(result.ids) == {f"d{n}" for n in range(6)} | {"late"}
        assert len({s for s in result.scores}) == 1  # constant score
        marked = {h.id for h in result.hits if "<mark>" in h.highlights.get("title", "")}
        assert marked == {"d0", "d1"}  # the first two terms in order: zeta0x, zeta1x
