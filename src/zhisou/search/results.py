"""What a search returns: typed hits and a page of results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One matching document: its id, score, stored fields and highlighted snippets (HTML)."""

    id: str
    score: float
    rank: int
    doc: dict[str, Any]
    highlights: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    page: int
    size: int
    took_ms: float
    hits: list[Hit]

    @property
    def pages(self) -> int:
        return (self.total + self.size - 1) // self.size if self.size else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "size": self.size,
            "pages": self.pages,
            "took_ms": round(self.took_ms, 3),
            "hits": [hit.to_dict() for hit in self.hits],
        }
