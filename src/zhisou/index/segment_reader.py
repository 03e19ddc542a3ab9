"""Read access to one segment through memory-mapped files: opening is instant, RAM stays bounded."""

from __future__ import annotations

import itertools
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.analysis.tokenizers import is_single_chinese_character
from zhisou.errors import CorruptIndexError
from zhisou.index import termdict
from zhisou.index.blocks import block_maxima
from zhisou.index.deletes import read_live
from zhisou.index.docstore import DocStoreReader
from zhisou.index.segment import Component, SegmentMeta, deletes_file_name
from zhisou.index.termdict import FIELD_SEPARATOR, TermDictionary

_EMPTY_I32 = np.empty(0, dtype=np.int32)


def _map(path: Path, component: Component, expected_size: int) -> np.ndarray:
    try:
        actual = path.stat().st_size
    except FileNotFoundError as exc:
        raise CorruptIndexError(f"{path} is missing; the index is damaged (restore it or rebuild)") from exc
    if actual != expected_size:
        raise CorruptIndexError(f"{path}: size {actual} bytes, manifest says {expected_size}; the index is damaged")
    if expected_size == 0:
        return np.empty(0, dtype=component.dtype)
    # A plain ndarray view of the map: slicing it avoids np.memmap's per-call overhead.
    return np.asarray(np.memmap(path, dtype=component.dtype, mode="r"))


