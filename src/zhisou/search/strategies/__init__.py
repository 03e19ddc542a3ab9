"""Top-k strategies: one signature (``base.Strategy``), one registry, and the ``auto`` rule.

``exhaustive`` runs any plan; ``taat``, ``maxscore`` and ``blockmax`` run free-text plans (words
with filters and exclusions, ranked by a saturating similarity). A strategy asked for a plan it
cannot run hands it to ``taat`` when that can, else to ``exhaustive``; all give the same scores.
"""

from __future__ import annotations

from zhisou.errors import ZhisouError
from zhisou.search.collectors import Collector
from zhisou.search.plan import Plan
from zhisou.search.strategies.base import Context, Strategy
from zhisou.search.strategies.blockmax import BlockMax
from zhisou.search.strategies.exhaustive import Exhaustive
from zhisou.search.strategies.maxscore import MaxScore
from zhisou.search.strategies.taat import TermAtATime

STRATEGIES: dict[str, Strategy] = {s.name: s for s in (Exhaustive(), TermAtATime(), MaxScore(), BlockMax())}
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


def _auto(context: Context, plan: Plan, limit: int, collector: Collector | None) -> Strategy:
    taat = STRATEGIES["taat"]
    return taat if taat.supports(plan, collector) else STRATEGIES["exhaustive"]


__all__ = ["NAMES", "STRATEGIES", "Context", "Strategy", "choose"]
