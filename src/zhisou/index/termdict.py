"""Term dictionary: sorted UTF-8 keys ``field \x1f term`` found by binary search.

Keys live concatenated in one mmap'ed byte array with an offsets array beside it, so opening
costs nothing; every 64th key is copied into memory on first use, so a lookup searches that
sample and then one block of the file (one or two pages) rather than log2(terms) pages.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator

import numpy as np
from numba import njit

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


SAMPLE_EVERY = 64  # keys per block of the in-memory sample


@njit(cache=True, nogil=True)
def _compare(blob: np.ndarray, start: int, end: int, wanted: np.ndarray, w_start: int, w_end: int) -> int:
    """Sign of (key blob[start:end]) − (wanted key), bytewise."""
    length = min(end - start, w_end - w_start)
    for i in range(length):
        if blob[start + i] != wanted[w_start + i]:
            return -1 if blob[start + i] < wanted[w_start + i] else 1
    return (end - start > w_end - w_start) - (end - start < w_end - w_start)


@njit(cache=True, nogil=True)
def sample_keys(blob: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ``SAMPLE_EVERY``-th key, copied into memory (bytes, offsets)."""
    n_keys = offsets.shape[0] - 1
    n_sample = (n_keys + SAMPLE_EVERY - 1) // SAMPLE_EVERY
    total = 0
    for j in range(n_sample):
        total += offsets[j * SAMPLE_EVERY + 1] - offsets[j * SAMPLE_EVERY]
    sample = np.empty(total, dtype=np.uint8)
    sample_offsets = np.zeros(n_sample + 1, dtype=np.int64)
    position = 0
    for j in range(n_sample):
        start, end = offsets[j * SAMPLE_EVERY], offsets[j * SAMPLE_EVERY + 1]
        sample[position : position + end - start] = blob[start:end]
        position += end - start
        sample_offsets[j + 1] = position
    return sample, sample_offsets


@njit(cache=True, nogil=True)
def find_keys(
    blob: np.ndarray,
    offsets: np.ndarray,
    sample: np.ndarray,
    sample_offsets: np.ndarray,
    wanted: np.ndarray,
    wanted_offsets: np.ndarray,
) -> np.ndarray:
    """Ordinal of each wanted key (-1 if absent): a binary search of the in-memory sample picks
    the block, a binary search of that block's ``SAMPLE_EVERY`` keys on the mapped file ends it,
    so a lookup touches one or two pages of the file instead of ~log2(terms)."""
    n_keys = offsets.shape[0] - 1
    n_sample = sample_offsets.shape[0] - 1
    found = np.full(wanted_offsets.shape[0] - 1, -1, dtype=np.int64)
    for w in range(wanted_offsets.shape[0] - 1):
        w_start, w_end = wanted_offsets[w], wanted_offsets[w + 1]
        low, high = 0, n_sample  # first sample key greater than the wanted key
        while low < high:
            middle = (low + high) // 2
            if _compare(sample, sample_offsets[middle], sample_offsets[middle + 1], wanted, w_start, w_end) <= 0:
                low = middle + 1
            else:
                high = middle
        if low == 0:
            continue  # before the first key
        low, high = (low - 1) * SAMPLE_EVERY, min(low * SAMPLE_EVERY, n_keys)
        while low < high:
            middle = (low + high) // 2
            order = _compare(blob, offsets[middle], offsets[middle + 1], wanted, w_start, w_end)
            if order == 0:
                found[w] = middle
                break
            if order < 0:
                low = middle + 1
            else:
                high = middle
    return found


def encode_keys(keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Keys as one byte array and their offsets: the form ``find_keys`` takes."""
    wanted = np.frombuffer(b"".join(keys), dtype=np.uint8)
    return wanted, np.array([0, *itertools.accumulate(map(len, keys))], dtype=np.int64)


class TermDictionary:
    """Lookups are compiled two-level binary searches, a batch of keys per call (a query's
    terms), with no Python per probe."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self._blob = blob
        self._offsets = offsets
        self._keys = _KeyView(blob, offsets)
        self._sample: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._keys)

    def ordinal(self, key: bytes) -> int:
        """Index of ``key``, or -1 when the segment does not contain it."""
        return int(self.ordinals([key])[0])

    def ordinals(self, keys: list[bytes]) -> np.ndarray:
        """Index of each key (-1 where absent), as int64."""
        if not keys or not len(self._keys):
            return np.full(len(keys), -1, dtype=np.int64)
        return find_keys(*self.search_arrays(), *encode_keys(keys))

    def search_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What ``find_keys`` takes before the wanted keys: the mapped keys and the in-memory
        sample (built on first use), for compiled code that searches the dictionary itself."""
        if self._sample is None:
            self._sample = sample_keys(self._blob, self._offsets)
        return self._blob, self._offsets, *self._sample

    def key(self, ordinal: int) -> bytes:
        return self._keys[ordinal]

    def prefix_range(self, prefix: bytes) -> range:
        """Ordinals of all keys that start with ``prefix``."""
        start = bisect.bisect_left(self._keys, prefix)
        end = start
        while end < len(self._keys) and self._keys[end].startswith(prefix):
            end += 1
        return range(start, end)

    def keys(self) -> Iterator[bytes]:
        for index in range(len(self._keys)):
            yield self._keys[index]
