"""Learning to rank on BEIR datasets: every objective and backend side by side, in one run.

    python benchmarks/ltr.py ../shared/datasets/scifact ../shared/datasets/cmrc2018 \\
        ../shared/datasets/dureader-robust [--base hybrid] [--json out.jsonl]

A dataset with a ``train`` split is trained on it (dev queries carved from it by the fixed
seed) and measured on ``test``; one without is measured by 5-fold cross-validation over
``test`` (each fold scored by a model trained on the other four). The first stage's top 100
(hybrid, or bm25 with ``--base bm25``) are the candidates; nDCG@10 counts every judgment, so
relevant documents the first stage missed count as missed — the same figure ``zhisou eval``
gives. Also measured: the reranking cost (features + model on the 100 candidates, median over
the test queries) and the training time. Datasets that are not there are skipped.

``--clicks``: the click experiment instead — clicks simulated from the train split's judgments
(``rank/simulate.py``: η = 1, 10 % noise, a share ``--randomize`` of pages shuffled) on the
first stage's top ``--pages`` × 10 (pages of 10; a later page reached as often as its first rank
is examined), a ranker trained from them with the click model's correction and without
it, against one trained on the judgments (means over ``--repeats`` draws); "gain recovered" is
its nDCG@10 gain over the first stage as a share of the judgment-trained one's.

``--scale N``: the training time on N queries × 100 candidates (a split's lists drawn with
replacement, features jittered) for LightGBM lambdarank and XGBoost rank:ndcg.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

CONFIGS = [
    ("lightgbm", "regression"),
    ("lightgbm", "lambdarank"),
    ("lightgbm", "rank_xendcg"),
    ("xgboost", "reg:squarederror"),
    ("xgboost", "rank:pairwise"),
    ("xgboost", "rank:ndcg"),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def candidates(directory: Path, split: str, base: str):  # type: ignore[no-untyped-def]
    from zhisou.eval.beir import BeirDataset
    from zhisou.rank.experiment import dataset_index, judged_data

    dataset = BeirDataset.load(directory, split)
    index = dataset_index(dataset, base)
    started = time.perf_counter()
    data = judged_data(index, dataset, base)
    seconds = time.perf_counter() - started
    log(f"  {dataset.name} {split}: {len(data)} queries, {len(data.labels):,} rows in {seconds:.0f}s")
    return index, dataset, data


def rerank_cost(index, dataset, model, base: str) -> float:  # type: ignore[no-untyped-def]
    """Median milliseconds of the reranking stage alone over the dataset's queries."""
    from zhisou.rank.features import extract
    from zhisou.search.request import SearchRequest

    searcher = index.searcher()
    mode = "keyword" if base == "bm25" else base
    times = []
    for query_id in list(dataset.qrels)[:300]:
        request = SearchRequest(dataset.queries[query_id], size=100, mode=mode, plain=True, with_docs=False)
        top, channels = searcher.candidates(request, 100)
        began = time.perf_counter()
        model.predict(extract(searcher, request, top.docs, channels))
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def run_dataset(directory: Path, base: str) -> list[dict[str, object]]:
    from zhisou.rank.experiment import cross_validate
    from zhisou.rank.train import fit, ndcg_at_10, score, split_dev

    rows: list[dict[str, object]] = []
    has_train = (directory / "qrels" / "train.tsv").exists()
    if has_train:
        _, train_set, train_data = candidates(directory, "train", base)
        index, test_set, test_data = candidates(directory, "test", base)
        qrels = {**train_set.qrels, **test_set.qrels}
        first = ndcg_at_10(test_data, test_data.first_stage_scores(), test_set.qrels)
        learn, dev = split_dev(train_data)
        for backend, objective in CONFIGS:
            trained = fit(learn, dev, qrels, backend=backend, objective=objective)
            ndcg = ndcg_at_10(test_data, score(trained.model, test_data), test_set.qrels)
            cost = (
                rerank_cost(index, test_set, trained.model, base) if objective in ("lambdarank", "rank:ndcg") else None
            )
            rows.append(
                {
                    "dataset": directory.name,
                    "protocol": "train → test",
                    "backend": backend,
                    "objective": objective,
                    "first_stage": first,
                    "ltr": ndcg,
                    "gain": ndcg / first - 1,
                    "rounds": trained.rounds,
                    "train_s": trained.seconds,
                    "rerank_ms_p50": cost,
                }
            )
            log(f"  {backend} {objective}: {ndcg:.4f} vs {first:.4f} ({ndcg / first - 1:+.1%})")
    else:
        index, test_set, test_data = candidates(directory, "test", base)
        for backend, objective in CONFIGS:
            started = time.perf_counter()
            _, overall = cross_validate(test_data, test_set.qrels, 5, backend=backend, objective=objective)
            first, ndcg = overall["first_stage_nDCG@10"], overall["nDCG@10"]
            rows.append(
                {
                    "dataset": directory.name,
                    "protocol": "5-fold",
                    "backend": backend,
                    "objective": objective,
                    "first_stage": first,
                    "ltr": ndcg,
                    "gain": ndcg / first - 1,
                    "rounds": None,
                    "train_s": (time.perf_counter() - started) / 5,
                    "rerank_ms_p50": None,
                }
            )
            log(f"  {backend} {objective}: {ndcg:.4f} vs {first:.4f} ({ndcg / first - 1:+.1%})")
    return rows


