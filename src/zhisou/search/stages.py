"""The optional stages between retrieval and the page, as small protocols.

    request → plan → strategy (+ collectors) → TopDocs ─┐
                       other retrievers → TopDocs ... ──┴→ fuser → TopDocs → rerankers → page → hydrate

A *retriever* is another recall channel (embeddings + ANN); a *fuser* turns the lexical list
and the others into one (e.g. reciprocal rank fusion); a *reranker* reorders the head of the
list (a learned model). Each sees the request and the searcher (its reader, statistics and
analyzers) and hands on ``TopDocs`` over the same reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.search.topk import TopDocs

if TYPE_CHECKING:
    from zhisou.search.request import SearchRequest
    from zhisou.search.searcher import Searcher


class Retriever(Protocol):
    name: str

    def retrieve(self, request: SearchRequest, searcher: Searcher, depth: int) -> TopDocs:
        """Up to ``depth`` documents for the request, best first."""


class Fuser(Protocol):
    def fuse(self, lists: Sequence[TopDocs], depth: int) -> TopDocs:
        """One list of up to ``depth`` documents from the lexical list (first) and the others."""

    def describe(self) -> str:
        """How scores are combined, in a line (what ``explain`` shows)."""


class Reranker(Protocol):
    depth: int  # how many of the head it reorders

    def rerank(
        self, request: SearchRequest, searcher: Searcher, top: TopDocs, channels: Sequence[tuple[str, TopDocs]]
    ) -> TopDocs:
        """``top`` (at most ``depth`` long) in a new order, with the scores that order follows;
        ``channels``: each recall channel's own list, by name."""

    def explain(
        self,
        request: SearchRequest,
        searcher: Searcher,
        docs: np.ndarray,
        channels: Sequence[tuple[str, TopDocs]],
        head: np.ndarray,
    ) -> list[dict[str, Any]]:
        """Per document of ``docs``: what its reranked score came from (``explain`` shows it);
        ``head``: the documents ``rerank`` was given (the first ``depth`` of the list by
        relevance, before any sort by a field)."""


@dataclass(frozen=True)
class Stages:
    """What runs after the lexical retrieval; empty by default (BM25 only)."""

    retrievers: tuple[Retriever, ...] = ()
    fuser: Fuser | None = None
    rerankers: tuple[Reranker, ...] = field(default=())
    lexical: bool = True  # False: the other retrievers alone (a pure semantic search)
    candidates: int = 0  # how deep every list goes at least (what a fuser sees of each)

    def __post_init__(self) -> None:
        channels = len(self.retrievers) + (1 if self.lexical else 0)
        if channels == 0:
            raise ZhisouError("a search needs at least one retriever: the lexical one or another")
        if channels > 1 and self.fuser is None:
            raise ZhisouError("several retrievers need a fuser to turn their lists into one")

    @property
    def empty(self) -> bool:
        return not self.retrievers and not self.rerankers and self.lexical

    def depth(self, window: int) -> int:
        """How deep the first lists must go for a page ending at ``window``."""
        return max([window, self.candidates, *(r.depth for r in self.rerankers)])

    def run(
        self,
        request: SearchRequest,
        searcher: Searcher,
        lexical: TopDocs | None,
        depth: int,
        channels: list[tuple[str, TopDocs]] | None = None,
    ) -> TopDocs:
        """The final list; ``channels``, when given, receives each recall channel's own list
        by name (``bm25`` for the lexical one), for explanations."""
        lists = [] if lexical is None else [lexical]
        lists += [retriever.retrieve(request, searcher, depth) for retriever in self.retrievers]
        names = (["bm25"] if lexical is not None else []) + [retriever.name for retriever in self.retrievers]
        named = list(zip(names, lists))
        if channels is not None:
            channels.extend(named)
        top = lists[0] if len(lists) == 1 else self.fuser.fuse(lists, depth)  # type: ignore[union-attr]
        for reranker in self.rerankers:
            head = top.head(reranker.depth)
            reordered = reranker.rerank(request, searcher, head, named)
            if sorted(reordered.docs.tolist()) != sorted(head.docs.tolist()):
                raise ZhisouError(f"reranker {type(reranker).__name__} changed which documents it was given")
            tail = top.page(reranker.depth, len(top))
            top = _concat(reordered, tail, top)
        return top


def _concat(head: TopDocs, tail: TopDocs, whole: TopDocs) -> TopDocs:
    """The reordered head, then the rest in its first-stage order. A reranker's scores are on
    another scale than the first stage's, so the rest is shifted by one constant to sit below
    the head: the list stays in score order (what a run file or a later fusion reads), and the
    differences between the rest's scores are kept."""
    tail_scores = tail.scores
    if len(head) and len(tail) and tail_scores[0] >= head.scores[-1]:
        tail_scores = tail_scores - (tail_scores[0] - head.scores[-1]) - 1.0
    return TopDocs(
        np.concatenate([head.docs, tail.docs]),
        np.concatenate([head.scores, tail_scores]),
        whole.total,
        whole.exact,
    )
