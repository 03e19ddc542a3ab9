"""The position-based click model (PBM), fitted by expectation-maximization.

A click on the document at rank k for query q happens when the user examines rank k (with a
probability θ_k that depends on the rank only) and finds the document attractive (γ_qd, the
pair's relevance as users judge it): P(click) = θ_k · γ_qd. EM alternates between the posterior
of "examined" and "attractive" for every impression without a click and the maximum-likelihood
θ and γ (Chuklin, Markov and de Rijke, *Click Models for Web Search*, 2015, §4). θ are the
examination propensities that correct position bias; ``relevance_posterior`` weighs each pair's
clicks against them — and against how rare relevant documents are where it was shown — to say
how likely it is to be relevant, which training reads as its label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zhisou.rank.clicks import Session, normalize_query

ITERATIONS = 500  # converged to 3 decimals on 10k simulated sessions (100 was still 0.015 off)
PRIOR = 0.5  # the starting value of every θ and γ


@dataclass(frozen=True)
class PositionBasedModel:
    examination: np.ndarray  # θ by rank (index 0 is rank 1), normalized so that θ at rank 1 is 1
    attractiveness: dict[tuple[str, str], float]  # γ of (normalized query, doc id) pairs seen
    impressions: dict[tuple[str, str], int]

    def propensity(self, rank: int) -> float:
        """θ at a 1-based rank (the deepest known beyond the deepest rank seen)."""
        return float(self.examination[min(rank, len(self.examination)) - 1])


def fit_pbm(sessions: Sequence[Session], max_rank: int = 20, iterations: int = ITERATIONS) -> PositionBasedModel:
    """θ and γ from the impressions of ``sessions`` (ranks past ``max_rank`` are left out)."""
    pairs: dict[tuple[str, str], int] = {}
    ranks, pair_of, clicked = [], [], []
    for session in sessions:
        query = normalize_query(session.query)
        for offset, doc_id in enumerate(session.shown):
            rank = session.first_rank + offset
            if rank > max_rank:
                break
            ranks.append(rank - 1)
            pair_of.append(pairs.setdefault((query, doc_id), len(pairs)))
            clicked.append(doc_id in session.clicks)
    if not ranks:
        return PositionBasedModel(np.ones(1), {}, {})
    rank_index = np.array(ranks, dtype=np.int64)
    pair_index = np.array(pair_of, dtype=np.int64)
    click = np.array(clicked, dtype=np.float64)
    n_ranks = int(rank_index.max()) + 1
    theta = np.full(n_ranks, PRIOR)
    gamma = np.full(len(pairs), PRIOR)
    per_rank = np.maximum(np.bincount(rank_index, minlength=n_ranks), 1)
    per_pair = np.bincount(pair_index, minlength=len(pairs))
    for _ in range(iterations):
        t, g = theta[rank_index], gamma[pair_index]
        unclicked = np.maximum(1.0 - t * g, 1e-12)
        examined = click + (1 - click) * t * (1 - g) / unclicked
        attractive = click + (1 - click) * (1 - t) * g / unclicked
        theta = np.bincount(rank_index, examined, minlength=n_ranks) / per_rank
        gamma = np.bincount(pair_index, attractive, minlength=len(pairs)) / per_pair
    theta = np.clip(theta / max(theta[0], 1e-12), 1e-6, 1.0)
    keys = list(pairs)
    return PositionBasedModel(theta, dict(zip(keys, gamma.tolist())), dict(zip(keys, per_pair.tolist())))


GRID = np.linspace(0.005, 0.995, 199)  # the attractiveness values the two classes may take
MIXTURE_ITERATIONS = 50


def relevance_posterior(sessions: Sequence[Session], model: PositionBasedModel) -> dict[tuple[str, str], float]:
    """Each (query, doc) pair's probability of being relevant, from its clicks and the ranks it
    was shown at, under a two-class mixture: a relevant document is clicked with probability
    θ(rank) · a₁ and another one with θ(rank) · a₀, and a pair is relevant a priori with a
    share π of its page (documents further down are relevant less often). a₀, a₁ and π are
    fitted by EM; θ comes from ``model``.

    Why not the inverse-propensity rate (clicks ÷ θ over impressions, thresholded at ½): a
    document of page 2 is shown to the few users who go there — eight impressions a query in a
    hundred searches — and a non-relevant one clicked twice in those reads as relevant, while
    relevant documents there are rare (under 1 % on scifact): on simulated scifact clicks the
    rate labelled 115 such documents relevant against 52 truly relevant ones; the posterior 5
    against 43 (and on page 1, 4 wrong in 8,090 either way)."""
    pairs: dict[tuple[str, str], int] = {}
    pair_of, rank_of, clicked, page_of = [], [], [], []
    deepest = len(model.examination)
    for session in sessions:
        query = normalize_query(session.query)
        for offset, doc_id in enumerate(session.shown):
            pair_of.append(pairs.setdefault((query, doc_id), len(pairs)))
            rank_of.append(min(session.first_rank + offset, deepest) - 1)
            clicked.append(doc_id in session.clicks)
            page_of.append(session.first_rank)
    if not pairs:
        return {}
    pair_index, rank_index = np.array(pair_of, dtype=np.int64), np.array(rank_of, dtype=np.int64)
    click = np.array(clicked, dtype=np.float64)
    # log P(a pair's clicks | attractiveness a), up to a term without a, for every a of the grid:
    # clicks · log a + Σ over its unclicked impressions of log(1 − θ(rank) · a)
    unclicked = np.zeros((len(pairs), deepest))
    np.add.at(unclicked, (pair_index, rank_index), 1.0 - click)
    clicks = np.bincount(pair_index, click, len(pairs))
    misses = np.log(np.maximum(1.0 - model.examination[:, None] * GRID[None, :], 1e-12))
    loglik = clicks[:, None] * np.log(GRID)[None, :] + unclicked @ misses
    first_page = np.full(len(pairs), np.iinfo(np.int64).max)
    np.minimum.at(first_page, pair_index, np.array(page_of, dtype=np.int64))
    _, page = np.unique(first_page, return_inverse=True)
    prior = np.full(int(page.max()) + 1, 0.1)
    high, low = int(np.searchsorted(GRID, 0.8)), int(np.searchsorted(GRID, 0.1))
    for _ in range(MIXTURE_ITERATIONS):
        odds = np.log(prior[page]) - np.log1p(-prior[page]) + loglik[:, high] - loglik[:, low]
        relevant = 1.0 / (1.0 + np.exp(-np.clip(odds, -50, 50)))
        prior = np.clip(np.bincount(page, relevant) / np.bincount(page), 1e-4, 1 - 1e-4)
        high = int(np.argmax(relevant @ loglik))
        low = int(np.argmax((1 - relevant) @ loglik[:, : max(high, 1)]))  # a₀ below a₁
    return dict(zip(pairs, relevant.tolist()))


def naive_ctr(sessions: Sequence[Session]) -> dict[tuple[str, str], float]:
    """Clicks / impressions of every (query, doc) pair: relevance as clicks show it, position
    bias and all (what training without correction reads)."""
    shown: dict[tuple[str, str], int] = {}
    hits: dict[tuple[str, str], int] = {}
    for session in sessions:
        query = normalize_query(session.query)
        for doc_id in session.shown:
            shown[(query, doc_id)] = shown.get((query, doc_id), 0) + 1
        for doc_id in session.clicks:
            hits[(query, doc_id)] = hits.get((query, doc_id), 0) + 1
    return {pair: hits.get(pair, 0) / count for pair, count in shown.items()}
