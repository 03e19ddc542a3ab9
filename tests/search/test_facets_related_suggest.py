"""Facet counts, more-like-this and did-you-mean against reference computations on the small corpus."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from zhisou import Index
from zhisou.errors import ZhisouError


@pytest.mark.parametrize("commit_every", [None, 3])
def test_facet_counts_match_a_count_over_stored_documents(
    make_index: Callable[..., Index], commit_every: int | None
) -> None:
    index = make_index(commit_every=commit_every)
    index.delete("d")
    index.commit()
    searcher = index.searcher()
    mask = searcher.match_mask("rank OR 索引")
    matched = [searcher.reader.stored(int(doc)) for doc in np.flatnonzero(mask)]
    # e says 搜索引擎 only: 索引 is a word of other notes, so the query's word does not match it there
    assert {doc["id"] for doc in matched} == {"a", "b", "f", "h"}
    expected_tags = Counter(tag.lower() for doc in matched for tag in doc["tags"])
    expected_years = Counter(doc["date"][:4] for doc in matched)
    facets = searcher.facets(mask, ["tags", "date"], size=100)
    assert {f.value: f.count for f in facets["tags"]} == expected_tags
    assert [(f.value, f.count) for f in facets["date"]] == sorted(expected_years.items(), reverse=True)
    top = searcher.facets(mask, ["tags"], size=1)["tags"]
    assert [(f.value, f.count) for f in top] == [("ranking", 2)]  # ties with 索引, first by value
    with pytest.raises(ZhisouError, match="keyword or date"):
        searcher.facets(mask, ["body"])


def test_related_documents_skip_the_document_and_words_only_it_has(make_index: Callable[..., Index]) -> None:
    index = make_index(commit_every=4)
    searcher = index.searcher()
    related = searcher.more_like_this("a", size=5)
    assert related.ids and "a" not in related.ids
    assert related.ids[0] == "f"  # the other document about 倒排索引
    assert related.hits[0].doc["title"] == "Spark 建索引"
    assert searcher.more_like_this("g").ids == []  # FlashAttention shares no word with the others
    with pytest.raises(ZhisouError, match="no document"):
        searcher.more_like_this("missing")


def test_did_you_mean_samples_a_large_index_evenly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``MAX_DOCUMENTS`` the words come from documents spread over the index, so the words
    of its newest documents (the last ones) are offered too."""
    from zhisou.search import suggest

    monkeypatch.setattr(suggest, "MAX_DOCUMENTS", 10)
    index = Index.create(tmp_path / "ix")
    index.add([{"id": f"d{n}", "title": "note", "body": "kubernetes" if n >= 50 else "postgres"} for n in range(100)])
    index.commit()
    assert index.searcher().did_you_mean("kubernetse") == "kubernetes"
    assert index.searcher().did_you_mean("postgrse") == "postgres"


def test_did_you_mean_cuts_the_query_as_the_fields_are_cut(tmp_path: Path) -> None:
    """With the ``en`` analyzer a run of Chinese characters is one word; the query is cut the same
    way, so a typo inside such a run is found (cut as Chinese words it would be missed)."""
    from zhisou.schema import FieldSpec, Schema

    schema = Schema((FieldSpec("title", "text", analyzer="en"), FieldSpec("body", "text", analyzer="en")))
    index = Index.create(tmp_path / "ix", schema=schema)
    index.add([{"id": "a", "title": "倒排索引", "body": "postings lists"}])
    index.commit()
    assert index.searcher().did_you_mean("倒排所引") == "倒排索引"
    assert index.searcher().did_you_mean("postngs") == "postings"


def test_did_you_mean_corrects_unknown_words_only(make_index: Callable[..., Index]) -> None:
    searcher = make_index().searcher()
    assert searcher.did_you_mean("lenght normalizaton") == "length normalization"
    assert searcher.did_you_mean("ranks") is None  # known word: nothing to correct
    assert searcher.did_you_mean("rnak fusoin") == "rank fusion"  # a transposition is one edit
    assert searcher.did_you_mean("xyzzy") is None  # nothing close enough
    assert searcher.did_you_mean("") is None


def test_did_you_mean_keeps_the_query_syntax(make_index: Callable[..., Index]) -> None:
    searcher = make_index().searcher()
    assert searcher.did_you_mean('"lenght normalizaton"') == '"length normalization"'
    assert searcher.did_you_mean("title:fusoin -rnak") == "title:fusion -rank"  # a field name is not a word
    assert searcher.did_you_mean("fusoin OR rnak") == "fusion OR rank"
    assert searcher.did_you_mean("  Fusoin（BM25）") == "fusion（BM25）"
    assert searcher.did_you_mean("title:xyzzy") is None


@pytest.mark.parametrize("query", ["rank", '"learning to rank"', "rank -tags:fusion", "", "zebra", "date:>=2023"])
@pytest.mark.parametrize("strategy", ["auto", "exhaustive", "taat", "maxscore", "blockmax", "bmw"])
@pytest.mark.parametrize("sort", [None, "-date"])
def test_size_0_answers_the_count_and_facets_of_a_full_search(
    make_index: Callable[..., Index], query: str, strategy: str, sort: str | None
) -> None:
    """Elasticsearch's size=0 (Meilisearch's limit=0): no hits, and the total and facet counts
    a search with hits gives, on any page."""
    searcher = make_index(commit_every=3).searcher()
    full = searcher.search(query, size=100, facets=["tags", "date"], strategy=strategy, sort=sort)
    for page in (1, 3):
        counted = searcher.search(query, size=0, page=page, facets=["tags", "date"], strategy=strategy, sort=sort)
        assert counted.hits == [] and counted.ids == [] and counted.pages == 0
        assert (counted.total, counted.total_exact, counted.facets) == (full.total, full.total_exact, full.facets)


@pytest.mark.parametrize("query", ["rank", "rank 索引", '"learning to rank"', "rank -tags:fusion", "", "索", "zebra"])
@pytest.mark.parametrize("strategy", ["auto", "exhaustive", "blockmax"])
def test_facets_collected_with_the_hits_equal_a_second_pass(
    make_index: Callable[..., Index], query: str, strategy: str
) -> None:
    index = make_index(commit_every=3)
    index.delete("b")
    index.commit()
    searcher = index.searcher()
    result = searcher.search(query, facets=["tags", "date"], strategy=strategy, filters={"date": ">=2023"})
    reference = searcher.facets(searcher.match_mask(query, filters={"date": ">=2023"}), ["tags", "date"])
    assert result.facets == reference
    assert sum(f.count for f in result.facets["date"]) == result.total
