"""Term dictionary: sorted UTF-8 keys ``field \x1f term``.

Keys live concatenated in one mmap'ed byte array with an offsets array beside it, so opening
costs nothing. Exact lookups (a query's terms) go through a hash table built in memory on first
use; ranges of keys (a prefix, a field) are found by binary search over the sorted keys.
"""

from __future__ import annotations

import bisect
import itertools
import sys
from collections.abc import Iterator

import numpy as np

from zhisou.compiled import kernel
from zhisou.index.postings import sums_before

FIELD_SEPARATOR = "\x1f"


def term_key(field: str, term: str) -> bytes:
    return f"{field}{FIELD_SEPARATOR}{term}".encode()


class _KeyView:
    """A read-only sequence of the keys, for ``bisect``."""

    __slots__ = ("_blob", "_offsets")

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self._blob = blob
        self._offsets = offsets

    def __len__(self) -> int:
        return max(len(self._offsets) - 1, 0)

    def __getitem__(self, index: int) -> bytes:
        return self._blob[self._offsets[index] : self._offsets[index + 1]].tobytes()


# Exact lookups go through an open-addressing hash table over the sorted keys, built in memory
# the first time a segment is searched (8-16 bytes a key; 0.05 s for 400k keys). A binary search
# touches about 2 · log2(n) cold cache lines per key, 40 at 400k keys: 42 µs of a three-term query
# over two segments once scoring has evicted the dictionary, against 25 µs through the table
# (synthetic-100k), whose probe touches about three. Each slot packs ``ordinal + 1`` (low 32 bits,
# 0 for empty) and the hash's high 32 bits, so a key's bytes are compared only when those agree.
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


@kernel
def _fnv1a(blob: np.ndarray | bytes, start: int, end: int) -> np.uint64:
    value = np.uint64(_FNV_OFFSET)
    for i in range(start, end):
        value = (value ^ np.uint64(blob[i])) * np.uint64(_FNV_PRIME)
    return value


