"""The postings codec (codec 3): doc ids, frequencies and positions in bit-packed blocks.

Both files are arrays of little-endian u32 words; a term's area starts at the word its
``tdi`` row names. Values are packed least significant bit first, value j of a block at bit
``j · width`` of the block's words; a block of n values of width w takes ⌈n·w / 32⌉ words
(width 0: none, every value is 0).

Postings (``pst``), a term of ``df`` postings in B = ⌈df / 128⌉ blocks of 128 (the last holds
the rest):

    skip rows     only when B > 1: per block 10 words (i32) — the block's last doc id, where its
                  data starts (words from the term's start), and four (tf, length) points that
                  bound every posting of the block (``BOUND_POINTS``)
    headers       ⌈B / 2⌉ words: per block 16 bits, the doc width (low byte) and freq width
    blocks        per block: n doc gaps (doc − previous doc − 1; the previous doc of a block's
                  first is the last of the block before, −1 for the first block), then n
                  frequencies − 1

Positions (``pos``), the Σ tf positions of a term, posting after posting, as gaps within a
posting (its first position as it is):

    headers       ⌈B / 4⌉ words: per block of 128 values 8 bits, its width
    blocks        the packed values

Reading is either bulk, vectorised with numpy (merges, phrase positions, facets: no numba),
or block by block inside the compiled scoring loops (``unpack``, ``load_block``); the two
are tested against each other and against the arrays they were made from.

The bound points: ``tf / (tf + c + d · length)`` rises with tf and falls with length for every
c, d ≥ 0 (every k1 and b), so a block's BM25 factor is largest at a posting of its Pareto front
— the postings no other posting beats in both tf and length — and points that dominate every
posting bound the block for any parameters. A front of up to four postings is stored as it is
(the bound is then exact); a longer one is cut into four runs of consecutive front postings,
each stored as (its highest tf, its shortest length). Unused points are (0, 0).
"""

from __future__ import annotations

import sys

import numpy as np

from zhisou.compiled import inline, kernel
from zhisou.errors import CorruptIndexError

BLOCK = 128
BOUND_POINTS = 4  # (tf, length) points per skip row
SKIP_WORDS = 2 + 2 * BOUND_POINTS  # last doc, data offset, then the points


# -- bit packing (numpy, whole batches of blocks at once) -----------------------------------


def _words(count: np.ndarray, width: np.ndarray) -> np.ndarray:
    return (count * width + 31) >> 5


_POWERS = np.uint64(1) << np.arange(64, dtype=np.uint64)


def sums_before(values: np.ndarray) -> np.ndarray:
    """For each entry, the sum of the entries before it (where each run starts)."""
    values = np.asarray(values, dtype=np.int64)
    return np.cumsum(values) - values


def _widths(values: np.ndarray, block_starts: np.ndarray) -> np.ndarray:
    """Bits needed by the largest value of each block (0 for a block of zeros): how many powers
    of two are at most that value."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    top = np.maximum.reduceat(values, block_starts).astype(np.uint64)
    return np.searchsorted(_POWERS, top, side="right").astype(np.int64)


def _by_slot(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values grouped by their slot in the block (0 .. 127): an order and each slot's run.
    Within one slot every value belongs to another block, so no two write the same word."""
    order = np.argsort(index.astype(np.uint8), kind="stable")  # a radix sort
    bounds = np.searchsorted(index[order], np.arange(BLOCK + 1))
    return order, bounds


