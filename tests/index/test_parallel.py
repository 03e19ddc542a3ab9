"""Indexing in worker processes adds exactly what indexing in one process adds: the same
documents and scores, a later copy of an id winning, a bad document stopping the batch at its
own place — for one index and for shards."""

from __future__ import annotations

import multiprocessing
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from zhisou import Index
from zhisou.errors import DocumentError, ZhisouError
from zhisou.index import parallel
from zhisou.index.parallel import resolve_workers

WORDS = ["倒排", "索引", "压缩", "缓存", "向量", "检索", "spark", "search", "ranking", "segment", "query", "cache"]
QUERIES = ["索引 压缩", "spark search", "向量", "ranking cache", '"倒排 索引"']


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers for batches of a few hundred documents, in blocks of 40."""
    monkeypatch.setattr(parallel, "PARALLEL_MIN_DOCS", 30)
    monkeypatch.setattr(parallel, "BLOCK", 40)


def corpus(count: int, seed: int = 2) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"p{n}",
            "title": " ".join(rng.sample(WORDS, 2)),
            "body": " ".join(rng.choices(WORDS, k=rng.randint(3, 25))),
            "tags": rng.sample(["a", "b", "c"], rng.randint(0, 2)),
        }
        for n in range(count)
    ]


def answers(index: Index) -> dict[str, list[tuple[str, float]]]:
    out = {}
    for query in QUERIES:
        result = index.search(query, size=1000)
        out[query] = sorted(zip(result.ids, (round(score, 6) for score in result.scores)), key=lambda p: (-p[1], p[0]))
    return out


@pytest.mark.parametrize("shards", [1, 3])
def test_workers_index_what_one_process_indexes(make_index: Callable[..., Index], shards: int) -> None:
    docs = corpus(400)
    docs += [{**docs[5], "body": "replaced in the head's block"}, {**docs[100], "body": "replaced later 向量"}]
    docs += [{**docs[-1], "body": "replaced twice 向量 spark"}]  # the same id in three blocks
    one = make_index(docs, shards=shards)
    many = make_index(docs, shards=shards, threads=2)
    assert len(many.searcher().reader.segments) > len(one.searcher().reader.segments)  # workers wrote segments
    assert len(many) == len(one) == 400
    assert answers(many) == answers(one)
    assert many.get("p100")["body"] == "replaced twice 向量 spark"  # type: ignore[index]
    assert many.get("p5")["body"] == "replaced in the head's block"  # type: ignore[index]
    assert many.search("", facets=["tags"]).facets == one.search("", facets=["tags"]).facets


def test_a_bad_document_stops_the_batch_at_its_place(tmp_path: Path) -> None:
    docs = corpus(300)
    docs.insert(170, {"title": "no id"})  # in the fourth block after the head
    index = Index.create(tmp_path / "ix", threads=2)
    with pytest.raises(DocumentError, match="id"):
        index.add(docs)
    index.commit()
    assert len(index) == 170  # the documents before it, and none after
    assert index.get("p169") is not None and index.get("p170") is None
    assert not any(p.name.endswith(".zhisou-tmp") for p in (tmp_path / "ix").iterdir())
    index.add(docs[171:])
    index.commit()
    assert len(index) == 300


def test_a_generator_is_read_as_it_is_indexed(tmp_path: Path) -> None:
    """Workers take the input a few blocks ahead at most: a generator is never read whole first."""
    read = [0]

    def stream() -> Iterator[dict[str, Any]]:
        for doc in corpus(600):
            read[0] += 1
            yield doc

    index = Index.create(tmp_path / "ix", threads=2)
    writer = index.writer
    adopted_after: list[int] = []
    adopt = writer.add_segments

    def spy(*args: Any, **kwargs: Any) -> int:
        adopted_after.append(read[0])
        return adopt(*args, **kwargs)

    writer.add_segments = spy  # type: ignore[method-assign]
    index.add(stream())
    index.commit()
    assert len(index) == 600 and read[0] == 600
    # The first block was adopted with at most head + (1 + 2 per worker) blocks read.
    assert adopted_after and adopted_after[0] <= 30 + 40 * (1 + 2 * 2) + 1


def test_workers_start_by_forkserver_beside_other_threads(tmp_path: Path) -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert parallel._context().get_start_method() != "fork"
        index = Index.create(tmp_path / "ix", threads=2)
        index.add(corpus(150))
        index.commit()
        assert len(index) == 150
    finally:
        stop.set()
        other.join()


def test_thread_counts() -> None:
    assert resolve_workers(None) == 1 and resolve_workers(1) == 1 and resolve_workers(3) == 3
    assert resolve_workers(0) >= 1
    with pytest.raises(ValueError):
        resolve_workers(-1)


def die(block: list[Any], keep_going: bool) -> None:
    """A worker task that kills its process, as the kernel's OOM killer would."""
    os._exit(3)


