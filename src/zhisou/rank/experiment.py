"""Learning to rank on a BEIR dataset: the candidates of its queries in the evaluation index
(the one ``zhisou eval`` builds and caches), training with a dev split, the guard, and
cross-validation for a dataset without a training split.

The model is stored in that index's folder, so ``zhisou eval --mode ltr`` on the same dataset
reranks with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.api import Index
from zhisou.errors import ZhisouError
from zhisou.eval.beir import BeirDataset
from zhisou.eval.runner import cached_index, default_cache_dir, eval_schema
from zhisou.rank.data import RankingData, collect
from zhisou.rank.model import ModelStore
from zhisou.rank.rerank import LTR_DEPTH
from zhisou.rank.train import SEED, fit, folds, guard, ndcg_at_10, score, split_dev
from zhisou.schema import DEFAULT_EMBEDDING_MODEL
from zhisou.search.similarity import BM25

BASES = ("hybrid", "bm25")


@dataclass
class TrainReport:
    dataset: str
    split: str
    backend: str
    objective: str
    base: str
    version: int
    activated: bool
    guard: str
    rounds: int
    seconds: float
    dev: dict[str, float]
    importance: dict[str, float]
    index_path: str
    folds: list[dict[str, float]] = field(default_factory=list)  # cross-validation, when asked
    cross_validated: dict[str, float] = field(default_factory=dict)


def dataset_index(
    dataset: BeirDataset,
    base: str,
    *,
    cache_dir: Path | None = None,
    model: str = DEFAULT_EMBEDDING_MODEL,
    on_progress: Callable[[int], None] | None = None,
) -> Index:
    """The evaluation index of ``dataset`` for the ``base`` first stage (with vectors for hybrid)."""
    if base not in BASES:
        raise ZhisouError(f"unknown first stage {base!r}; choose one of: {', '.join(BASES)}")
    schema = eval_schema(base, model)
    index, _ = cached_index(dataset, cache_dir or default_cache_dir(), BM25(), on_progress, schema)
    return index


def judged_data(
    index: Index,
    dataset: BeirDataset,
    base: str,
    depth: int = LTR_DEPTH,
    on_progress: Callable[[int], None] | None = None,
) -> RankingData:
    """Candidates, features and labels of every judged query of the dataset's split."""
    queries = [(query_id, dataset.queries[query_id]) for query_id in dataset.qrels]
    mode = "keyword" if base == "bm25" else base
    return collect(index.searcher(), queries, dataset.qrels, depth=depth, base=mode, on_progress=on_progress)


def train_on_dataset(
    dataset_dir: Path,
    *,
    split: str = "train",
    backend: str = "lightgbm",
    objective: str = "listwise",
    base: str = "hybrid",
    n_folds: int = 0,
    depth: int = LTR_DEPTH,
    seed: int = SEED,
    cache_dir: Path | None = None,
    model: str = DEFAULT_EMBEDDING_MODEL,
    on_queries: Callable[[int, int], None] | None = None,
    on_round: Callable[[int, int], None] | None = None,
) -> TrainReport:
    """Train on the split's judgments (dev: ``qrels/dev.tsv`` when it exists, else carved from
    the split), store the model, and activate it when it beats the active one on the dev
    queries. With ``n_folds``, cross-validated figures of the same recipe come too."""
    dataset = BeirDataset.load(dataset_dir, split)
    index = dataset_index(dataset, base, cache_dir=cache_dir, model=model)
    total = len(dataset.qrels)
    data = judged_data(index, dataset, base, depth, (lambda done: on_queries(done, total)) if on_queries else None)
    qrels: dict[str, dict[str, int]] = dict(dataset.qrels)
    dev_split = Path(dataset_dir) / "qrels" / "dev.tsv"
    if dev_split.exists() and split != "dev":
        dev_set = BeirDataset.load(dataset_dir, "dev")
        dev_data = judged_data(index, dev_set, base, depth)
        qrels |= dev_set.qrels
        train_data = data
    else:
        train_data, dev_data = split_dev(data, seed=seed)
    trained = fit(train_data, dev_data, qrels, backend=backend, objective=objective, seed=seed, on_round=on_round)
    trained.model.meta |= {"base": "keyword" if base == "bm25" else base, "dataset": dataset.name, "split": split}
    store = ModelStore(index.directory)
    active = store.load_active()
    verdict, reason = guard(trained.model, active, dev_data, qrels)
    version = store.save(trained.model)
    if verdict:
        store.activate(version)
    report = TrainReport(
        dataset=dataset.name,
        split=split,
        backend=backend,
        objective=trained.model.objective,
        base=base,
        version=version,
        activated=verdict,
        guard=reason,
        rounds=trained.rounds,
        seconds=trained.seconds,
        dev=trained.dev,
        importance=trained.model.importance(),
        index_path=str(index.directory),
    )
    if n_folds:
        report.folds, report.cross_validated = cross_validate(
            data, qrels, n_folds, backend=backend, objective=objective, seed=seed
        )
    return report


