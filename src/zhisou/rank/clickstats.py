"""Click statistics as ranking features: how often a document is clicked when looked at, overall
and for one query, from the search log.

Counts are of *examinations*, not impressions: an impression at rank k counts θ(k) looks (the
click model's examination propensity), so a document shown low is not marked down for being
shown where few look. Rates are smoothed towards the log's overall rate by ``PRIOR_LOOKS`` looks,
so one click in one look is not a rate of 1.

Statistics must come from sessions *older* than the ones a model learns its labels from — the
same clicks on both sides would make the feature the label (a model trained so once ranked
scifact's test set at nDCG@10 0.02). ``fromlogs.py`` splits the training sessions by time; a
model keeps the statistics of every session it was trained from (``clicks.json`` beside it) and
reads them at search time. A model trained on judgments has none: the columns are missing (NaN).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zhisou.errors import CorruptIndexError
from zhisou.rank.clickmodel import PositionBasedModel
from zhisou.rank.clicks import Session, normalize_query

CLICK_FEATURES = ("click:doc", "click:query_doc", "click:query_doc_looks")
PRIOR_LOOKS = 5.0
FILE = "clicks.json"


@dataclass(frozen=True)
class ClickStats:
    docs: dict[str, tuple[float, float]]  # doc id → (clicks, looks)
    pairs: dict[tuple[str, str], tuple[float, float]]  # (normalized query, doc id) → (clicks, looks)
    rate: float  # clicks / looks over the whole log: what a rate is smoothed towards

    @classmethod
    def from_sessions(cls, sessions: Sequence[Session], model: PositionBasedModel) -> ClickStats:
        docs: dict[str, list[float]] = {}
        pairs: dict[tuple[str, str], list[float]] = {}
        for session in sessions:
            query = normalize_query(session.query)
            for offset, doc_id in enumerate(session.shown):
                looked = model.propensity(session.first_rank + offset)
                clicked = 1.0 if doc_id in session.clicks else 0.0
                for counts in (docs.setdefault(doc_id, [0.0, 0.0]), pairs.setdefault((query, doc_id), [0.0, 0.0])):
                    counts[0] += clicked
                    counts[1] += looked
        clicks = sum(c for c, _ in docs.values())
        looks = sum(looked for _, looked in docs.values())
        return cls(
            {k: (c, looked) for k, (c, looked) in docs.items()},
            {k: (c, looked) for k, (c, looked) in pairs.items()},
            clicks / looks if looks else 0.0,
        )

    def _smoothed(self, counts: tuple[float, float] | None) -> float:
        if counts is None:
            return math.nan
        clicks, looks = counts
        return (clicks + PRIOR_LOOKS * self.rate) / (looks + PRIOR_LOOKS)

    def columns(self, query: str, doc_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The click features of ``doc_ids`` for ``query``: NaN where the log never showed one."""
        key = normalize_query(query)
        doc = [self._smoothed(self.docs.get(d)) for d in doc_ids]
        pair = [self.pairs.get((key, d)) for d in doc_ids]
        return {
            "click:doc": np.array(doc, dtype=np.float64),
            "click:query_doc": np.array([self._smoothed(p) for p in pair], dtype=np.float64),
            "click:query_doc_looks": np.array([0.0 if p is None else p[1] for p in pair], dtype=np.float64),
        }

    def save(self, folder: Path) -> Path:
        path = folder / FILE
        payload = {
            "rate": self.rate,
            "docs": {d: [c, looked] for d, (c, looked) in self.docs.items()},
            "pairs": [[q, d, c, looked] for (q, d), (c, looked) in self.pairs.items()],
        }
        path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> ClickStats | None:
        """The statistics stored in a model's folder (None: the model was trained without)."""
        path = folder / FILE
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                {str(d): (float(c), float(looked)) for d, (c, looked) in data["docs"].items()},
                {(str(q), str(d)): (float(c), float(looked)) for q, d, c, looked in data["pairs"]},
                float(data["rate"]),
            )
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
            raise CorruptIndexError(f"{path}: not click statistics ({error}); train the model again") from None
