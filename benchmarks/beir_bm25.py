"""Index a BEIR-format dataset with zhisou and report quality and speed.

    python benchmarks/beir_bm25.py ../shared/datasets/scifact [--split test] [--json]

Title and text go into one text field (Pyserini's "flat" condition). Queries run one at a
time, returning ids only. Metrics come from pytrec_eval (``pip install pytrec-eval-terrier``).
Exits 0 with a "skipped" line when the dataset directory is absent.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zhisou import Index, Schema
from zhisou.schema import FieldSpec


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            query_id, doc_id, score = line.rstrip("\n").split("\t")
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    return qrels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.dataset / "corpus.jsonl").exists():
        print(f"skipped: no BEIR dataset at {args.dataset}")
        return 0
    import pytrec_eval

    corpus = read_jsonl(args.dataset / "corpus.jsonl")
    queries = {q["_id"]: q["text"] for q in read_jsonl(args.dataset / "queries.jsonl")}
    qrels = read_qrels(args.dataset / "qrels" / f"{args.split}.tsv")
    workdir = Path(tempfile.mkdtemp(prefix="zhisou-beir-"))
    try:
        started = time.perf_counter()
        index = Index.create(workdir / "index", Schema((FieldSpec("body", "text"),)))
        index.add({"id": d["_id"], "body": f"{d.get('title', '')} {d['text']}".strip()} for d in corpus)
        index.commit()
        index_seconds = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in (workdir / "index").iterdir()) / 1e6

        searcher = index.searcher()
        run: dict[str, dict[str, float]] = {}
        latencies = []
        for query_id in qrels:
            began = time.perf_counter()
            result = searcher.search(queries[query_id], size=100, with_docs=False, plain=True)
            latencies.append(time.perf_counter() - began)
            run[query_id] = {hit.id: hit.score for hit in result.hits}
        evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"})
        per_query = evaluator.evaluate(run)
        report = {
            "dataset": args.dataset.name,
            "documents": len(corpus),
            "queries": len(qrels),
            "ndcg@10": round(float(np.mean([m["ndcg_cut_10"] for m in per_query.values()])), 4),
            "recall@100": round(float(np.mean([m["recall_100"] for m in per_query.values()])), 4),
            "index_seconds": round(index_seconds, 2),
            "index_mb": round(size_mb, 2),
            "queries_per_second": round(len(latencies) / sum(latencies), 1),
            "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 3),
            "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(report))
    else:
        print("  ".join(f"{k}={v}" for k, v in report.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