def clicks_experiment(
    directory: Path, base: str, sessions_per_query: int, randomize: float, repeats: int, pages: int
) -> list[dict[str, object]]:
    """Train on clicks simulated from the train split's judgments (η = 1, 10 % noise) over the
    first stage's top ``pages`` × 10 (pages of 10, a later page reached as often as its first
    rank is examined), with and without the click model's correction, on the judgments
    themselves and on the judgments of those ranks only; all measured on the test split's
    judgments. Each of ``repeats`` repetitions draws its own clicks and its own dev split and
    learner seed: single LightGBM runs differ by ±0.01 nDCG@10 on scifact (four labels changed
    out of 8,090 moved one run by 0.02), a third of the gain measured, so means are reported."""
    import tempfile

    from zhisou.rank.clicks import read_sessions
    from zhisou.rank.fromlogs import click_labels, session_data
    from zhisou.rank.simulate import ClickSimulator
    from zhisou.rank.train import fit, ndcg_at_10, score, split_dev

    if not (directory / "qrels" / "train.tsv").exists():
        log(f"  {directory.name}: no train split, no click experiment")
        return []
    index, train_set, train_data = candidates(directory, "train", base)
    _, test_set, test_data = candidates(directory, "test", base)
    first = ndcg_at_10(test_data, test_data.first_stage_scores(), test_set.qrels)
    offsets = train_data.offsets
    shown = [
        (train_set.queries[q], train_data.doc_ids[int(offsets[n]) : int(offsets[n]) + 10 * pages])
        for n, q in enumerate(train_data.query_ids)
    ]
    seen = {
        q: {d: g for d, g in train_set.qrels.get(q, {}).items() if d in set(page)}
        for q, (_, page) in zip(train_data.query_ids, shown)
    }
    mode = "keyword" if base == "bm25" else base

    def trained_ndcg(data, labels, seed: int) -> float:  # type: ignore[no-untyped-def]
        part, held = split_dev(data, seed=seed)
        trained = fit(part, held, labels, backend="lightgbm", objective="lambdarank", seed=seed)
        return ndcg_at_10(test_data, score(trained.model, test_data), test_set.qrels)

    results: dict[str, list[float]] = {}
    propensities: list[float] = []
    session_rows = None
    for repeat in range(repeats):
        seed = 42 + repeat
        results.setdefault("judgments", []).append(trained_ndcg(train_data, dict(train_set.qrels), seed))
        results.setdefault(f"judgments, top {10 * pages} only", []).append(
            trained_ndcg(train_data.relabel(seen), seen, seed)
        )
        with tempfile.TemporaryDirectory() as temporary:
            logs = Path(temporary) / "logs"
            simulator = ClickSimulator(eta=1.0, noise=0.1, randomize=randomize, seed=seed)
            clicks = simulator.simulate(
                shown, train_set.qrels, logs, sessions_per_query, query_ids=train_data.query_ids
            )
            sessions = read_sessions(logs).sessions
        for debias in (True, False):
            labels, pbm = click_labels(sessions, debias)
            if session_rows is None:  # the same queries every time: candidates and features once
                session_rows = session_data(index, sessions, {}, mode, 100)
            if debias:
                propensities = [round(float(p), 3) for p in pbm.examination[:10]]
            name = "clicks, click model (PBM)" if debias else "clicks, raw CTR"
            results.setdefault(name, []).append(trained_ndcg(session_rows.relabel(labels), labels, seed))
        log(
            f"  repeat {repeat + 1}/{repeats}: {len(sessions):,} sessions, {clicks:,} clicks; "
            + ", ".join(f"{name} {values[-1]:.4f}" for name, values in results.items())
        )
    judged = statistics.mean(results["judgments"])
    rows = []
    for name, values in results.items():
        mean = statistics.mean(values)
        rows.append(
            {
                "dataset": directory.name,
                "labels": name,
                "first_stage": first,
                "judgments": judged,
                "ltr": mean,
                "ltr_sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                "runs": [round(v, 4) for v in values],
                "gain_recovered": (mean - first) / (judged - first) if judged != first else float("nan"),
                "propensities": propensities,
                "sessions_per_query": sessions_per_query,
                "randomize": randomize,
                "pages": pages,
            }
        )
    return rows


