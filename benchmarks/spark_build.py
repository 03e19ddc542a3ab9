"""A Spark build (local mode) against the single-process build of the same corpus: time, peak
memory, index size, and top-10 latency on each result; and batch search of the query set (top
1000) on Spark against one loop in this process.

    python benchmarks/spark_build.py --synthetic 100000          # the harness's generated corpus
    python benchmarks/spark_build.py --dataset ../shared/datasets/dureader-robust --json

The single-process build is ``Index.add`` + ``commit`` in this process; the Spark build reads the
same documents as JSON Lines with ``spark.read.json`` and runs ``zhisou.spark.build_index`` on
``--master`` (default ``local[2]``: both cores). Peak memory: this process's, and the largest child
processes' (the Spark JVM and its Python workers, sampled from /proc during the Spark build; the
single-process build runs first, in this process).
Skips cleanly when PySpark or Java is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import load_queries, make_synthetic, read_jsonl


class TreeRSS:
    """Peak resident memory of this process's descendants (the Spark JVM and its Python
    workers), sampled from /proc every 0.2 s while running."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeRSS:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_mb = max(self.peak_mb, sum(_rss_kb(pid) for pid in _descendants(os.getpid())) / 1024)


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += [int(child) for child in children]
        frontier += [int(child) for child in children]
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def latency_ms(index: object, queries: list[str]) -> tuple[float, float]:
    """Top-10 retrieval as the harness times it (no stored fields or highlights)."""
    searcher = index.searcher()  # type: ignore[attr-defined]
    for query in queries[:50]:
        searcher.search(query, size=10, with_docs=False, plain=True)
    times = []
    for query in queries:
        started = time.perf_counter()
        searcher.search(query, size=10, with_docs=False, plain=True)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.99 * (len(times) - 1))]


def measure(dataset: Path, master: str, work: Path, shards: int, batch_queries: int) -> dict[str, object]:
    from zhisou import Index
    from zhisou.errors import ZhisouError
    from zhisou.spark import batch_search, build_index, session

    docs_path = work / "docs.jsonl"
    count = 0
    with open(docs_path, "w", encoding="utf-8") as handle:
        for doc in read_jsonl(dataset / "corpus.jsonl"):
            out = {"id": str(doc["_id"]), "title": doc.get("title") or "", "body": doc.get("text") or ""}
            handle.write(json.dumps(out, ensure_ascii=False) + "\n")
            count += 1
    queries = list(load_queries(dataset)[0].values())[:1000]
    batch = [queries[n % len(queries)] for n in range(batch_queries)]  # the set again, if it is smaller

    docs = list(read_jsonl(docs_path))
    started = time.perf_counter()
    single = Index.create(work / "single")
    single.add(docs)
    single.commit()
    single_s = time.perf_counter() - started
    del docs
    single_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    try:
        spark = session(master, "zhisou benchmark")
    except ZhisouError as error:
        print(f"skipped: {error}", file=sys.stderr)
        raise SystemExit(0) from None
    try:
        with TreeRSS() as children:
            started = time.perf_counter()
            frame = spark.read.json(str(docs_path))
            report = build_index(frame, work / "spark")
            spark_s = time.perf_counter() - started
        with TreeRSS() as sharded_children:
            started = time.perf_counter()
            build_index(spark.read.json(str(docs_path)), work / "sharded", shards=shards)
            sharded_s = time.perf_counter() - started
        # Batch search: the query set, top 1000, on the executors vs one loop here.
        rows = [{"query_id": str(n), "text": text} for n, text in enumerate(batch)]
        started = time.perf_counter()
        hits = batch_search(spark.createDataFrame(rows), work / "spark", k=1000)
        batch_hits = hits.count()
        batch_s = time.perf_counter() - started
    finally:
        spark.stop()
    searcher = single.searcher()
    started = time.perf_counter()
    loop_hits = sum(len(searcher.search(q, size=1000, with_docs=False, plain=True).ids) for q in batch)
    loop_s = time.perf_counter() - started
    built = Index.open(work / "spark")
    single_p50, single_p99 = latency_ms(single, queries)
    spark_p50, spark_p99 = latency_ms(built, queries)
    sharded = Index.open(work / "sharded")
    sharded_p50, sharded_p99 = latency_ms(sharded, queries)
    same = all(  # scores, not ids: equal scores fall in index order, which sharding changes
        np.allclose(
            single.search(q, size=10, with_docs=False, plain=True).scores,
            sharded.search(q, size=10, with_docs=False, plain=True).scores,
            rtol=0,
            atol=1e-6,
        )
        for q in queries[:200]
    )
    return {
        "dataset": dataset.name,
        "documents": count,
        "master": master,
        "single_build_s": round(single_s, 2),
        "spark_build_s": round(spark_s, 2),
        "spark_segments": report.segments,
        "single_docs_per_s": round(count / single_s),
        "spark_docs_per_s": round(count / spark_s),
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "single_build_peak_rss_mb": round(single_rss),
        "spark_jvm_and_workers_peak_rss_mb": round(children.peak_mb),
        "single_size_mb": round(folder_bytes(work / "single") / 2**20, 1),
        "spark_size_mb": round(folder_bytes(work / "spark") / 2**20, 1),
        "shards": shards,
        "sharded_build_s": round(sharded_s, 2),
        "sharded_jvm_and_workers_peak_rss_mb": round(sharded_children.peak_mb),
        "sharded_size_mb": round(folder_bytes(work / "sharded") / 2**20, 1),
        "sharded_top10_p50_ms": round(sharded_p50, 3),
        "sharded_top10_p99_ms": round(sharded_p99, 3),
        "sharded_top10_scores_equal_single": same,
        "batch_queries": len(batch),
        "batch_spark_s": round(batch_s, 2),
        "batch_loop_s": round(loop_s, 2),
        "batch_hits_equal": batch_hits == loop_hits,
        "single_top10_p50_ms": round(single_p50, 3),
        "single_top10_p99_ms": round(single_p99, 3),
        "spark_top10_p50_ms": round(spark_p50, 3),
        "spark_top10_p99_ms": round(spark_p99, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, help="a BEIR-format directory")
    parser.add_argument("--synthetic", type=int, help="generate the harness's corpus of N documents")
    parser.add_argument("--synthetic-dir", type=Path, default=Path(tempfile.gettempdir()) / "zhisou-synthetic")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--shards", type=int, default=4, help="shards of the second Spark build")
    parser.add_argument("--batch-queries", type=int, default=1000, help="queries in the batch (the set repeated)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.dataset is None and args.synthetic is None:
        parser.error("give --dataset DIR or --synthetic N")
    dataset = args.dataset if args.dataset is not None else make_synthetic(args.synthetic_dir, args.synthetic)
    if not (dataset / "corpus.jsonl").exists():
        print(f"skipped: no corpus.jsonl in {dataset}", file=sys.stderr)
        return 0
    work = Path(tempfile.mkdtemp(prefix="zhisou-spark-bench-"))
    try:
        result = measure(dataset, args.master, work, args.shards, args.batch_queries)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result) if args.json else "\n".join(f"{key}: {value}" for key, value in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
