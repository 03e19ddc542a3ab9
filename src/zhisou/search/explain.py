"""Explanations: where each hit of a page got its place, per recall channel.

With ``explain=True`` every hit carries ``{"score", "channels", "fusion"}``: for each channel
that ran (``bm25``, ``semantic``), the hit's 1-based rank and score in that channel's own list,
or None when the channel did not return it; and, when several lists were fused, how (the
fuser's ``describe()``), so the final score can be recomputed by hand from the channel ranks
or scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zhisou.search.topk import TopDocs

if TYPE_CHECKING:
    from zhisou.search.stages import Fuser


def explain_page(
    docs: Sequence[int], scores: Sequence[float], channels: Sequence[tuple[str, TopDocs]], fuser: Fuser | None
) -> list[dict[str, Any]]:
    """One explanation per page entry (``docs`` with their final ``scores``)."""
    ranks = [(name, {doc: rank for rank, doc in enumerate(top.docs.tolist())}, top.scores) for name, top in channels]
    fusion = fuser.describe() if fuser is not None and len(channels) > 1 else None
    out = []
    for doc, score in zip(docs, scores):
        per_channel: dict[str, dict[str, float] | None] = {}
        for name, rank_of, channel_scores in ranks:
            rank = rank_of.get(int(doc))
            per_channel[name] = None if rank is None else {"rank": rank + 1, "score": float(channel_scores[rank])}
        out.append({"score": float(score), "channels": per_channel, "fusion": fusion})
    return out
