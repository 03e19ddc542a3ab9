"""Recall of the HNSW graph (``zhisou.embed.ann``, default settings) against exact search.

    python benchmarks/ann_recall.py --index DIR --queries BEIR_DIR   # an index with passage vectors
    python benchmarks/ann_recall.py --synthetic 100000               # clustered unit vectors

``--index``: every segment's passage vectors go into one graph (as a segment of that size would
hold them); the BEIR set's test queries are encoded with the index's model and each searched
for its 10 best documents (best passage per document) through the graph and exactly; recall@10
is the share of the exact top 10 the graph returns. ``--synthetic N``: N unit vectors of 384
dimensions around 1,000 centres (topics), 200 queries drawn the same way, one "document" per
vector. Prints build time, recall@10 and query time (median of the queries); ``--json`` for
programs. Skips cleanly when the index or the dataset is missing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def clustered(count: int, seed: int, dim: int = 384, centres: int = 1_000) -> np.ndarray:
    centre = np.random.default_rng(1).standard_normal((centres, dim))
    rng = np.random.default_rng(seed)
    rows = centre[rng.integers(0, centres, count)] + 0.8 * rng.standard_normal((count, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def index_case(index_dir: Path, queries_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    from zhisou import Index
    from zhisou.embed.registry import load_embedder
    from zhisou.eval.beir import BeirDataset

    index = Index.open(index_dir)
    searcher = index.searcher()
    spec = searcher.schema.semantic
    segments = [s for s in searcher.reader.segments if "pvc" in s.optional]
    if spec is None or not segments:
        print(f"{index_dir}: no passage vectors; skipped")
        return None
    vectors = np.concatenate([s.optional["pvc"] for s in segments])
    counts = np.concatenate([s.optional["pcn"].reshape(-1) for s in segments]).astype(np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    dataset = BeirDataset.load(queries_dir)
    texts = list(dataset.queries.values())
    queries = load_embedder(spec.model).encode_queries(texts)
    return vectors, owner, np.asarray(queries, dtype=np.float32)


def measure(vectors: np.ndarray, owner: np.ndarray, queries: np.ndarray, k: int = 10) -> dict[str, float]:
    import faiss

    from zhisou.embed import ann

    started = time.perf_counter()
    graph = ann.PassageGraph(faiss.deserialize_index(ann.build_graph(vectors)), owner)
    build_s = time.perf_counter() - started
    everything = np.ones(int(owner.max()) + 1, dtype=bool)
    # Force the graph walk whatever the size (the exact fallback would score 100 %).
    ann.EXACT_BELOW, ann.EXACT_SHARE = 0, 0.0
    recalls, times = [], []
    for query in queries:
        started = time.perf_counter()
        docs, _ = ann.nearest_documents(graph, vectors, query, everything, k)
        times.append((time.perf_counter() - started) * 1000)
        scores = vectors @ query
        best = np.full(len(everything), -np.inf, dtype=np.float32)
        np.maximum.at(best, owner, scores)
        truth = np.lexsort((np.arange(len(best)), -best))[:k]
        recalls.append(len(set(docs.tolist()) & set(truth.tolist())) / k)
    return {
        "passages": float(len(vectors)),
        "documents": float(len(everything)),
        "build_s": build_s,
        "recall@10": float(np.mean(recalls)),
        "query_ms_p50": statistics.median(times),
        "query_ms_p99": float(np.percentile(times, 99)),
        "hnsw_m": float(ann.HNSW_M),
        "ef_construction": float(ann.EF_CONSTRUCTION),
        "ef_search": float(ann.EF_SEARCH),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path)
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--synthetic", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import faiss  # noqa: F401
    except ImportError:
        print("faiss is not installed (pip install 'zhisou[semantic]'); skipped")
        return 0
    from zhisou.embed import ann

    if args.synthetic:
        vectors = clustered(args.synthetic, seed=2)
        case: tuple[np.ndarray, np.ndarray, np.ndarray] | None = (
            vectors,
            np.arange(len(vectors)),
            clustered(200, seed=9),
        )
        name = f"synthetic-{args.synthetic}"
    elif args.index and args.queries:
        if not args.index.exists() or not args.queries.exists():
            print(f"{args.index if not args.index.exists() else args.queries}: not found; skipped")
            return 0
        case = index_case(args.index, args.queries)
        name = args.queries.resolve().name
    else:
        parser.error("give --synthetic N, or --index DIR and --queries BEIR_DIR")
    if case is None:
        return 0
    result = {"set": name, **measure(*case)}
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{name}: {int(result['passages']):,} passages, {int(result['documents']):,} documents; "
            f"build {result['build_s']:.1f} s; recall@10 {result['recall@10']:.4f}; "
            f"query p50 {result['query_ms_p50']:.2f} ms, p99 {result['query_ms_p99']:.2f} ms "
            f"(M {ann.HNSW_M}, efConstruction {ann.EF_CONSTRUCTION}, efSearch ≥ {ann.EF_SEARCH})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