def _pack(
    values: np.ndarray,
    value_block: np.ndarray,
    index: np.ndarray,
    widths: np.ndarray,
    block_word: np.ndarray,
    out: np.ndarray,
) -> None:
    """Write each block's values (value ``index`` of block ``value_block``) at its block's
    first word ``block_word``, ``widths[block]`` bits each: one vector step per slot of a
    block (128 in all), each over every block's value in that slot."""
    width = widths[value_block]
    packed = np.flatnonzero(width > 0)
    if not len(packed):
        return
    order, bounds = _by_slot(index[packed])
    chosen = packed[order]
    values = values[chosen].astype(np.uint64)
    width = width[chosen]
    first_word = block_word[value_block[chosen]]
    for slot in range(BLOCK):
        low, high = int(bounds[slot]), int(bounds[slot + 1])
        if low == high:
            break  # slots fill from 0: an empty one has no successors
        bit = slot * width[low:high]
        word = first_word[low:high] + (bit >> 5)
        shift = (bit & 31).astype(np.uint64)
        value = values[low:high]
        out[word] |= ((value << shift) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        spill = shift + width[low:high].astype(np.uint64) > np.uint64(32)
        if spill.any():
            out[word[spill] + 1] |= (value[spill] >> (np.uint64(32) - shift[spill])).astype(np.uint32)


def _unpack(
    words: np.ndarray, value_block: np.ndarray, index: np.ndarray, widths: np.ndarray, block_word: np.ndarray
) -> np.ndarray:
    """The inverse of ``_pack``: value ``index`` of its block (int64)."""
    out = np.zeros(len(index), dtype=np.int64)
    width = widths[value_block]
    packed = np.flatnonzero(width > 0)
    if not len(packed):
        return out
    order, bounds = _by_slot(index[packed])
    chosen = packed[order]
    width = width[chosen]
    first_word = block_word[value_block[chosen]]
    last = first_word + ((index[chosen] + 1) * width + 31 >> 5)  # one past each value's last word
    if int(first_word.min()) < 0 or int(last.max()) >= len(words):
        raise CorruptIndexError("postings point outside their file; the index is damaged (restore it or rebuild)")
    mask = (np.uint64(1) << width.astype(np.uint64)) - np.uint64(1)
    for slot in range(BLOCK):
        low, high = int(bounds[slot]), int(bounds[slot + 1])
        if low == high:
            break
        bit = slot * width[low:high]
        word = first_word[low:high] + (bit >> 5)
        pair = words[word].astype(np.uint64) | (words[word + 1].astype(np.uint64) << np.uint64(32))
        values = (pair >> (bit & 31).astype(np.uint64)) & mask[low:high]
        out[chosen[low:high]] = values.astype(np.int64)
    return out


def _block_layout(counts: np.ndarray, per_block: int = BLOCK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For terms of ``counts`` values: each term's number of blocks, each block's term and its
    number of values."""
    n_blocks = (counts + per_block - 1) // per_block
    term_of = np.repeat(np.arange(len(counts)), n_blocks)
    first_block = sums_before(n_blocks)
    within = np.arange(len(term_of)) - first_block[term_of]
    sizes = np.minimum(per_block, counts[term_of] - within * per_block)
    return n_blocks, term_of, sizes


# -- writing --------------------------------------------------------------------------------


def encode_postings(
    counts: np.ndarray, docs: np.ndarray, freqs: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Terms of ``counts`` postings each (docs ascending within a term, freqs ≥ 1), and each
    posting's field length: the words of their areas, one after another, and where each
    term's area starts (relative to the first)."""
    counts = np.asarray(counts, dtype=np.int64)
    if not len(counts):
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    docs = np.asarray(docs, dtype=np.int64)
    freqs = np.asarray(freqs, dtype=np.int64)
    if compiled_pays(len(docs)):
        return _encode_postings_compiled(counts, docs, freqs, np.asarray(lengths, dtype=np.int64))
    n_blocks, term_of, sizes = _block_layout(counts)
    block_starts = sums_before(sizes)
    block_of = np.repeat(np.arange(len(sizes)), sizes)
    index = np.arange(len(docs)) - block_starts[block_of]
    # Gaps: each doc minus the one before it in its term, minus one (a term's first: the doc itself).
    term_starts = sums_before(counts)
    previous = np.empty_like(docs)
    previous[0] = -1
    previous[1:] = docs[:-1]
    previous[term_starts] = -1
    gaps = docs - previous - 1
    if len(gaps) and int(gaps.min()) < 0:
        raise ValueError("postings doc ids must ascend within a term")
    extra = freqs - 1
    doc_width = _widths(gaps, block_starts)
    freq_width = _widths(extra, block_starts)
    data_words = _words(sizes, doc_width) + _words(sizes, freq_width)
    # Per term: skip rows (more than one block), headers, then the blocks' data.
    head_words = np.where(n_blocks > 1, SKIP_WORDS * n_blocks, 0) + (n_blocks + 1) // 2
    first_block = sums_before(n_blocks)
    data_per_term = np.add.reduceat(data_words, first_block)
    term_words = head_words + data_per_term
    term_start = sums_before(term_words)
    out = np.zeros(int(term_words.sum()), dtype=np.uint32)
    # Each block's data offset from its term's start.
    data_before = sums_before(data_words)  # data words of all blocks before each, globally
    block_rel = head_words[term_of] + data_before - data_before[first_block[term_of]]
    block_word = term_start[term_of] + block_rel
    within = np.arange(len(sizes)) - first_block[term_of]
    # Headers: two blocks to a word.
    header_word = (
        term_start[term_of] + np.where(n_blocks[term_of] > 1, SKIP_WORDS * n_blocks[term_of], 0) + (within >> 1)
    )
    header = ((doc_width | (freq_width << 8)) << (16 * (within & 1))).astype(np.uint64)
    np.add.at(out, header_word, header.astype(np.uint32))
    _pack(gaps, block_of, index, doc_width, block_word, out)
    _pack(extra, block_of, index, freq_width, block_word + _words(sizes, doc_width), out)
    multi = np.flatnonzero(n_blocks[term_of] > 1)
    if len(multi):
        last_docs = docs[block_starts + sizes - 1]
        points = block_bounds(freqs, np.asarray(lengths, dtype=np.int64), block_starts)
        rows = np.column_stack((last_docs, block_rel, points))[multi]
        row_word = term_start[term_of[multi]] + SKIP_WORDS * within[multi]
        target = row_word[:, None] + np.arange(SKIP_WORDS)
        out[target] = rows.astype(np.int64).astype(np.uint32)
    return out, term_start


def block_bounds(freqs: np.ndarray, lengths: np.ndarray, block_starts: np.ndarray) -> np.ndarray:
    """Per block, its ``BOUND_POINTS`` (tf, length) points (module docstring), as tf₁, length₁,
    tf₂, … columns."""
    n = len(freqs)
    n_blocks = len(block_starts)
    block_of = np.repeat(np.arange(n_blocks), np.diff(np.append(block_starts, n)))
    # By block, then length ascending, then tf descending: a posting is on the front when its tf
    # beats every shorter posting's of its block (a running maximum restarted per block).
    order = np.lexsort((-freqs, lengths, block_of))
    tf, length, block = freqs[order], lengths[order], block_of[order]
    shifted = block * (1 << 40) + tf  # tf < 2^32: the running max never crosses a block
    before = np.empty(n, dtype=np.int64)
    before[0] = -1
    before[1:] = np.maximum.accumulate(shifted)[:-1]
    first = np.ones(n, dtype=bool)
    first[1:] = block[1:] != block[:-1]
    on_front = first | (shifted > before)
    front_tf, front_length, front_block = tf[on_front], length[on_front], block[on_front]
    size = np.bincount(front_block, minlength=n_blocks)
    rank = np.arange(len(front_block)) - sums_before(size)[front_block]
    group = np.where(size[front_block] <= BOUND_POINTS, rank, rank * BOUND_POINTS // size[front_block])
    slot = front_block * BOUND_POINTS + group
    out_tf = np.zeros(n_blocks * BOUND_POINTS, dtype=np.int64)
    out_length = np.full(n_blocks * BOUND_POINTS, np.iinfo(np.int64).max, dtype=np.int64)
    np.maximum.at(out_tf, slot, front_tf)
    np.minimum.at(out_length, slot, front_length)
    out_length[out_tf == 0] = 0
    return np.column_stack((out_tf, out_length)).reshape(n_blocks, 2 * BOUND_POINTS)


def encode_positions(freqs: np.ndarray, positions: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each term's positions (``counts`` postings per term, ``freqs[i]`` positions per posting,
    ascending within a posting): the words of their areas and where each term's starts."""
    counts = np.asarray(counts, dtype=np.int64)
    if not len(counts):
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    freqs = np.asarray(freqs, dtype=np.int64)
    positions = np.asarray(positions, dtype=np.int64)
    if compiled_pays(len(positions)):
        return _encode_positions_compiled(freqs, positions, counts)
    per_term = np.add.reduceat(freqs, sums_before(counts))
    gaps = positions.copy()
    posting_starts = sums_before(freqs)
    inner = np.ones(len(positions), dtype=bool)
    inner[posting_starts[freqs > 0]] = False
    gaps[1:][inner[1:]] -= positions[:-1][inner[1:]]
    if len(gaps) and int(gaps.min()) < 0:
        raise ValueError("positions must ascend within a posting and be non-negative")
    n_blocks, term_of, sizes = _block_layout(per_term)
    block_starts = sums_before(sizes)
    block_of = np.repeat(np.arange(len(sizes)), sizes)
    index = np.arange(len(gaps)) - block_starts[block_of]
    widths = _widths(gaps, block_starts)
    first_block = sums_before(n_blocks)
    head_words = (n_blocks + 3) // 4
    data_words = _words(sizes, widths)
    term_words = head_words + np.add.reduceat(data_words, first_block) if len(sizes) else head_words
    term_start = sums_before(term_words)
    out = np.zeros(int(term_words.sum()), dtype=np.uint32)
    within = np.arange(len(sizes)) - first_block[term_of]
    np.add.at(out, term_start[term_of] + (within >> 2), (widths << (8 * (within & 3))).astype(np.uint32))
    data_before = sums_before(data_words)
    block_word = term_start[term_of] + head_words[term_of] + data_before - data_before[first_block[term_of]]
    _pack(gaps, block_of, index, widths, block_word, out)
    return out, term_start


# -- bulk reading (numpy) ---------------------------------------------------------------------


def decode_postings(words: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(doc ids, frequencies) of the terms whose areas start at ``starts`` with ``counts``
    postings, concatenated term after term (int32)."""
    starts = np.asarray(starts, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    if not len(counts) or not int(counts.sum()):
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    if compiled_pays(int(counts.sum())):
        return _decode_postings_compiled(words, starts, counts)
    n_blocks, term_of, sizes = _block_layout(counts)
    first_block = sums_before(n_blocks)
    within = np.arange(len(sizes)) - first_block[term_of]
    multi = n_blocks[term_of] > 1
    skip = np.where(multi, SKIP_WORDS * n_blocks[term_of], 0)
    header_word = starts[term_of] + skip + (within >> 1)
    if len(header_word) and (int(header_word.min()) < 0 or int(header_word.max()) >= len(words)):
        raise CorruptIndexError("postings point outside their file; the index is damaged (restore it or rebuild)")
    header = (words[header_word].astype(np.int64) >> (16 * (within & 1))) & 0xFFFF
    doc_width, freq_width = header & 0xFF, header >> 8
    if len(header) and (int(doc_width.max()) > 32 or int(freq_width.max()) > 32):
        raise CorruptIndexError("a postings block header is damaged; restore the index or rebuild it")
    # Block data starts: single-block terms right after the header; otherwise the skip rows say.
    rel = np.where(multi, 0, 1).astype(np.int64)
    if multi.any():
        rows = starts[term_of[multi]] + SKIP_WORDS * within[multi] + 1
        if int(rows.max()) >= len(words):
            raise CorruptIndexError("postings point outside their file; the index is damaged (restore it or rebuild)")
        rel[multi] = words[rows].astype(np.int64)
    block_word = starts[term_of] + rel
    block_starts = sums_before(sizes)
    block_of = np.repeat(np.arange(len(sizes)), sizes)
    index = np.arange(int(sizes.sum())) - block_starts[block_of]
    gaps = _unpack(words, block_of, index, doc_width, block_word)
    freqs = _unpack(words, block_of, index, freq_width, block_word + _words(sizes, doc_width)) + 1
    # Docs: a running sum of gap + 1 that restarts at every term.
    steps = gaps + 1
    running = np.cumsum(steps)
    term_first = sums_before(counts)
    docs = running - np.repeat(running[term_first] - steps[term_first], counts) - 1
    return docs.astype(np.int32), freqs.astype(np.int32)


def decode_positions(words: np.ndarray, starts: np.ndarray, counts: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """The positions of the terms whose areas start at ``starts``, with ``counts`` postings each
    of frequencies ``freqs`` (concatenated), posting after posting, term after term (int32)."""
    starts = np.asarray(starts, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    freqs = np.asarray(freqs, dtype=np.int64)
    total = int(freqs.sum())
    if not total:
        return np.zeros(0, dtype=np.int32)
    if compiled_pays(total):
        return _decode_positions_compiled(words, starts, counts, freqs)
    per_term = np.add.reduceat(freqs, sums_before(counts))
    per_term[counts == 0] = 0
    n_blocks, term_of, sizes = _block_layout(per_term)
    first_block = sums_before(n_blocks)
    within = np.arange(len(sizes)) - first_block[term_of]
    header_word = starts[term_of] + (within >> 2)
    if int(header_word.min()) < 0 or int(header_word.max()) >= len(words):
        raise CorruptIndexError("positions point outside their file; the index is damaged (restore it or rebuild)")
    widths = (words[header_word].astype(np.int64) >> (8 * (within & 3))) & 0xFF
    if int(widths.max()) > 32:
        raise CorruptIndexError("a positions block header is damaged; restore the index or rebuild it")
    data_words = _words(sizes, widths)
    data_before = sums_before(data_words)
    block_word = starts[term_of] + (n_blocks[term_of] + 3) // 4 + data_before - data_before[first_block[term_of]]
    block_starts = sums_before(sizes)
    block_of = np.repeat(np.arange(len(sizes)), sizes)
    gaps = _unpack(words, block_of, np.arange(total) - block_starts[block_of], widths, block_word)
    # Undo the gaps within each posting: a running sum restarting at every posting.
    running = np.cumsum(gaps)
    present = freqs > 0
    posting_first = sums_before(freqs)[present]
    restart = np.repeat(running[posting_first] - gaps[posting_first], freqs[present])
    return (running - restart).astype(np.int32)


def skip_rows(words: np.ndarray, start: int, count: int) -> np.ndarray:
    """A term's skip rows (blocks × 6, int64); empty for a term of one block."""
    n_blocks = (count + BLOCK - 1) // BLOCK
    if n_blocks <= 1:
        return np.zeros((0, SKIP_WORDS), dtype=np.int64)
    end = start + SKIP_WORDS * n_blocks
    if start < 0 or end > len(words):
        raise CorruptIndexError("postings point outside their file; the index is damaged (restore it or rebuild)")
    return words[start:end].view(np.int32).astype(np.int64).reshape(n_blocks, SKIP_WORDS)


# -- block by block (compiled) ----------------------------------------------------------------


@inline
def unpack(words: np.ndarray, word: int, count: int, width: int, out: np.ndarray, plus: int, running: bool) -> int:
    """``count`` values of ``width`` bits from ``words[word]`` on into ``out``, each plus
    ``plus``; ``running``: as a running sum from ``plus`` (a block's doc ids from their gaps,
    ``plus`` the doc before the block + 1, each gap + 1 added). Returns the last value. The
    caller checks that ⌈count · width / 32⌉ words exist. A 64-bit window slides along the
    words (one load per word, no per-value address arithmetic): ~0.5 ns a value, against ~1
    for reading each value's two words at its bit offset."""
    value = plus
    if width == 0:
        for j in range(count):
            out[j] = value
            if running:
                value += 1
        return out[count - 1] if count else plus
    mask = (np.uint64(1) << np.uint64(width)) - np.uint64(1)
    step = np.uint64(width)
    window = np.uint64(0)
    held = 0
    at = word
    for j in range(count):
        if held < width:
            window |= np.uint64(words[at]) << np.uint64(held)
            at += 1
            held += 32
        if running:
            out[j] = value + np.int64(window & mask)
            value = out[j] + 1
        else:
            out[j] = plus + np.int64(window & mask)
        window >>= step
        held -= width
    return out[count - 1]


@inline
def block_at(words: np.ndarray, start: int, count: int, block: int) -> tuple[int, int, int, int, int]:
    """Where block ``block`` of the term at ``start`` with ``count`` postings is: (postings in
    it, its first data word, doc width, freq width, the doc before it). Raises on a header or
    skip row that points outside the file; the caller checks the doc ids it decodes."""
    n_blocks = (count + BLOCK - 1) // BLOCK
    size = min(BLOCK, count - block * BLOCK)
    skip = SKIP_WORDS * n_blocks if n_blocks > 1 else 0
    header_at = start + skip + (block >> 1)
    if header_at >= words.shape[0] or start < 0 or size <= 0:
        raise CorruptIndexError("postings point outside their file; the index is damaged (restore it or rebuild)")
    header = (np.int64(words[header_at]) >> (16 * (block & 1))) & 0xFFFF
    doc_width = header & 0xFF
    freq_width = header >> 8
    if n_blocks > 1:
        data = start + np.int64(np.int32(words[start + SKIP_WORDS * block + 1]))
        previous = -1 if block == 0 else np.int64(np.int32(words[start + SKIP_WORDS * (block - 1)]))
    else:
        data = start + 1
        previous = -1
    end = data + ((size * doc_width + 31) >> 5) + ((size * freq_width + 31) >> 5)
    if doc_width > 32 or freq_width > 32 or data < start or end > words.shape[0] or previous < -1:
        raise CorruptIndexError("a postings block is damaged; restore the index or rebuild it")
    return size, data, doc_width, freq_width, previous


@inline
def load_block(
    words: np.ndarray, start: int, count: int, block: int, n_docs: int, docs: np.ndarray, freqs: np.ndarray
) -> int:
    """Decode block ``block`` of the term at ``start`` with ``count`` postings into ``docs`` and
    ``freqs`` (128 slots each); returns how many postings it holds. Everything read is
    checked to lie in the file and every doc id below ``n_docs``: a damaged file raises."""
    size, data, doc_width, freq_width, previous = block_at(words, start, count, block)
    last = unpack(words, data, size, doc_width, docs, previous + 1, True)
    unpack(words, data + ((size * doc_width + 31) >> 5), size, freq_width, freqs, 1, False)
    if last >= n_docs:
        raise CorruptIndexError("a postings block names a document outside its segment; restore or rebuild")
    return size


# -- the same codec compiled, for large batches ---------------------------------------------
# Writing or reading millions of postings vectorised costs ~100 ns a value in numpy temporaries
# and scattered writes; these loops do it in a few. They produce the same words (tested), and
# run for batches of ``COMPILED_FROM`` values or more, or whenever numba is loaded anyway (a
# process that searches — a phrase's positions, a facet's postings — and the parallel indexing
# workers), so a small index is built without loading numba: its ~0.7 s outweighs numpy's
# ~120 ns a value below a few million values.

COMPILED_FROM = 1 << 22


def compiled_pays(values: int) -> bool:
    """Whether work on ``values`` values takes the compiled loops: numba is loaded already, or
    there is enough work to pay for loading it."""
    return values >= COMPILED_FROM or "numba" in sys.modules


def prefer_compiled(values: int) -> None:
    """Work on ``values`` postings is coming in batches (a merge): load numba when that much
    work pays for it, so every batch takes the compiled loops, however small each one is."""
    if values >= COMPILED_FROM:
        import numba  # noqa: F401


@kernel
def _bits(value: int) -> int:
    width = 0
    while value >> width:
        width += 1
    return width


@kernel
def _pack_block(out: np.ndarray, word: int, values: np.ndarray, count: int, width: int) -> None:
    if width == 0:
        return
    for j in range(count):
        bit = j * width
        at = word + (bit >> 5)
        shifted = np.uint64(values[j]) << np.uint64(bit & 31)
        out[at] |= np.uint32(shifted & np.uint64(0xFFFFFFFF))
        if (bit & 31) + width > 32:
            out[at + 1] |= np.uint32(shifted >> np.uint64(32))


@kernel
def _front_points(freqs: np.ndarray, lengths: np.ndarray, out: np.ndarray, at: int) -> None:
    """``block_bounds`` for one block, written as words at ``out[at]`` on."""
    size = freqs.shape[0]
    keys = np.empty(size, dtype=np.int64)
    for j in range(size):  # length ascending, then tf descending
        keys[j] = lengths[j] * (1 << 32) + ((1 << 32) - 1 - freqs[j])
    order = np.argsort(keys)
    front_tf = np.empty(size, dtype=np.int64)
    front_length = np.empty(size, dtype=np.int64)
    m = 0
    best = 0
    for j in range(size):
        tf = freqs[order[j]]
        if m == 0 or tf > best:
            front_tf[m] = tf
            front_length[m] = lengths[order[j]]
            m += 1
            best = tf
    for g in range(BOUND_POINTS):
        out[at + 2 * g] = 0
        out[at + 2 * g + 1] = 0
    previous = -1
    for r in range(m):  # runs of consecutive front postings: (highest tf = last, shortest = first)
        g = r if m <= BOUND_POINTS else r * BOUND_POINTS // m
        out[at + 2 * g] = np.uint32(front_tf[r])
        if g != previous:
            out[at + 2 * g + 1] = np.uint32(front_length[r])
            previous = g


@inline
def block_bound(words: np.ndarray, row: int, norm_base: float, norm_slope: float) -> float:
    """The largest ``tf / (tf + norm_base + norm_slope · length)`` of the block whose skip row
    starts at ``words[row]``: the best of its bound points."""
    top = 0.0
    for g in range(BOUND_POINTS):
        tf = float(words[row + 2 + 2 * g])
        if tf > 0.0:
            top = max(top, tf / (tf + norm_base + norm_slope * float(words[row + 3 + 2 * g])))
    return top


@kernel
def _encode_postings_compiled(
    counts: np.ndarray, docs: np.ndarray, freqs: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_terms = counts.shape[0]
    total_blocks = 0
    for t in range(n_terms):
        total_blocks += (counts[t] + BLOCK - 1) // BLOCK
    doc_width = np.zeros(total_blocks, dtype=np.int64)
    freq_width = np.zeros(total_blocks, dtype=np.int64)
    term_start = np.zeros(n_terms, dtype=np.int64)
    # Pass 1: widths, and so every term's size.
    block = 0
    first = 0
    words = 0
    for t in range(n_terms):
        count = counts[t]
        n_blocks = (count + BLOCK - 1) // BLOCK
        term_start[t] = words
        words += (SKIP_WORDS * n_blocks if n_blocks > 1 else 0) + (n_blocks + 1) // 2
        previous = -1
        for b in range(n_blocks):
            size = min(BLOCK, count - b * BLOCK)
            top_gap = 0
            top_extra = 0
            for j in range(first + b * BLOCK, first + b * BLOCK + size):
                gap = docs[j] - previous - 1
                if gap < 0:
                    raise ValueError("postings doc ids must ascend within a term")
                previous = docs[j]
                top_gap = max(top_gap, gap)
                top_extra = max(top_extra, freqs[j] - 1)
            doc_width[block] = _bits(top_gap)
            freq_width[block] = _bits(top_extra)
            words += ((size * doc_width[block] + 31) >> 5) + ((size * freq_width[block] + 31) >> 5)
            block += 1
        first += count
    out = np.zeros(words, dtype=np.uint32)
    values = np.empty(BLOCK, dtype=np.int64)
    # Pass 2: skip rows, headers, data.
    block = 0
    first = 0
    for t in range(n_terms):
        count = counts[t]
        n_blocks = (count + BLOCK - 1) // BLOCK
        start = term_start[t]
        skip = SKIP_WORDS * n_blocks if n_blocks > 1 else 0
        data = start + skip + (n_blocks + 1) // 2
        previous = -1
        for b in range(n_blocks):
            size = min(BLOCK, count - b * BLOCK)
            low = first + b * BLOCK
            out[start + skip + (b >> 1)] |= np.uint32((doc_width[block] | (freq_width[block] << 8)) << (16 * (b & 1)))
            if n_blocks > 1:
                row = start + SKIP_WORDS * b
                out[row] = np.uint32(docs[low + size - 1] & 0xFFFFFFFF)
                out[row + 1] = np.uint32(data - start)
                _front_points(freqs[low : low + size], lengths[low : low + size], out, row + 2)
            for j in range(size):
                values[j] = docs[low + j] - previous - 1
                previous = docs[low + j]
            _pack_block(out, data, values, size, doc_width[block])
            data += (size * doc_width[block] + 31) >> 5
            for j in range(size):
                values[j] = freqs[low + j] - 1
            _pack_block(out, data, values, size, freq_width[block])
            data += (size * freq_width[block] + 31) >> 5
            block += 1
        first += count
    return out, term_start


@kernel
def _encode_positions_compiled(
    freqs: np.ndarray, positions: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_terms = counts.shape[0]
    gaps = np.empty(positions.shape[0], dtype=np.int64)
    at = 0
    for i in range(freqs.shape[0]):
        previous = 0
        for j in range(at, at + freqs[i]):
            gaps[j] = positions[j] - previous
            if gaps[j] < 0:
                raise ValueError("positions must ascend within a posting and be non-negative")
            previous = positions[j]
        at += freqs[i]
    per_term = np.zeros(n_terms, dtype=np.int64)
    posting = 0
    for t in range(n_terms):
        for i in range(posting, posting + counts[t]):
            per_term[t] += freqs[i]
        posting += counts[t]
    term_start = np.zeros(n_terms, dtype=np.int64)
    words = 0
    first = 0
    for t in range(n_terms):
        n_blocks = (per_term[t] + BLOCK - 1) // BLOCK
        term_start[t] = words
        words += (n_blocks + 3) // 4
        for b in range(n_blocks):
            size = min(BLOCK, per_term[t] - b * BLOCK)
            top = 0
            for j in range(first + b * BLOCK, first + b * BLOCK + size):
                top = max(top, gaps[j])
            words += (size * _bits(top) + 31) >> 5
        first += per_term[t]
    out = np.zeros(words, dtype=np.uint32)
    values = np.empty(BLOCK, dtype=np.int64)
    first = 0
    for t in range(n_terms):
        n_blocks = (per_term[t] + BLOCK - 1) // BLOCK
        start = term_start[t]
        data = start + (n_blocks + 3) // 4
        for b in range(n_blocks):
            size = min(BLOCK, per_term[t] - b * BLOCK)
            top = 0
            for j in range(size):
                values[j] = gaps[first + b * BLOCK + j]
                top = max(top, values[j])
            width = _bits(top)
            out[start + (b >> 2)] |= np.uint32(width << (8 * (b & 3)))
            _pack_block(out, data, values, size, width)
            data += (size * width + 31) >> 5
        first += per_term[t]
    return out, term_start


@kernel
def _decode_postings_compiled(
    words: np.ndarray, starts: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    total = 0
    for t in range(counts.shape[0]):
        total += counts[t]
    docs = np.empty(total, dtype=np.int32)
    freqs = np.empty(total, dtype=np.int32)
    block_docs = np.empty(BLOCK, dtype=np.int64)
    block_freqs = np.empty(BLOCK, dtype=np.int64)
    at = 0
    for t in range(counts.shape[0]):
        for b in range((counts[t] + BLOCK - 1) // BLOCK):
            size = load_block(words, starts[t], counts[t], b, 1 << 31, block_docs, block_freqs)
            for j in range(size):
                docs[at] = block_docs[j]
                freqs[at] = block_freqs[j]
                at += 1
    return docs, freqs


@kernel
def _decode_positions_compiled(
    words: np.ndarray, starts: np.ndarray, counts: np.ndarray, freqs: np.ndarray
) -> np.ndarray:
    total = 0
    for i in range(freqs.shape[0]):
        total += freqs[i]
    out = np.empty(total, dtype=np.int32)
    values = np.empty(BLOCK, dtype=np.int64)
    at = 0
    posting = 0
    for t in range(counts.shape[0]):
        term_total = 0
        for i in range(posting, posting + counts[t]):
            term_total += freqs[i]
        n_blocks = (term_total + BLOCK - 1) // BLOCK
        start = starts[t]
        data = start + (n_blocks + 3) // 4
        for b in range(n_blocks):
            size = min(BLOCK, term_total - b * BLOCK)
            header_at = start + (b >> 2)
            if header_at < 0 or header_at >= words.shape[0]:
                raise CorruptIndexError("positions point outside their file; the index is damaged (restore or rebuild)")
            width = (np.int64(words[header_at]) >> (8 * (b & 3))) & 0xFF
            end = data + ((size * width + 31) >> 5)
            if width > 32 or end + 1 > words.shape[0]:
                raise CorruptIndexError("a positions block is damaged; restore the index or rebuild it")
            unpack(words, data, size, width, values, 0, False)
            data = end
            for j in range(size):
                out[at + j] = values[j]
            at += size
        posting += counts[t]
    # Undo the gaps within each posting.
    at = 0
    for i in range(freqs.shape[0]):
        running = 0
        for j in range(at, at + freqs[i]):
            running += out[j]
            out[j] = running
        at += freqs[i]
    return out
