"""Training ranking models with LightGBM or XGBoost, and judging them on held-out queries.

Objectives come in three families — *pointwise* (each candidate's label regressed on its own),
*pairwise* (pairs of candidates of one query ordered) and *listwise* (a ranking metric of the
whole list optimized) — and each library names its own:

==========  ==========================  ====================================
family      LightGBM                    XGBoost
==========  ==========================  ====================================
pointwise   ``regression``, ``binary``  ``reg:squarederror``, ``binary:logistic``
pairwise    (none: use XGBoost)         ``rank:pairwise``
listwise    ``lambdarank``,             ``rank:ndcg``
            ``rank_xendcg``
==========  ==========================  ====================================

A family picks the first name of its cell. Training is seeded and single-minded about the
metric: boosting stops once nDCG@10 on the dev queries has not improved for
``EARLY_STOPPING`` rounds, and the model keeps the best round.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.eval.metrics import Qrels, evaluate
from zhisou.rank.data import RankingData
from zhisou.rank.features import FeatureMatrix
from zhisou.rank.model import RankingModel, backend_module

OBJECTIVES: dict[str, dict[str, tuple[str, ...]]] = {
    "lightgbm": {"pointwise": ("regression", "binary"), "pairwise": (), "listwise": ("lambdarank", "rank_xendcg")},
    "xgboost": {
        "pointwise": ("reg:squarederror", "binary:logistic"),
        "pairwise": ("rank:pairwise",),
        "listwise": ("rank:ndcg",),
    },
}
SEED = 42
MAX_ROUNDS = 500
EARLY_STOPPING = 50
LEARNING_RATE = 0.05
DEV_FRACTION = 0.2


def resolve_objective(backend: str, objective: str) -> str:
    """The library's objective name for ``objective`` (a family or a name of ``backend``)."""
    if backend not in OBJECTIVES:
        raise ZhisouError(f"unknown ranking backend {backend!r}; choose lightgbm or xgboost")
    families = OBJECTIVES[backend]
    if objective in families:
        names = families[objective]
        if not names:
            raise ZhisouError(f"{backend} has no {objective} objective; use --backend xgboost (rank:pairwise)")
        return names[0]
    known = [name for names in families.values() for name in names]
    if objective in known:
        return objective
    raise ZhisouError(
        f"unknown objective {objective!r} for {backend}; choose pointwise, pairwise, listwise or one of: "
        + ", ".join(known)
    )


def family_of(backend: str, objective: str) -> str:
    return next(family for family, names in OBJECTIVES[backend].items() if objective in names)


@dataclass
class Trained:
    model: RankingModel
    rounds: int
    seconds: float
    dev: dict[str, float] = field(default_factory=dict)  # nDCG@10 of the model and the first stage


def split_dev(data: RankingData, fraction: float = DEV_FRACTION, seed: int = SEED) -> tuple[RankingData, RankingData]:
    """A dev split carved from ``data`` by a fixed seed: (train, dev)."""
    if len(data) < 2:
        raise ZhisouError(f"{len(data)} training queries: at least 2 are needed to hold some out for early stopping")
    order = np.random.default_rng(seed).permutation(len(data))
    held = max(1, round(len(data) * fraction))
    return data.take(np.sort(order[held:])), data.take(np.sort(order[:held]))


def folds(count: int, k: int, seed: int = SEED) -> list[np.ndarray]:
    """``k`` disjoint sets of query positions covering ``count`` queries (fixed seed)."""
    if not 2 <= k <= count:
        raise ZhisouError(f"--folds must be between 2 and the number of queries ({count}), got {k}")
    order = np.random.default_rng(seed).permutation(count)
    return [np.sort(part) for part in np.array_split(order, k)]


def _labels_for(objective: str, labels: np.ndarray) -> np.ndarray:
    if objective in ("binary", "binary:logistic"):
        return (labels > 0).astype(np.float64)
    if objective in ("lambdarank", "rank_xendcg", "rank:pairwise", "rank:ndcg"):
        return np.rint(labels).clip(0, 30)  # integer grades: the libraries' gain tables
    return labels


def train(
    train_data: RankingData,
    dev_data: RankingData,
    *,
    backend: str = "lightgbm",
    objective: str = "listwise",
    seed: int = SEED,
    max_rounds: int = MAX_ROUNDS,
    on_round: Callable[[int, int], None] | None = None,
) -> tuple[RankingModel, int]:
    """A model fitted on ``train_data``, stopped early on ``dev_data``; returns it and its rounds
    (``on_round(done, at_most)`` after each boosting round, for a progress bar)."""
    name = resolve_objective(backend, objective)
    if not len(train_data) or not len(train_data.labels):
        raise ZhisouError("no training rows: the first stage found no candidates for any training query")
    module = backend_module(backend)
    if backend == "lightgbm":
        booster, rounds = _train_lightgbm(module, train_data, dev_data, name, seed, max_rounds, on_round)
    else:
        booster, rounds = _train_xgboost(module, train_data, dev_data, name, seed, max_rounds, on_round)
    model = RankingModel(backend, name, train_data.names, booster)
    return model, rounds