def training_scale(directory: Path, base: str, queries: int) -> list[dict[str, object]]:
    """Training time on ``queries`` queries × 100 candidates: the train split's (or test
    split's) candidate lists drawn with replacement to that count, every feature jittered by
    ±5 % so no two copies are equal, labels kept; the learner runs its full course (early
    stopping on a fifth of the queries, as ``zhisou ltr train`` does)."""
    import numpy as np

    from zhisou.rank.data import RankingData
    from zhisou.rank.train import fit, split_dev

    split = "train" if (directory / "qrels" / "train.tsv").exists() else "test"
    _, dataset, data = candidates(directory, split, base)
    rng = np.random.default_rng(42)
    picks = rng.integers(0, len(data), queries)
    grown = data.take(picks)
    values = grown.values * rng.uniform(0.95, 1.05, grown.values.shape)
    ids = [f"{query_id}#{copy}" for copy, query_id in enumerate(grown.query_ids)]
    grown = RankingData(grown.names, values, grown.labels, grown.groups, ids, grown.doc_ids)
    qrels = {new: dataset.qrels.get(data.query_ids[int(old)], {}) for new, old in zip(ids, picks.tolist())}
    learn, dev = split_dev(grown)
    rows = []
    for backend, objective in (("lightgbm", "lambdarank"), ("xgboost", "rank:ndcg")):
        trained = fit(learn, dev, qrels, backend=backend, objective=objective)
        rows.append(
            {
                "dataset": directory.name,
                "queries": queries,
                "rows": len(grown.labels),
                "backend": backend,
                "objective": objective,
                "rounds": trained.rounds,
                "train_s": trained.seconds,
            }
        )
        log(f"  {backend} {objective}: {trained.rounds} rounds in {trained.seconds:.0f}s")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--base", default="hybrid", choices=("hybrid", "bm25"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--clicks", action="store_true", help="the click experiment instead of the objectives")
    parser.add_argument("--sessions-per-query", type=int, default=20)
    parser.add_argument("--randomize", type=float, default=0.1, help="share of simulated sessions shuffled")
    parser.add_argument("--repeats", type=int, default=5, help="click experiment: repetitions averaged")
    parser.add_argument("--pages", type=int, default=2, help="click experiment: pages of 10 users can reach")
    parser.add_argument("--scale", type=int, default=0, help="time training on this many queries × 100 instead")
    args = parser.parse_args()
    try:
        import lightgbm  # noqa: F401
        import xgboost  # noqa: F401
    except ImportError:
        log("skipped: learning to rank needs the rank extra (pip install 'zhisou[rank]')")
        return
    rows: list[dict[str, object]] = []
    if args.scale:
        for directory in args.datasets:
            if (directory / "queries.jsonl").exists():
                log(f"{directory.name}: training on {args.scale:,} queries × 100 candidates")
                rows += training_scale(directory, args.base, args.scale)
        print("| dataset | queries | rows | backend | objective | rounds | train s |")
        print("|---|---:|---:|---|---|---:|---:|")
        for row in rows:
            print(
                f"| {row['dataset']} | {row['queries']:,} | {row['rows']:,} | {row['backend']} | "
                f"{row['objective']} | {row['rounds']} | {row['train_s']:.0f} |"
            )
        return
    if args.clicks:
        for directory in args.datasets:
            if (directory / "queries.jsonl").exists():
                log(f"{directory.name}: clicks ({args.base} first stage)")
                rows += clicks_experiment(
                    directory, args.base, args.sessions_per_query, args.randomize, args.repeats, args.pages
                )
        print("| dataset | trained on | first stage | nDCG@10 (mean ± sd) | gain recovered |")
        print("|---|---|---:|---:|---:|")
        for row in rows:
            print(
                f"| {row['dataset']} | {row['labels']} | {row['first_stage']:.4f} | "
                f"{row['ltr']:.4f} ± {row['ltr_sd']:.4f} | {row['gain_recovered']:.0%} |"
            )
        if args.json:
            with open(args.json, "a", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps({**row, "base": args.base}) + "\n")
        return
    for directory in args.datasets:
        if not (directory / "queries.jsonl").exists():
            log(f"skipped {directory}: not a BEIR dataset here")
            continue
        log(f"{directory.name} ({args.base} first stage)")
        rows += run_dataset(directory, args.base)
    print("| dataset | protocol | backend | objective | first stage | ltr | gain | rerank ms p50 | train s |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        cost = row["rerank_ms_p50"]
        print(
            f"| {row['dataset']} | {row['protocol']} | {row['backend']} | {row['objective']} | "
            f"{row['first_stage']:.4f} | {row['ltr']:.4f} | {row['gain']:+.1%} | "
            f"{'' if cost is None else f'{cost:.1f}'} | {row['train_s']:.1f} |"
        )
    if args.json:
        with open(args.json, "a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({**row, "base": args.base, "seed": 42}) + "\n")


if __name__ == "__main__":
    main()
