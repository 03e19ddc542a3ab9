"""Unit tests of the index's building blocks: the codec frame, the segment writer and reader,
the document store and the manifest (the postings codec: test_postings.py) — each against a reference it must equal."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou.errors import CorruptIndexError
from zhisou.index import codec
from zhisou.index.docstore import BLOCK_DOCS, DocStoreReader, encode_block, encode_doc
from zhisou.index.manifest import Manifest, load_latest
from zhisou.index.segment import Component
from zhisou.index.segment_reader import SegmentReader
from zhisou.index.segment_writer import SegmentWriter


@given(
    payload=st.binary(max_size=300),
    suffix=st.sampled_from(["doc", "tdk", "del"]),
    uid=st.binary(min_size=16, max_size=16),
)
def test_a_frame_round_trips_and_names_what_it_holds(payload: bytes, suffix: str, uid: bytes) -> None:
    data, crc = codec.frame(suffix, uid, payload)
    assert len(data) == len(payload) + codec.FRAME_BYTES
    assert crc == zlib.crc32(data[: -codec.FOOTER_BYTES])
    raw = np.frombuffer(data, dtype=np.uint8)
    assert codec.check_frame(Path("f"), raw, suffix, uid, crc).tobytes() == payload
    with pytest.raises(CorruptIndexError, match="another segment"):
        codec.check_frame(Path("f"), raw, suffix, bytes(16) if uid != bytes(16) else b"\x01" * 16, crc)
    with pytest.raises(CorruptIndexError, match="another segment"):
        codec.check_frame(Path("f"), raw, "frq", uid, crc)
    with pytest.raises(CorruptIndexError, match="checksum"):
        codec.check_frame(Path("f"), raw, suffix, uid, crc ^ 1)
    with pytest.raises(CorruptIndexError):
        codec.check_frame(Path("f"), raw[:-1], suffix, uid, crc)


def write_segment(directory: Path, postings: dict[bytes, list[tuple[int, list[int]]]], docs: int) -> SegmentReader:
    """A segment from {key: [(doc, positions)]}: the reader must give back exactly this."""
    writer = SegmentWriter(directory, "seg_000007", docs)
    keys = sorted(postings)
    counts = np.array([len(postings[k]) for k in keys])
    doc_ids = np.array([d for k in keys for d, _ in postings[k]], dtype=np.int32)
    freqs = np.array([len(p) for k in keys for _, p in postings[k]], dtype=np.int32)
    positions = np.array([x for k in keys for _, p in postings[k] for x in p], dtype=np.int32)
    writer.add_sorted_terms(keys, counts, doc_ids, freqs, positions)
    lengths = np.arange(docs, dtype=np.uint32).reshape(1, docs)
    columns = np.full((1, docs), 7.5)
    stored = [encode_doc({"id": str(d), "n": d}) for d in range(docs)]
    meta = writer.finish(
        lengths, columns, stored, [f"id{d}" for d in range(docs)], {"text": ["body"], "columns": ["x"]}
    )
    return SegmentReader(directory, meta)


def test_segment_writer_and_reader_agree(tmp_path: Path) -> None:
    postings = {
        b"body\x1fa": [(0, [0, 3]), (2, [1])],
        b"body\x1fb": [(1, [0])],
        b"body\x1fc": [(0, [1]), (1, [2, 4, 6]), (2, [0])],
    }
    reader = write_segment(tmp_path, postings, 3)
    for key, expected in postings.items():
        ordinal = reader.terms.ordinal(key)
        docs, freqs = reader.postings_at(ordinal)
        assert docs.tolist() == [d for d, _ in expected]
        assert freqs.tolist() == [len(p) for _, p in expected]
        assert reader.positions_at(ordinal).tolist() == [x for _, p in expected for x in p]
    assert reader.terms.ordinal(b"body\x1fz") == -1
    assert [reader.doc_id(d) for d in range(3)] == ["id0", "id1", "id2"]
    assert reader.stored(2) == {"id": "2", "n": 2}
    assert reader.lengths["body"].tolist() == [0, 1, 2]
    assert reader.columns["x"].tolist() == [7.5] * 3
    reader.verify(remember=False)


def test_segment_writer_refuses_terms_out_of_order(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "seg_000001", 1)
    one = np.array([1])
    zero = np.array([0], dtype=np.int32)
    writer.add_sorted_terms([b"b"], one, zero, one.astype(np.int32), zero)
    with pytest.raises(ValueError, match="out of order"):
        writer.add_sorted_terms([b"a"], one, zero, one.astype(np.int32), zero)
    writer.abort()
    assert not list(tmp_path.iterdir())


@settings(max_examples=50, deadline=None)
@given(
    docs=st.lists(
        st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=20), st.integers()), max_size=4),
        min_size=1,
        max_size=70,
    )
)
def test_docstore_blocks_round_trip(docs: list[dict]) -> None:
    blocks = [encode_block([encode_doc(d) for d in docs[i : i + BLOCK_DOCS]]) for i in range(0, len(docs), BLOCK_DOCS)]
    blob = np.frombuffer(b"".join(blocks), dtype=np.uint8)
    offsets = np.concatenate(([0], np.cumsum([len(b) for b in blocks]))).astype(np.int64)
    store = DocStoreReader(blob, offsets)
    assert [store.get(i) for i in range(len(docs))] == docs


def test_docstore_reports_damage_as_corruption() -> None:
    good = encode_block([encode_doc({"id": "a"})])
    for blob in (b"not zlib at all", zlib.compress(b"{not json"), zlib.compress(b"[1, 2]"), good[:-3]):
        store = DocStoreReader(np.frombuffer(blob, dtype=np.uint8), np.array([0, len(blob)], dtype=np.int64))
        with pytest.raises(CorruptIndexError):
            store.get(0)
    store = DocStoreReader(np.frombuffer(good, dtype=np.uint8), np.array([0, len(good)], dtype=np.int64))
    with pytest.raises(CorruptIndexError, match="too few"):
        store.get(3)


def test_manifest_round_trip_checksum_and_generation(tmp_path: Path) -> None:
    manifest = Manifest(generation=3, schema={"fields": []}, settings={"origin": "test"}, user_data={"k": "v"})
    manifest.write(tmp_path)
    loaded = load_latest(tmp_path)
    assert loaded == manifest
    path = tmp_path / manifest.file_name
    data = json.loads(path.read_text())
    assert data["checksum"] == zlib.crc32(path.read_bytes().replace(b',\n "checksum": %d' % data["checksum"], b""))
    data["user_data"] = {"k": "changed"}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1))
    with pytest.raises(CorruptIndexError, match="checksum"):
        load_latest(tmp_path)
    manifest.write(tmp_path)
    path.rename(tmp_path / "manifest_4.json")  # a manifest under another generation's name
    with pytest.raises(CorruptIndexError, match="names generation 3"):
        load_latest(tmp_path)


def test_component_dtypes_match_what_the_writer_writes() -> None:
    sizes = {c.suffix: c.dtype.itemsize for c in Component}
    assert sizes == {
        "tdk": 1, "tdo": 4, "tdi": 4, "pst": 4, "pos": 4,
        "len": 4, "col": 8, "sto": 1, "sti": 8, "ids": 1, "ido": 8,
    }  # fmt: skip