def cross_validated_scores(
    data: RankingData, qrels: dict[str, dict[str, int]], k: int, *, backend: str, objective: str, seed: int = SEED
) -> tuple[np.ndarray, list[dict[str, float]]]:
    """``k``-fold scores: every row scored by a model trained on the other folds (their own dev
    queries carved out for early stopping); and per fold, nDCG@10 of the model and of the first
    stage."""
    parts = folds(len(data), k, seed)
    scores = np.zeros(len(data.labels))
    offsets = data.offsets
    per_fold = []
    for number, held in enumerate(parts):
        rest = np.sort(np.concatenate([p for i, p in enumerate(parts) if i != number]))
        train_part, dev_part = split_dev(data.take(rest), seed=seed)
        test_part = data.take(held)
        trained = fit(train_part, dev_part, qrels, backend=backend, objective=objective, seed=seed)
        fold_scores = score(trained.model, test_part)
        per_fold.append(
            {
                "nDCG@10": ndcg_at_10(test_part, fold_scores, qrels),
                "first_stage_nDCG@10": ndcg_at_10(test_part, test_part.first_stage_scores(), qrels),
            }
        )
        position = 0
        for query in held.tolist():
            size = int(offsets[query + 1] - offsets[query])
            scores[offsets[query] : offsets[query + 1]] = fold_scores[position : position + size]
            position += size
    return scores, per_fold


def cross_validate(
    data: RankingData, qrels: dict[str, dict[str, int]], k: int, *, backend: str, objective: str, seed: int = SEED
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """``k``-fold figures (``cross_validated_scores``): per fold and over all queries, nDCG@10 of
    the model and of the first stage."""
    scores, per_fold = cross_validated_scores(data, qrels, k, backend=backend, objective=objective, seed=seed)
    overall = {
        "nDCG@10": ndcg_at_10(data, scores, qrels),
        "first_stage_nDCG@10": ndcg_at_10(data, data.first_stage_scores(), qrels),
    }
    return per_fold, overall


def cross_validated_run(
    index: Index,
    dataset: BeirDataset,
    base: str,
    size: int,
    k: int,
    *,
    backend: str = "lightgbm",
    objective: str = "listwise",
    seed: int = SEED,
) -> dict[str, dict[str, float]]:
    """What ``mode=ltr`` would return for every judged query of the split, each query's head
    reordered by a model that never saw it (``k`` folds): the first stage's top ``LTR_DEPTH`` in
    the fold model's order, then the rest of its ``size`` hits in their own order — the same
    list ``eval --mode ltr`` measures, for a split no model could be trained apart from."""
    from zhisou.rank.rerank import model_order

    data = judged_data(index, dataset, base)
    scores, _ = cross_validated_scores(data, dict(dataset.qrels), k, backend=backend, objective=objective, seed=seed)
    searcher = index.searcher()
    mode = "keyword" if base == "bm25" else base
    offsets = data.offsets
    run: dict[str, dict[str, float]] = {}
    for number, query_id in enumerate(data.query_ids):
        begin, end = int(offsets[number]), int(offsets[number + 1])
        head = [data.doc_ids[begin + i] for i in model_order(scores[begin:end]).tolist()]
        first_stage = searcher.search(dataset.queries[query_id], size=size, mode=mode, plain=True, with_docs=False)
        seen = set(head)
        ranked = head + [doc_id for doc_id in first_stage.ids if doc_id not in seen]
        run[query_id] = {doc_id: float(len(ranked) - rank) for rank, doc_id in enumerate(ranked[:size])}
    return run


def report_dict(report: TrainReport) -> dict[str, Any]:
    return asdict(report)
