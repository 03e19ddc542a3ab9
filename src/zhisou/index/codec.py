"""The frame around every index file a segment owns: a header naming what the file is and a
footer holding its checksum (as Lucene's codec headers and footers do).

    header  32 bytes  magic "ZHSH" · u16 codec version · u16 0 · component suffix (8 bytes,
                      NUL-padded) · the segment's uid (16 random bytes)
    payload           the component's array (8-byte aligned: the header is 32 bytes)
    footer  16 bytes  magic "ZHSF" · u32 CRC32 of header + payload · u64 payload bytes

So a reader checks cheaply, on open, that a file is the one the manifest means (a file of
another segment, or of another kind, has another header), that it is whole (the footer's
length) and that its checksum is the one the manifest recorded; ``verify`` reads it all.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from zhisou.errors import CorruptIndexError

CODEC_VERSION = 3  # 3: packed postings and positions (index/postings.py); 2: int32 arrays
READABLE_CODECS = (2, 3)  # codec 2 segments are re-encoded in memory on open (index/legacy.py)
HEADER_MAGIC = b"ZHSH"
FOOTER_MAGIC = b"ZHSF"
_HEADER = struct.Struct("<4sHH8s16s")
_FOOTER = struct.Struct("<4sIQ")
HEADER_BYTES = _HEADER.size  # 32
FOOTER_BYTES = _FOOTER.size  # 16
FRAME_BYTES = HEADER_BYTES + FOOTER_BYTES


def header(suffix: str, uid: bytes) -> bytes:
    return _HEADER.pack(HEADER_MAGIC, CODEC_VERSION, 0, suffix.encode("ascii"), uid)


def footer(crc: int, payload_bytes: int) -> bytes:
    return _FOOTER.pack(FOOTER_MAGIC, crc, payload_bytes)


def frame(suffix: str, uid: bytes, payload: bytes) -> tuple[bytes, int]:
    """A whole small file (header, payload, footer) and its checksum."""
    head = header(suffix, uid)
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + payload + footer(crc, len(payload)), crc


def has_header(path: Path) -> bool:
    """Whether ``path`` starts like a file zhisou wrote (for clean-up: never delete a user's file)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(HEADER_MAGIC)) == HEADER_MAGIC
    except OSError:
        return False


def check_frame(
    path: Path, raw: np.ndarray, suffix: str, uid: bytes, crc: int | None, codecs: tuple[int, ...] = (CODEC_VERSION,)
) -> np.ndarray:
    """The payload of a mapped (or read) file, after checking its header and footer: the
    magic numbers, a codec version among ``codecs`` (the segment's), the component, the segment
    uid, the payload length and, when given, that the footer's checksum is the one the manifest
    recorded. Raises ``CorruptIndexError``."""
    size = raw.shape[0]
    if size < FRAME_BYTES:
        raise CorruptIndexError(f"{path}: {size} bytes, too short to be an index file; the index is damaged")
    magic, version, _, found_suffix, found_uid = _HEADER.unpack(raw[:HEADER_BYTES].tobytes())
    end_magic, found_crc, payload = _FOOTER.unpack(raw[size - FOOTER_BYTES :].tobytes())
    if magic != HEADER_MAGIC or end_magic != FOOTER_MAGIC:
        raise CorruptIndexError(f"{path}: header or footer damaged; the index is damaged (restore it or rebuild)")
    if version not in codecs:
        expected = " or ".join(map(str, codecs))
        raise CorruptIndexError(f"{path}: codec version {version}, expected {expected}; the index is damaged or newer")
    if found_suffix.rstrip(b"\0") != suffix.encode("ascii") or found_uid != uid:
        raise CorruptIndexError(f"{path}: this file belongs to another segment or component; the index is damaged")
    if payload != size - FRAME_BYTES:
        raise CorruptIndexError(f"{path}: footer says {payload} bytes of data, the file holds {size - FRAME_BYTES}")
    if crc is not None and found_crc != crc:
        raise CorruptIndexError(f"{path}: checksum in the footer differs from the manifest's; the index is damaged")
    return raw[HEADER_BYTES : size - FOOTER_BYTES]


def file_crc(path: Path) -> int:
    """CRC32 of header + payload, read in chunks (plain reads: no pages of a map stay resident)."""
    size = path.stat().st_size
    remaining = size - FOOTER_BYTES
    crc = 0
    with open(path, "rb") as handle:
        while remaining > 0:
            chunk = handle.read(min(remaining, 1 << 22))
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            remaining -= len(chunk)
    return crc


class FramedWriter:
    """An append-only framed file: the header on open, the footer and an fsync on close."""

    def __init__(self, path: Path, suffix: str, uid: bytes) -> None:
        self.path = path
        self._handle: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        head = header(suffix, uid)
        self._handle.write(head)
        self.crc = zlib.crc32(head)
        self.payload = 0

    def write(self, raw: bytes) -> None:
        self._handle.write(raw)
        self.crc = zlib.crc32(raw, self.crc)
        self.payload += len(raw)

    def close(self) -> tuple[int, int]:
        """(file size, checksum)."""
        self._handle.write(footer(self.crc, self.payload))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        return self.payload + FRAME_BYTES, self.crc

    def discard(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)
