"""When do threads pay in a sharded search? Each query timed on the reader of all shards (one
thread, as on an index of many segments) and shard by shard on the pool's threads, grouped by
how many postings its terms have.

    python benchmarks/sharded_threads.py --synthetic 1000000 --shards 4
    python benchmarks/sharded_threads.py --dataset ../shared/datasets/scifact --json

Builds (once, kept in --work) a sharded index of the corpus with ``Index.add``; each query is run
three times each way, the best kept, for a top 10 and a top 1000. The thresholds in
``zhisou.search.sharded`` come from these tables (benchmarks/RESULTS.md, "Spark builds and
sharded indexes").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import load_queries, make_synthetic, read_jsonl

BUCKETS = (0, 50_000, 100_000, 200_000, 300_000, 400_000, 600_000, 800_000, 1_000_000)


def build(dataset: Path, target: Path, shards: int) -> None:
    from zhisou import Index

    if (target / "COMPLETE").exists():
        return
    index = Index.create(target, shards=shards, overwrite=True)
    for doc in read_jsonl(dataset / "corpus.jsonl"):
        index.add({"id": str(doc["_id"]), "title": doc.get("title") or "", "body": doc.get("text") or ""})
    index.commit()
    index.close()
    (target / "COMPLETE").write_text("ok\n", encoding="utf-8")


def measure(directory: Path, queries: list[str]) -> list[dict[str, object]]:
    from zhisou import Index
    from zhisou.search import sharded
    from zhisou.search.request import SearchRequest
    from zhisou.search.strategies.terms import query_keys

    searcher = Index.open(directory).searcher()
    retrieval = searcher._sharded
    if retrieval is None:
        raise SystemExit(f"{directory} is not sharded")
    rows = []
    for size in (10, 1000):
        for query in queries[:30]:
            searcher.search(query, size=size, with_docs=False, plain=True)
        for query in queries:
            plan = searcher.plan(SearchRequest(query, size=size, plain=True))
            if plan.words is None:
                continue
            postings = retrieval.enclosing.look_up(query_keys(plan.words).keys)
            timings = {}
            for way, threshold in (("all_shards_one_thread", 10**15), ("threads", 0)):
                sharded.PARALLEL_MIN_POSTINGS = sharded.PARALLEL_MIN_POSTINGS_DEEP = threshold
                best = float("inf")
                for _ in range(3):
                    started = time.perf_counter()
                    searcher.search(query, size=size, with_docs=False, plain=True)
                    best = min(best, time.perf_counter() - started)
                timings[way] = best * 1000
            rows.append({"size": size, "postings": postings, **timings})
    table = []
    for size in (10, 1000):
        for low, high in zip(BUCKETS, (*BUCKETS[1:], float("inf"))):
            group = [r for r in rows if r["size"] == size and low <= r["postings"] < high]  # type: ignore[operator]
            if group:
                table.append(
                    {
                        "top": size,
                        "postings_from": low,
                        "queries": len(group),
                        "one_thread_ms": round(statistics.median(float(r["all_shards_one_thread"]) for r in group), 3),
                        "threads_ms": round(statistics.median(float(r["threads"]) for r in group), 3),
                    }
                )
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, help="a BEIR-format directory")
    parser.add_argument("--synthetic", type=int, help="generate the harness's corpus of N documents")
    parser.add_argument("--synthetic-dir", type=Path, default=Path(tempfile.gettempdir()) / "zhisou-synthetic")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "zhisou-sharded-bench")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.dataset is None and args.synthetic is None:
        parser.error("give --dataset DIR or --synthetic N")
    dataset = args.dataset if args.dataset is not None else make_synthetic(args.synthetic_dir, args.synthetic)
    if not (dataset / "corpus.jsonl").exists():
        print(f"skipped: no corpus.jsonl in {dataset}", file=sys.stderr)
        return 0
    target = args.work / f"{dataset.name}-{args.shards}"
    build(dataset, target, args.shards)
    queries = list(load_queries(dataset)[0].values())[: args.queries]
    table = measure(target, queries)
    if args.json:
        print(json.dumps(table))
    else:
        for row in table:
            print(
                f"top {row['top']:>4}  postings ≥ {row['postings_from']:>9,}  {row['queries']:>4} queries  "
                f"one thread {row['one_thread_ms']:.3f} ms  threads {row['threads_ms']:.3f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
