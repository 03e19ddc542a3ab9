"""Compiled inner loops (numba): score accumulation over postings and top-k selection.

They know no formula: a ``Similarity`` (``similarity.py``) turns statistics into the arrays these
loops take — per-term weights (multiplicity · boost · idf) and per-field length-norm constants —
and every loop computes the one shape ``weight · tf / (tf + base + slope · dl)``.

Postings are read block by block from a segment's packed postings (``index/postings.py``):
term-at-a-time decodes every block of a term in turn; the document-at-a-time loops keep one
decoded block per term (a cursor) and jump over blocks by their skip rows without decoding them.

Term-at-a-time: each query term's postings add their contribution into a dense score array;
documents are remembered the first time they score, so selecting the top k and clearing the
array afterwards touch only the matching documents.
"""

from __future__ import annotations

import numpy as np

from zhisou.compiled import kernel
from zhisou.errors import CorruptIndexError
from zhisou.index.postings import BLOCK, SKIP_WORDS, block_at, block_bound, load_block
from zhisou.index.termdict import find_keys

DEEP_FROM = 64  # top_k_and_clear: deeper lists than this, out of 8× more candidates, find a floor first
# The floor histogram's bins: a float64's sign, exponent and top 8 mantissa bits (256 bins an
# octave), for scores from 2^-40 to 2^24; smaller ones share the first bin, larger the last.
FLOOR_MANTISSA_BITS = 8
FLOOR_SHIFT = 52 - FLOOR_MANTISSA_BITS
FLOOR_FIRST_BIN = (1023 - 40) << FLOOR_MANTISSA_BITS
FLOOR_BINS = 64 << FLOOR_MANTISSA_BITS
# Block and term bounds are computed with the scoring formula itself, so a bound can equal a
# posting's contribution; summed in another order the two may differ in the last bit. The bounds
# are raised by this factor so that rounding never lets a bound fall below a score.
BOUND_SLACK = 1.0 + 1e-12
# Term-at-a-time scores a segment in windows of this many documents, every term's blocks of one
# window before the next (as Lucene's BooleanScorer does in windows of 2,048): the scores and
# lengths a window touches (~0.8 MB) stay in the core's cache instead of streaming a segment's
# worth of them from memory once per term.
TAAT_WINDOW = 1 << 14


@kernel
def accumulate(
    postings: np.ndarray,
    ranges: np.ndarray,
    weights: np.ndarray,
    field_of: np.ndarray,
    rows: np.ndarray,
    norm_slopes: np.ndarray,
    lengths: np.ndarray,
    norm_bases: np.ndarray,
    allowed: np.ndarray,
    filtered: bool,
    base: int,
    n_docs: int,
    scores: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
    window: int = TAAT_WINDOW,
) -> int:
    """Add the contributions of every query term one segment (of ``n_docs`` documents) holds.

    ``ranges[t]`` is (postings start, count) of term t, ``field_of[t]`` its field; per field,
    ``rows`` is its row in the segment's length matrix ``lengths`` and the length norm is
    ``norm_bases[field] + norm_slopes[field] · dl``.
    When ``filtered``, ``allowed[base + doc]`` says which documents may score (live and passing
    filters; not looking it up when every document may saves 12 % of this loop at 1M); returns the new
    number of entries in ``touched`` (32-bit ids), which needs one slot more than documents can be touched.
    Each decoded doc id is checked against ``n_docs`` before it is used (a predictable branch).
    Blocks are taken ``window`` documents at a time (``TAAT_WINDOW``): a block goes with the
    window its first document falls in, so a document's contributions may add up in another
    term order than one term after another would (equal to rounding).
    """
    n_terms = ranges.shape[0]
    next_block = np.zeros(n_terms, dtype=np.int64)
    one = np.uint64(1)
    word_bits = np.uint64(32)
    first_doc = np.uint64(base)
    docs_in_segment = np.uint64(n_docs)
    filled = np.uint64(n_touched)
    for window_end in range(window, n_docs + window, window):
        last_window = window_end >= n_docs
        for t in range(n_terms):
            weight = weights[t]
            count = ranges[t, 1]
            if weight == 0.0 or count == 0:
                continue
            start = ranges[t, 0]
            n_blocks = (count + BLOCK - 1) // BLOCK
            block = next_block[t]
            if block == n_blocks:
                continue
            if n_blocks > 1 and (start < 0 or start + SKIP_WORDS * n_blocks >= postings.shape[0]):
                raise CorruptIndexError("postings point outside their file; the index is damaged (restore or rebuild)")
            field_lengths = lengths[rows[field_of[t]]]
            slope = norm_slopes[field_of[t]]
            norm_base = norm_bases[field_of[t]]
            while block < n_blocks:
                # A block whose first doc lies past this window waits for the next window (its
                # skip row names the doc before it); the last window takes every block left.
                if (
                    block > 0
                    and not last_window
                    and np.int64(np.int32(postings[start + SKIP_WORDS * (block - 1)])) + 1 >= window_end
                ):
                    break
                # The block's doc gaps and frequencies are decoded as they are scored: two 64-bit
                # windows slide along their words (see ``postings.unpack``), no buffer between.
                # Positions, widths and ids are unsigned: numba then indexes without the
                # negative-index wraparound it adds for signed integers (1.95 → 1.57 ns a
                # posting on synthetic-100k).
                size, data, doc_width, freq_width, previous = block_at(postings, start, count, block)
                block += 1
                doc_step = np.uint64(doc_width)
                freq_step = np.uint64(freq_width)
                doc_mask = (np.uint64(1) << doc_step) - np.uint64(1)
                freq_mask = (np.uint64(1) << freq_step) - np.uint64(1)
                doc_at = np.uint64(data)
                freq_at = np.uint64(data + ((size * doc_width + 31) >> 5))
                doc_window = np.uint64(0)
                freq_window = np.uint64(0)
                doc_held = np.uint64(0)
                freq_held = np.uint64(0)
                following = np.uint64(previous + 1)  # the doc id a gap of 0 names
                for _ in range(size):
                    if doc_held < doc_step:
                        doc_window |= np.uint64(postings[doc_at]) << doc_held
                        doc_at += one
                        doc_held += word_bits
                    local = following + (doc_window & doc_mask)
                    following = local + one
                    doc_window >>= doc_step
                    doc_held -= doc_step
                    if freq_held < freq_step:
                        freq_window |= np.uint64(postings[freq_at]) << freq_held
                        freq_at += one
                        freq_held += word_bits
                    tf = float(freq_window & freq_mask) + 1.0
                    freq_window >>= freq_step
                    freq_held -= freq_step
                    if local >= docs_in_segment:  # predictable: the one check of a decoded id before use
                        raise CorruptIndexError(
                            "a postings block names a document outside its segment; restore or rebuild"
                        )
                    doc = first_doc + local
                    if filtered and not allowed[doc]:
                        continue
                    contribution = weight * tf / (tf + norm_base + slope * field_lengths[local])
                    # Branch-free first-touch bookkeeping: whether a doc is new is unpredictable.
                    touched[filled] = doc
                    filled += np.uint64(scores[doc] == 0.0)
                    scores[doc] += contribution
            next_block[t] = block
    return np.int64(filled)


