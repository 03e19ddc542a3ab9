"""Codec-2 segments (written 2026-12-01 to 12-02): their postings re-encoded as codec 3 in memory.

A codec-2 segment kept its term dictionary's numbers as i64 and its postings as plain i32
arrays (``doc``, ``frq``, ``pos``: one value per posting or position, terms back to back); its
other files are laid out as codec 3's. A reader of such a segment checks those arrays, encodes
them with the current codec (``postings.encode_postings`` / ``encode_positions``, block bounds
included) and serves the result from memory, so every search path, merge and check sees codec 3.
The segment's files are never rewritten in place: the first merge that takes the segment writes
codec 3 (``zhisou optimize`` converts a whole index), and until then its postings cost memory
rather than page cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from zhisou.errors import CorruptIndexError, require_intact
from zhisou.index.postings import encode_positions, encode_postings, prefer_compiled, sums_before
from zhisou.index.segment import Codec2Component, Component, SegmentComponent, SegmentMeta
from zhisou.index.segment_writer import posting_lengths

_U32_LIMIT = 1 << 32


def transcode(
    arrays: Mapping[SegmentComponent, np.ndarray], meta: SegmentMeta, path_of: Callable[[SegmentComponent], Path]
) -> dict[SegmentComponent, np.ndarray]:
    """The arrays of a codec-2 segment as a codec-3 segment holds them (keyed by ``Component``;
    optional components pass through). Raises ``CorruptIndexError`` for arrays that do not
    make a valid segment: offsets, postings ranges, doc ids, frequencies, positions."""
    n_docs = meta.doc_count
    key_offsets = arrays[Codec2Component.TERM_OFFSETS]
    n_terms = key_offsets.shape[0] - 1
    blob_size = arrays[Component.TERM_KEYS].shape[0]
    offsets_path = path_of(Codec2Component.TERM_OFFSETS)
    require_intact(
        n_terms >= 0 and int(key_offsets[0]) == 0 and int(key_offsets[-1]) == blob_size,
        offsets_path,
        "offsets do not span the keys",
    )
    require_intact(bool(np.all(key_offsets[1:] >= key_offsets[:-1])), offsets_path, "offsets go backwards")
    require_intact(blob_size < _U32_LIMIT, offsets_path, "term keys beyond 4 GiB")
    info_path = path_of(Codec2Component.TERM_INFO)
    info = arrays[Codec2Component.TERM_INFO]
    require_intact(info.shape[0] == 3 * n_terms, info_path, f"{info.shape[0] // 3} term rows for {n_terms} terms")
    rows = info.reshape(-1, 3)
    starts, counts, position_starts = rows[:, 0], rows[:, 1], rows[:, 2]
    docs = arrays[Codec2Component.DOCS].astype(np.int64)
    freqs = arrays[Codec2Component.FREQS].astype(np.int64)
    positions = arrays[Codec2Component.POSITIONS].astype(np.int64)
    require_intact(
        bool(np.all(counts >= 1)) and (not n_terms or int(counts.max()) <= n_docs),
        info_path,
        "a term with no postings, or with more than the segment has documents",
    )
    require_intact(
        bool(np.array_equal(starts, sums_before(counts))) and int(counts.sum()) == docs.shape[0],
        info_path,
        "postings ranges do not tile the postings",
    )
    require_intact(freqs.shape[0] == docs.shape[0], path_of(Codec2Component.FREQS), "not one frequency per posting")
    require_intact(bool(np.all(freqs >= 1)), path_of(Codec2Component.FREQS), "a frequency below 1")
    docs_path = path_of(Codec2Component.DOCS)
    require_intact(
        not docs.shape[0] or (int(docs.min()) >= 0 and int(docs.max()) < n_docs),
        docs_path,
        "a doc id outside the segment",
    )
    ascending = np.diff(docs) > 0
    ascending[starts[1:] - 1] = True  # a term's first posting may start anywhere
    require_intact(bool(np.all(ascending)), docs_path, "doc ids do not ascend within a term")
    per_term = np.add.reduceat(freqs, starts) if n_terms else np.zeros(0, dtype=np.int64)
    positions_path = path_of(Codec2Component.POSITIONS)
    require_intact(
        bool(np.array_equal(position_starts, sums_before(per_term))) and int(freqs.sum()) == positions.shape[0],
        info_path,
        "positions ranges do not tile the positions",
    )
    text_fields: list[str] = meta.fields.get("text", [])
    length_matrix = arrays[Component.LENGTHS].reshape(-1, n_docs) if n_docs else np.zeros((len(text_fields), 0))
    lengths = {name: length_matrix[row].astype(np.int64) for row, name in enumerate(text_fields)}
    blob = arrays[Component.TERM_KEYS].tobytes()
    bounds = key_offsets.tolist()
    keys = [blob[bounds[i] : bounds[i + 1]] for i in range(n_terms)]
    prefer_compiled(docs.shape[0] + positions.shape[0])
    try:
        post_words, post_starts = encode_postings(counts, docs, freqs, posting_lengths(keys, counts, docs, lengths))
        pos_words, pos_starts = encode_positions(freqs, positions, counts)
    except ValueError as error:  # positions that go backwards inside a posting
        raise CorruptIndexError(f"{positions_path}: {error}; the index is damaged (restore it or rebuild)") from None
    spare = np.zeros(1, dtype=np.uint32)
    postings = np.concatenate((post_words, spare))
    positions_file = np.concatenate((pos_words, spare))
    require_intact(
        max(postings.shape[0], positions_file.shape[0]) < _U32_LIMIT, docs_path, "too many postings for one segment"
    )
    out: dict[SegmentComponent, np.ndarray] = {
        component: array for component, array in arrays.items() if not isinstance(component, Codec2Component)
    }
    out[Component.TERM_OFFSETS] = key_offsets.astype(np.uint32)
    out[Component.TERM_INFO] = np.column_stack((post_starts, counts, pos_starts)).astype(np.uint32).ravel()
    out[Component.POSTINGS] = postings
    out[Component.POSITIONS] = positions_file
    return out
