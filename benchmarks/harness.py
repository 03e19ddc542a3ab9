"""Side-by-side benchmark: zhisou against peer BM25 engines, on the same data and machine.

    python benchmarks/harness.py                       # every BEIR dataset in ../shared/datasets
    python benchmarks/harness.py DIR [DIR ...]         # any BEIR-format directories
    python benchmarks/harness.py --synthetic 100000    # a generated Zipfian corpus (speed and memory only)
    python benchmarks/harness.py ... --engines zhisou,tantivy --json results.json --markdown table.md

Every engine runs in processes of its own: one builds and saves the index (build time, size on
disk), a fresh one loads it and answers the queries one at a time on one thread (queries/s,
p50/p99 latency for top-10 and top-1000 from the fastest of three passes over the queries,
nDCG@10 and Recall@100, peak RSS while serving).

Tokenization is the same for all: the peers get the terms zhisou's analyzer produces
(Snowball stemming and Lucene's 33 stopwords for English; rjieba search-mode words for
Chinese), and that analysis is timed inside each engine's build and query loop alike.
k1 = 1.2, b = 0.75 for every engine (tantivy's Python bindings offer no other). tantivy indexes
positions and stores the text, as zhisou does, so build time and size on disk (stored fields
included) measure the same work.
Engines: zhisou, bm25s (numpy backend), bm25s_numba, tantivy, rank_bm25 (skipped above 100k
documents). Pyserini needs Java 21, which Debian bookworm does not package: not run here.
A dataset directory that does not exist is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_DATASETS = HERE.parent.parent / "shared" / "datasets"
ENGINES = ("zhisou", "bm25s", "bm25s_numba", "tantivy", "rank_bm25")
K1, B = 1.2, 0.75  # zhisou's defaults (Lucene's), and the only ones tantivy's bindings offer
RANK_BM25_LIMIT = 100_000
SEARCH_DEPTHS = (10, 1000)
PASSES = 3  # over the queries at each depth, at least; the fastest pass is reported
# ... and more while they add up to less than this: a pass of a fast engine over a few hundred
# queries lasts 20-50 ms, short enough for one burst of machine noise to spoil all three (the
# same engine's top-10 rate varied 2x between runs with three passes, 2026-12-01).
MIN_MEASURE_S = 2.0
MAX_PASSES = 40
LONG_PASS_S = 20.0  # ... and no more once a pass takes this long


# -- data --------------------------------------------------------------------------------------
def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_corpus(dataset: Path) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    for doc in read_jsonl(dataset / "corpus.jsonl"):
        ids.append(str(doc["_id"]))
        texts.append(f"{doc.get('title') or ''} {doc.get('text') or ''}".strip())
    return ids, texts


def load_queries(dataset: Path, split: str = "test") -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    queries = {str(q["_id"]): str(q["text"]) for q in read_jsonl(dataset / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with open(dataset / "qrels" / f"{split}.tsv", encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            query_id, doc_id, score = line.rstrip("\n").split("\t")
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    return {q: queries[q] for q in qrels}, qrels


def make_synthetic(directory: Path, documents: int, queries: int = 1000, seed: int = 7) -> Path:
    """A BEIR-format corpus with a Zipfian vocabulary (s ≈ 1.1) and log-normal document lengths.

    Words are letter strings (so the stemmer sees words); the qrels are placeholders, the
    corpus is for speed and memory only.
    """
    target = directory / f"synthetic-{documents}"
    if (target / "qrels" / "test.tsv").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    vocabulary_size = 500_000
    letters = "abcdefghijklmnopqrstuvwxyz"

    def word(rank: int) -> str:
        out = []
        rank += 26 * 27  # at least three letters
        while rank:
            rank, digit = divmod(rank, 26)
            out.append(letters[digit])
        return "".join(out) + "q"  # a closing q keeps the stemmer from merging words

    words = np.array([word(i) for i in range(vocabulary_size)], dtype=object)
    weights = 1.0 / np.arange(1, vocabulary_size + 1) ** 1.1
    weights /= weights.sum()
    with open(target / "corpus.jsonl", "w", encoding="utf-8") as handle:
        batch = 10_000
        for start in range(0, documents, batch):
            count = min(batch, documents - start)
            lengths = np.clip(rng.lognormal(mean=4.0, sigma=0.6, size=count).astype(int), 5, 1000)
            draws = rng.choice(vocabulary_size, size=int(lengths.sum()), p=weights)
            offset = 0
            for i, length in enumerate(lengths):
                text = " ".join(words[draws[offset : offset + length]])
                offset += length
                handle.write(json.dumps({"_id": f"d{start + i}", "title": "", "text": text}) + "\n")
    query_rng = random.Random(seed)
    with open(target / "queries.jsonl", "w", encoding="utf-8") as handle:
        for number in range(queries):
            length = query_rng.randint(2, 5)
            ranks = [min(int(query_rng.paretovariate(0.6)) + 20, vocabulary_size - 1) for _ in range(length)]
            handle.write(json.dumps({"_id": f"q{number}", "text": " ".join(word(r) for r in ranks)}) + "\n")
    (target / "qrels").mkdir(exist_ok=True)
    with open(target / "qrels" / "test.tsv", "w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for number in range(queries):
            handle.write(f"q{number}\td{query_rng.randrange(documents)}\t1\n")
    return target


def tokenizer() -> Callable[[str], list[str]]:
    """The peers' one tokenizer, for documents and queries alike: the terms zhisou indexes
    (search-mode Chinese words with their sub-words). zhisou itself analyzes queries its own
    way (precise words, their parts weighted), which the peers cannot express."""
    from zhisou.analysis import AnalyzerRegistry

    analyzer = AnalyzerRegistry().get("zh")
    return lambda text: analyzer.stream(text).terms


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_threads() -> int:
    """Threads (zhisou: processes) each engine may build with: ``--threads``, default 1."""
    return int(os.environ.get("ZHISOU_BENCH_THREADS", "1"))


# -- engines: build(ids, texts, workdir) and load(workdir) -> search(text, k) -> [(id, score)] --
Search = Callable[[str, int], list[tuple[str, float]]]


def build_zhisou(ids: list[str], texts: list[str], workdir: Path) -> None:
    from zhisou import Index, Schema
    from zhisou.schema import FieldSpec

    index = Index.create(workdir / "index", Schema((FieldSpec("body", "text"),)), threads=build_threads())
    index.add({"id": i, "body": t} for i, t in zip(ids, texts))
    index.commit()
    index.close()


def load_zhisou(workdir: Path) -> Search:
    from zhisou import Index

    searcher = Index.open(workdir / "index").searcher()

    def search(text: str, k: int) -> list[tuple[str, float]]:
        result = searcher.search(text, size=k, with_docs=False, plain=True)
        return list(zip(result.ids, result.scores))

    return search


def _bm25s_build(backend: str) -> Callable[[list[str], list[str], Path], None]:
    def build(ids: list[str], texts: list[str], workdir: Path) -> None:
        import bm25s

        tokenize = tokenizer()
        model = bm25s.BM25(k1=K1, b=B, method="lucene", backend=backend)
        model.index([tokenize(t) for t in texts], show_progress=False)
        model.save(workdir / "index", corpus=None)
        (workdir / "ids.json").write_text(json.dumps(ids))

    return build


def _bm25s_load(backend: str) -> Callable[[Path], Search]:
    def load(workdir: Path) -> Search:
        import bm25s

        tokenize = tokenizer()
        model = bm25s.BM25.load(workdir / "index", mmap=True)
        model.backend = backend
        if backend == "numba":
            model.activate_numba_scorer()
        ids = json.loads((workdir / "ids.json").read_text())
        vocabulary = model.vocab_dict
        n_docs = len(ids)

        def search(text: str, k: int) -> list[tuple[str, float]]:
            tokens = [t for t in tokenize(text) if t in vocabulary]
            if not tokens:
                return []
            docs, scores = model.retrieve([tokens], k=min(k, n_docs), show_progress=False, n_threads=1)
            return [(ids[d], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

        return search

    return load


def build_tantivy(ids: list[str], texts: list[str], workdir: Path) -> None:
    import tantivy

    tokenize = tokenizer()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    # Positions and the stored text, as zhisou keeps them (phrase queries, snippets): the build
    # and the size on disk then compare the same work (before 2026-12-02 tantivy kept neither).
    builder.add_text_field("body", stored=True, tokenizer_name="pretokenized", index_option="position")
    schema = builder.build()
    (workdir / "index").mkdir()
    index = tantivy.Index(schema, path=str(workdir / "index"))
    index.register_tokenizer("pretokenized", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    writer = index.writer(heap_size=256_000_000, num_threads=build_threads())
    for doc_id, text in zip(ids, texts):
        writer.add_document(tantivy.Document(id=doc_id, body=" ".join(tokenize(text))))
    writer.commit()
    writer.wait_merging_threads()


def load_tantivy(workdir: Path) -> Search:
    import tantivy

    tokenize = tokenizer()
    index = tantivy.Index.open(str(workdir / "index"))
    index.register_tokenizer("pretokenized", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    index.reload()
    searcher = index.searcher()
    schema = index.schema

    def search(text: str, k: int) -> list[tuple[str, float]]:
        terms = tokenize(text)
        if not terms:
            return []
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in terms]
        )
        hits = searcher.search(query, limit=k).hits
        return [(searcher.doc(address)["id"][0], score) for score, address in hits]

    return search


def build_rank_bm25(ids: list[str], texts: list[str], workdir: Path) -> None:
    import pickle

    from rank_bm25 import BM25Okapi

    tokenize = tokenizer()
    model = BM25Okapi([tokenize(t) for t in texts], k1=K1, b=B)
    with open(workdir / "index.pkl", "wb") as handle:  # rank_bm25 has no format of its own
        pickle.dump((ids, model), handle)


def load_rank_bm25(workdir: Path) -> Search:
    import pickle

    tokenize = tokenizer()
    with open(workdir / "index.pkl", "rb") as handle:
        ids, model = pickle.load(handle)

    def search(text: str, k: int) -> list[tuple[str, float]]:
        scores = model.get_scores(tokenize(text))
        top = np.argsort(-scores, kind="stable")[:k]
        return [(ids[i], float(scores[i])) for i in top if scores[i] > 0]

    return search


BUILDERS: dict[str, Callable[[list[str], list[str], Path], None]] = {
    "zhisou": build_zhisou,
    "bm25s": _bm25s_build("numpy"),
    "bm25s_numba": _bm25s_build("numba"),
    "tantivy": build_tantivy,
    "rank_bm25": build_rank_bm25,
}
LOADERS: dict[str, Callable[[Path], Search]] = {
    "zhisou": load_zhisou,
    "bm25s": _bm25s_load("numpy"),
    "bm25s_numba": _bm25s_load("numba"),
    "tantivy": load_tantivy,
    "rank_bm25": load_rank_bm25,
}


# -- workers (each in its own process) ----------------------------------------------------------
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_build(engine: str, dataset: Path, workdir: Path) -> dict[str, Any]:
    ids, texts = load_corpus(dataset)
    started = time.perf_counter()
    BUILDERS[engine](ids, texts, workdir)
    seconds = time.perf_counter() - started
    return {
        "index_s": seconds,
        "index_mb": directory_size(workdir) / 1e6,
        "build_rss_mb": peak_rss_mb(),
        "docs_per_s": len(ids) / seconds,
    }


def worker_serve(engine: str, dataset: Path, workdir: Path, quality: bool) -> dict[str, Any]:
    queries, qrels = load_queries(dataset)
    search = LOADERS[engine](workdir)
    texts = list(queries.values())
    for text in texts[:20]:  # warm up (JIT, caches of the first queries)
        search(text, 10)
    result: dict[str, Any] = {}
    run: dict[str, dict[str, float]] = {}
    for depth in SEARCH_DEPTHS:
        # The fastest of several passes: a pass slowed by the machine says nothing of the engine.
        latencies = np.full(len(texts), np.inf)
        passes, spent = 0, 0.0
        while passes < PASSES or (spent < MIN_MEASURE_S and passes < MAX_PASSES):
            passes += 1
            this_pass = np.empty(len(texts))
            for position, (query_id, text) in enumerate(queries.items()):
                began = time.perf_counter()
                hits = search(text, depth)
                this_pass[position] = time.perf_counter() - began
                if depth == max(SEARCH_DEPTHS):
                    run[query_id] = dict(hits)
            spent += float(this_pass.sum())
            if this_pass.sum() < latencies.sum():
                latencies = this_pass
            if this_pass.sum() > LONG_PASS_S:  # long enough to even out noise (rank_bm25, bm25s at scale)
                break
        result[f"qps_{depth}"] = len(texts) / latencies.sum()
        result[f"p50_{depth}_ms"] = float(np.percentile(latencies, 50) * 1000)
        result[f"p99_{depth}_ms"] = float(np.percentile(latencies, 99) * 1000)
    if quality:
        import pytrec_eval

        per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(
            {q: docs for q, docs in run.items() if docs}
        )
        result["ndcg@10"] = sum(per_query.get(q, {}).get("ndcg_cut_10", 0.0) for q in qrels) / len(qrels)
        result["recall@100"] = sum(per_query.get(q, {}).get("recall_100", 0.0) for q in qrels) / len(qrels)
    result["serve_rss_mb"] = peak_rss_mb()
    return result


def run_worker(args: list[str], timeout: float) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        raise RuntimeError(" | ".join(tail))
    return json.loads(completed.stdout.strip().splitlines()[-1])


# -- orchestration -----------------------------------------------------------------------------
def bench_dataset(dataset: Path, engines: list[str], quality: bool, timeout: float) -> list[dict[str, Any]]:
    with open(dataset / "corpus.jsonl", encoding="utf-8") as handle:
        documents = sum(1 for _ in handle)
    rows = []
    for engine in engines:
        row: dict[str, Any] = {"dataset": dataset.name, "engine": engine, "documents": documents}
        if engine == "rank_bm25" and documents > RANK_BM25_LIMIT:
            row["skipped"] = f"rank_bm25 is skipped above {RANK_BM25_LIMIT:,} documents"
            rows.append(row)
            continue
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-"))
        try:
            print(f"  {dataset.name} · {engine}: building …", file=sys.stderr, flush=True)
            row.update(run_worker(["build", engine, str(dataset), str(workdir)], timeout))
            print(f"  {dataset.name} · {engine}: querying …", file=sys.stderr, flush=True)
            row.update(run_worker(["serve", engine, str(dataset), str(workdir), str(int(quality))], timeout))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            row["error"] = str(exc)[:300]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        rows.append(row)
        print(f"  {json.dumps(row)}", file=sys.stderr, flush=True)
    return rows


def _fmt(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == dataset]
        lines.append(markdown_table(group))
    return "\n".join(lines)


def markdown_table(group: list[dict[str, Any]]) -> str:
    """One dataset: a row per engine, then zhisou's ratios to each peer."""
    quality = any("ndcg@10" in r for r in group)
    columns = [("engine", "engine", 0)]
    if quality:
        columns += [("nDCG@10", "ndcg@10", 3), ("R@100", "recall@100", 3)]
    columns += [
        ("index s", "index_s", 2),
        ("docs/s", "docs_per_s", 0),
        ("index MB", "index_mb", 1),
        ("serve RSS MB", "serve_rss_mb", 0),
        ("q/s top-10", "qps_10", 0),
        ("p50 ms", "p50_10_ms", 3),
        ("p99 ms", "p99_10_ms", 3),
        ("q/s top-1000", "qps_1000", 0),
        ("p50 ms", "p50_1000_ms", 3),
        ("p99 ms", "p99_1000_ms", 3),
    ]
    lines = [f"\n**{group[0]['dataset']}** ({group[0]['documents']:,} documents)\n"]
    lines.append("| " + " | ".join(c[0] for c in columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in group:
        if "skipped" in row or "error" in row:
            lines.append(f"| {row['engine']} | {row.get('skipped') or 'error: ' + row['error']} |")
            continue
        lines.append("| " + " | ".join(_fmt(row.get(key), digits) for _, key, digits in columns) + " |")
    zhisou = next((r for r in group if r["engine"] == "zhisou" and "qps_10" in r), None)
    if zhisou:
        ratios = []
        for row in group:
            if row["engine"] == "zhisou" or "qps_10" not in row:
                continue
            parts = [
                f"top-10 q/s ×{zhisou['qps_10'] / row['qps_10']:.2f}",
                f"top-1000 q/s ×{zhisou['qps_1000'] / row['qps_1000']:.2f}",
                f"build docs/s ×{zhisou['docs_per_s'] / row['docs_per_s']:.2f}",
                f"serve RSS ×{zhisou['serve_rss_mb'] / row['serve_rss_mb']:.2f}",
            ]
            if "ndcg@10" in zhisou and "ndcg@10" in row:
                parts.append(f"nDCG@10 {zhisou['ndcg@10'] - row['ndcg@10']:+.3f}")
            ratios.append(f"- zhisou / {row['engine']}: " + ", ".join(parts))
        lines.append("\n" + "\n".join(ratios))
    return "\n".join(lines) + "\n"


# The peers' speed depends on these as much as on their own code: bm25s's NumPy backend answered
# the synthetic-100k queries at ~90 q/s in the runs up to 2026-12-02 morning and at ~350 q/s
# after the environment was installed afresh (NumPy 2.4.6, SciPy 1.17.1), with the same bm25s
# and the same harness code. benchmarks/peers.txt pins them.
VERSIONED = ("numpy", "scipy", "numba", "bm25s", "tantivy", "rank_bm25")


def library_versions() -> str:
    """The installed versions of the libraries the engines' speed depends on."""
    from importlib import metadata

    found = []
    for name in VERSIONED:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="*", type=Path)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--synthetic",
        type=int,
        action="append",
        default=[],
        help="generate and run a synthetic corpus of N documents (repeatable)",
    )
    parser.add_argument("--synthetic-dir", type=Path, default=Path(tempfile.gettempdir()) / "zhisou-synthetic")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument(
        "--threads", type=int, default=1, help="build with this many threads (tantivy) or processes (zhisou)"
    )
    parser.add_argument("--json", type=Path, help="append the rows as JSON lines to this file")
    parser.add_argument("--markdown", type=Path, help="write the tables to this file")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if not args.worker:
        os.environ["ZHISOU_BENCH_THREADS"] = str(args.threads)  # the build workers inherit it
    if args.worker:
        role, engine, dataset, workdir, *rest = args.worker
        if role == "build":
            print(json.dumps(worker_build(engine, Path(dataset), Path(workdir))))
        else:
            print(json.dumps(worker_serve(engine, Path(dataset), Path(workdir), bool(int(rest[0])))))
        return 0

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in BUILDERS]
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {', '.join(ENGINES)}")
    datasets = list(args.datasets)
    if not datasets and not args.synthetic:
        datasets = sorted(p for p in DEFAULT_DATASETS.glob("*") if (p / "corpus.jsonl").exists())
    rows: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%d %H:%M")
    for dataset in datasets:
        if not (dataset / "corpus.jsonl").exists():
            print(f"skipped: no BEIR dataset at {dataset}", file=sys.stderr)
            continue
        rows += bench_dataset(dataset, engines, quality=True, timeout=args.timeout)
    for size in args.synthetic:
        dataset = make_synthetic(args.synthetic_dir, size)
        rows += bench_dataset(dataset, engines, quality=False, timeout=args.timeout)
    if not rows:
        print("nothing to run: no dataset found", file=sys.stderr)
        return 0
    header = (
        f"Measured {started} on {platform.node() or 'this machine'}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {library_versions()}; "
        f"`python benchmarks/harness.py {' '.join(sys.argv[1:])}`\n"
    )
    if args.json:  # first, so that the measurements survive anything that follows
        with open(args.json, "a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({"measured": started, "versions": library_versions(), **row}) + "\n")
    text = header + markdown(rows)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