@kernel
def score_one_segment(
    term_keys: np.ndarray,
    term_offsets: np.ndarray,
    term_table: np.ndarray,
    term_info: np.ndarray,
    idf_table: np.ndarray,
    boosts: np.ndarray,
    postings: np.ndarray,
    rows: np.ndarray,
    norm_slopes: np.ndarray,
    lengths: np.ndarray,
    norm_bases: np.ndarray,
    wanted: bytes,
    wanted_offsets: np.ndarray,
    multiplicity: np.ndarray,
    field_of: np.ndarray,
    allowed: np.ndarray,
    filtered: bool,
    scores: np.ndarray,
    touched: np.ndarray,
    gathered: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The whole term-at-a-time search of a reader with one segment and no deletes, in one call:
    dictionary lookup, weights (multiplicity · boost · the similarity's idf of each term, which
    ``idf_table`` holds per term ordinal for this reader), accumulation and top k. On small
    corpora a query costs ~40 µs, and the three calls and the Python between them that this
    saves are ~3 µs of it. The arguments up to ``norm_bases`` are the same for every query on
    the same fields (``strategies/terms.one_segment`` keeps them as one tuple)."""
    ordinals = find_keys(term_keys, term_offsets, term_table, wanted, wanted_offsets)
    n_terms = ordinals.shape[0]
    ranges = np.zeros((n_terms, 2), dtype=np.int64)
    weights = np.zeros(n_terms)
    for t in range(n_terms):
        ordinal = ordinals[t]
        if ordinal >= 0:
            ranges[t, 0] = term_info[ordinal, 0]
            ranges[t, 1] = term_info[ordinal, 1]
            weights[t] = multiplicity[t] * boosts[field_of[t]] * idf_table[ordinal]
    n_touched = accumulate(
        postings,
        ranges,
        weights,
        field_of,
        rows,
        norm_slopes,
        lengths,
        norm_bases,
        allowed,
        filtered,
        0,
        lengths.shape[1],
        scores,
        touched,
        0,
    )
    top_docs, top_scores = top_k_and_clear(scores, touched, n_touched, k, gathered)
    return top_docs, top_scores, n_touched


@kernel
def live_doc_freq(postings: np.ndarray, start: int, count: int, live: np.ndarray, n_docs: int) -> int:
    """Live postings of one term."""
    block_docs = np.empty(BLOCK, dtype=np.int64)
    block_freqs = np.empty(BLOCK, dtype=np.int64)
    total = 0
    for block in range((count + BLOCK - 1) // BLOCK):
        size = load_block(postings, start, count, block, n_docs, block_docs, block_freqs)
        for j in range(size):
            if live[block_docs[j]]:
                total += 1
    return total


@kernel
def _worse(score_a: float, doc_a: int, score_b: float, doc_b: int) -> bool:
    """Result order is score descending, then doc ascending; True if a ranks below b."""
    return score_a < score_b or (score_a == score_b and doc_a > doc_b)


@kernel
def _sift_down(heap_scores: np.ndarray, heap_docs: np.ndarray, size: int, position: int) -> None:
    while True:
        child = 2 * position + 1
        if child >= size:
            return
        if child + 1 < size and _worse(
            heap_scores[child + 1], heap_docs[child + 1], heap_scores[child], heap_docs[child]
        ):
            child += 1
        if _worse(heap_scores[child], heap_docs[child], heap_scores[position], heap_docs[position]):
            heap_scores[child], heap_scores[position] = heap_scores[position], heap_scores[child]
            heap_docs[child], heap_docs[position] = heap_docs[position], heap_docs[child]
            position = child
        else:
            return


@kernel
def top_k_and_clear(
    scores: np.ndarray, touched: np.ndarray, n_touched: int, k: int, gathered: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` touched documents in result order; resets their scores to 0. ``gathered``:
    scratch space for ``n_touched`` scores, reused across queries rather than allocated and
    faulted in anew by every deep query (the gain was within this machine's noise at a million
    documents: 221 / 175 / 221 against 211 – 217 q/s)."""
    size = min(k, n_touched)
    if size > DEEP_FROM and n_touched > 8 * size:
        return _deep_top_k_and_clear(scores, touched, n_touched, size, gathered)
    return _heap_top_k_and_clear(scores, touched, n_touched, size)


@kernel
def _heap_top_k_and_clear(
    scores: np.ndarray, touched: np.ndarray, n_touched: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """``top_k_and_clear`` through a heap filled in arrival order (``size`` ≤ ``n_touched``).

    The heap insert is written out here and in ``maxscore`` on purpose: moving it into a shared
    njit helper made this loop 2.7× slower (measured on synthetic-100k, numba 0.68).
    """
    heap_scores = np.empty(size, dtype=np.float64)
    heap_docs = np.empty(size, dtype=np.int64)
    filled = 0
    floor = -np.inf  # the heap's worst score once it is full, kept out of memory
    for i in range(n_touched):
        doc = np.uint64(touched[i])  # unsigned: indexing without numba's wraparound for negatives
        score = scores[doc]
        scores[doc] = 0.0
        if score < floor:
            continue
        if filled < size:
            heap_scores[filled] = score
            heap_docs[filled] = doc
            filled += 1
            if filled == size:
                for position in range(size // 2 - 1, -1, -1):
                    _sift_down(heap_scores, heap_docs, size, position)
                floor = heap_scores[0]
        elif _worse(heap_scores[0], heap_docs[0], score, doc):
            heap_scores[0] = score
            heap_docs[0] = doc
            _sift_down(heap_scores, heap_docs, size, 0)
            floor = heap_scores[0]
    return sort_heap(heap_scores, heap_docs, filled)


@kernel
def _deep_top_k_and_clear(
    scores: np.ndarray, touched: np.ndarray, n_touched: int, size: int, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``top_k_and_clear`` for a deep list out of many more candidates (top 1,000 of 400,000).

    There a heap filled in arrival order is replaced thousands of times before its floor rises.
    Instead, one pass gathers (and clears) the scores and counts them into a histogram whose bin
    is read off the score's bits: for a non-negative float the bit pattern orders as the value
    does, so the exponent and the top ``FLOOR_MANTISSA_BITS`` of the mantissa make a bin ~0.3 %
    of a score wide, without a first pass for the range (that pass and a float-to-int bin cost
    0.2 ms of 1.3 at a million documents). The highest bins holding ``size`` candidates give a
    floor value; only candidates at or above it enter the heap (about ``size`` of them). Same
    result, ties included: a bin's lowest value is the floor, so no candidate of the floor's bin
    is lost. With a negative score anywhere (no similarity here gives one) every candidate
    enters the heap.
    """
    bits = values.view(np.int64)
    counts = np.zeros(FLOOR_BINS, dtype=np.int32)
    low = np.inf
    for i in range(n_touched):
        doc = np.uint64(touched[i])
        score = scores[doc]
        scores[doc] = 0.0
        values[i] = score
        low = min(low, score)
        counts[min(max((bits[i] >> FLOOR_SHIFT) - FLOOR_FIRST_BIN, 0), FLOOR_BINS - 1)] += 1
    floor_bin = 0
    above = 0
    for b in range(FLOOR_BINS - 1, -1, -1):
        above += counts[b]
        if above >= size:
            floor_bin = b
            break
    floor = np.zeros(1)
    floor.view(np.int64)[0] = (floor_bin + FLOOR_FIRST_BIN) << FLOOR_SHIFT
    floor_value = -np.inf if low < 0.0 else (0.0 if floor_bin == 0 else floor[0])
    # The heap insert written out again, as in ``_heap_top_k_and_clear`` (a shared helper is slower).
    heap_scores = np.empty(size, dtype=np.float64)
    heap_docs = np.empty(size, dtype=np.int64)
    filled = 0
    for i in range(n_touched):
        score = values[i]
        if score < floor_value:
            continue
        doc = touched[i]
        if filled < size:
            heap_scores[filled] = score
            heap_docs[filled] = doc
            filled += 1
            if filled == size:
                for position in range(size // 2 - 1, -1, -1):
                    _sift_down(heap_scores, heap_docs, size, position)
        elif _worse(heap_scores[0], heap_docs[0], score, doc):
            heap_scores[0] = score
            heap_docs[0] = doc
            _sift_down(heap_scores, heap_docs, size, 0)
    return sort_heap(heap_scores, heap_docs, filled)


SENTINEL = np.iinfo(np.int64).max  # the doc of a cursor past its last posting


@kernel
def _load(
    postings: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    i: int,
    block: int,
    n_docs: int,
    current: np.ndarray,
    state: np.ndarray,
    block_docs: np.ndarray,
    block_freqs: np.ndarray,
) -> None:
    """Decode block ``block`` of cursor ``i`` and put the cursor on its first posting.
    ``state[i]`` is (block, position in the block, postings in the block)."""
    state[i, 2] = load_block(postings, starts[i], counts[i], block, n_docs, block_docs[i], block_freqs[i])
    state[i, 0] = block
    state[i, 1] = 0
    current[i] = block_docs[i, 0]


@kernel
def _next(
    postings: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    i: int,
    n_docs: int,
    current: np.ndarray,
    state: np.ndarray,
    block_docs: np.ndarray,
    block_freqs: np.ndarray,
) -> None:
    """Move cursor ``i`` to its next posting (``SENTINEL`` past the last)."""
    at = state[i, 1] + 1
    if at < state[i, 2]:
        state[i, 1] = at
        current[i] = block_docs[i, at]
    elif (state[i, 0] + 1) * BLOCK < counts[i]:
        _load(postings, starts, counts, i, state[i, 0] + 1, n_docs, current, state, block_docs, block_freqs)
    else:
        current[i] = SENTINEL


@kernel
def _advance(
    postings: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    i: int,
    target: int,
    n_docs: int,
    current: np.ndarray,
    state: np.ndarray,
    block_docs: np.ndarray,
    block_freqs: np.ndarray,
) -> None:
    """Move cursor ``i`` to its first posting at or after ``target``: blocks that end before it
    are passed by their skip rows, undecoded; then a scan inside the one block decoded."""
    if current[i] >= target:
        return
    n_blocks = (counts[i] + BLOCK - 1) // BLOCK
    block = state[i, 0]
    if n_blocks > 1:
        start = starts[i]
        while block < n_blocks - 1 and np.int64(np.int32(postings[start + SKIP_WORDS * block])) < target:
            block += 1
        if block != state[i, 0]:
            _load(postings, starts, counts, i, block, n_docs, current, state, block_docs, block_freqs)
    at = state[i, 1]
    size = state[i, 2]
    while at < size and block_docs[i, at] < target:
        at += 1
    if at < size:
        state[i, 1] = at
        current[i] = block_docs[i, at]
    else:  # only in the last block: every posting is before the target
        current[i] = SENTINEL


@kernel
def _open_cursors(
    postings: np.ndarray, starts: np.ndarray, counts: np.ndarray, n_docs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cursors on the first posting of each term: (current docs, state, block docs, block freqs)."""
    n = starts.shape[0]
    current = np.empty(n, dtype=np.int64)
    state = np.zeros((n, 3), dtype=np.int64)
    block_docs = np.empty((n, BLOCK), dtype=np.int64)
    block_freqs = np.empty((n, BLOCK), dtype=np.int64)
    for i in range(n):
        if counts[i] > 0:
            _load(postings, starts, counts, i, 0, n_docs, current, state, block_docs, block_freqs)
        else:
            current[i] = SENTINEL
    return current, state, block_docs, block_freqs


@kernel
def maxscore(
    postings: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray,
    fields: np.ndarray,
    lengths: np.ndarray,
    norm_base: np.ndarray,
    norm_slope: np.ndarray,
    allowed: np.ndarray,
    base: int,
    heap_scores: np.ndarray,
    heap_docs: np.ndarray,
    heap_size: int,
    matched: int,
    count_limit: int,
) -> tuple[int, int]:
    """Document-at-a-time MaxScore (Turtle & Flood, 1995) over one segment.

    Cursors must be sorted by upper bound ascending; a term's bound is its weight, since
    tf / (tf + norm) < 1. Until ``count_limit`` matches have been counted every document is
    scored (so the total is exact); after that, the terms whose bounds together cannot lift
    a document past the current k-th score are only probed, never iterated. The heap
    (capacity ``heap_scores.shape[0]``) carries over from segment to segment; returns the
    new heap size and match count.
    """
    n = starts.shape[0]
    k = heap_scores.shape[0]
    n_docs = lengths.shape[1]
    current, state, block_docs, block_freqs = _open_cursors(postings, starts, counts, n_docs)
    bound_prefix = np.empty(n)
    running = 0.0
    for i in range(n):
        running += weights[i]
        bound_prefix[i] = running
    threshold = heap_scores[0] if heap_size == k else -1.0
    first_essential = 0
    if matched >= count_limit:
        while first_essential < n and bound_prefix[first_essential] <= threshold:
            first_essential += 1
    while first_essential < n:
        candidate = SENTINEL
        for i in range(first_essential, n):
            if current[i] < candidate:
                candidate = current[i]
        if candidate == SENTINEL:
            break
        score = 0.0
        for i in range(first_essential, n):
            if current[i] == candidate:
                tf = float(block_freqs[i, state[i, 1]])
                score += weights[i] * tf / (tf + norm_base[i] + norm_slope[i] * lengths[fields[i], candidate])
                at = state[i, 1] + 1  # the next posting: in the decoded block, or the helper loads one
                if at < state[i, 2]:
                    state[i, 1] = at
                    current[i] = block_docs[i, at]
                else:
                    _next(postings, starts, counts, i, n_docs, current, state, block_docs, block_freqs)
        if not allowed[base + candidate]:
            continue
        for i in range(first_essential - 1, -1, -1):
            if score + bound_prefix[i] <= threshold:
                break
            if current[i] < candidate:  # probe: in the decoded block, or the helper skips blocks
                at, size = state[i, 1], state[i, 2]
                if block_docs[i, size - 1] >= candidate:
                    while block_docs[i, at] < candidate:
                        at += 1
                    state[i, 1] = at
                    current[i] = block_docs[i, at]
                else:
                    _advance(postings, starts, counts, i, candidate, n_docs, current, state, block_docs, block_freqs)
            if current[i] == candidate:
                tf = float(block_freqs[i, state[i, 1]])
                score += weights[i] * tf / (tf + norm_base[i] + norm_slope[i] * lengths[fields[i], candidate])
        matched += 1
        doc = base + candidate
        if heap_size < k:
            heap_scores[heap_size] = score
            heap_docs[heap_size] = doc
            heap_size += 1
            if heap_size == k:
                for start in range(k // 2 - 1, -1, -1):
                    _sift_down(heap_scores, heap_docs, k, start)
                threshold = heap_scores[0]
        elif score > heap_scores[0]:  # equal scores keep the earlier (lower) doc
            heap_scores[0] = score
            heap_docs[0] = doc
            _sift_down(heap_scores, heap_docs, k, 0)
            threshold = heap_scores[0]
        if matched >= count_limit:
            while first_essential < n and bound_prefix[first_essential] <= threshold:
                first_essential += 1
    return heap_size, matched


@kernel
def sort_heap(heap_scores: np.ndarray, heap_docs: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Heap contents in result order (score descending, doc ascending).

    A heap that never filled up is heapified first; then heap-sort moves the worst to the end,
    leaving the best first."""
    if size < heap_scores.shape[0]:
        for start in range(size // 2 - 1, -1, -1):
            _sift_down(heap_scores, heap_docs, size, start)
    for end in range(size - 1, 0, -1):
        heap_scores[0], heap_scores[end] = heap_scores[end], heap_scores[0]
        heap_docs[0], heap_docs[end] = heap_docs[end], heap_docs[0]
        _sift_down(heap_scores, heap_docs, end, 0)
    return heap_docs[:size], heap_scores[:size]


@kernel
def _one_block_terms(
    n_blocks: np.ndarray,
    state: np.ndarray,
    block_docs: np.ndarray,
    block_freqs: np.ndarray,
    fields: np.ndarray,
    lengths: np.ndarray,
    norm_base: np.ndarray,
    norm_slope: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For each term of one block (no skip rows): its last doc and its exact largest factor,
    read off the block the cursor decoded on opening (once per segment, not per posting)."""
    n = n_blocks.shape[0]
    last = np.zeros(n, dtype=np.int64)
    bound = np.zeros(n)
    for i in range(n):
        if n_blocks[i] == 1:
            size = state[i, 2]
            last[i] = block_docs[i, size - 1]
            for j in range(size):
                tf = float(block_freqs[i, j])
                factor = tf / (tf + norm_base[i] + norm_slope[i] * lengths[fields[i], block_docs[i, j]])
                bound[i] = max(bound[i], factor)
    return last, bound


@kernel
def block_max_maxscore(
    postings: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray,
    fields: np.ndarray,
    lengths: np.ndarray,
    norm_base: np.ndarray,
    norm_slope: np.ndarray,
    allowed: np.ndarray,
    base: int,
    heap_scores: np.ndarray,
    heap_docs: np.ndarray,
    heap_size: int,
    matched: int,
    count_limit: int,
) -> tuple[int, int]:
    """Block-max MaxScore over one segment, window by window (after Lucene's block-max MaxScore).

    A window ends where the first of the cursors' current blocks ends. Each term's bound in the
    window is its block's bound: from the block's skip row (the (tf, length) points stored at
    flush, valid for any k1 and b), or for a term of one block, its exact maximum (the block is
    decoded anyway). A window whose bounds sum to no more than the k-th score is skipped whole —
    its blocks are never decoded — and inside a window the terms whose bounds cannot lift a
    document past it are only probed. Until ``count_limit`` matches are counted nothing is
    skipped. The scoring, probing and heap code repeats ``maxscore``'s on purpose: shared njit
    helpers in these loops measured much slower (see ``top_k_and_clear``).
    """
    n = starts.shape[0]
    k = heap_scores.shape[0]
    n_docs = lengths.shape[1]
    current, state, block_docs, block_freqs = _open_cursors(postings, starts, counts, n_docs)
    n_blocks = (counts + BLOCK - 1) // BLOCK
    single_last, single_bound = _one_block_terms(
        n_blocks, state, block_docs, block_freqs, fields, lengths, norm_base, norm_slope
    )
    bound_block = np.zeros(n, dtype=np.int64)  # the block each cursor's window bound comes from
    bound = np.zeros(n)
    order = np.arange(n)
    prefix = np.zeros(n)
    threshold = heap_scores[0] if heap_size == k else -1.0
    while True:
        window_start = SENTINEL
        for i in range(n):
            if current[i] < window_start:
                window_start = current[i]
        if window_start == SENTINEL:
            break
        window_end = SENTINEL
        for i in range(n):
            bound[i] = 0.0
            if current[i] == SENTINEL:
                continue
            if n_blocks[i] == 1:
                last = single_last[i]
                bound[i] = weights[i] * single_bound[i]
            else:
                row = starts[i] + SKIP_WORDS * bound_block[i]
                while bound_block[i] < n_blocks[i] - 1 and np.int64(np.int32(postings[row])) < window_start:
                    bound_block[i] += 1
                    row += SKIP_WORDS
                last = np.int64(np.int32(postings[row]))
                bound[i] = weights[i] * BOUND_SLACK * block_bound(postings, row, norm_base[i], norm_slope[i])
            if last < window_end:
                window_end = last
        pruning = matched >= count_limit and heap_size == k
        if pruning:
            total_bound = 0.0
            for i in range(n):
                total_bound += bound[i]
            if total_bound <= threshold:
                for i in range(n):
                    _advance(
                        postings, starts, counts, i, window_end + 1, n_docs, current, state, block_docs, block_freqs
                    )
                continue
        # Terms by window bound, ascending; the non-essential prefix only gets probed.
        for j in range(n):  # insertion sort: few terms, and no allocation per window
            order[j] = j
        for j in range(1, n):
            chosen = order[j]
            m = j - 1
            while m >= 0 and bound[order[m]] > bound[chosen]:
                order[m + 1] = order[m]
                m -= 1
            order[m + 1] = chosen
        running = 0.0
        for j in range(n):
            running += bound[order[j]]
            prefix[j] = running
        first_essential = 0
        if pruning:
            while first_essential < n and prefix[first_essential] <= threshold:
                first_essential += 1
        while True:
            candidate = SENTINEL
            for j in range(first_essential, n):
                i = order[j]
                if current[i] < candidate:
                    candidate = current[i]
            if candidate == SENTINEL or candidate > window_end:
                # Every document of the window is settled: scored, or (only in probed lists)
                # unable to reach the top k. Move all cursors past it, so none is seen twice.
                for i in range(n):
                    _advance(
                        postings, starts, counts, i, window_end + 1, n_docs, current, state, block_docs, block_freqs
                    )
                break
            score = 0.0
            for j in range(first_essential, n):
                i = order[j]
                if current[i] == candidate:
                    tf = float(block_freqs[i, state[i, 1]])
                    score += weights[i] * tf / (tf + norm_base[i] + norm_slope[i] * lengths[fields[i], candidate])
                    at = state[i, 1] + 1  # the next posting: in the decoded block, or the helper loads one
                    if at < state[i, 2]:
                        state[i, 1] = at
                        current[i] = block_docs[i, at]
                    else:
                        _next(postings, starts, counts, i, n_docs, current, state, block_docs, block_freqs)
            if not allowed[base + candidate]:
                continue
            for j in range(first_essential - 1, -1, -1):
                if score + prefix[j] <= threshold:
                    break
                i = order[j]
                if current[i] < candidate:  # probe: in the decoded block, or the helper skips blocks
                    at, size = state[i, 1], state[i, 2]
                    if block_docs[i, size - 1] >= candidate:
                        while block_docs[i, at] < candidate:
                            at += 1
                        state[i, 1] = at
                        current[i] = block_docs[i, at]
                    else:
                        _advance(
                            postings, starts, counts, i, candidate, n_docs, current, state, block_docs, block_freqs
                        )
                if current[i] == candidate:
                    tf = float(block_freqs[i, state[i, 1]])
                    score += weights[i] * tf / (tf + norm_base[i] + norm_slope[i] * lengths[fields[i], candidate])
            matched += 1
            doc = base + candidate
            if heap_size < k:
                heap_scores[heap_size] = score
                heap_docs[heap_size] = doc
                heap_size += 1
                if heap_size == k:
                    for start in range(k // 2 - 1, -1, -1):
                        _sift_down(heap_scores, heap_docs, k, start)
                    threshold = heap_scores[0]
            elif score > heap_scores[0]:
                heap_scores[0] = score
                heap_docs[0] = doc
                _sift_down(heap_scores, heap_docs, k, 0)
                threshold = heap_scores[0]
            if matched >= count_limit and heap_size == k:
                pruning = True
                while first_essential < n and prefix[first_essential] <= threshold:
                    first_essential += 1
    return heap_size, matched


@kernel
def block_max_wand(
    postings: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray,
    fields: np.ndarray,
    lengths: np.ndarray,
    norm_base: np.ndarray,
    norm_slope: np.ndarray,
    allowed: np.ndarray,
    base: int,
    heap_scores: np.ndarray,
    heap_docs: np.ndarray,
    heap_size: int,
    matched: int,
    count_limit: int,
) -> tuple[int, int]:
    """Block-max WAND (Ding & Suel, 2011; as PISA's ``block_max_wand``) over one segment.

    Cursors are kept in order of their current doc. The pivot is the first cursor at which the
    terms' whole-list bounds, summed in that order, exceed the k-th score: no document before
    the pivot's can enter the heap. Then the block bounds of the cursors up to the pivot, at the
    pivot's doc, decide: above the k-th score, the pivot doc is scored (when every cursor up to
    the pivot is on it) or those cursors move to it; otherwise every document up to the end of
    the first of those blocks is passed at once (or up to the next cursor's doc, if that comes
    first), its blocks undecoded. Until ``count_limit`` matches are counted nothing is pruned.
    Same heap and result order as ``maxscore``.
    """
    n = starts.shape[0]
    k = heap_scores.shape[0]
    n_docs = lengths.shape[1]
    current, state, block_docs, block_freqs = _open_cursors(postings, starts, counts, n_docs)
    n_blocks = (counts + BLOCK - 1) // BLOCK
    single_last, single_bound = _one_block_terms(
        n_blocks, state, block_docs, block_freqs, fields, lengths, norm_base, norm_slope
    )
    term_bound = np.zeros(n)
    for i in range(n):
        if n_blocks[i] == 1:
            term_bound[i] = weights[i] * single_bound[i] * BOUND_SLACK
        else:
            top = 0.0
            for b in range(n_blocks[i]):
                row = starts[i] + SKIP_WORDS * b
                top = max(top, block_bound(postings, row, norm_base[i], norm_slope[i]))
            term_bound[i] = weights[i] * top * BOUND_SLACK
    # Each cursor's block for bounds (moved by skip rows, ahead of the decoded one), with its
    # last doc and weighted bound, recomputed only when it moves.
    bound_block = np.zeros(n, dtype=np.int64)
    block_last = np.zeros(n, dtype=np.int64)
    current_bound = np.zeros(n)
    for i in range(n):
        if n_blocks[i] == 1:
            block_last[i] = single_last[i]
            current_bound[i] = term_bound[i]
        else:
            row = starts[i]
            block_last[i] = np.int64(np.int32(postings[row]))
            current_bound[i] = weights[i] * BOUND_SLACK * block_bound(postings, row, norm_base[i], norm_slope[i])
    order = np.arange(n)
    threshold = heap_scores[0] if heap_size == k and matched >= count_limit else -1.0
    while True:
        for j in range(1, n):  # insertion sort by current doc: few terms, mostly in order already
            chosen = order[j]
            m = j - 1
            while m >= 0 and current[order[m]] > current[chosen]:
                order[m + 1] = order[m]
                m -= 1
            order[m + 1] = chosen
        upper = 0.0
        pivot = -1
        for j in range(n):
            if current[order[j]] == SENTINEL:
                break
            upper += term_bound[order[j]]
            if upper > threshold:
                pivot = j
                break
        if pivot < 0:
            break
        pivot_doc = current[order[pivot]]
        while pivot + 1 < n and current[order[pivot + 1]] == pivot_doc:
            pivot += 1
        block_upper = 0.0
        window_end = SENTINEL
        for j in range(pivot + 1):
            i = order[j]
            if block_last[i] < pivot_doc:  # only a term of several blocks: move by skip rows
                row = starts[i] + SKIP_WORDS * bound_block[i]
                while bound_block[i] < n_blocks[i] - 1 and np.int64(np.int32(postings[row])) < pivot_doc:
                    bound_block[i] += 1
                    row += SKIP_WORDS
                block_last[i] = np.int64(np.int32(postings[row]))
                current_bound[i] = weights[i] * BOUND_SLACK * block_bound(postings, row, norm_base[i], norm_slope[i])
            block_upper += current_bound[i]
            if block_last[i] < window_end:
                window_end = block_last[i]
        if block_upper > threshold:
            if current[order[0]] == pivot_doc:  # every cursor up to the pivot is on its doc
                score = 0.0
                for j in range(pivot + 1):
                    i = order[j]
                    tf = float(block_freqs[i, state[i, 1]])
                    score += weights[i] * tf / (tf + norm_base[i] + norm_slope[i] * lengths[fields[i], pivot_doc])
                    at = state[i, 1] + 1
                    if at < state[i, 2]:
                        state[i, 1] = at
                        current[i] = block_docs[i, at]
                    else:
                        _next(postings, starts, counts, i, n_docs, current, state, block_docs, block_freqs)
                if not allowed[base + pivot_doc]:
                    continue
                matched += 1
                doc = base + pivot_doc
                if heap_size < k:
                    heap_scores[heap_size] = score
                    heap_docs[heap_size] = doc
                    heap_size += 1
                    if heap_size == k:
                        for start in range(k // 2 - 1, -1, -1):
                            _sift_down(heap_scores, heap_docs, k, start)
                elif score > heap_scores[0]:  # equal scores keep the earlier (lower) doc
                    heap_scores[0] = score
                    heap_docs[0] = doc
                    _sift_down(heap_scores, heap_docs, k, 0)
                if heap_size == k and matched >= count_limit:
                    threshold = heap_scores[0]
            else:
                for j in range(pivot):
                    i = order[j]
                    if current[i] < pivot_doc:  # in the decoded block, or the helper skips blocks
                        at, size = state[i, 1], state[i, 2]
                        if block_docs[i, size - 1] >= pivot_doc:
                            while block_docs[i, at] < pivot_doc:
                                at += 1
                            state[i, 1] = at
                            current[i] = block_docs[i, at]
                        else:
                            _advance(
                                postings, starts, counts, i, pivot_doc, n_docs, current, state, block_docs, block_freqs
                            )
        else:
            target = window_end + 1
            if pivot + 1 < n and current[order[pivot + 1]] < target:
                target = current[order[pivot + 1]]
            if target <= pivot_doc:
                target = pivot_doc + 1
            for j in range(pivot + 1):
                i = order[j]
                if current[i] < target:
                    at, size = state[i, 1], state[i, 2]
                    if block_docs[i, size - 1] >= target:
                        while block_docs[i, at] < target:
                            at += 1
                        state[i, 1] = at
                        current[i] = block_docs[i, at]
                    else:
                        _advance(postings, starts, counts, i, target, n_docs, current, state, block_docs, block_freqs)
    return heap_size, matched


SLOPPY_CHOICES_LIMIT = 1 << 16  # a document's choices tried one by one when the sweep misses a repeated word


@kernel
def sloppy_phrase_freqs(
    places: np.ndarray, first: np.ndarray, last: np.ndarray, slop: int, offsets: np.ndarray, words: np.ndarray
) -> np.ndarray:
    """Per candidate document, its sloppy phrase frequency (Lucene's sloppy phrase matching).

    ``places`` holds each phrase piece's positions minus its ``offsets`` entry, piece after
    piece, ascending within a document; ``first[p, c]`` and ``last[p, c]`` bound piece p's in
    candidate c; ``words[p]`` names the piece's word (a repeated word is several pieces). A
    choice of one position per piece matches when the spread of those places (largest −
    smallest: 0 for the exact phrase, 2 for two words swapped) is at most ``slop`` and no
    occurrence serves two pieces; it weighs 1 / (1 + spread). The smallest place moves on
    until a piece runs out. With a repeated word that sweep can pass an occurrence a match
    needed; a document it finds none in then tries every choice (up to
    ``SLOPPY_CHOICES_LIMIT``) and counts the closest once. A document with no match gets 0."""
    n_pieces, n_candidates = first.shape
    repeated = False
    for p in range(n_pieces):
        for q in range(p + 1, n_pieces):
            if words[p] == words[q]:
                repeated = True
    out = np.zeros(n_candidates)
    at = np.empty(n_pieces, dtype=np.int64)
    for c in range(n_candidates):
        for p in range(n_pieces):
            at[p] = first[p, c]
        freq = 0.0
        while True:
            low = places[at[0]]
            high = low
            lowest = 0
            for p in range(1, n_pieces):
                place = places[at[p]]
                if place < low:
                    low = place
                    lowest = p
                if place > high:
                    high = place
            if high - low <= slop and not (repeated and _shares_an_occurrence(places, at, offsets, words)):
                freq += 1.0 / (1.0 + (high - low))
            at[lowest] += 1
            if at[lowest] >= last[lowest, c]:
                break
        if freq == 0.0 and repeated:
            spread = _closest_choice(places, first, last, c, offsets, words)
            if 0 <= spread <= slop:
                freq = 1.0 / (1.0 + spread)
        out[c] = freq
    return out


@kernel
def _shares_an_occurrence(places: np.ndarray, at: np.ndarray, offsets: np.ndarray, words: np.ndarray) -> bool:
    """Whether the choice ``at`` takes one occurrence of a repeated word for two of its pieces."""
    n_pieces = at.shape[0]
    for p in range(n_pieces):
        for q in range(p + 1, n_pieces):
            if words[p] == words[q] and places[at[p]] + offsets[p] == places[at[q]] + offsets[q]:
                return True
    return False


@kernel
def _closest_choice(
    places: np.ndarray, first: np.ndarray, last: np.ndarray, c: int, offsets: np.ndarray, words: np.ndarray
) -> int:
    """The smallest spread of any valid choice in candidate ``c`` (every combination tried, as
    an odometer), or -1 when there is none or more than ``SLOPPY_CHOICES_LIMIT`` to try."""
    n_pieces = first.shape[0]
    total = 1
    for p in range(n_pieces):
        total *= last[p, c] - first[p, c]
        if total > SLOPPY_CHOICES_LIMIT:
            return -1
    at = np.empty(n_pieces, dtype=np.int64)
    for p in range(n_pieces):
        at[p] = first[p, c]
    best = -1
    while True:
        low = places[at[0]]
        high = low
        for p in range(1, n_pieces):
            low = min(low, places[at[p]])
            high = max(high, places[at[p]])
        if (best < 0 or high - low < best) and not _shares_an_occurrence(places, at, offsets, words):
            best = high - low
        p = 0
        while p < n_pieces:
            at[p] += 1
            if at[p] < last[p, c]:
                break
            at[p] = first[p, c]
            p += 1
        if p == n_pieces:
            return best