def _train_lightgbm(
    lightgbm: Any,
    train_data: RankingData,
    dev_data: RankingData,
    objective: str,
    seed: int,
    max_rounds: int,
    on_round: Callable[[int, int], None] | None,
) -> tuple[Any, int]:
    params = {
        "objective": objective,
        "metric": "ndcg",
        "eval_at": [10],
        "learning_rate": LEARNING_RATE,
        "num_leaves": 31,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.9,
        "bagging_freq": 1,
        "seed": seed,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }

    def dataset(data: RankingData, reference: Any = None) -> Any:
        return lightgbm.Dataset(
            data.values,
            label=_labels_for(objective, data.labels),
            group=data.groups,
            weight=None if data.weights is None else np.repeat(data.weights, data.groups),
            feature_name=[_safe(n) for n in data.names],
            reference=reference,
            free_raw_data=False,
        )

    train_set = dataset(train_data)
    valid_set = dataset(dev_data, train_set)
    callbacks = [lightgbm.early_stopping(EARLY_STOPPING, verbose=False)]
    if on_round is not None:
        callbacks.append(lambda env: on_round(env.iteration + 1, max_rounds))
    booster = lightgbm.train(params, train_set, max_rounds, valid_sets=[valid_set], callbacks=callbacks)
    return booster, int(booster.best_iteration or booster.current_iteration())


def _safe(name: str) -> str:
    """LightGBM refuses some characters in feature names (JSON's); ours keep letters, ``:`` and ``_``."""
    return "".join(c if c.isalnum() or c in "_" else "_" for c in name)


def _train_xgboost(
    xgboost: Any,
    train_data: RankingData,
    dev_data: RankingData,
    objective: str,
    seed: int,
    max_rounds: int,
    on_round: Callable[[int, int], None] | None,
) -> tuple[Any, int]:
    params: dict[str, Any] = {
        "objective": objective,
        "eval_metric": "ndcg@10",
        "eta": LEARNING_RATE,
        "max_depth": 6,
        "min_child_weight": 1,
        "subsample": 0.9,
        "colsample_bytree": 0.9,
        "seed": seed,
        "nthread": 2,
        "tree_method": "hist",
    }

    def matrix(data: RankingData) -> Any:
        built = xgboost.DMatrix(data.values, label=_labels_for(objective, data.labels), missing=np.nan)
        built.set_group(data.groups)
        if data.weights is not None:
            built.set_weight(data.weights)  # ranking objectives weigh queries
        return built

    callbacks = []
    if on_round is not None:

        class _Report(xgboost.callback.TrainingCallback):  # type: ignore[misc,name-defined]
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                assert on_round is not None
                on_round(epoch + 1, max_rounds)
                return False

        callbacks.append(_Report())
    booster = xgboost.train(
        params,
        matrix(train_data),
        max_rounds,
        evals=[(matrix(dev_data), "dev")],
        early_stopping_rounds=EARLY_STOPPING,
        verbose_eval=False,
        callbacks=callbacks,
    )
    best = int(getattr(booster, "best_iteration", max_rounds - 1)) + 1
    return booster[:best], best


def ndcg_at_10(data: RankingData, scores: np.ndarray, qrels: Qrels) -> float:
    """nDCG@10 of the candidates ordered by ``scores``, against every judgment of the queries
    (relevant documents the first stage missed count as missed)."""
    judged = {q: qrels[q] for q in data.query_ids if q in qrels}
    if not judged:
        return 0.0
    return evaluate(judged, data.run(scores), ("nDCG@10",))["nDCG@10"]


def score(model: RankingModel, data: RankingData) -> np.ndarray:
    return model.predict(FeatureMatrix(data.names, data.values))


def fit(
    train_data: RankingData,
    dev_data: RankingData,
    qrels: Qrels,
    *,
    backend: str,
    objective: str,
    seed: int = SEED,
    max_rounds: int = MAX_ROUNDS,
    on_round: Callable[[int, int], None] | None = None,
) -> Trained:
    """Train, and measure the model and the first stage on the dev queries."""
    started = time.perf_counter()
    model, rounds = train(
        train_data, dev_data, backend=backend, objective=objective, seed=seed, max_rounds=max_rounds, on_round=on_round
    )
    seconds = time.perf_counter() - started
    dev = {
        "nDCG@10": ndcg_at_10(dev_data, score(model, dev_data), qrels),
        "first_stage_nDCG@10": ndcg_at_10(dev_data, dev_data.first_stage_scores(), qrels),
    }
    model.meta |= {
        "rounds": rounds,
        "seed": seed,
        "family": family_of(backend, model.objective),
        "train_queries": len(train_data),
        "dev_queries": len(dev_data),
        "train_fingerprint": train_data.fingerprint(),
        "dev_fingerprint": dev_data.fingerprint(),
        "dev": dev,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return Trained(model, rounds, seconds, dev)


def guard(
    candidate: RankingModel, active: RankingModel | None, held_out: RankingData, qrels: Qrels
) -> tuple[bool, str]:
    """Whether ``candidate`` may replace ``active`` (or, with none active, the first stage):
    it must score a higher nDCG@10 on the same held-out queries. Returns the decision and a line
    saying why."""
    new = ndcg_at_10(held_out, score(candidate, held_out), qrels)
    if active is None:
        old, against = ndcg_at_10(held_out, held_out.first_stage_scores(), qrels), "the first stage"
    else:
        old, against = ndcg_at_10(held_out, score(active, held_out), qrels), active.describe()
    verdict = new > old
    word = "beats" if verdict else "does not beat"
    return verdict, f"nDCG@10 on {len(held_out)} held-out queries: {new:.4f} {word} {against} ({old:.4f})"
