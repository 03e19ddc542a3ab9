"""Passage embeddings as optional segment components, computed when a segment is flushed.

Per segment: ``pcn`` (int32, one row per document: how many passages it has), ``pvc``
(float32, one unit vector per passage, grouped by document in document order) and ``psp``
(int32 pairs: each passage's character span in the document's first passage field, for the
snippet semantic mode shows). All three follow their documents through merges; a segment
written before semantic recall was turned on has none (its documents are found by keywords
only until they are indexed again).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from zhisou.embed.base import Embedder
from zhisou.embed.passages import split_passages
from zhisou.index.segment import (
    PASSAGE_COUNTS,
    PASSAGE_GRAPH,
    PASSAGE_SPANS,
    PASSAGE_VECTORS,
    ComponentProducer,
    OptionalComponent,
    SegmentTerms,
)
from zhisou.schema import SemanticSpec


def passage_text(doc: dict[str, Any], spec: SemanticSpec) -> tuple[str, str]:
    """(title, text) of a stored document as the passages are cut from it."""
    title = doc.get(spec.title) if spec.title else None
    parts = [doc.get(name) for name in spec.fields]
    text = "\n".join(part for part in parts if isinstance(part, str) and part.strip())
    return (title if isinstance(title, str) else ""), text


def derive_graph(
    spec: SemanticSpec, components: Mapping[OptionalComponent, np.ndarray]
) -> dict[OptionalComponent, np.ndarray]:
    """The HNSW graph of a segment with at least ``spec.hnsw_min_passages`` passage vectors."""
    vectors = components.get(PASSAGE_VECTORS)
    if vectors is None or vectors.ndim != 2 or len(vectors) < spec.hnsw_min_passages:
        return {}
    from zhisou.embed.ann import build_graph

    return {PASSAGE_GRAPH: build_graph(vectors)}


class EmbeddingProducer(ComponentProducer):
    """A writer's ``ComponentProducer``: passages of every flushed document, embedded (and, for
    a segment with many, the graph that searches them approximately)."""

    def __init__(self, spec: SemanticSpec, embedder: Embedder, progress: Callable[[int], None] | None = None) -> None:
        self.spec, self.embedder, self.progress = spec, embedder, progress

    def produce(self, docs: Sequence[dict[str, Any]]) -> dict[OptionalComponent, np.ndarray]:
        pairs = [passage_text(doc, self.spec) for doc in docs]
        tokens = min(self.spec.passage_tokens, self.embedder.max_tokens)
        passages = split_passages(
            [text for _, text in pairs],
            [title for title, _ in pairs],
            self.embedder.count_tokens,
            tokens,
            self.spec.overlap_tokens,
        )
        vectors = self.embedder.encode_passages([p.text for p in passages], self.progress)
        counts = np.bincount(np.array([p.doc for p in passages], dtype=np.int64), minlength=len(docs))
        spans = np.array([[p.start, p.end] for p in passages], dtype=np.int32).reshape(-1, 2)
        return {
            PASSAGE_COUNTS: counts.astype(np.int32).reshape(-1, 1),
            PASSAGE_VECTORS: vectors.astype(np.float32, copy=False),
            PASSAGE_SPANS: spans,
        }

    def derive(
        self, components: Mapping[OptionalComponent, np.ndarray], terms: SegmentTerms
    ) -> dict[OptionalComponent, np.ndarray]:
        return derive_graph(self.spec, components)


class SchemaEmbeddings(ComponentProducer):
    """The producer a writer of an index with semantic recall uses: loads the schema's model on
    the first flush (opening a writer stays fast), then embeds every flushed segment. A merge
    derives the graph without loading the model."""

    def __init__(self, spec: SemanticSpec, progress: Callable[[int], None] | None = None) -> None:
        from zhisou.embed.registry import check_available

        check_available(spec.model)  # a missing extra is one line now, not a failed flush later
        self.spec, self.progress = spec, progress
        self._producer: EmbeddingProducer | None = None

    def produce(self, docs: Sequence[dict[str, Any]]) -> dict[OptionalComponent, np.ndarray]:
        if self._producer is None:
            from zhisou.embed.registry import load_embedder

            self._producer = EmbeddingProducer(self.spec, load_embedder(self.spec.model), self.progress)
        return self._producer.produce(docs)

    def derive(
        self, components: Mapping[OptionalComponent, np.ndarray], terms: SegmentTerms
    ) -> dict[OptionalComponent, np.ndarray]:
        return derive_graph(self.spec, components)