class SegmentReader:
    """Postings, positions, lengths, columns and stored fields of one segment at one delete generation."""

    def __init__(self, directory: Path, meta: SegmentMeta) -> None:
        self.meta = meta
        self.directory = directory
        arrays = {}
        for component in Component:
            info = meta.files.get(component.suffix)
            if info is None:
                raise CorruptIndexError(f"segment {meta.name}: manifest lists no {component.suffix} file")
            arrays[component] = _map(directory / component.file_name(meta.name), component, info.size)
        self._arrays = arrays
        self.terms = TermDictionary(arrays[Component.TERM_KEYS], arrays[Component.TERM_OFFSETS])
        self.term_info = arrays[Component.TERM_INFO].reshape(-1, 3)  # postings start, doc freq, positions start
        self.docs = arrays[Component.DOCS]
        self.freqs = arrays[Component.FREQS]
        self._positions = arrays[Component.POSITIONS]
        text_fields: list[str] = meta.fields.get("text", [])
        column_fields: list[str] = meta.fields.get("columns", [])
        self.length_matrix = arrays[Component.LENGTHS].reshape(-1, meta.doc_count)  # (text field, doc)
        self._text_rows = {name: row for row, name in enumerate(text_fields)}
        self.lengths = {name: self.length_matrix[row] for name, row in self._text_rows.items()}
        self.columns = {
            name: row for name, row in zip(column_fields, arrays[Component.COLUMNS].reshape(-1, meta.doc_count))
        }
        self.store = DocStoreReader(arrays[Component.STORE], arrays[Component.STORE_INDEX])
        self._ids = arrays[Component.IDS]
        self._id_list: list[str] | None = None
        self._char_index: dict[str, dict[str, list[int]]] = {}
        self._field_terms: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
        self._block_cache: dict[tuple[int, float, float], tuple[np.ndarray, np.ndarray]] = {}
        self._id_offsets = arrays[Component.ID_OFFSETS]
        if meta.del_gen:
            self.live: np.ndarray | None = read_live(
                directory / deletes_file_name(meta.name, meta.del_gen), meta.doc_count
            )
        else:
            self.live = None

    @property
    def doc_count(self) -> int:
        return self.meta.doc_count

    def block_maxima(
        self, start: int, count: int, row: int, norm_base: float, norm_slope: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Block-max metadata of the postings at ``start`` (see ``blocks.block_maxima``),
        computed on first use for these length-norm parameters and kept."""
        key = (start, norm_base, norm_slope)
        cached = self._block_cache.get(key)
        if cached is None:
            if len(self._block_cache) >= 1 << 16:
                self._block_cache.clear()
            lengths = self.length_matrix[row]
            cached = block_maxima(self.docs, self.freqs, start, count, lengths, norm_base, norm_slope)
            self._block_cache[key] = cached
        return cached

    def terms_containing(self, field: str, char: str) -> list[int]:
        """Ordinals of the field's terms that contain the Chinese character ``char``.

        The character → terms map of a field is built on first use (one pass over the field's
        terms) and kept; it serves one-character queries, which search mode cannot split further.
        """
        index = self._char_index.get(field)
        if index is None:
            index = {}
            prefix = (field + FIELD_SEPARATOR).encode()
            for ordinal in self.terms.prefix_range(prefix):
                term = self.terms.key(ordinal)[len(prefix) :].decode()
                if len(term) > 1:
                    for ch in set(term):
                        if is_single_chinese_character(ch):
                            index.setdefault(ch, []).append(ordinal)
            self._char_index[field] = index
        return index.get(char, [])

    def field_terms(self, field: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Every term of ``field``, decoded, with its postings (starts, counts) in ``docs``:
        the values of a keyword field, for facet counts (built once per segment)."""
        found = self._field_terms.get(field)
        if found is None:
            prefix = (field + FIELD_SEPARATOR).encode()
            ordinals = self.terms.prefix_range(prefix)
            terms = [self.terms.key(ordinal)[len(prefix) :].decode() for ordinal in ordinals]
            rows = self.term_info[ordinals.start : ordinals.stop]
            found = self._field_terms[field] = (terms, rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64))
        return found

    def text_field_row(self, name: str) -> int:
        """Row of a text field in ``length_matrix``."""
        return self._text_rows[name]

    def live_mask(self) -> np.ndarray:
        return self.live if self.live is not None else np.ones(self.doc_count, dtype=np.bool_)

    def postings(self, key: bytes) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, term frequencies) of ``key``, deleted docs included; empty when absent."""
        ordinal = self.terms.ordinal(key)
        if ordinal < 0:
            return _EMPTY_I32, _EMPTY_I32
        return self.postings_at(ordinal)

    def postings_at(self, ordinal: int) -> tuple[np.ndarray, np.ndarray]:
        start, count, _ = self.term_info[ordinal]
        return self.docs[start : start + count], self.freqs[start : start + count]

    def positions_slice(self, start: int, end: int) -> np.ndarray:
        return self._positions[start:end]

    def postings_of(self, keys: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """(postings start, doc freq) of each key, one row per key, (0, 0) where the segment
        lacks it; ``keys`` come from ``encode_keys``, once for every segment. One compiled call
        for a query's terms: dictionary search and gather together."""
        wanted, wanted_offsets = keys
        if len(wanted_offsets) < 2 or not len(self.terms):
            return np.zeros((max(len(wanted_offsets) - 1, 0), 2), dtype=np.int64)
        blob, offsets = self.terms.arrays
        return termdict.find_postings(blob, offsets, self.term_info, wanted, wanted_offsets)

    def positions_at(self, ordinal: int) -> np.ndarray:
        """All positions of the term, posting after posting (split them with the frequencies)."""
        start, count, pos_start = self.term_info[ordinal]
        total = int(self.freqs[start : start + count].sum())
        return self._positions[pos_start : pos_start + total]

    def doc_ids_for(self, key: bytes) -> np.ndarray:
        """Live documents containing ``key`` (used to find a document by its id)."""
        docs, _ = self.postings(key)
        if self.live is not None and len(docs):
            docs = docs[self.live[docs]]
        return docs

    def doc_id(self, doc: int) -> str:
        return self._ids[self._id_offsets[doc] : self._id_offsets[doc + 1]].tobytes().decode()

    def doc_ids(self, docs: list[int]) -> list[str]:
        """Ids of a page of hits, without decoding every id of the segment."""
        offsets = self._id_offsets
        if len(docs) <= 64:
            ids = memoryview(self._ids)
            return [str(ids[offsets[doc] : offsets[doc + 1]], "utf-8") for doc in docs]
        # Long pages: gather the ids' bytes with numpy, a NUL after each, and split one string.
        wanted = np.asarray(docs, dtype=np.int64)
        starts = offsets[wanted]
        lengths = offsets[wanted + 1] - starts
        ends = np.cumsum(lengths)
        total = int(ends[-1])
        picked = self._ids[np.repeat(starts - (ends - lengths), lengths) + np.arange(total, dtype=np.int64)]
        if not picked.all():  # an id holding a NUL byte
            return [self.doc_id(doc) for doc in docs]
        joined = np.zeros(total + len(docs), dtype=np.uint8)
        joined[np.arange(total) + np.repeat(np.arange(len(docs)), lengths)] = picked
        return joined[:-1].tobytes().decode().split("\0")

    def all_doc_ids(self) -> list[str]:
        """Every id, decoded once and kept: the fast path when many hits need ids."""
        if self._id_list is None:
            raw = self._ids.tobytes().decode()
            offsets = self._id_offsets.tolist()
            if len(raw) == len(self._ids):  # ASCII: byte offsets are character offsets
                self._id_list = [raw[a:b] for a, b in itertools.pairwise(offsets)]
            else:
                self._id_list = [self.doc_id(d) for d in range(self.doc_count)]
        return self._id_list

    def stored(self, doc: int) -> dict[str, Any]:
        return self.store.get(doc)

    def verify(self) -> None:
        """Check every file against the CRC32 the manifest recorded (reads whole files)."""
        for component in Component:
            info = self.meta.files[component.suffix]
            path = self.directory / component.file_name(self.meta.name)
            crc = 0
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    crc = zlib.crc32(chunk, crc)
            if crc != info.crc32:
                raise CorruptIndexError(f"{path}: checksum mismatch; the file is damaged (restore or rebuild)")
