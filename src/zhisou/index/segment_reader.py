"""Read access to one segment through memory-mapped files: opening is instant, RAM stays bounded."""

from __future__ import annotations

import bisect
import itertools
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.analysis.tokenizers import is_single_chinese_character
from zhisou.errors import CorruptIndexError, ZhisouError, require_intact
from zhisou.index import termdict
from zhisou.index.codec import CODEC_VERSION, check_frame, file_crc
from zhisou.index.deletes import read_live
from zhisou.index.docstore import BLOCK_DOCS, DocStoreReader
from zhisou.index.idpages import IdPages
from zhisou.index.legacy import transcode
from zhisou.index.postings import decode_positions, decode_postings
from zhisou.index.segment import (
    Codec2Component,
    Component,
    SegmentComponent,
    SegmentMeta,
    components_of,
    deletes_file_name,
)
from zhisou.index.termdict import FIELD_SEPARATOR, TermDictionary

_EMPTY_I32 = np.empty(0, dtype=np.int32)
_DECODE_BATCH_TERMS = 20_000  # terms decoded together when every posting is read
# Segments up to this size have every byte checked against its checksum when a process first
# opens them (~1 GB/s); larger ones get the structural checks only, and the kernels bound-check
# what they read. ``zhisou check`` and merges always read everything.
# ``ZHISOU_VERIFY_ON_OPEN_MB`` changes the threshold (0: structural checks only; the corruption
# campaign uses it to exercise the bound checks).
VERIFY_ON_OPEN_BYTES = int(float(os.environ.get("ZHISOU_VERIFY_ON_OPEN_MB", "128")) * 1024 * 1024)
_verified: set[tuple[int, int, int, int, int]] = set()  # (device, inode, size, mtime, crc) checked
_verified_lock = threading.Lock()


def map_component(path: Path, component: SegmentComponent, meta: SegmentMeta) -> np.ndarray:
    """The component's payload, memory-mapped, after the cheap checks: size, header, footer."""
    expected_size = meta.files[component.suffix].size
    try:
        actual = path.stat().st_size
    except FileNotFoundError as exc:
        raise CorruptIndexError(f"{path} is missing; the index is damaged (restore it or rebuild)") from exc
    if actual != expected_size:
        raise CorruptIndexError(f"{path}: size {actual} bytes, manifest says {expected_size}; the index is damaged")
    # A plain ndarray view of the map: slicing it avoids np.memmap's per-call overhead.
    raw = np.asarray(np.memmap(path, dtype=np.uint8, mode="r")) if actual else np.zeros(0, dtype=np.uint8)
    payload = check_frame(
        path, raw, component.suffix, meta.uid_bytes, meta.files[component.suffix].crc32, (meta.codec,)
    )
    if payload.shape[0] % component.dtype.itemsize:
        raise CorruptIndexError(f"{path}: {payload.shape[0]} bytes is not a whole number of values")
    return payload.view(component.dtype)


def verify_file(path: Path, crc: int, *, remember: bool = True) -> None:
    """Read the whole file and compare its checksum; ``remember`` skips files this process
    already checked that have not changed since (segment files never change)."""
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise CorruptIndexError(f"{path} is missing; the index is damaged (restore it or rebuild)") from exc
    key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, crc)
    if remember and key in _verified:
        return
    if file_crc(path) != crc:
        raise CorruptIndexError(f"{path}: checksum mismatch; the file is damaged (restore or rebuild)")
    with _verified_lock:
        if len(_verified) > 100_000:
            _verified.clear()
        _verified.add(key)


def _monotone_offsets(offsets: np.ndarray, count: int, end: int, path: Path) -> None:
    """``count + 1`` offsets from 0 to ``end``, never decreasing: slices by them stay in bounds."""
    require_intact(offsets.shape[0] == count + 1 >= 1, path, f"{offsets.shape[0]} offsets for {count} entries")
    require_intact(int(offsets[0]) == 0 and int(offsets[-1]) == end, path, "offsets do not span the data")
    require_intact(bool(np.all(offsets[1:] >= offsets[:-1])), path, "offsets go backwards")