def test_a_dead_worker_is_an_error_not_a_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(parallel, "_write_block", die)
    index = Index.create(tmp_path / "ix", threads=2)
    with pytest.raises(ZhisouError, match="died") as caught:
        index.add(corpus(300))
    assert "\n" not in str(caught.value)
    index.commit()
    assert len(index) == 30  # what the calling process added before the workers' first block


_FORKED = """
import os
from zhisou.index import parallel
parent = os.getpid()
results = parallel.run_forked(lambda i: (i * i, os.getpid()), 5, 2)
assert [square for square, _ in results] == [0, 1, 4, 9, 16], results
assert all(pid != parent for _, pid in results), results
try:
    parallel.run_forked(lambda i: 1 // (i - 2), 4, 2)
except ZeroDivisionError:  # a task's own error comes back as itself
    pass
else:
    raise AssertionError("the task's error was lost")
"""


def test_run_forked_runs_tasks_in_child_processes_in_order() -> None:
    # In a process of its own: threads an earlier test left here (Spark's gateway) would rightly
    # keep the tasks in this process.
    done = subprocess.run([sys.executable, "-c", _FORKED], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_run_forked_stays_in_this_process_beside_other_threads() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert {pid for pid in parallel.run_forked(lambda i: os.getpid(), 3, 2)} == {os.getpid()}
    finally:
        stop.set()
        other.join()


@pytest.fixture
def alone() -> None:
    """This process may fork only while it runs one thread (``run_forked``): after a test that
    left threads behind (Spark's gateway, when the Spark tests ran first) it rightly does not."""
    if threading.active_count() > 1:
        pytest.skip(f"{threading.active_count()} threads alive, left by an earlier test: no forking here")


def test_commit_merges_in_worker_processes_what_one_process_merges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alone: None
) -> None:
    from zhisou.index import writer as writer_module
    from zhisou.index.merge import TieredMergePolicy

    pids = tmp_path / "merged-by"
    real_merge = writer_module.merge_segments

    def recording(*args: Any, **kwargs: Any) -> Any:
        with open(pids, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(writer_module, "merge_segments", recording)
    docs = corpus(400)
    docs += [{**docs[7], "body": "replaced 向量 spark"}]

    def build(name: str, threads: int) -> Index:
        index = Index.create(tmp_path / name, threads=threads)
        index.writer.merge_policy = TieredMergePolicy(factor=3, floor_docs=10)
        index.add(docs)
        index.delete("p11")
        index.commit()
        return index

    one = build("one", 1)  # one flush, nothing to merge
    many = build("many", 2)
    merged_by = [int(line) for line in pids.read_text().split()]
    assert len(merged_by) >= 2 and os.getpid() not in merged_by  # the commit's merges, in children
    pids.unlink()
    monkeypatch.setattr(writer_module, "run_forked", lambda task, count, workers: [task(i) for i in range(count)])
    here = build("here", 2)
    assert [int(line) for line in pids.read_text().split()] == [os.getpid()] * len(merged_by)
    assert len(many.searcher().reader.segments) == len(here.searcher().reader.segments) < 400 // 40
    assert len(many) == len(here) == len(one) == 399
    assert answers(many) == answers(here) == answers(one)
    assert many.get("p7")["body"] == "replaced 向量 spark"  # type: ignore[index]


def test_a_forked_task_that_dies_is_an_error_not_a_hang(alone: None) -> None:
    def task(i: int) -> int:
        if i == 1:
            os._exit(3)  # as the kernel's OOM killer would end it
        return i

    with pytest.raises(ZhisouError, match="died") as caught:
        parallel.run_forked(task, 3, 2)
    assert "\n" not in str(caught.value)
