"""Shared fixtures: a small hand-written corpus and helpers to build indexes from it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.embed.conftest import tiny_model  # noqa: F401 -- a fixture for every test directory
from zhisou import Index, Schema
from zhisou.schema import FieldSpec

REPO = Path(__file__).resolve().parents[1]
SAMPLE_NOTES = REPO / "examples" / "notes"

SMALL_CORPUS: list[dict[str, Any]] = [
    {
        "id": "a",
        "title": "倒排索引",
        "body": "倒排索引是搜索引擎的核心数据结构，记录每个词出现在哪些文档。",
        "tags": ["索引", "IR"],
        "date": "2024-01-10",
    },
    {
        "id": "b",
        "title": "BM25 scoring",
        "body": "BM25 ranks documents by term frequency and inverse document frequency with length normalization.",
        "tags": ["ranking"],
        "date": "2023-06-01",
    },
    {
        "id": "c",
        "title": "混合精度训练",
        "body": "混合精度训练同时使用 FP16 和 FP32，能加快训练并节省显存。",
        "tags": ["训练"],
        "date": "2024-07-08",
    },
    {
        "id": "d",
        "title": "Learning to rank",
        "body": "Learning to rank reorders candidates with LambdaMART; ranking features include BM25.",
        "tags": ["ltr", "ranking"],
        "date": "2024-10-01",
    },
    {
        "id": "e",
        "title": "中文分词",
        "body": "搜索引擎需要中文分词。精度和召回都受分词粒度影响，混合检索也一样。",
        "tags": ["中文"],
        "date": "2022-03-15",
    },
    {
        "id": "f",
        "title": "Spark 建索引",
        "body": "在 Spark 上用 explode 和 groupBy 构建倒排索引，每个分区写一个段。",
        "tags": ["spark", "索引"],
        "date": "2025-02-01",
    },
    {
        "id": "g",
        "title": "FlashAttention",
        "body": "FlashAttention的关键创新在于 IO 感知的分块计算。",
        "tags": ["attention"],
        "date": "2024-03-18",
    },
    {
        "id": "h",
        "title": "Rank fusion",
        "body": "Reciprocal rank fusion merges ranked lists; rank is all it needs.",
        "tags": ["ranking", "fusion"],
        "date": "2023-10-10",
    },
]


@pytest.fixture
def make_index(tmp_path: Path) -> Callable[..., Index]:
    """Build an index in a fresh directory; ``commit_every`` makes one segment per N docs."""
    counter = iter(range(1000))

    def build(
        docs: Iterable[dict[str, Any]] = SMALL_CORPUS,
        schema: Schema | None = None,
        commit_every: int | None = None,
        **options: Any,
    ) -> Index:
        index = Index.create(tmp_path / f"index{next(counter)}", schema, **options)
        docs = list(docs)
        step = commit_every or max(len(docs), 1)
        for start in range(0, len(docs), step):
            index.add(docs[start : start + step])
            index.commit()
        return index

    return build


@pytest.fixture
def body_only_schema() -> Schema:
    return Schema((FieldSpec("body", "text"),))
