"""Deletes: a segment's live-documents bitmap, written as a new file per delete generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zhisou.errors import CorruptIndexError
from zhisou.index.directory import atomic_write_bytes


def write_live(path: Path, live: np.ndarray) -> None:
    atomic_write_bytes(path, np.packbits(live.astype(np.bool_)).tobytes())


def read_live(path: Path, doc_count: int) -> np.ndarray:
    try:
        packed = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError as exc:
        raise CorruptIndexError(f"{path} is missing; restore it from a backup or rebuild the index") from exc
    if packed.size != (doc_count + 7) // 8:
        raise CorruptIndexError(f"{path}: wrong size for {doc_count} documents; the index is damaged")
    return np.unpackbits(packed, count=doc_count).astype(np.bool_)
