"""Compiled inner loops (numba): score accumulation over postings and top-k selection.

They know no formula: a ``Similarity`` (``similarity.py``) turns statistics into the arrays these
loops take — per-term weights (multiplicity · boost · idf) and per-field length-norm constants —
and every loop computes the one shape ``weight · tf / (tf + base + slope · dl)``.

Term-at-a-time: each query term's postings add their contribution into a dense score array;
documents are remembered the first time they score, so selecting the top k and clearing the
array afterwards touch only the matching documents.
"""

from __future__ import annotations

import numpy as np

from zhisou.compiled import kernel
from zhisou.index.termdict import find_keys

DEEP_FROM = 64  # top_k_and_clear: deeper lists than this, out of 8× more candidates, find a floor first
# The floor histogram's bins: a float64's sign, exponent and top 8 mantissa bits (256 bins an
# octave), for scores from 2^-40 to 2^24; smaller ones share the first bin, larger the last.
FLOOR_MANTISSA_BITS = 8
FLOOR_SHIFT = 52 - FLOOR_MANTISSA_BITS
FLOOR_FIRST_BIN = (1023 - 40) << FLOOR_MANTISSA_BITS
FLOOR_BINS = 64 << FLOOR_MANTISSA_BITS


@kernel
def accumulate(
    docs: np.ndarray,
    freqs: np.ndarray,
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
    scores: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
) -> int:
    """Add the contributions of every query term one segment holds.

    ``ranges[t]`` is (postings start, count) of term t, ``field_of[t]`` its field; per field,
    ``rows`` is its row in the segment's length matrix ``lengths`` and the length norm is
    ``norm_bases[field] + norm_slopes[field] · dl``.
    When ``filtered``, ``allowed[base + doc]`` says which documents may score (live and passing
    filters; not looking it up when every document may saves 12 % of this loop at 1M); returns the new
    number of entries in ``touched``, which needs one slot more than documents can be touched.
    Doc ids are used unchecked: a segment checks its postings once before they are first read
    (``SegmentReader.docs``); a check per posting here cost 12 % of this loop.
    """
    for t in range(ranges.shape[0]):
        weight = weights[t]
        if weight == 0.0:
            continue
        field_lengths = lengths[rows[field_of[t]]]
        slope = norm_slopes[field_of[t]]
        norm_base = norm_bases[field_of[t]]
        start = ranges[t, 0]
        for i in range(start, start + ranges[t, 1]):
            local = docs[i]
            doc = base + local
            if filtered and not allowed[doc]:
                continue
            tf = float(freqs[i])
            contribution = weight * tf / (tf + norm_base + slope * field_lengths[local])
            # Branch-free first-touch bookkeeping: whether a doc is new is unpredictable.
            touched[n_touched] = doc
            n_touched += scores[doc] == 0.0
            scores[doc] += contribution
    return n_touched


