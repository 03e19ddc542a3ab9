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

from tests.embed.conftest import WORDS
from zhisou import Index
from zhisou.cli.demo import DEMO_QUERIES, sample_corpus
from zhisou.errors import ZhisouError
from zhisou.index.sharded import ShardedReader
from zhisou.index.shards import shard_of
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


@pytest.mark.parametrize("shards", [1, 4])
@pytest.mark.parametrize("corpus", ["sample", "generated"])
def test_a_spark_build_searches_like_a_single_process_build(
    spark: Any, tmp_path: Path, corpus: str, shards: int
) -> None:
    docs = sample_docs() if corpus == "sample" else generated_docs(2000)
    single = Index.create(tmp_path / "single")
    single.add(docs)
    single.commit()
    frame = spark.read.json(jsonl(docs, tmp_path / "docs.jsonl")).repartition(4)
    report = build_index(frame, tmp_path / "spark", docs_per_segment=max(len(docs) // 6, 1), shards=shards)
    assert report.documents == len(docs) and report.segments >= 4
    built = Index.open(tmp_path / "spark")
    reader = built.searcher().reader
    assert reader.doc_count == len(docs)
    if shards > 1:
        assert isinstance(reader, ShardedReader) and len(reader.shards) == shards
        for number, shard in enumerate(reader.shards):  # each document in the shard its id hashes to
            assert shard.doc_count and all(shard_of(i, shards) == number for i in shard.all_doc_ids())
    assert_same(single, built)

    # Deletes and re-adds after the build keep the two alike.
    changed = docs[1]["id"]
    for index in (single, built):
        index.delete([docs[0]["id"], changed])
        index.add({**docs[1], "body": str(docs[1].get("body", "")) + " spark 向量"})
        index.commit()
        index.refresh()
    assert_same(single, built)


@pytest.mark.parametrize("shards", [1, 3])
def test_a_bad_document_fails_the_job_with_one_line_and_publishes_nothing(
    spark: Any, tmp_path: Path, shards: int
) -> None:
    good = [{"id": f"a{n}", "body": "fine"} for n in range(20)]
    frame = spark.read.json(jsonl([*good, {"body": "no id"}], tmp_path / "bad.jsonl"))
    with pytest.raises(ZhisouError) as caught:
        build_index(frame, tmp_path / "ix", shards=shards, docs_per_segment=2)
    assert "\n" not in str(caught.value) and "id" in str(caught.value)
    assert Index.open(tmp_path / "ix").searcher().reader.doc_count == 0  # the empty index, as created
    # A later build into it adopts only its own segments (the failed job's were never named).
    build_index(spark.read.json(jsonl(good, tmp_path / "good.jsonl")), tmp_path / "ix", shards=shards)
    assert len(Index.open(tmp_path / "ix")) == 20
    with pytest.raises(ZhisouError, match="shard"):
        build_index(spark.read.json(str(tmp_path / "good.jsonl")), tmp_path / "ix", shards=shards + 1)


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


def test_collection_statistics_on_spark_equal_the_index_s_own(spark: Any, tmp_path: Path) -> None:
    """explode + groupBy over the segments' term lists counts what the reader scores with."""
    from zhisou.search.stats import ReaderStats, locate
    from zhisou.spark.statistics import collection_statistics

    docs = generated_docs(800)
    frame = spark.read.json(jsonl(docs, tmp_path / "docs.jsonl")).repartition(3)
    report = build_index(frame, tmp_path / "ix", shards=2, docs_per_segment=100, statistics=tmp_path / "stats")
    index = Index.open(tmp_path / "ix")
    index.delete([doc["id"] for doc in docs[:50]])  # live counts: deleted documents left out
    index.commit()
    stats = collection_statistics(spark, tmp_path / "ix")
    stats.check()
    reader = index.searcher().reader
    own = ReaderStats(reader)
    fields = {row["field"]: (row["docs"], row["total_length"]) for row in stats.fields.collect()}
    text = [spec.name for spec in reader.schema.text_fields]
    assert fields == {name: (own.field(name).doc_count, own.field(name).total_length) for name in text}
    rows = stats.terms.collect()
    keys = [f"{row['field']}\x1f{row['term']}".encode() for row in rows]
    assert [row["df"] for row in rows] == locate(reader, keys)[1].tolist()
    assert report.terms is not None and report.terms >= len(rows) > 20
    assert spark.read.parquet(str(tmp_path / "stats" / "terms")).count() == report.terms


@pytest.mark.parametrize("shards", [1, 2])
def test_passages_are_embedded_on_the_executors(spark: Any, tmp_path: Path, tiny_model: Path, shards: int) -> None:
    """A schema with semantic recall: the executors embed the passages (the model loaded in each
    Python worker), and semantic searches score as on a single-process build."""
    from zhisou.schema import FieldSpec, Schema, SemanticSpec

    rng = random.Random(3)
    docs = [{"id": f"e{n}", "body": " ".join(rng.choices(WORDS, k=rng.randint(4, 30)))} for n in range(120)]
    spec = SemanticSpec(model=str(tiny_model), passage_tokens=16, overlap_tokens=2, hnsw_min_passages=10**6)
    schema = Schema((FieldSpec("body", "text"),), semantic=spec)
    single = Index.create(tmp_path / "single", schema)
    single.add(docs)
    single.commit()
    frame = spark.read.json(jsonl(docs, tmp_path / "docs.jsonl")).repartition(3)
    build_index(frame, tmp_path / "spark", schema, shards=shards, docs_per_segment=25)
    built = Index.open(tmp_path / "spark")
    assert built.searcher().has_vectors
    assert all("pvc" in segment.optional for segment in built.searcher().reader.segments)
    for query in ("倒排 索引", "spark vector", "rank fusion dense"):
        a = single.search(query, mode="semantic", size=10, with_docs=False)
        b = built.search(query, mode="semantic", size=10, with_docs=False)
        assert sorted(a.scores) == pytest.approx(sorted(b.scores), abs=1e-5), query
        # Documents tied in BM25 score are listed in index order, so which of them make a
        # channel's 100 (and its z-scores) can differ between the layouts: totals only.
        assert single.search(query, mode="hybrid").total == built.search(query, mode="hybrid").total
