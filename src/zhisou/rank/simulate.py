"""A click simulator: search-log sessions from known relevance, with position bias and noise.

Each simulated user looks at a ranked page, examines rank k with probability (1/k)^η (the
position bias; η = 1 halves the chance of a look from rank 1 to rank 2), and clicks an examined
document with probability ``1 - noise`` when it is relevant and ``noise`` when it is not. A
share ``randomize`` of the sessions shows the page in a random order — the intervention that
lets a click model tell position from relevance (with one fixed order per query, examination at
rank k and a document's appeal only ever appear multiplied together). The sessions are written
through ``SearchLog`` — the same events the server writes — so training from them exercises the
whole path from the log on. Seeded: the same inputs give the same log.
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
    randomize: float = 0.0  # share of sessions shown in a random order
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
        """Write ``sessions_per_query`` sessions for each (query text, shown ids) of ``pages``
        into the search log at ``log_directory``; ``relevance``: per query (its id, from
        ``query_ids``, else its text) the grade of each doc id. Returns the clicks written."""
        rng = np.random.default_rng(self.seed)
        log = SearchLog(log_directory)
        clicks = 0
        for number, (text, shown) in enumerate(pages):
            key = query_ids[number] if query_ids is not None else text
            grades = relevance.get(key, {})
            looked = np.array([self.examination(rank) for rank in range(1, len(shown) + 1)])
            for _ in range(sessions_per_query):
                page = list(shown)
                if self.randomize and rng.random() < self.randomize:
                    page = [page[i] for i in rng.permutation(len(page))]
                relevant = np.array([grades.get(doc_id, 0) > 0 for doc_id in page])
                attractive = np.where(relevant, 1.0 - self.noise, self.noise)
                query_id = log.search(text, "hybrid", 1, page, {})
                clicked = rng.random(len(page)) < looked * attractive
                for rank in np.flatnonzero(clicked).tolist():
                    log.click(query_id, page[rank], rank + 1)
                    clicks += 1
        return clicks
