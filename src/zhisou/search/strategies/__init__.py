"""Top-k strategies: one signature (``base.Strategy``), one registry, and the ``auto`` rule.

``exhaustive`` runs any plan; ``taat``, ``maxscore``, ``blockmax`` and ``bmw`` run free-text plans (words
with filters and exclusions, ranked by a saturating similarity). A strategy asked for a plan it
cannot run hands it to ``taat`` when that can, else to ``exhaustive``; all give the same scores.
"""

from __future__ import annotations

from zhisou.errors import ZhisouError
from zhisou.index.termdict import encode_keys, term_key
from zhisou.search.collectors import Collector
from zhisou.search.plan import Plan
from zhisou.search.strategies.base import Context, Strategy
from zhisou.search.strategies.blockmax import BlockMax
from zhisou.search.strategies.bmw import BlockMaxWand
from zhisou.search.strategies.exhaustive import Exhaustive
from zhisou.search.strategies.maxscore import MaxScore
from zhisou.search.strategies.taat import TermAtATime

STRATEGIES: dict[str, Strategy] = {
    s.name: s for s in (Exhaustive(), TermAtATime(), MaxScore(), BlockMax(), BlockMaxWand())
}
NAMES: tuple[str, ...] = ("auto", *STRATEGIES)


def choose(name: str, context: Context, plan: Plan, limit: int, collector: Collector | None) -> Strategy:
    """The strategy that runs ``plan`` when ``name`` is asked for."""
    if name == "auto":
        return _auto(context, plan, limit, collector)
    strategy = STRATEGIES.get(name)
    if strategy is None:
        raise ZhisouError(f"unknown strategy {name!r}; choose one of: {', '.join(NAMES)}")
    if strategy.supports(plan, collector):
        return strategy
    taat = STRATEGIES["taat"]
    return taat if taat.supports(plan, collector) else STRATEGIES["exhaustive"]


# ``auto``, as measured (benchmarks/RESULTS.md, "Choosing a strategy", and with codec 3's stored
# block bounds "Compact postings"): block-max beats term-at-a-time on a query of one term in one
# field once its postings are long — from about 40,000 postings for the top 10 (1.9× at
# 40k–100k, 2.0× at 100k–400k, 1.2× beyond, on the 1M corpus) and about 100,000 for the top
# 100 (1.3× at 100k–400k; 0.9× beyond 400k); never for the top 1,000, and on no query of
# several terms on average (term-at-a-time then wins by 1.1-2.8×; block-max WAND too). So:
# block-max for one long posting list and a shallow top-k, term-at-a-time otherwise.
BLOCKMAX_MAX_LIMIT = 100
BLOCKMAX_MIN_POSTINGS = 40_000
BLOCKMAX_POSTINGS_PER_HIT = 1_000


def _auto(context: Context, plan: Plan, limit: int, collector: Collector | None) -> Strategy:
    taat = STRATEGIES["taat"]
    if not taat.supports(plan, collector):
        return STRATEGIES["exhaustive"]
    words = plan.words
    # Cheap tests first: one term in one field, a shallow top k.
    if limit <= BLOCKMAX_MAX_LIMIT and words is not None and len(words) == 1 and _one_term(words):
        blockmax = STRATEGIES["blockmax"]
        if blockmax.supports(plan, collector):
            postings = single_term_postings(context, plan)
            if postings >= max(BLOCKMAX_MIN_POSTINGS, BLOCKMAX_POSTINGS_PER_HIT * limit):
                return blockmax
    return taat


def _one_term(words: dict[str, dict[str, float]]) -> bool:
    """Whether the first field of ``words`` holds one term (with one field: the query has one)."""
    for counts in words.values():
        return len(counts) == 1
    return False


def single_term_postings(context: Context, plan: Plan) -> int:
    """Postings of the plan's one term (deleted documents included), or 0 when the plan's words
    are several terms or fields."""
    words = plan.words
    if words is None or len(words) != 1:
        return 0
    ((name, counts),) = words.items()
    if len(counts) != 1:
        return 0
    encoded = encode_keys([term_key(name, next(iter(counts)))])
    return sum(int(segment.postings_of(encoded)[0, 1]) for segment in context.reader.segments)


__all__ = ["NAMES", "STRATEGIES", "Context", "Strategy", "choose"]
