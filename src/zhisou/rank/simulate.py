"""A click simulator: search-log sessions from known relevance, with position bias and noise.

Each simulated user examines rank k of a result list with probability (1/k)^η (the position
bias; η = 1 halves the chance of a look from rank 1 to rank 2) and clicks an examined document
with probability ``1 - noise`` when it is relevant and ``noise`` when it is not. The list is
served in pages of ``page_size``, as the server does: everyone sees page 1, and a user goes on
to the next page with the chance of looking that far — (1/11)^η to reach rank 11 — so that each
rank is examined with the same (1/k)^η overall, and every page seen is its own logged search.
A share ``randomize`` of the pages is shown in a random order — the intervention that lets a
click model tell position from relevance (with one fixed order per query, examination at rank k
and a document's appeal only ever appear multiplied together). The sessions are written through
``SearchLog`` — the same events the server writes — so training from them exercises the whole
path from the log on. Seeded: the same inputs give the same log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zhisou.serve.searchlog import SearchLog


@dataclass(frozen=True)
class ClickSimulator:
    eta: float = 1.0  # position bias: examination (1/k)^eta
    noise: float = 0.1  # clicks on examined non-relevant documents; misses on relevant ones
    randomize: float = 0.0  # share of pages shown in a random order
    page_size: int = 10
    seed: int = 42

    def examination(self, rank: int) -> float:
        return float((1.0 / rank) ** self.eta)

    def simulate(
        self,
        pages: Sequence[tuple[str, Sequence[str]]],
        relevance: Mapping[str, Mapping[str, float]],
        log_directory: Path,
        sessions_per_query: int = 10,
        query_ids: Sequence[str] | None = None,
    ) -> int:
        """Write ``sessions_per_query`` sessions for each (query text, ranked ids) of ``pages``
        (ids past ``page_size`` are the later pages) into the search log at ``log_directory``;
        ``relevance``: per query (its id, from ``query_ids``, else its text) the grade of each
        doc id. Returns the clicks written."""
        rng = np.random.default_rng(self.seed)
        log = SearchLog(log_directory)
        clicks = 0
        for number, (text, ranked) in enumerate(pages):
            key = query_ids[number] if query_ids is not None else text
            grades = relevance.get(key, {})
            for _ in range(sessions_per_query):
                for start in range(0, len(ranked), self.page_size):
                    # Reached this page: its ranks are looked at with θ(k) / θ(first rank here).
                    if start and rng.random() >= self.examination(start + 1) / self.examination(
                        start + 1 - self.page_size
                    ):
                        break
                    page = list(ranked[start : start + self.page_size])
                    shuffled = bool(self.randomize) and rng.random() < self.randomize
                    if shuffled:
                        page = [page[i] for i in rng.permutation(len(page))]
                    looked = np.array([self.examination(start + k) for k in range(1, len(page) + 1)])
                    looked /= self.examination(start + 1)
                    relevant = np.array([grades.get(doc_id, 0) > 0 for doc_id in page])
                    attractive = np.where(relevant, 1.0 - self.noise, self.noise)
                    query_id = log.search(
                        text, "hybrid", start // self.page_size + 1, page, {}, self.page_size, shuffled
                    )
                    clicked = rng.random(len(page)) < looked * attractive
                    for rank in np.flatnonzero(clicked).tolist():
                        log.click(query_id, page[rank], start + rank + 1)
                        clicks += 1
        return clicks
