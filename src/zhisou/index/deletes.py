"""Deletes: a segment's live-documents bitmap, written as a new file per delete generation.

The file is framed like every segment file (``codec``); the manifest records its checksum,
which a reader checks on open (the file is small: one bit per document).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from zhisou.errors import CorruptIndexError
from zhisou.index.codec import FOOTER_BYTES, READABLE_CODECS, check_frame, frame
from zhisou.index.directory import atomic_write_bytes

SUFFIX = "del"


def write_live(path: Path, live: np.ndarray, uid: bytes) -> int:
    """Write the bitmap; returns the file's checksum (for the manifest)."""
    data, crc = frame(SUFFIX, uid, np.packbits(live.astype(np.bool_)).tobytes())
    atomic_write_bytes(path, data)
    return crc


def read_live(path: Path, doc_count: int, uid: bytes, crc: int) -> np.ndarray:
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError as exc:
        raise CorruptIndexError(f"{path} is missing; restore it from a backup or rebuild the index") from exc
    packed = check_frame(path, raw, SUFFIX, uid, crc, READABLE_CODECS)  # one layout in every codec
    if zlib.crc32(raw[: raw.shape[0] - FOOTER_BYTES].tobytes()) != crc:
        raise CorruptIndexError(f"{path}: checksum mismatch; the deletes of this segment are damaged")
    if packed.size != (doc_count + 7) // 8:
        raise CorruptIndexError(f"{path}: wrong size for {doc_count} documents; the index is damaged")
    return np.unpackbits(packed, count=doc_count).astype(np.bool_)
