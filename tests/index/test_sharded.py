"""A sharded index opens and searches like any index: the same hits and scores as one index over
the same documents, documents routed by id hash, commits all or nothing across shards."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zhisou import Index, Schema
from zhisou.errors import IndexExistsError, ZhisouError
from zhisou.index.reader import IndexReader
from zhisou.index.sharded import ShardedReader, ShardedWriter
from zhisou.index.shards import ShardSet, load_shard_set, shard_of
from zhisou.schema import FieldSpec

SCHEMA = Schema(
    (
        FieldSpec("title", "text", boost=2.0),
        FieldSpec("body", "text"),
        FieldSpec("tags", "keyword"),
        FieldSpec("date", "date"),
    )
)
ZH = ["倒排", "索引", "压缩", "缓存", "分词", "向量", "检索", "排序", "召回", "模型"]
EN = ["search", "engine", "cache", "vector", "ranking", "segment", "spark", "index", "query", "learning"]
QUERIES = [
    "索引 压缩",
    "spark search",
    "learning to rank",
    '"倒排 索引"',
    "排序 -tags:llm",
    "title:vector",
    "cach*",
    "向量 AND 检索",
    "engine tags:ir",
]


def corpus(count: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"doc-{n}",
            "title": " ".join(rng.sample(EN, 2)) if n % 3 else "".join(rng.sample(ZH, 2)),
            "body": " ".join(rng.choice(ZH if rng.random() < 0.5 else EN) for _ in range(rng.randint(3, 30))),
            "tags": rng.sample(["llm", "ir", "spark", "db"], rng.randint(0, 2)),
            "date": f"20{rng.randint(18, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        }
        for n in range(count)
    ]


def ranked(index: Index, query: str, **options: Any) -> list[tuple[str, float]]:
    """Hits as (id, score), ties in score ordered by id (the two indexes number documents
    differently, and a tie keeps index order), the tie at the cut left out."""
    size = options.pop("size", 50)
    hits = list(zip(*(lambda r: (r.ids, r.scores))(index.search(query, size=size, **options))))
    if len(hits) == size:
        hits = [pair for pair in hits if abs(pair[1] - hits[-1][1]) > 1e-9]
    return sorted(hits, key=lambda pair: (-round(pair[1], 6), pair[0]))


def assert_alike(single: Index, sharded: Index, **options: Any) -> None:
    for query in QUERIES:
        a, b = ranked(single, query, **options), ranked(sharded, query, **options)
        assert [i for i, _ in a] == [i for i, _ in b], query
        assert all(abs(x - y) <= 1e-6 for (_, x), (_, y) in zip(a, b)), query
        assert single.search(query).total == sharded.search(query).total, query


@pytest.fixture
def pair(make_index: Callable[..., Index]) -> tuple[Index, Index]:
    docs = corpus(600)
    return make_index(docs, SCHEMA, commit_every=200), make_index(docs, SCHEMA, commit_every=150, shards=4)


@pytest.mark.parametrize("threads", [False, True])
@pytest.mark.parametrize("strategy", ["auto", "exhaustive", "taat", "maxscore", "blockmax", "bmw"])
def test_a_sharded_index_ranks_and_scores_like_one_index(
    pair: tuple[Index, Index], strategy: str, threads: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zhisou.search import sharded as module

    if threads:  # every query's shards on the pool's threads, not only those with many postings
        monkeypatch.setattr(module, "PARALLEL_MIN_POSTINGS", 0)
        monkeypatch.setattr(module, "PARALLEL_MIN_POSTINGS_DEEP", 0)
    single, sharded = pair
    reader = sharded.searcher().reader
    assert isinstance(reader, ShardedReader) and len(reader.shards) == 4
    assert all(shard.doc_count > 50 for shard in reader.shards)  # the documents are spread
    assert len(sharded) == len(single) == 600
    assert_alike(single, sharded, strategy=strategy)


def test_facets_sorting_paging_and_get_read_all_shards(pair: tuple[Index, Index]) -> None:
    single, sharded = pair
    for options in ({"facets": ["tags"]}, {"sort": "-date"}, {"page": 3, "size": 7}, {"filters": {"tags": "ir"}}):
        for query in ("索引", "", "spark"):
            a, b = single.search(query, **options), sharded.search(query, **options)
            assert a.total == b.total and a.facets == b.facets, (query, options)
            if "sort" in options:  # by date: ties in date may fall either way
                assert [h.doc["date"] for h in a.hits] == [h.doc["date"] for h in b.hits]
            else:
                assert sorted(a.scores) == pytest.approx(sorted(b.scores), abs=1e-6)
    assert sharded.get("doc-17") == single.get("doc-17")
    assert sharded.searcher().related("doc-17", size=5).total > 0


def test_deletes_and_replacements_go_to_the_shard_the_id_hashes_to(pair: tuple[Index, Index]) -> None:
    single, sharded = pair
    for index in (single, sharded):
        index.delete(["doc-1", "doc-2", "doc-404"])
        index.add([{"id": "doc-3", "title": "spark 索引", "body": "replaced"}, {"id": "new-1", "body": "向量 spark"}])
        index.commit()
    assert_alike(single, sharded)
    reader = sharded.searcher().reader
    assert isinstance(reader, ShardedReader)
    for doc_id in ("doc-3", "new-1", "doc-10", "doc-500"):
        holders = [n for n, shard in enumerate(reader.shards) if shard.find(doc_id) is not None]
        assert holders == [shard_of(doc_id, 4)], doc_id
    assert all(shard.find("doc-1") is None for shard in reader.shards)
    assert sharded.get("doc-3")["body"] == "replaced"  # type: ignore[index]


def test_shards_are_searched_on_parallel_threads(pair: tuple[Index, Index], monkeypatch: pytest.MonkeyPatch) -> None:
    from zhisou.search import sharded as module

    seen: set[str] = set()
    original = module.choose
    together = threading.Barrier(2, timeout=20)  # passes only when two shard searches run at once

    def spy(*args: Any) -> Any:
        seen.add(threading.current_thread().name)
        if threading.current_thread().name.startswith("zhisou-shard"):
            together.wait()
        return original(*args)

    monkeypatch.setattr(module, "choose", spy)
    single, sharded = pair
    sharded.search("spark 索引")  # few postings: on the reader of all shards, no shard searches
    assert not seen
    monkeypatch.setattr(module, "PARALLEL_MIN_POSTINGS", 10)  # as if the postings were many
    parallel = sharded.search("spark 索引")
    assert len(seen) >= 2 and all(name.startswith("zhisou-shard") for name in seen)
    assert parallel.scores == pytest.approx(single.search("spark 索引").scores, abs=1e-6)
    seen.clear()
    sharded.search("spark 索引", size=200)  # a deep top-k: its own threshold
    assert not seen
    sharded.search('"spark 索引"')  # a phrase: not merged from shards
    assert not seen


def test_a_reader_keeps_its_snapshot_and_sees_a_commit_whole(pair: tuple[Index, Index]) -> None:
    _, sharded = pair
    before = sharded.searcher()
    docs = [{"id": f"batch-{n}", "body": "zebra"} for n in range(40)]  # they fall in every shard
    assert len({shard_of(d["id"], 4) for d in docs}) == 4
    sharded.add(docs)
    sharded.commit()
    assert before.search("zebra").total == 0
    assert sharded.search("zebra").total == 40


def test_a_commit_stopped_between_shards_and_record_is_rolled_back(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "ix", SCHEMA, shards=3)
    index.add(corpus(60))
    index.commit()
    index.close()
    record = load_shard_set(tmp_path / "ix")
    writer = ShardedWriter(tmp_path / "ix")
    writer.add_many({"id": f"late-{n}", "body": "half committed"} for n in range(30))
    writer.delete("doc-0")
    for shard in writer.writers[:2]:  # the process dies after two shards committed
        shard.commit()
    assert load_shard_set(tmp_path / "ix") == record
    for shard in writer.writers:
        shard.close()
    writer._lock.release()

    # Readers open the recorded generations: nothing of the half commit shows.
    reopened = Index.open(tmp_path / "ix")
    assert reopened.search("committed").total == 0 and reopened.get("doc-0") is not None
    # The next writer rolls the committed shards back, so the shards agree with the record.
    reopened.add({"id": "after", "body": "fine"})
    reopened.commit()
    assert reopened.search("committed").total == 0 and reopened.get("doc-0") is not None
    assert len(reopened) == 61
    for path in load_shard_set(tmp_path / "ix").paths(tmp_path / "ix"):
        assert IndexReader.open(path).find("late-1") is None  # each shard's newest commit too


def test_creating_over_indexes_and_damage(tmp_path: Path) -> None:
    plain = Index.create(tmp_path / "ix", SCHEMA)
    plain.add(corpus(20))
    plain.commit()
    plain.close()
    with pytest.raises(IndexExistsError):
        Index.create(tmp_path / "ix", SCHEMA, shards=2)
    sharded = Index.create(tmp_path / "ix", SCHEMA, shards=2, overwrite=True)
    assert len(sharded) == 0 and sharded.stats()["shards"] == 2
    sharded.add(corpus(20))
    sharded.commit()
    sharded.close()
    with pytest.raises(IndexExistsError):
        Index.create(tmp_path / "ix", SCHEMA)
    again = Index.create(tmp_path / "ix", SCHEMA, overwrite=True)
    assert len(again) == 0 and again.stats()["shards"] == 1
    assert not list((tmp_path / "ix").glob("shard-*")) and not list((tmp_path / "ix").glob("shards_*"))
    with pytest.raises(ZhisouError, match="out of range"):
        Index.create(tmp_path / "other", SCHEMA, shards=0)

    damaged = Index.create(tmp_path / "d", SCHEMA, shards=2)
    damaged.close()
    record = next((tmp_path / "d").glob("shards_*.json"))
    record.write_bytes(record.read_bytes().replace(b'"shard-001"', b'"shard-009"'))
    with pytest.raises(ZhisouError, match="checksum") as caught:
        Index.open(tmp_path / "d")
    assert "\n" not in str(caught.value)


def test_the_shard_record_round_trips() -> None:
    record = ShardSet(3, SCHEMA.to_dict(), ("shard-000", "shard-001"), (4, 7), {"origin": "x"})
    assert ShardSet.parse(record.to_json(), "here") == record
    assert record.next((5, 7)).generations == (5, 7) and record.next((5, 7)).generation == 4


def test_routing_is_stable_and_spreads_ids() -> None:
    assert shard_of("doc-1", 4) == shard_of("doc-1", 4)
    counts = [0] * 8
    for n in range(8000):
        counts[shard_of(f"id{n}", 8)] += 1
    assert min(counts) > 800  # about 1,000 each
    assert shard_of("文档-1", 3) in range(3)


@pytest.mark.parametrize("threads", [False, True])
def test_statistics_handed_in_reach_every_shard(
    pair: tuple[Index, Index], threads: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sharded searcher given a larger collection's statistics scores with them on every path."""
    from zhisou.index.termdict import term_key
    from zhisou.search import sharded as module
    from zhisou.search.searcher import Searcher
    from zhisou.search.similarity import FieldStats
    from zhisou.search.stats import SuppliedStatistics

    if threads:
        monkeypatch.setattr(module, "PARALLEL_MIN_POSTINGS", 0)
    single, sharded = pair
    supplied = SuppliedStatistics(
        {"body": FieldStats(50_000, 900_000)}, {term_key("body", "spark"): 20_000, term_key("title", "spark"): 3}
    )
    for query in ("spark search", "spark 索引"):
        plain = Searcher(single.searcher().reader, statistics=supplied).search(query, size=50)
        split = Searcher(sharded.searcher().reader, statistics=supplied).search(query, size=50)
        assert sorted(split.scores) == pytest.approx(sorted(plain.scores), abs=1e-6), query
        assert sorted(plain.scores) != pytest.approx(sorted(single.search(query, size=50).scores), abs=1e-3)
