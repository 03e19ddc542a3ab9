"""The postings codec (``index/postings.py``): random postings and positions, block boundaries
and tails included, round-trip through the numpy codec and the compiled block decoder alike;
the bounds a block carries hold for every posting under any length norm; damage is reported."""

from __future__ import annotations

import contextlib
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou.errors import CorruptIndexError
from zhisou.index import postings as codec


def numpy_only() -> contextlib.AbstractContextManager[object]:
    """The numpy codec even where numba is loaded (a process that searched uses the compiled one)."""
    return mock.patch.object(codec, "compiled_pays", lambda values: False)


@st.composite
def term_postings(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Terms of 1 to ~400 postings (so 1, 2 and 4 blocks and partial tails), sparse or dense
    doc ids, frequencies from always-1 to large, positions ascending within each posting."""
    n_docs = draw(st.integers(1, 3000))
    counts, docs, freqs, lengths, positions = [], [], [], [], []
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    doc_lengths = rng.integers(0, draw(st.sampled_from([1, 50, 5000])), n_docs)
    for _ in range(draw(st.integers(1, 5))):
        count = min(draw(st.sampled_from([1, 2, 127, 128, 129, 255, 256, 257, 400])), n_docs)
        chosen = np.sort(rng.choice(n_docs, count, replace=False))
        tf = rng.integers(1, draw(st.sampled_from([1, 2, 40, 3000])) + 1, count)
        counts.append(count)
        docs.append(chosen)
        freqs.append(tf)
        lengths.append(doc_lengths[chosen])
        spread = draw(st.sampled_from([1, 3, 1000]))  # dense runs, or wide gaps
        positions += [np.sort(rng.choice(k * spread + 5, k, replace=False)) for k in tf.tolist()]
    return (
        np.array(counts),
        np.concatenate(docs),
        np.concatenate(freqs),
        np.concatenate(lengths),
        np.concatenate(positions),
        n_docs,
    )


def spare(words: np.ndarray) -> np.ndarray:
    return np.append(words, np.uint32(0))  # the writer ends each file with a spare word


@settings(max_examples=80, deadline=None)
@given(term_postings())
def test_postings_and_positions_round_trip(case) -> None:
    counts, docs, freqs, lengths, positions, _ = case
    with numpy_only():
        words, starts = codec.encode_postings(counts, docs, freqs, lengths)
        words = spare(words)
        got_docs, got_freqs = codec.decode_postings(words, starts, counts)
        assert got_docs.tolist() == docs.tolist()
        assert got_freqs.tolist() == freqs.tolist()
        # Any run of terms decodes alone too (merges and facets read runs).
        ends = np.cumsum(counts)
        for t in range(len(counts)):
            one_docs, _ = codec.decode_postings(words, starts[t : t + 1], counts[t : t + 1])
            assert one_docs.tolist() == docs[ends[t] - counts[t] : ends[t]].tolist()
        position_words, position_starts = codec.encode_positions(freqs, positions, counts)
        got = codec.decode_positions(spare(position_words), position_starts, counts, freqs)
        assert got.tolist() == positions.tolist()


@settings(max_examples=50, deadline=None)
@given(term_postings())
def test_the_compiled_block_decoder_agrees_with_the_bulk_one(case) -> None:
    counts, docs, freqs, lengths, _, n_docs = case
    words, starts = codec.encode_postings(counts, docs, freqs, lengths)
    words = spare(words)
    block_docs = np.empty(codec.BLOCK, dtype=np.int64)
    block_freqs = np.empty(codec.BLOCK, dtype=np.int64)
    got_docs, got_freqs = [], []
    for start, count in zip(starts.tolist(), counts.tolist()):
        for block in range((count + codec.BLOCK - 1) // codec.BLOCK):
            size = codec.load_block(words, start, count, block, n_docs, block_docs, block_freqs)
            assert size == min(codec.BLOCK, count - block * codec.BLOCK)
            got_docs += block_docs[:size].tolist()
            got_freqs += block_freqs[:size].tolist()
    assert got_docs == docs.tolist()
    assert got_freqs == freqs.tolist()


@settings(max_examples=80, deadline=None)
@given(term_postings(), st.floats(0.0, 3.0), st.floats(0.0, 0.1))
def test_block_bounds_hold_for_every_posting_and_any_norm(case, base: float, slope: float) -> None:
    """tf / (tf + base + slope · length) of every posting of a block is at most the best of the
    block's stored points, and equal to it when the block's front fits in them; the last doc of
    each skip row is the block's last doc."""
    counts, docs, freqs, lengths, _, _ = case
    words, starts = codec.encode_postings(counts, docs, freqs, lengths)
    words = spare(words)
    first = 0
    for start, count in zip(starts.tolist(), counts.tolist()):
        rows = codec.skip_rows(words, start, count)
        term_docs, term_freqs = docs[first : first + count], freqs[first : first + count].astype(float)
        term_lengths = lengths[first : first + count]
        first += count
        if count <= codec.BLOCK:
            assert len(rows) == 0
            continue
        for block, row in enumerate(rows.tolist()):
            part = slice(block * codec.BLOCK, min((block + 1) * codec.BLOCK, count))
            assert row[0] == int(term_docs[part][-1])
            factors = term_freqs[part] / (term_freqs[part] + base + slope * term_lengths[part])
            points = [(row[2 + 2 * g], row[3 + 2 * g]) for g in range(codec.BOUND_POINTS)]
            bound = max(t / (t + base + slope * n) if t else 0.0 for t, n in points)
            assert factors.max() <= bound * (1 + 1e-12)
            assert max(t for t, _ in points) == int(term_freqs[part].max())
            # A Pareto front of at most BOUND_POINTS postings is stored whole: the bound is exact.
            front = {(t, n) for t, n in zip(term_freqs[part].astype(int).tolist(), term_lengths[part].tolist())}
            front = {(t, n) for t, n in front if not any(u >= t and m <= n and (u, m) != (t, n) for u, m in front)}
            if len(front) <= codec.BOUND_POINTS:
                assert bound == pytest.approx(factors.max(), rel=1e-12)


def test_packing_is_compact_for_dense_postings() -> None:
    docs = np.arange(0, 100_000, 3)
    counts = np.array([len(docs)])
    freqs = np.ones(len(docs), dtype=np.int64)
    words, _ = codec.encode_postings(counts, docs, freqs, np.zeros(len(docs)))
    # Gaps of 2 take 2 bits, frequencies of 1 none; skip rows and headers add ~2.6 bits.
    assert len(words) * 32 / len(docs) < 5


def test_damaged_postings_raise_a_clear_error() -> None:
    docs = np.arange(0, 2000, 5)
    counts = np.array([len(docs)])
    words, starts = codec.encode_postings(counts, docs, np.ones(len(docs)), np.zeros(len(docs)))
    words = spare(words)
    block_docs = np.empty(codec.BLOCK, dtype=np.int64)
    block_freqs = np.empty(codec.BLOCK, dtype=np.int64)
    with pytest.raises(CorruptIndexError, match="outside its segment"):
        codec.load_block(words, 0, len(docs), 3, 100, block_docs, block_freqs)  # ids beyond 100 docs
    damaged = words.copy()
    header = codec.SKIP_WORDS * 4  # the first header word, after four skip rows
    damaged[header] = 0xFFFF  # widths of 255 bits
    with pytest.raises(CorruptIndexError, match="damaged"):
        codec.load_block(damaged, 0, len(docs), 0, 2000, block_docs, block_freqs)
    for bulk in (numpy_only(), contextlib.nullcontext()):
        with bulk, pytest.raises(CorruptIndexError, match="damaged"):
            codec.decode_postings(damaged, starts, counts)
        with bulk, pytest.raises(CorruptIndexError, match="outside"):
            codec.decode_postings(words[:10], starts, counts)


@settings(max_examples=60, deadline=None)
@given(term_postings())
def test_the_compiled_codec_writes_and_reads_the_same_words(case) -> None:
    """Large batches go through compiled loops, small ones through numpy: same bytes both ways."""
    counts, docs, freqs, lengths, positions, _ = case
    with numpy_only():
        small = codec.encode_postings(counts, docs, freqs, lengths)
        small_positions = codec.encode_positions(freqs, positions, counts)
    docs, freqs, lengths, positions = (a.astype(np.int64) for a in (docs, freqs, lengths, positions))
    large = codec._encode_postings_compiled(counts, docs, freqs, lengths)
    large_positions = codec._encode_positions_compiled(freqs, positions, counts)
    for (a_words, a_starts), (b_words, b_starts) in ((small, large), (small_positions, large_positions)):
        assert a_words.tolist() == b_words.tolist() and a_starts.tolist() == b_starts.tolist()
    words = spare(large[0])
    got_docs, got_freqs = codec._decode_postings_compiled(words, large[1], counts)
    assert got_docs.tolist() == docs.tolist() and got_freqs.tolist() == freqs.tolist()
    got = codec._decode_positions_compiled(spare(large_positions[0]), large_positions[1], counts, freqs)
    assert got.tolist() == positions.tolist()
