"""Term-at-a-time's windows (``kernels.accumulate``): taking a segment's blocks a window of
documents at a time adds the same contributions to the same documents as one term after another,
whatever the window (one document, a block's worth, odd sizes, larger than the segment), with
filters and a base offset; a damaged block is still reported."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou.errors import CorruptIndexError
from zhisou.index.postings import encode_postings
from zhisou.search import kernels


@st.composite
def segments(draw: st.DrawFn) -> dict[str, object]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_docs = draw(st.integers(1, 3000))
    counts, docs, freqs = [], [], []
    for _ in range(draw(st.integers(1, 5))):
        count = min(draw(st.sampled_from([1, 5, 127, 128, 129, 300, 1000, 3000])), n_docs)
        counts.append(count)
        docs.append(np.sort(rng.choice(n_docs, count, replace=False)))
        freqs.append(rng.integers(1, 20, count))
    lengths = rng.integers(1, 400, n_docs)
    all_docs = np.concatenate(docs)
    words, starts = encode_postings(np.array(counts), all_docs, np.concatenate(freqs), lengths[all_docs])
    return {
        "postings": np.append(words, np.uint32(0)),
        "ranges": np.column_stack((starts, counts)).astype(np.int64),
        "weights": rng.uniform(0.1, 3.0, len(counts)),
        "lengths": lengths.astype(np.uint32).reshape(1, -1),
        "n_docs": n_docs,
        "allowed": rng.random(n_docs + 7) < draw(st.sampled_from([1.0, 0.5])),
        "filtered": draw(st.booleans()),
        "base": draw(st.sampled_from([0, 7])),
    }


def run(case: dict[str, object], window: int) -> tuple[np.ndarray, set[int], int]:
    size = int(case["n_docs"]) + 7  # type: ignore[call-overload]
    scores = np.zeros(size)
    touched = np.zeros(size + 1, dtype=np.int64)
    ranges = case["ranges"]
    n_touched = kernels.accumulate(
        case["postings"],
        ranges,
        case["weights"],
        np.zeros(len(ranges), dtype=np.int64),  # type: ignore[arg-type]
        np.zeros(1, dtype=np.int64),
        np.array([0.03]),
        case["lengths"],
        np.array([0.4]),
        case["allowed"],
        case["filtered"],
        case["base"],
        case["n_docs"],
        scores,
        touched,
        0,
        window,
    )
    return scores, set(touched[:n_touched].tolist()), n_touched


@settings(max_examples=60, deadline=None)
@given(segments(), st.sampled_from([1, 2, 100, 128, 129, 1000, 1 << 14]))
def test_windows_score_like_one_term_after_another(case: dict[str, object], window: int) -> None:
    whole_scores, whole_touched, whole_n = run(case, 1 << 40)
    scores, touched, n = run(case, window)
    np.testing.assert_allclose(scores, whole_scores, rtol=1e-12, atol=0)
    assert touched == whole_touched and n == whole_n == int((whole_scores != 0).sum())


def test_a_damaged_block_is_reported_in_any_window() -> None:
    lengths = np.full(1000, 10, dtype=np.uint32).reshape(1, -1)
    words, starts = encode_postings(
        np.array([600]), np.arange(0, 1000, 1000 / 600).astype(np.int64)[:600], np.ones(600), np.full(600, 10)
    )
    postings = np.append(words, np.uint32(0))
    postings[int(starts[0]) + 43 :] = np.uint32(0xFFFFFFFF)  # the last skip rows, headers and data
    for window in (64, 1 << 14):
        with pytest.raises(CorruptIndexError):
            kernels.accumulate(
                postings,
                np.array([[starts[0], 600]], dtype=np.int64),
                np.ones(1),
                np.zeros(1, dtype=np.int64),
                np.zeros(1, dtype=np.int64),
                np.array([0.03]),
                lengths,
                np.array([0.4]),
                np.ones(1000, dtype=bool),
                False,
                0,
                1000,
                np.zeros(1000),
                np.zeros(1001, dtype=np.int64),
                0,
                window,
            )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=6, unique=True), min_size=1, max_size=3),
    st.lists(st.integers(0, 3), min_size=1, max_size=3),
    st.integers(0, 8),
)
def test_sloppy_phrase_matches_when_some_choice_is_within_the_slop(
    positions: list[list[int]], repeats: list[int], slop: int
) -> None:
    """One document: each word's positions, and the phrase's pieces — word ``w`` at offset
    ``o`` — with repeated words (``repeats``: the word each extra piece repeats). The kernel
    finds a match exactly when some choice of one occurrence per piece, no occurrence taken
    twice, spreads its places (position − offset) at most ``slop``; with slop 0 it counts the
    exact phrase's occurrences."""
    import itertools

    pieces = [(w, w) for w in range(len(positions))]  # (word, offset)
    pieces += [(r % len(positions), len(positions) + n) for n, r in enumerate(repeats)]
    lists = [[x - offset for x in sorted(positions[word])] for word, offset in pieces]
    flat = np.array([x for p in lists for x in p], dtype=np.int64)
    sizes = np.cumsum([0, *map(len, lists)])
    first, last = sizes[:-1].reshape(-1, 1), sizes[1:].reshape(-1, 1)
    offsets = np.array([offset for _, offset in pieces], dtype=np.int64)
    words = np.array([word for word, _ in pieces], dtype=np.int64)

    def matches(limit: int) -> list[tuple[int, ...]]:
        found = []
        for choice in itertools.product(*lists):
            taken = [(word, place + offset) for (word, offset), place in zip(pieces, choice)]
            if len(set(taken)) == len(taken) and max(choice) - min(choice) <= limit:
                found.append(choice)
        return found

    freq = kernels.sloppy_phrase_freqs(flat, first, last, slop, offsets, words)[0]
    assert (freq > 0) == bool(matches(slop))  # choices here stay under SLOPPY_CHOICES_LIMIT
    exact = kernels.sloppy_phrase_freqs(flat, first, last, 0, offsets, words)[0]
    assert exact == len(matches(0))
    assert freq >= exact  # a wider slop never loses a match
