"""Term dictionary: sorted UTF-8 keys ``field \x1f term`` found by binary search.

Keys live concatenated in one mmap'ed byte array with an offsets array beside it, so opening
costs nothing and a lookup touches about log2(terms) keys.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator

import numpy as np

from zhisou.compiled import kernel

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


@kernel
def find_keys(blob: np.ndarray, offsets: np.ndarray, wanted: np.ndarray, wanted_offsets: np.ndarray) -> np.ndarray:
    """Binary search of each wanted key among the sorted keys, comparing bytes in place."""
    n_keys = offsets.shape[0] - 1
    found = np.empty(wanted_offsets.shape[0] - 1, dtype=np.int64)
    for w in range(wanted_offsets.shape[0] - 1):
        w_start, w_end = wanted_offsets[w], wanted_offsets[w + 1]
        low, high = 0, n_keys
        found[w] = -1
        while low < high:
            middle = (low + high) // 2
            k, k_end = offsets[middle], offsets[middle + 1]
            i = w_start
            order = 0  # sign of (key at middle) - (wanted key)
            while k < k_end and i < w_end:
                if blob[k] != wanted[i]:
                    order = -1 if blob[k] < wanted[i] else 1
                    break
                k += 1
                i += 1
            if order == 0:
                order = 0 if (k == k_end and i == w_end) else (-1 if k == k_end else 1)
            if order == 0:
                found[w] = middle
                break
            if order < 0:
                low = middle + 1
            else:
                high = middle
    return found


@kernel
def find_postings(
    blob: np.ndarray, offsets: np.ndarray, term_info: np.ndarray, wanted: np.ndarray, wanted_offsets: np.ndarray
) -> np.ndarray:
    """(postings start, doc freq) from the term-info rows of each wanted key; (0, 0) if absent."""
    ordinals = find_keys(blob, offsets, wanted, wanted_offsets)
    found = np.zeros((ordinals.shape[0], 2), dtype=np.int64)
    for i in range(ordinals.shape[0]):
        if ordinals[i] >= 0:
            found[i, 0] = term_info[ordinals[i], 0]
            found[i, 1] = term_info[ordinals[i], 1]
    return found


def encode_keys(keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Keys as one byte array and their offsets: the form ``find_keys`` takes."""
    wanted = np.frombuffer(b"".join(keys), dtype=np.uint8)
    return wanted, np.array([0, *itertools.accumulate(map(len, keys))], dtype=np.int64)


class TermDictionary:
    """Lookups are compiled binary searches over the mapped keys, a batch of keys per call
    (a query's terms), so a lookup costs a few page touches and no Python per probe."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self._blob = blob
        self._offsets = offsets
        self._keys = _KeyView(blob, offsets)

    def __len__(self) -> int:
        return len(self._keys)

    def ordinal(self, key: bytes) -> int:
        """Index of ``key``, or -1 when the segment does not contain it."""
        return int(self.ordinals([key])[0])

    def ordinals(self, keys: list[bytes]) -> np.ndarray:
        """Index of each key (-1 where absent), as int64."""
        if not keys or not len(self._keys):
            return np.full(len(keys), -1, dtype=np.int64)
        return find_keys(self._blob, self._offsets, *encode_keys(keys))

    @property
    def key_view(self) -> _KeyView:
        """The keys as a read-only sequence of bytes (for ``bisect``)."""
        return self._keys

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(key bytes, key offsets): for compiled code that searches the dictionary itself."""
        return self._blob, self._offsets

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