@kernel
def score_one_segment(
    term_keys: np.ndarray,
    term_offsets: np.ndarray,
    term_table: np.ndarray,
    term_info: np.ndarray,
    idf_table: np.ndarray,
    wanted: np.ndarray,
    wanted_offsets: np.ndarray,
    multiplicity: np.ndarray,
    field_of: np.ndarray,
    boosts: np.ndarray,
    docs: np.ndarray,
    freqs: np.ndarray,
    rows: np.ndarray,
    norm_slopes: np.ndarray,
    lengths: np.ndarray,
    norm_bases: np.ndarray,
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
    saves are ~3 µs of it."""
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
        docs,
        freqs,
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
        scores,
        touched,
        0,
    )
    top_docs, top_scores = top_k_and_clear(scores, touched, n_touched, k, gathered)
    return top_docs, top_scores, n_touched


@kernel
def live_doc_freq(docs: np.ndarray, start: int, count: int, live: np.ndarray) -> int:
    """Live postings of one term."""
    total = 0
    for i in range(start, start + count):
        if live[docs[i]]:
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
    for i in range(n_touched):
        doc = touched[i]
        score = scores[doc]
        scores[doc] = 0.0
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
        doc = touched[i]
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


@kernel
def _seek(docs: np.ndarray, position: int, end: int, target: int) -> int:
    """First position in [position, end) whose doc is >= target (galloping, then binary search)."""
    if position >= end or docs[position] >= target:
        return position
    step = 1
    low = position
    while position + step < end and docs[position + step] < target:
        low = position + step
        step *= 2
    high = min(position + step, end)
    while low < high:
        middle = (low + high) // 2
        if docs[middle] < target:
            low = middle + 1
        else:
            high = middle
    return low


@kernel
def maxscore(
    docs: np.ndarray,
    freqs: np.ndarray,
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
    end_of = starts + counts
    position = starts.copy()
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
    sentinel = np.iinfo(np.int64).max
    while first_essential < n:
        candidate = sentinel
        for i in range(first_essential, n):
            if position[i] < end_of[i] and docs[position[i]] < candidate:
                candidate = docs[position[i]]
        if candidate == sentinel:
            break
        score = 0.0
        for i in range(first_essential, n):
            p = position[i]
            if p < end_of[i] and docs[p] == candidate:
                tf = float(freqs[p])
                score += weights[i] * tf / (tf + norm_base[i] + norm_slope[i] * lengths[fields[i], candidate])
                position[i] = p + 1
        if not allowed[base + candidate]:
            continue
        for i in range(first_essential - 1, -1, -1):
            if score + bound_prefix[i] <= threshold:
                break
            p = _seek(docs, position[i], end_of[i], candidate)
            position[i] = p
            if p < end_of[i] and docs[p] == candidate:
                tf = float(freqs[p])
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
def block_max_maxscore(
    docs: np.ndarray,
    freqs: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray,
    fields: np.ndarray,
    lengths: np.ndarray,
    norm_base: np.ndarray,
    norm_slope: np.ndarray,
    block_offsets: np.ndarray,
    block_last: np.ndarray,
    block_max: np.ndarray,
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
    window is its block maximum; a window whose bounds sum to no more than the k-th score is
    skipped whole, and inside a window the terms whose bounds cannot lift a document past it
    are only probed. Until ``count_limit`` matches are counted nothing is skipped. Cursor ``i``
    owns blocks ``block_offsets[i]:block_offsets[i + 1]`` of the block arrays. The scoring,
    probing and heap code repeats ``maxscore``'s on purpose: shared njit helpers in these loops
    measured much slower (see ``top_k_and_clear``).
    """
    n = starts.shape[0]
    k = heap_scores.shape[0]
    end_of = starts + counts
    position = starts.copy()
    block = block_offsets[:-1].copy()
    bound = np.zeros(n)
    order = np.arange(n)
    prefix = np.zeros(n)
    sentinel = np.iinfo(np.int64).max
    threshold = heap_scores[0] if heap_size == k else -1.0
    while True:
        window_start = sentinel
        for i in range(n):
            if position[i] < end_of[i] and docs[position[i]] < window_start:
                window_start = docs[position[i]]
        if window_start == sentinel:
            break
        window_end = sentinel
        for i in range(n):
            bound[i] = 0.0
            if position[i] >= end_of[i]:
                continue
            b = block[i]
            while b < block_offsets[i + 1] - 1 and block_last[b] < window_start:
                b += 1
            block[i] = b
            if block_last[b] < window_end:
                window_end = block_last[b]
            bound[i] = weights[i] * block_max[b]
        pruning = matched >= count_limit and heap_size == k
        if pruning:
            total_bound = 0.0
            for i in range(n):
                total_bound += bound[i]
            if total_bound <= threshold:
                for i in range(n):
                    position[i] = _seek(docs, position[i], end_of[i], window_end + 1)
                continue
        # Terms by window bound, ascending; the non-essential prefix only gets probed.
        for j in range(n):  # insertion sort: few terms, and no allocation per window
            order[j] = j
        for j in range(1, n):
            current = order[j]
            m = j - 1
            while m >= 0 and bound[order[m]] > bound[current]:
                order[m + 1] = order[m]
                m -= 1
            order[m + 1] = current
        running = 0.0
        for j in range(n):
            running += bound[order[j]]
            prefix[j] = running
        first_essential = 0
        if pruning:
            while first_essential < n and prefix[first_essential] <= threshold:
                first_essential += 1
        while True:
            candidate = sentinel
            for j in range(first_essential, n):
                i = order[j]
                p = position[i]
                if p < end_of[i] and docs[p] < candidate:
                    candidate = docs[p]
            if candidate == sentinel or candidate > window_end:
                # Every document of the window is settled: scored, or (only in probed lists)
                # unable to reach the top k. Move all cursors past it, so none is seen twice.
                for i in range(n):
                    position[i] = _seek(docs, position[i], end_of[i], window_end + 1)
                break
            score = 0.0
            for j in range(first_essential, n):
                i = order[j]
                p = position[i]
                if p < end_of[i] and docs[p] == candidate:
                    tf = float(freqs[p])
                    score += weights[i] * tf / (tf + norm_base[i] + norm_slope[i] * lengths[fields[i], candidate])
                    position[i] = p + 1
            if not allowed[base + candidate]:
                continue
            for j in range(first_essential - 1, -1, -1):
                if score + prefix[j] <= threshold:
                    break
                i = order[j]
                p = _seek(docs, position[i], end_of[i], candidate)
                position[i] = p
                if p < end_of[i] and docs[p] == candidate:
                    tf = float(freqs[p])
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
