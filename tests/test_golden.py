"""Golden queries on the bundled sample notes (examples/notes): the expected note comes first."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLE_NOTES
from zhisou import Index
from zhisou.ingest import ingest


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Index:
    index = Index.create(tmp_path_factory.mktemp("golden") / "notes")
    report = ingest(index, [SAMPLE_NOTES])
    assert report.skipped == 0
    return index


@pytest.mark.parametrize(
    "query,first",
    [
        ("倒排索引", "inverted-index"),
        ("learning to rank", "learning-to-rank"),
        ('"混合精度"', "mixed-precision"),
        ("HNSW 图索引", "hnsw"),
        ("BM25 公式", "bm25-explained"),
        ("繁體 檢索", "traditional-simplified"),
        ("FlashAttention", "flash-attention"),
        ("reciprocal rank fusion", "rrf"),
        ("LambdaMART", "lambdamart"),
        ("中文分词", "chinese-segmentation"),
        ("Spark 倒排索引", "spark-inverted-index"),
        ("ＢＭ２５ 参数", "bm25-parameters"),
    ],
)
def test_expected_note_first(notes: Index, query: str, first: str) -> None:
    assert notes.search(query).hits[0].id == first


def test_tag_filter_returns_exactly_the_tagged_notes(notes: Index) -> None:
    result = notes.search("tags:spark", size=50)
    assert {h.id for h in result.hits} == {"spark-basics", "spark-inverted-index", "spark-tuning", "pyspark-udf"}


def test_filtered_and_sorted_listing(notes: Index) -> None:
    result = notes.search("", filters={"tags": "向量"}, sort="-date", size=50)
    dates = [h.doc["date"] for h in result.hits]
    assert dates == sorted(dates, reverse=True) and len(dates) >= 5


def test_chinese_highlight_in_results(notes: Index) -> None:
    hit = notes.search("倒排索引").hits[0]
    assert "<mark>" in hit.highlights["body"]
    assert "<mark>倒排索引</mark>" in hit.highlights["title"]
