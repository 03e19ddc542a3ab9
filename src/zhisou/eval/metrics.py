"""IR metrics from pytrec_eval (the trec_eval reference implementation), not hand-written."""

from __future__ import annotations

from typing import Any

from zhisou.errors import ZhisouError

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]

# Reported name → (trec_eval measure, key in its output, depth to cut the run at first).
METRICS: dict[str, tuple[str, str, int | None]] = {
    "nDCG@10": ("ndcg_cut.10", "ndcg_cut_10", None),
    "Recall@100": ("recall.100", "recall_100", None),
    "Recall@1000": ("recall.1000", "recall_1000", None),
    "MRR@10": ("recip_rank", "recip_rank", 10),
    "MAP": ("map", "map", None),
}


def _pytrec_eval() -> Any:
    try:
        import pytrec_eval
    except ImportError as exc:
        raise ZhisouError("evaluation needs pytrec_eval: pip install 'zhisou[eval]'") from exc
    return pytrec_eval


def _cut(run: Run, depth: int) -> Run:
    return {q: dict(sorted(docs.items(), key=lambda item: (-item[1], item[0]))[:depth]) for q, docs in run.items()}


def evaluate(qrels: Qrels, run: Run, metrics: tuple[str, ...] = tuple(METRICS)) -> dict[str, float]:
    """Mean of each metric over the judged queries (a query with no results scores 0)."""
    pytrec_eval = _pytrec_eval()
    judged = {q: rels for q, rels in qrels.items() if any(score > 0 for score in rels.values())}
    if not judged:
        raise ZhisouError("no query has a positive relevance judgement; nothing to evaluate")
    full_run = {q: run.get(q) or {} for q in judged}
    results: dict[str, float] = {}
    for name in metrics:
        measure, key, depth = METRICS[name]
        scored = _cut(full_run, depth) if depth else full_run
        evaluator = pytrec_eval.RelevanceEvaluator(judged, {measure})
        per_query = evaluator.evaluate({q: docs for q, docs in scored.items() if docs})
        results[name] = sum(per_query.get(q, {}).get(key, 0.0) for q in judged) / len(judged)
    return results
