"""Every similarity through every strategy equals the exhaustive reference: the formula lives in
the similarity, the kernels only take its arrays (issue #10, "Similarity owns the formula")."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.search.test_strategies import SCHEMA, VOCABULARY, compare, documents
from zhisou import Index
from zhisou.search.similarity import BM25, SIMILARITIES, AtireBM25, FieldStats, Similarity


@dataclass(frozen=True)
class FlatterIdf(BM25):
    """Overrides only the one-term idf, as a user would: every strategy must follow it."""

    def idf(self, doc_freq: int, stats: FieldStats) -> float:
        return 0.0 if doc_freq <= 0 else 1.0 + math.log(1.0 + stats.doc_count / doc_freq)


@dataclass(frozen=True)
class LogTf(BM25):
    """Leaves the saturation family (log tf, no length norm): searched exhaustively."""

    def score(self, idf: float, freqs: np.ndarray, lengths: np.ndarray, stats: FieldStats) -> np.ndarray:
        return idf * np.log1p(freqs.astype(np.float64))


SIMILARITY_CASES = [BM25(), BM25(k1=0.9, b=0.4), BM25(k1=2.0, b=1.0), AtireBM25(), FlatterIdf(), LogTf()]


@pytest.mark.parametrize("similarity", SIMILARITY_CASES, ids=lambda s: f"{type(s).__name__}-{getattr(s, 'k1', '')}")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    docs=documents,
    query_words=st.lists(st.sampled_from([*VOCABULARY, "missing", "title:rank"]), min_size=1, max_size=4),
    segment_size=st.integers(1, 10),
    deleted=st.sets(st.integers(0, 24), max_size=4),
)
def test_every_similarity_scores_alike_under_every_strategy(
    tmp_path_factory: pytest.TempPathFactory,
    similarity: Similarity,
    docs: list[dict],
    query_words: list[str],
    segment_size: int,
    deleted: set[int],
) -> None:
    directory = tmp_path_factory.mktemp("c") / "ix"
    index = Index.create(directory, SCHEMA)
    for start in range(0, len(docs), segment_size):
        index.add({"id": str(i), **doc} for i, doc in enumerate(docs[start : start + segment_size], start))
        index.writer.commit(merge=False)
    index.delete([str(i) for i in deleted])
    index.commit()
    index.close()
    searcher_index = Index.open(directory, similarity=similarity)
    query = " ".join(query_words)
    compare(searcher_index, query)
    compare(searcher_index, query, filters={"tags": "a"})
    if len(docs) > 3:  # and the one-call path: one segment, no deletes
        single = Index.create(tmp_path_factory.mktemp("one") / "ix", SCHEMA, similarity=similarity)
        single.add({"id": str(i), **doc} for i, doc in enumerate(docs))
        single.commit()
        compare(single, query)


def test_a_subclass_overriding_idf_scores_the_same_under_auto_and_exhaustive(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The issue's example: it used to give 0.40 under auto and 1.18 under exhaustive."""
    index = Index.create(tmp_path / "ix", SCHEMA, similarity=FlatterIdf())
    index.add([{"id": str(i), "body": f"rank data {'zebra' if i % 3 == 0 else ''}"} for i in range(30)])
    index.commit()
    auto = index.search("zebra rank", strategy="auto", with_docs=False)
    exhaustive = index.search("zebra rank", strategy="exhaustive", with_docs=False)
    assert auto.scores == pytest.approx(exhaustive.scores, abs=1e-12)
    stats = FieldStats(30, 10 * 3 + 20 * 2)  # "rank data zebra" ten times, "rank data" twenty
    saturation = 1 / (1 + 1.2 * (0.25 + 0.75 * 3 / stats.avg_length))  # tf 1, dl 3
    expected = (FlatterIdf().idf(10, stats) + FlatterIdf().idf(30, stats)) * saturation
    assert auto.scores[0] == pytest.approx(expected, rel=1e-12)


def test_atire_reference_score(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """ln(N / df) · (k1 + 1) · tf / (tf + k1 · (1 − b + b · dl / avgdl)), by hand."""
    index = Index.create(tmp_path / "ix", SCHEMA, similarity=AtireBM25())
    index.add(
        [
            {"id": "a", "body": "zebra zebra data"},
            {"id": "b", "body": "data data data rank"},
            {"id": "c", "body": "rank"},
            {"id": "d", "body": "spark"},
        ]
    )
    index.commit()
    result = index.search("zebra", with_docs=False)
    avgdl = (3 + 4 + 1 + 1) / 4
    expected = math.log(4 / 1) * 2.2 * 2 / (2 + 1.2 * (0.25 + 0.75 * 3 / avgdl))
    assert result.ids == ["a"] and result.scores[0] == pytest.approx(expected, rel=1e-12)
    assert index.search("zebra", strategy="exhaustive", with_docs=False).scores[0] == pytest.approx(expected, rel=1e-12)


def test_the_registry_names_every_similarity() -> None:
    assert {"bm25": BM25, "bm25-atire": AtireBM25} == SIMILARITIES
    assert all(cls().saturating for cls in SIMILARITIES.values())
    assert not LogTf().saturating
    doc_freqs, counts = np.array([0, 1, 5, 10]), np.array([10, 10, 10, 10])
    for cls in (*SIMILARITIES.values(), FlatterIdf):
        similarity = cls()
        vectorized = similarity.idf_array(doc_freqs, counts)
        one_by_one = [similarity.idf(int(df), FieldStats(10, 0)) for df in doc_freqs]
        assert vectorized == pytest.approx(one_by_one, rel=1e-12)