@kernel
def build_table(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The hash table of the keys: a power-of-two number of slots, at most two thirds used."""
    n_keys = offsets.shape[0] - 1
    size = 2
    while 2 * size < 3 * n_keys:  # at most two thirds full
        size *= 2
    mask = np.uint64(size - 1)
    table = np.zeros(size, dtype=np.uint64)
    for ordinal in range(n_keys):
        value = _fnv1a(blob, offsets[ordinal], offsets[ordinal + 1])
        slot = value & mask
        while table[slot] != 0:
            slot = (slot + np.uint64(1)) & mask
        table[slot] = ((value >> np.uint64(32)) << np.uint64(32)) | np.uint64(ordinal + 1)
    return table


@kernel
def find_keys(
    blob: np.ndarray, offsets: np.ndarray, table: np.ndarray, wanted: bytes, wanted_offsets: np.ndarray
) -> np.ndarray:
    """The ordinal of each wanted key (-1 where absent), through ``build_table``'s table."""
    found = np.full(wanted_offsets.shape[0] - 1, -1, dtype=np.int64)
    if table.shape[0] == 0:
        return found
    mask = np.uint64(table.shape[0] - 1)
    low_bits = np.uint64(0xFFFFFFFF)
    for w in range(found.shape[0]):
        w_start, w_end = wanted_offsets[w], wanted_offsets[w + 1]
        value = _fnv1a(wanted, w_start, w_end)
        tag = value >> np.uint64(32)
        slot = value & mask
        while table[slot] != 0:
            entry = table[slot]
            if entry >> np.uint64(32) == tag:
                ordinal = np.int64(entry & low_bits) - 1
                k, k_end = offsets[ordinal], offsets[ordinal + 1]
                if k_end - k == w_end - w_start:
                    i = w_start
                    while k < k_end and blob[k] == wanted[i]:
                        k += 1
                        i += 1
                    if k == k_end:
                        found[w] = ordinal
                        break
            slot = (slot + np.uint64(1)) & mask
    return found


@kernel
def find_postings(
    blob: np.ndarray,
    offsets: np.ndarray,
    table: np.ndarray,
    term_info: np.ndarray,
    wanted: bytes,
    wanted_offsets: np.ndarray,
) -> np.ndarray:
    """(postings start, doc freq) from the term-info rows of each wanted key; (0, 0) if absent."""
    ordinals = find_keys(blob, offsets, table, wanted, wanted_offsets)
    found = np.zeros((ordinals.shape[0], 2), dtype=np.int64)
    for i in range(ordinals.shape[0]):
        if ordinals[i] >= 0:
            found[i, 0] = term_info[ordinals[i], 0]
            found[i, 1] = term_info[ordinals[i], 1]
    return found


def encode_keys(keys: list[bytes]) -> tuple[bytes, np.ndarray]:
    """Keys as one byte string and their offsets: the form ``find_keys`` takes (compiled code
    reads a ``bytes`` as it reads a byte array, without an array made for it)."""
    return b"".join(keys), np.array([0, *itertools.accumulate(map(len, keys))], dtype=np.int64)


class TermDictionary:
    """Exact lookups are compiled probes of a hash table, a batch of keys per call (a query's
    terms), so a lookup costs a few cache lines and no Python per probe."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self._blob = blob
        self._offsets = offsets
        self._keys = _KeyView(blob, offsets)
        self._table: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._keys)

    def ordinal(self, key: bytes) -> int:
        """Index of ``key``, or -1 when the segment does not contain it."""
        return int(self.ordinals([key])[0])

    def ordinals(self, keys: list[bytes]) -> np.ndarray:
        """Index of each key (-1 where absent), as int64."""
        if not keys or not len(self._keys):
            return np.full(len(keys), -1, dtype=np.int64)
        return find_keys(*self.arrays, *encode_keys(keys))

    @property
    def blob(self) -> np.ndarray:
        """The keys' bytes, one after another."""
        return self._blob

    @property
    def offsets(self) -> np.ndarray:
        """Where each key starts in ``blob``, and the end of the last."""
        return self._offsets

    @property
    def key_view(self) -> _KeyView:
        """The keys as a read-only sequence of bytes (for ``bisect``)."""
        return self._keys

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(key bytes, key offsets, hash table): what ``find_keys`` searches. The table is built
        on first use and kept (two threads may both build it; either result is the same)."""
        if self._table is None:
            self._table = build_table(self._blob, self._offsets)
        return self._blob, self._offsets, self._table

    def key(self, ordinal: int) -> bytes:
        return self._keys[ordinal]

    def prefix_range(self, prefix: bytes) -> range:
        """Ordinals of all keys that start with ``prefix``: two binary searches (keys are UTF-8,
        which never holds the byte 0xFF, so every key with the prefix sorts below prefix + 0xFF)."""
        start = bisect.bisect_left(self._keys, prefix)
        return range(start, bisect.bisect_left(self._keys, prefix + b"\xff", lo=start))

    def keys(self) -> Iterator[bytes]:
        for index in range(len(self._keys)):
            yield self._keys[index]


# Keys from which ``merge_key_lists`` loads numba to merge them (~0.7 s; Python's set and sort
# take ~2.5 s for a million keys); below, it merges in compiled code only if numba is loaded.
COMPILED_MERGE_FROM = 1 << 20


def merge_key_lists(dictionaries: list[TermDictionary]) -> tuple[list[bytes], list[np.ndarray]]:
    """The union of several dictionaries' keys in byte order, and for each dictionary the rank
    of each of its keys in that union (ascending, as its keys are)."""
    if sum(len(d) for d in dictionaries) < COMPILED_MERGE_FROM and "numba" not in sys.modules:
        return _merge_key_lists_python(dictionaries)
    return _merge_key_lists_compiled(dictionaries)


def _merge_key_lists_python(dictionaries: list[TermDictionary]) -> tuple[list[bytes], list[np.ndarray]]:
    key_lists = [list(d.keys()) for d in dictionaries]
    union = sorted(set().union(*key_lists))
    rank_of = {key: rank for rank, key in enumerate(union)}
    return union, [np.fromiter((rank_of[k] for k in keys), dtype=np.int64, count=len(keys)) for keys in key_lists]


def _merge_key_lists_compiled(dictionaries: list[TermDictionary]) -> tuple[list[bytes], list[np.ndarray]]:
    blob = np.concatenate([d.blob for d in dictionaries]) if dictionaries else np.zeros(0, dtype=np.uint8)
    begins, ends, bases = [], [], 0
    for dictionary in dictionaries:
        offsets = np.asarray(dictionary.offsets[: len(dictionary) + 1], dtype=np.int64) + bases
        begins.append(offsets[:-1])
        ends.append(offsets[1:])
        bases += len(dictionary.blob)
    key_begins = np.concatenate(begins) if begins else np.zeros(0, dtype=np.int64)
    key_ends = np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)
    starts = sums_before([*map(len, dictionaries), 0])  # where each list's keys start, then the end
    all_ranks, firsts = _merge_sorted_keys(blob, key_begins, key_ends, starts)
    data = blob.tobytes()
    begin, end = key_begins.tolist(), key_ends.tolist()
    union = [data[begin[i] : end[i]] for i in firsts.tolist()]
    return union, [all_ranks[starts[n] : starts[n + 1]] for n in range(len(dictionaries))]


@kernel
def _key_less(blob: np.ndarray, begins: np.ndarray, ends: np.ndarray, a: int, b: int) -> bool:
    """Key ``a`` sorts before key ``b`` (bytes compared as unsigned, a prefix first)."""
    i, i_end = begins[a], ends[a]
    j, j_end = begins[b], ends[b]
    while i < i_end and j < j_end:
        if blob[i] != blob[j]:
            return blob[i] < blob[j]
        i += 1
        j += 1
    return i == i_end and j < j_end


@kernel
def _merge_sorted_keys(
    blob: np.ndarray, begins: np.ndarray, ends: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """k-way merge of sorted key lists (key i is ``blob[begins[i]:ends[i]]``; list n holds keys
    ``starts[n]`` .. ``starts[n + 1]`` - 1) through a heap of each list's next key: each key's
    rank in the union, and the first key of each rank."""
    n_lists = starts.shape[0] - 1
    ranks = np.empty(begins.shape[0], dtype=np.int64)
    firsts = np.empty(begins.shape[0], dtype=np.int64)
    heap = np.empty(n_lists, dtype=np.int64)  # key index of each list's head
    home = np.empty(n_lists, dtype=np.int64)  # the list it comes from
    size = 0
    for n in range(n_lists):
        if starts[n] < starts[n + 1]:
            heap[size] = starts[n]
            home[size] = n
            size += 1
    for position in range(size // 2 - 1, -1, -1):
        _sift_keys(blob, begins, ends, heap, home, size, position)
    n_unique = 0
    for _ in range(begins.shape[0]):
        key = heap[0]
        if n_unique > 0 and not _key_less(blob, begins, ends, firsts[n_unique - 1], key):
            ranks[key] = n_unique - 1  # equal to the last key taken (never less: lists ascend)
        else:
            firsts[n_unique] = key
            ranks[key] = n_unique
            n_unique += 1
        if key + 1 < starts[home[0] + 1]:
            heap[0] = key + 1
        else:
            size -= 1
            heap[0] = heap[size]
            home[0] = home[size]
        _sift_keys(blob, begins, ends, heap, home, size, 0)
    return ranks, firsts[:n_unique]


@kernel
def _sift_keys(
    blob: np.ndarray, begins: np.ndarray, ends: np.ndarray, heap: np.ndarray, home: np.ndarray, size: int, at: int
) -> None:
    while True:
        child = 2 * at + 1
        if child >= size:
            return
        if child + 1 < size and _key_less(blob, begins, ends, heap[child + 1], heap[child]):
            child += 1
        if not _key_less(blob, begins, ends, heap[child], heap[at]):
            return
        heap[at], heap[child] = heap[child], heap[at]
        home[at], home[child] = home[child], home[at]
        at = child
