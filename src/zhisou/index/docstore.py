"""Stored fields: documents as JSON, compressed with zlib in blocks of ``BLOCK_DOCS``.

Only the top hits of a query are ever read from here, so a block is decompressed on demand
and the last few are cached.
"""

from __future__ import annotations

import json
import zlib
from functools import lru_cache
from typing import Any

import numpy as np

from zhisou.errors import CorruptIndexError

BLOCK_DOCS = 16
# zlib's fastest level, as Lucene's default stored-fields mode favours speed (BEST_SPEED):
# on scifact 2.4× faster than level 6 for an 11 % larger file; reading is as fast either way.
COMPRESSION_LEVEL = 1
# A block holds at most 16 documents of at most 32 MiB each: more when inflating means damage.
MAX_BLOCK_BYTES = BLOCK_DOCS * 32 * 1024 * 1024


def encode_block(docs_json: list[str]) -> bytes:
    """One block from documents already encoded as JSON objects."""
    return zlib.compress(("[" + ",".join(docs_json) + "]").encode("utf-8"), COMPRESSION_LEVEL)


def encode_doc(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


class DocStoreReader:
    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self._blob = blob
        self._offsets = offsets
        self._block = lru_cache(maxsize=16)(self._read_block)

    @property
    def block_count(self) -> int:
        return self._offsets.shape[0] - 1

    def raw_block(self, block: int) -> bytes:
        """Block ``block`` compressed as it is stored: a merge copies whole blocks of a source
        whose files it has checked against their checksums."""
        return self._blob[self._offsets[block] : self._offsets[block + 1]].tobytes()

    @staticmethod
    def _inflate(block: int, raw: bytes) -> bytes:
        try:
            inflater = zlib.decompressobj()
            data = inflater.decompress(raw, MAX_BLOCK_BYTES)
        except zlib.error:
            raise CorruptIndexError(f"stored block {block} is unreadable (zlib)") from None
        if inflater.unconsumed_tail or not inflater.eof:
            raise CorruptIndexError(f"stored block {block} is truncated or too large")
        return data

    def _read_block(self, block: int) -> list[dict[str, Any]]:
        data = self._inflate(block, self._blob[self._offsets[block] : self._offsets[block + 1]].tobytes())
        try:
            docs = json.loads(data)
        except (ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
            raise CorruptIndexError(f"stored block {block} is unreadable ({type(exc).__name__})") from None
        if not isinstance(docs, list) or not all(isinstance(doc, dict) for doc in docs):
            raise CorruptIndexError(f"stored block {block} does not hold documents")
        return docs

    def get(self, doc: int) -> dict[str, Any]:
        docs = self._block(doc // BLOCK_DOCS)
        if doc % BLOCK_DOCS >= len(docs):
            raise CorruptIndexError(f"stored block {doc // BLOCK_DOCS} holds too few documents")
        return docs[doc % BLOCK_DOCS]
