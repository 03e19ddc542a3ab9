"""What a search returns: typed hits and a page of results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Hit:
    """One matching document: its id, score, stored fields and highlighted snippets (HTML)."""

    id: str
    score: float
    rank: int
    doc: dict[str, Any]
    highlights: dict[str, str] = field(default_factory=dict)
    explain: dict[str, Any] | None = None  # asked for with ``explain=True``: see ``search/explain.py``

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.explain is None:
            del out["explain"]
        return out


@dataclass
class SearchResult:
    """A page of results. ``ids`` and ``scores`` are the page in rank order; ``hits`` holds the
    same documents as ``Hit`` objects (built on first access when stored fields were not asked for)."""

    query: str
    total: int
    page: int
    size: int
    took_ms: float
    ids: list[str]
    scores: list[float]
    _hits: list[Hit] | None = field(default=None, repr=False)
    total_exact: bool = True  # False: ``total`` is a lower bound (pruned search past 10,000 matches)
    # Value counts of the fields asked for with ``search(facets=...)``, over every match.
    facets: dict[str, list[Any]] = field(default_factory=dict)
    explanations: list[dict[str, Any]] | None = field(default=None, repr=False)  # per hit, with ``explain``

    @property
    def hits(self) -> list[Hit]:
        if self._hits is None:
            first = (self.page - 1) * self.size + 1
            self._hits = [Hit(i, s, r, {}) for r, (i, s) in enumerate(zip(self.ids, self.scores), start=first)]
        if self.explanations is not None:
            for hit, explanation in zip(self._hits, self.explanations):
                hit.explain = explanation
        return self._hits

    @property
    def pages(self) -> int:
        return (self.total + self.size - 1) // self.size if self.size else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "total_exact": self.total_exact,
            "page": self.page,
            "size": self.size,
            "pages": self.pages,
            "took_ms": round(self.took_ms, 3),
            "hits": [hit.to_dict() for hit in self.hits],
            **({"facets": {k: [asdict(c) for c in v] for k, v in self.facets.items()}} if self.facets else {}),
        }
