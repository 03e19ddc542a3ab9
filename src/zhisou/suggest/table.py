"""A sorted table of byte-string keys, each with a payload (an int): all keys that start with a
prefix are one contiguous range, found by binary search over the concatenated keys. It lives in
two arrays (``blob``, ``offsets``) that can be memory-mapped; many prefixes are looked up in one
compiled call (a typo-tolerant lookup asks for a few hundred).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from zhisou.compiled import kernel


@kernel
def _compare_prefix(blob: np.ndarray, start: int, end: int, query: np.ndarray, q_start: int, q_end: int) -> int:
    """-1, 0 or 1 as key blob[start:end] sorts before, starts with, or sorts after the query."""
    length = q_end - q_start
    for i in range(length):
        if start + i >= end:
            return -1  # the key is a proper prefix of the query: before it
        a = blob[start + i]
        b = query[q_start + i]
        if a != b:
            return -1 if a < b else 1
    return 0


@kernel
def prefix_ranges(blob: np.ndarray, offsets: np.ndarray, queries: np.ndarray, query_offsets: np.ndarray) -> np.ndarray:
    """For each query prefix, the (first, end) rows of the keys that start with it."""
    n_keys = offsets.shape[0] - 1
    n_queries = query_offsets.shape[0] - 1
    out = np.zeros((n_queries, 2), dtype=np.int64)
    for q in range(n_queries):
        q_start, q_end = query_offsets[q], query_offsets[q + 1]
        low, high = 0, n_keys
        while low < high:  # first key not before the query
            middle = (low + high) // 2
            if _compare_prefix(blob, offsets[middle], offsets[middle + 1], queries, q_start, q_end) < 0:
                low = middle + 1
            else:
                high = middle
        first = low
        high = n_keys
        while low < high:  # first key after every key that starts with the query
            middle = (low + high) // 2
            if _compare_prefix(blob, offsets[middle], offsets[middle + 1], queries, q_start, q_end) <= 0:
                low = middle + 1
            else:
                high = middle
        out[q, 0] = first
        out[q, 1] = low
    return out


def narrow(values: np.ndarray) -> np.ndarray:
    """Integers in the smallest type that holds them — uint8, uint16 or uint32 when none is
    negative, else int32 or int64 — so a table costs bytes in proportion to what it counts."""
    values = np.asarray(values, dtype=np.int64)
    low, high = (int(values.min()), int(values.max())) if len(values) else (0, 0)
    for dtype in (np.uint8, np.uint16, np.uint32) if low >= 0 else (np.int32,):
        if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values


def lengths_of(offsets: np.ndarray) -> np.ndarray:
    """Offsets stored as the lengths between them (narrowed: a byte each for short strings);
    ``offsets_from`` turns them back."""
    return narrow(np.diff(np.asarray(offsets, dtype=np.int64)))


def offsets_from(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    """The offsets array ``name`` of a packed table: summed from ``<name>_lengths`` (tables
    written since 2026-12-02 afternoon; held in memory, 8 bytes a string), or ``<name>_offsets``
    as older tables stored it."""
    lengths = arrays.get(f"{name}_lengths")
    if lengths is None:
        return arrays[f"{name}_offsets"]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, dtype=np.int64, out=offsets[1:])
    return offsets


def _pack(strings: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in strings], dtype=np.int64)
    return np.frombuffer(b"".join(strings), dtype=np.uint8).copy(), narrow(offsets)


@dataclass(frozen=True)
class PrefixTable:
    blob: np.ndarray  # uint8: the keys, sorted, concatenated
    offsets: np.ndarray  # integers (``narrow``): where each key starts (one more entry than keys)
    payloads: np.ndarray  # integers (``narrow``): each key's payload

    @classmethod
    def build(cls, pairs: Iterable[tuple[str, int]]) -> PrefixTable:
        """From (key, payload) pairs; a repeated pair is kept once."""
        unique = sorted({(key.encode(), payload) for key, payload in pairs})
        blob, offsets = _pack([key for key, _ in unique])
        return cls(blob, offsets, narrow(np.array([payload for _, payload in unique], dtype=np.int64)))

    def __len__(self) -> int:
        return len(self.payloads)

    def ranges(self, prefixes: list[str]) -> np.ndarray:
        """(first, end) rows for each prefix, as ``prefix_ranges``."""
        if not prefixes or not len(self.payloads):
            return np.zeros((len(prefixes), 2), dtype=np.int64)
        queries, query_offsets = _pack([prefix.encode() for prefix in prefixes])
        return prefix_ranges(self.blob, self.offsets, queries, query_offsets)

    def best(self, prefixes: list[str], size: int, keys_per_payload: int) -> list[int]:
        """The ``size`` smallest distinct payloads of the keys under any of ``prefixes``, where
        one payload has at most ``keys_per_payload`` keys (payloads are ranks: lower is better)."""
        ranges = self.ranges(prefixes)
        hit = ranges[ranges[:, 1] > ranges[:, 0]]  # most of a typo's variants find nothing
        if not len(hit):
            return []
        spans = hit.tolist()
        payloads = np.concatenate([self.payloads[first:end] for first, end in spans])
        # A payload has at most keys_per_payload keys under each range, so the smallest
        # size · that · ranges payloads hold the ``size`` smallest distinct ones: a partial sort
        # instead of sorting every completion of a one-letter prefix.
        keep = size * keys_per_payload * len(spans)
        if len(payloads) > keep:
            payloads = np.partition(payloads, keep - 1)[:keep]
        return np.unique(payloads)[:size].tolist()

    def key(self, row: int) -> str:
        return bytes(self.blob[self.offsets[row] : self.offsets[row + 1]]).decode()


def pack_arrays(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Named 1-d arrays as one byte array (a header, then each array 8-byte aligned), to be
    stored as one file and read back, without copying, by ``unpack_arrays``."""
    layout = [[name, array.dtype.str, len(array)] for name, array in arrays.items()]
    header = json.dumps(layout).encode()
    parts = [np.array([len(header)], dtype="<i8").tobytes(), header]
    size = 8 + len(header)
    for array in arrays.values():
        parts.append(b"\0" * (-size % 8))
        size += -size % 8
        data = np.ascontiguousarray(array).tobytes()
        parts.append(data)
        size += len(data)
    return np.frombuffer(b"".join(parts), dtype=np.uint8)


def unpack_arrays(raw: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays ``pack_arrays`` stored, as views into ``raw`` (memory-mapped stays mapped).
    Raises ``ValueError`` when ``raw`` is not such a byte array."""
    try:
        header_size = int(np.frombuffer(raw[:8], dtype="<i8")[0])
        layout = json.loads(bytes(raw[8 : 8 + header_size]))
        out: dict[str, np.ndarray] = {}
        position = 8 + header_size
        for name, dtype, count in layout:
            position += -position % 8
            kind = np.dtype(dtype)
            out[name] = np.frombuffer(raw, dtype=kind, count=count, offset=position)
            position += kind.itemsize * count
        return out
    except (IndexError, TypeError, ValueError) as error:
        raise ValueError(f"not a packed table: {error}") from None