class SegmentReader:
    """Postings, positions, lengths, columns and stored fields of one segment at one delete generation."""

    def __init__(self, directory: Path, meta: SegmentMeta) -> None:
        self.meta = meta
        self.directory = directory
        try:
            self.components = components_of(meta)
        except ValueError as error:
            raise ZhisouError(str(error)) from None
        arrays: dict[SegmentComponent, np.ndarray] = {}
        for component in self.components:
            if component.suffix not in meta.files:
                raise CorruptIndexError(f"segment {meta.name}: manifest lists no {component.suffix} file")
            arrays[component] = map_component(self.path(component), component, meta)
        if sum(info.size for info in meta.files.values()) <= VERIFY_ON_OPEN_BYTES:
            self.verify()
        if meta.codec != CODEC_VERSION:
            arrays = transcode(arrays, meta, self.path)
        self._arrays = arrays
        self._check_structure()
        # Optional components by suffix; rows that belong to documents as a (rows, width) matrix.
        self.optional: dict[str, np.ndarray] = {}
        for c in self.components:
            if not c.required:
                rows = self._optional_rows(c)
                self.optional[c.suffix] = arrays[c].reshape(rows, -1) if c.per_doc and rows else arrays[c]
        self.terms = TermDictionary(arrays[Component.TERM_KEYS], arrays[Component.TERM_OFFSETS])
        self.term_info = arrays[Component.TERM_INFO].reshape(-1, 3)  # postings start, doc freq, positions start
        self.packed_postings = arrays[Component.POSTINGS]  # index/postings.py; the kernels read it
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
        self._id_pages: IdPages | None = None
        self._char_index: dict[str, dict[str, list[int]]] = {}
        self._field_terms: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
        self._field_docs: dict[str, np.ndarray] = {}
        # What other layers build from this segment's files and keep as long as the reader (a
        # loaded ANN graph, say): the segment never changes, so neither do they.
        self.derived: dict[str, object] = {}
        self._id_offsets = arrays[Component.ID_OFFSETS]
        if meta.del_gen:
            self.live: np.ndarray | None = read_live(
                directory / deletes_file_name(meta.name, meta.del_gen), meta.doc_count, meta.uid_bytes, meta.del_crc32
            )
        else:
            self.live = None

    def path(self, component: SegmentComponent) -> Path:
        return self.directory / component.file_name(self.meta.name)

    def _check_structure(self) -> None:
        """What the compiled code and slicing rely on, checked in O(terms + documents): offsets
        that stay inside their data, postings ranges that tile the postings, array shapes that
        match the document count. (Doc ids inside postings are checked on first use: ``docs``.)"""
        arrays, meta, n = self._arrays, self.meta, self.meta.doc_count
        n_terms = arrays[Component.TERM_OFFSETS].shape[0] - 1
        _monotone_offsets(
            arrays[Component.TERM_OFFSETS],
            n_terms,
            arrays[Component.TERM_KEYS].shape[0],
            self.path(Component.TERM_OFFSETS),
        )
        info_path = self.path(Component.TERM_INFO)
        info = arrays[Component.TERM_INFO]
        require_intact(info.shape[0] == 3 * n_terms, info_path, f"{info.shape[0] // 3} term rows for {n_terms} terms")
        rows = info.reshape(-1, 3)
        postings, positions_file = arrays[Component.POSTINGS], arrays[Component.POSITIONS]
        require_intact(postings.shape[0] >= 1, self.path(Component.POSTINGS), "no spare word at the end")
        require_intact(positions_file.shape[0] >= 1, self.path(Component.POSITIONS), "no spare word at the end")
        if n_terms:
            starts, counts, positions = rows[:, 0], rows[:, 1], rows[:, 2]
            require_intact(
                bool(np.all(counts >= 1)) and int(counts.max()) <= n,
                info_path,
                "a term with no postings, or with more than the segment has documents",
            )
            # Areas in term order inside their files; each block read is checked again.
            require_intact(
                int(starts[0]) == 0
                and bool(np.all(starts[1:] > starts[:-1]))
                and int(starts[-1]) < postings.shape[0] - 1,
                info_path,
                "postings areas out of order or out of the file",
            )
            require_intact(
                int(positions[0]) == 0
                and bool(np.all(positions[1:] > positions[:-1]))
                and int(positions[-1]) < positions_file.shape[0] - 1,
                info_path,
                "positions areas out of order or out of the file",
            )
        else:
            require_intact(postings.shape[0] == 1, info_path, "postings without terms")
        fields = meta.fields
        n_text, n_columns = len(fields.get("text", [])), len(fields.get("columns", []))
        require_intact(arrays[Component.LENGTHS].shape[0] == n_text * n, self.path(Component.LENGTHS), "wrong shape")
        require_intact(arrays[Component.COLUMNS].shape[0] == n_columns * n, self.path(Component.COLUMNS), "wrong shape")
        _monotone_offsets(
            arrays[Component.ID_OFFSETS], n, arrays[Component.IDS].shape[0], self.path(Component.ID_OFFSETS)
        )
        _monotone_offsets(
            arrays[Component.STORE_INDEX],
            (n + BLOCK_DOCS - 1) // BLOCK_DOCS,
            arrays[Component.STORE].shape[0],
            self.path(Component.STORE_INDEX),
        )
        for component in self.components:
            if not component.required and component.per_doc:
                values, rows = arrays[component].shape[0], self._optional_rows(component)
                require_intact(
                    values % rows == 0 if rows else values == 0,
                    self.path(component),
                    f"{values} values do not make {rows} rows of equal width",
                )

    def _optional_rows(self, component: SegmentComponent) -> int:
        """How many rows a per-doc optional component holds: one per document, or the sum of
        its counts component (which must be present and hold no negative count)."""
        counts_suffix = getattr(component, "counts", None)
        if counts_suffix is None:
            return self.meta.doc_count
        counts = next((c for c in self.components if c.suffix == counts_suffix), None)
        require_intact(counts is not None, self.path(component), f"its row counts (.{counts_suffix}) are missing")
        values = self._arrays[counts]  # type: ignore[index]
        valid = values.shape[0] == self.meta.doc_count and (values >= 0).all()
        require_intact(valid, self.path(counts), "bad row counts")  # type: ignore[arg-type]
        return int(values.sum())

    @property
    def doc_count(self) -> int:
        return self.meta.doc_count

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
                term = self.term_text(ordinal, len(prefix))
                if len(term) > 1:
                    for ch in set(term):
                        if is_single_chinese_character(ch):
                            index.setdefault(ch, []).append(ordinal)
            self._char_index[field] = index
        return index.get(char, [])

    def field_ordinals(self, field: str) -> range:
        """Ordinals of the field's terms (keys ``field \x1f …`` sort together): two binary searches."""
        start = bisect.bisect_left(self.terms.key_view, (field + FIELD_SEPARATOR).encode())
        end = bisect.bisect_left(self.terms.key_view, (field + chr(ord(FIELD_SEPARATOR) + 1)).encode())
        return range(start, end)

    def field_terms(self, field: str, *, remember: bool = True) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Every term of ``field``, decoded, with its postings (starts, counts) in ``docs``:
        the values of a keyword field, for facet counts (built once per segment). ``remember``
        False: decoded for one pass and not kept (a text field's dictionary is large)."""
        found = self._field_terms.get(field)
        if found is None:
            ordinals = self.field_ordinals(field)
            terms = self._texts(ordinals, field + FIELD_SEPARATOR)
            rows = self.term_info[ordinals.start : ordinals.stop]
            found = (terms, rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64))
            if remember:
                self._field_terms[field] = found
        return found

    def field_docs(self, field: str) -> np.ndarray:
        """The decoded doc ids of every term of ``field``, term after term (``field_terms``
        order): what facet counts read, decoded once per segment and kept."""
        found = self._field_docs.get(field)
        if found is None:
            _, starts, counts = self.field_terms(field)
            found, _ = self.postings_range(starts, counts)
            self._field_docs[field] = found
        return found

    def text_field_row(self, name: str) -> int:
        """Row of a text field in ``length_matrix``."""
        return self._text_rows[name]

    def live_mask(self) -> np.ndarray:
        return self.live if self.live is not None else np.ones(self.doc_count, dtype=np.bool_)

    def live_term_ordinals(self) -> np.ndarray:
        """Ordinals of the terms with at least one posting in a live document."""
        return np.flatnonzero(self.live_doc_freqs() > 0)

    def live_doc_freqs(self) -> np.ndarray:
        """Per term ordinal, how many live documents hold it (decodes every posting once when
        the segment has deletes, a batch of terms at a time)."""
        counts = self.term_info[:, 1].astype(np.int64)
        if self.live is None or not len(counts):
            return counts
        out = np.empty(len(counts), dtype=np.int64)
        for low in range(0, len(counts), _DECODE_BATCH_TERMS):
            high = min(low + _DECODE_BATCH_TERMS, len(counts))
            docs, _ = self.postings_of_rows(low, high)
            ends = np.cumsum(self.live[docs], dtype=np.int64)
            last = np.cumsum(counts[low:high]) - 1
            totals = ends[last]
            out[low:high] = np.diff(totals, prepend=0)
        return out

    def postings(self, key: bytes) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, term frequencies) of ``key``, deleted docs included; empty when absent."""
        ordinal = self.terms.ordinal(key)
        if ordinal < 0:
            return _EMPTY_I32, _EMPTY_I32
        return self.postings_at(ordinal)

    def postings_at(self, ordinal: int) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, frequencies) of one term, decoded; every read checked against the file."""
        return self.postings_of_rows(ordinal, ordinal + 1)

    def postings_of_rows(self, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, frequencies) of the terms of ordinals ``low`` .. ``high`` - 1, decoded and
        concatenated (int32)."""
        rows = self.term_info[low:high]
        return self.postings_range(rows[:, 0], rows[:, 1])

    def postings_range(self, starts: np.ndarray | int, counts: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, frequencies) of the terms whose postings start at ``starts`` (words, as
        ``term_info`` and ``postings_of`` give them) with ``counts`` postings, decoded and
        concatenated; ids checked to lie inside the segment."""
        try:
            docs, freqs = decode_postings(self.packed_postings, np.atleast_1d(starts), np.atleast_1d(counts))
        except CorruptIndexError as error:
            raise CorruptIndexError(f"{self.path(Component.POSTINGS)}: {error}") from None
        if len(docs) and (int(docs.min()) < 0 or int(docs.max()) >= self.meta.doc_count):
            raise CorruptIndexError(f"{self.path(Component.POSTINGS)}: postings out of range; the index is damaged")
        return docs, freqs

    def positions_of_rows(self, low: int, high: int, freqs: np.ndarray) -> np.ndarray:
        """The positions of terms ``low`` .. ``high`` - 1 whose postings have ``freqs``
        (from ``postings_of_rows``), posting after posting."""
        rows = self.term_info[low:high]
        try:
            return decode_positions(self._positions, rows[:, 2], rows[:, 1], freqs)
        except CorruptIndexError as error:
            raise CorruptIndexError(f"{self.path(Component.POSITIONS)}: {error}") from None

    def postings_of(self, keys: tuple[bytes, np.ndarray]) -> np.ndarray:
        """(postings start, doc freq) of each key, one row per key, (0, 0) where the segment
        lacks it; ``keys`` come from ``encode_keys``, once for every segment. One compiled call
        for a query's terms: dictionary search and gather together."""
        wanted, wanted_offsets = keys
        if len(wanted_offsets) < 2:
            return np.zeros((0, 2), dtype=np.int64)
        return termdict.find_postings(*self.terms.arrays, self.term_info, wanted, wanted_offsets)

    def damaged(self, error: CorruptIndexError) -> CorruptIndexError:
        """``error``, raised by a compiled loop reading this segment's postings, naming the file."""
        postings = Component.POSTINGS if self.meta.codec == CODEC_VERSION else Codec2Component.DOCS
        return CorruptIndexError(f"{self.path(postings)}: {error}")

    def check_postings(self) -> None:
        """Decode every term's postings and positions (``zhisou check``): a damaged block
        raises ``CorruptIndexError`` here rather than when a search first reads it."""
        for low in range(0, len(self.term_info), _DECODE_BATCH_TERMS):
            high = min(low + _DECODE_BATCH_TERMS, len(self.term_info))
            _, freqs = self.postings_of_rows(low, high)
            self.positions_of_rows(low, high, freqs)

    def positions_at(self, ordinal: int) -> np.ndarray:
        """All positions of the term, posting after posting (split them with the frequencies)."""
        _, freqs = self.postings_at(ordinal)
        return self.positions_of_rows(ordinal, ordinal + 1, freqs)

    def doc_ids_for(self, key: bytes) -> np.ndarray:
        """Live documents containing ``key`` (used to find a document by its id)."""
        docs, _ = self.postings(key)
        if self.live is not None and len(docs):
            docs = docs[self.live[docs]]
        return docs

    def doc_id(self, doc: int) -> str:
        return self._decode_ids(self._ids[self._id_offsets[doc] : self._id_offsets[doc + 1]].tobytes())

    @property
    def id_bytes(self) -> np.ndarray:
        """Every document's id, UTF-8, one after another (``id_offsets`` delimits them)."""
        return self._ids

    @property
    def id_offsets(self) -> np.ndarray:
        return self._id_offsets

    def doc_ids(self, docs: list[int]) -> list[str]:
        """Ids of a page of hits, without decoding every id of the segment."""
        offsets = self._id_offsets
        if len(docs) <= 64:
            ids = memoryview(self._ids)
            return [str(ids[offsets[doc] : offsets[doc + 1]], "utf-8") for doc in docs]
        if self._id_pages is None:
            self._id_pages = IdPages([self._ids], [self._id_offsets], np.zeros(1, dtype=np.int64))
        joined = self._id_pages.joined(docs)
        if joined is None:  # an id holding a NUL byte
            return [self.doc_id(doc) for doc in docs]
        return self._decode_ids(joined).split("\0")

    def all_doc_ids(self) -> list[str]:
        """Every id, decoded once and kept: the fast path when many hits need ids."""
        if self._id_list is None:
            raw = self._decode_ids(self._ids.tobytes())
            offsets = self._id_offsets.tolist()
            if len(raw) == len(self._ids):  # ASCII: byte offsets are character offsets
                self._id_list = [raw[a:b] for a, b in itertools.pairwise(offsets)]
            else:
                self._id_list = [self.doc_id(d) for d in range(self.doc_count)]
        return self._id_list

    def _decode_ids(self, raw: bytes) -> str:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise CorruptIndexError(f"{self.path(Component.IDS)}: ids are not UTF-8; the index is damaged") from None

    def _texts(self, ordinals: range, prefix: str) -> list[str]:
        """The terms of keys ``ordinals`` (all starting with ``prefix``, which no term holds: it
        ends in the field separator) without it: the keys' bytes decoded at once and split on
        the prefix, instead of a decode per key (synthetic-1M's largest segment, 394k keys of
        its text field: 0.40 s → 23 ms)."""
        if not len(ordinals):
            return []
        offsets = self.terms.offsets
        raw = self.terms.blob[int(offsets[ordinals.start]) : int(offsets[ordinals.stop])].tobytes()
        try:
            terms = raw.decode().split(prefix)[1:]
        except UnicodeDecodeError:
            terms = []
        if len(terms) != len(ordinals):
            raise CorruptIndexError(
                f"{self.path(Component.TERM_KEYS)}: the terms of {prefix[:-1]!r} do not decode; the index is damaged "
                "(restore it or rebuild)"
            )
        return terms

    def term_text(self, ordinal: int, prefix_length: int) -> str:
        """The term of key ``ordinal`` without its ``field\x1f`` prefix."""
        try:
            return self.terms.key(ordinal)[prefix_length:].decode()
        except UnicodeDecodeError:
            raise CorruptIndexError(
                f"{self.path(Component.TERM_KEYS)}: a term is not UTF-8; the index is damaged"
            ) from None

    def stored(self, doc: int) -> dict[str, Any]:
        try:
            return self.store.get(doc)
        except CorruptIndexError as exc:
            raise CorruptIndexError(f"{self.path(Component.STORE)}: {exc}; the index is damaged") from None

    def verify(self, *, remember: bool = True) -> None:
        """Check every file against the CRC32 the manifest recorded (reads whole files; with
        ``remember``, files this process already checked unchanged are skipped)."""
        for component in self.components:
            verify_file(self.path(component), self.meta.files[component.suffix].crc32, remember=remember)
