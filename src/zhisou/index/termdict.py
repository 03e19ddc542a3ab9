"""Term dictionary: sorted UTF-8 keys ``field \x1f term`` found by binary search.

Keys live concatenated in one mmap'ed byte array with an offsets array beside it, so opening
costs nothing and a lookup touches about log2(terms) keys.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import numpy as np

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


class TermDictionary:
    """Lookups bisect a sparse in-memory sample of every ``SAMPLE``-th key (built on first use),
    then the ``SAMPLE`` keys of one block on the mapped file."""

    SAMPLE = 32
    CACHE_SIZE = 1 << 16  # query terms follow Zipf's law: a small memo answers most lookups

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self._keys = _KeyView(blob, offsets)
        self._sample: list[bytes] | None = None
        self._memo: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def ordinal(self, key: bytes) -> int:
        """Index of ``key``, or -1 when the segment does not contain it."""
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= self.CACHE_SIZE:
                self._memo.clear()
            found = self._memo[key] = self._search(key)
        return found

    def _search(self, key: bytes) -> int:
        keys = self._keys
        if self._sample is None:
            self._sample = [keys[i] for i in range(0, len(keys), self.SAMPLE)]
        block = bisect.bisect_right(self._sample, key) - 1
        if block < 0:
            return -1
        low = block * self.SAMPLE
        index = bisect.bisect_left(keys, key, low, min(low + self.SAMPLE, len(keys)))
        if index < len(keys) and keys[index] == key:
            return index
        return -1

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
