"""A Spark build (local mode) searches exactly like a single-process build of the same documents:
the same top-10 ids and scores, also after deletes and re-adds."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyspark")

from zhisou import Index
from zhisou.cli.demo import DEMO_QUERIES, sample_corpus
from zhisou.errors import ZhisouError
from zhisou.ingest.loaders import Record, load
from zhisou.spark import build_index, session

QUERIES = [*DEMO_QUERIES, "索引 压缩", "spark", "排序 -tags:llm", "learning", '"倒排索引"', "向量 检索 召回"]
ZH = ["倒排", "索引", "压缩", "缓存", "穿透", "分词", "向量", "检索", "排序", "日志", "召回", "模型"]
EN = ["search", "engine", "cache", "vector", "ranking", "segment", "spark", "learning", "index", "query"]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    spark = session("local[2]", "zhisou tests")
    yield spark
    spark.stop()


def sample_docs() -> list[dict[str, Any]]:
    return [record.doc for record in load(sample_corpus()) if isinstance(record, Record)]


def generated_docs(count: int, seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for number in range(count):
        words = [rng.choice(ZH if rng.random() < 0.6 else EN) for _ in range(rng.randint(5, 40))]
        docs.append(
            {
                "id": f"g{number}",
                "title": " ".join(rng.sample(EN, 2)) if number % 3 else "".join(rng.sample(ZH, 2)),
                "body": " ".join(words),
                "tags": rng.sample(["llm", "ir", "spark", "db"], rng.randint(0, 2)),
                "date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            }
        )
    return docs


def answers(index: Index) -> dict[str, list[tuple[str, float]]]:
    """The top 100 of each query, ties in score ordered by id: the two builds number documents
    differently, and a tie is broken by that number — so the tie at the cut, whose members
    either build may pick, is left out."""
    out = {}
    for query in QUERIES:
        hits = [(hit.id, hit.score) for hit in index.search(query, size=100).hits]
        if len(hits) == 100:
            hits = [pair for pair in hits if abs(pair[1] - hits[-1][1]) > 1e-6]
        out[query] = sorted(hits, key=lambda pair: (-round(pair[1], 5), pair[0]))
    return out


def assert_same(a: Index, b: Index) -> None:
    first, second = answers(a), answers(b)
    assert any(first.values())
    for query in QUERIES:
        assert [i for i, _ in first[query]] == [i for i, _ in second[query]], query
        assert all(abs(x - y) <= 1e-6 for (_, x), (_, y) in zip(first[query], second[query])), query


def jsonl(docs: list[dict[str, Any]], path: Path) -> str:
    path.write_text("".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("corpus", ["sample", "generated"])
def test_a_spark_build_searches_like_a_single_process_build(spark: Any, tmp_path: Path, corpus: str) -> None:
    docs = sample_docs() if corpus == "sample" else generated_docs(2000)
    single = Index.create(tmp_path / "single")
    single.add(docs)
    single.commit()
    frame = spark.read.json(jsonl(docs, tmp_path / "docs.jsonl")).repartition(4)
    report = build_index(frame, tmp_path / "spark", docs_per_segment=max(len(docs) // 6, 1))
    assert report.documents == len(docs) and report.segments >= 4
    built = Index.open(tmp_path / "spark")
    assert built.searcher().reader.doc_count == len(docs)
    assert_same(single, built)

    # Deletes and re-adds after the build keep the two alike.
    changed = docs[1]["id"]
    for index in (single, built):
        index.delete([docs[0]["id"], changed])
        index.add({**docs[1], "body": str(docs[1].get("body", "")) + " spark 向量"})
        index.commit()
        index.refresh()
    assert_same(single, built)


def test_a_bad_document_fails_the_job_with_one_line_and_publishes_nothing(spark: Any, tmp_path: Path) -> None:
    frame = spark.read.json(jsonl([{"id": "a", "body": "fine"}, {"body": "no id"}], tmp_path / "bad.jsonl"))
    with pytest.raises(ZhisouError) as caught:
        build_index(frame, tmp_path / "ix")
    assert "\n" not in str(caught.value) and "id" in str(caught.value)
    assert Index.open(tmp_path / "ix").searcher().reader.doc_count == 0  # the empty index, as created


def test_batch_search_on_spark_ranks_as_a_local_search(spark: Any, tmp_path: Path) -> None:
    from zhisou.spark import batch_search, write_run

    docs = generated_docs(500)
    index = Index.create(tmp_path / "ix")
    index.add(docs)
    index.commit()
    queries = [
        {"_id": f"q{n}", "text": text} for n, text in enumerate(["向量 检索", "spark index", "排序 模型", "cache"])
    ]
    frame = spark.read.json(jsonl(queries, tmp_path / "queries.jsonl"))
    hits = batch_search(frame, tmp_path / "ix", k=20)
    run = tmp_path / "run.txt"
    assert write_run(hits, run) == sum(1 for _ in run.open(encoding="utf-8"))
    got: dict[str, list[tuple[str, float]]] = {}
    for line in run.read_text(encoding="utf-8").splitlines():
        query_id, _, doc_id, rank, score, tag = line.split()
        assert tag == "zhisou" and int(rank) == len(got.setdefault(query_id, [])) + 1
        got[query_id].append((doc_id, float(score)))
    searcher = index.searcher()
    for query in queries:
        result = searcher.search(query["text"], size=20, with_docs=False, plain=True)
        expected = list(zip(result.ids, result.scores))
        assert [d for d, _ in got[query["_id"]]] == [d for d, _ in expected]
        assert all(abs(a - b) <= 1e-6 for (_, a), (_, b) in zip(got[query["_id"]], expected))
    with pytest.raises(ZhisouError, match="query text"):
        batch_search(spark.createDataFrame([("q1", "x")], ["qid", "words"]), tmp_path / "ix")


def test_building_into_an_index_of_another_schema_is_refused(spark: Any, tmp_path: Path) -> None:
    from zhisou.schema import FieldSpec, Schema

    Index.create(tmp_path / "ix").close()
    frame = spark.read.json(jsonl([{"id": "a", "body": "x"}], tmp_path / "one.jsonl"))
    with pytest.raises(ZhisouError, match="another schema"):
        build_index(frame, tmp_path / "ix", Schema((FieldSpec("body", "text"),)))
