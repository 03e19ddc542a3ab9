"""A segment may carry optional components of other kinds (embeddings, an ANN graph): written by
a producer at flush, listed in the manifest, checked like the required files, kept by merges
(per-document rows follow their documents) or derived again from the merged rows, adopted with segments
written elsewhere; and a component a version does not know is refused, not ignored."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import SMALL_CORPUS
from zhisou import Index, Schema
from zhisou.analysis import AnalyzerRegistry
from zhisou.errors import ZhisouError
from zhisou.index.buffer import write_segment
from zhisou.index.check import check_index
from zhisou.index.merge import TieredMergePolicy
from zhisou.index.reader import IndexReader
from zhisou.index.segment import ComponentProducer, OptionalComponent, SegmentTerms, register_component
from zhisou.index.writer import IndexWriter

ROWS = register_component(OptionalComponent("tvec", np.dtype(np.float32), True, "test: a row per document"))
DERIVED = register_component(OptionalComponent("tgrf", np.dtype(np.uint8), False, "test: derived bytes"))
COUNTS = register_component(OptionalComponent("tpcn", np.dtype(np.int32), True, "test: rows per document"))
PASSAGES = register_component(
    OptionalComponent("tpvc", np.dtype(np.float32), True, "test: passage rows", counts="tpcn")
)


def row(doc: dict[str, Any]) -> list[float]:
    """What the producer computes for a document: recomputable from its stored fields."""
    body = str(doc.get("body", ""))
    return [float(len(body)), float(sum(map(ord, str(doc["id"]))) % 97), 1.0]


def passage_rows(doc: dict[str, Any]) -> list[list[float]]:
    """A varying number of rows per document (1-3), each recomputable from the document."""
    number = int(str(doc["id"]).lstrip("n") or 0) if str(doc["id"]).startswith("n") else len(str(doc["id"]))
    return [[float(number), float(k)] for k in range(number % 3 + 1)]


class Rows(ComponentProducer):
    def produce(self, docs: list[dict[str, Any]]) -> dict[OptionalComponent, np.ndarray]:
        return {ROWS: np.array([row(d) for d in docs], dtype=np.float32)}


class Passages(ComponentProducer):
    def produce(self, docs: list[dict[str, Any]]) -> dict[OptionalComponent, np.ndarray]:
        rows = [passage_rows(d) for d in docs]
        return {
            COUNTS: np.array([[len(r)] for r in rows], dtype=np.int32),
            PASSAGES: np.array([x for r in rows for x in r], dtype=np.float32),
        }


class Derived(ComponentProducer):
    """Derives bytes from the passage rows a segment holds (how many there are), as a search
    structure over them would be."""

    def produce(self, docs: list[dict[str, Any]]) -> dict[OptionalComponent, np.ndarray]:
        return {}

    def derive(
        self, components: Mapping[OptionalComponent, np.ndarray], terms: SegmentTerms
    ) -> dict[OptionalComponent, np.ndarray]:
        rows = components.get(PASSAGES)
        return {} if rows is None else {DERIVED: np.frombuffer(json.dumps(len(rows)).encode(), dtype=np.uint8)}


def docs(count: int) -> list[dict[str, Any]]:
    return [{"id": f"n{i}", "title": f"note {i}", "body": "word " * (i % 7 + 1)} for i in range(count)]


def rows_by_id(directory: Path, suffix: str = "tvec") -> dict[str, list[Any]]:
    reader = IndexReader.open(directory)
    out = {}
    for segment in reader.segments:
        live = segment.live_mask()
        if suffix == "tpvc":
            counts = segment.optional["tpcn"].reshape(-1)
            starts = np.concatenate(([0], np.cumsum(counts)))
        for doc, doc_id in enumerate(segment.all_doc_ids()):
            if not live[doc]:
                continue
            if suffix == "tpvc":
                out[doc_id] = segment.optional["tpvc"][starts[doc] : starts[doc + 1]].tolist()
            else:
                out[doc_id] = segment.optional[suffix][doc].tolist()
    return out


def test_rows_follow_their_documents_through_flushes_deletes_and_merges(tmp_path: Path) -> None:
    Index.create(tmp_path / "ix", Schema.default()).close()
    writer = IndexWriter(
        tmp_path / "ix",
        producers=[Rows(), Passages(), Derived()],
        merge_policy=TieredMergePolicy(factor=2, floor_docs=4),
    )
    corpus = docs(40)
    for start in range(0, 40, 5):
        for doc in corpus[start : start + 5]:
            writer.add(doc)
        writer.delete(f"n{start}")
        writer.commit()
    writer.close()
    expected = {d["id"]: row(d) for d in corpus if int(d["id"][1:]) % 5}
    assert rows_by_id(tmp_path / "ix") == expected
    kept = {d["id"]: passage_rows(d) for d in corpus if int(d["id"][1:]) % 5}
    assert rows_by_id(tmp_path / "ix", "tpvc") == kept
    reader = IndexReader.open(tmp_path / "ix")
    merged = [s for s in reader.segments if s.meta.doc_count > 5]
    assert merged, "the policy merged some segments"
    for segment in reader.segments:  # derived again from every segment's own rows, merged or flushed
        assert json.loads(segment.optional["tgrf"].tobytes()) == len(segment.optional["tpvc"])
    assert check_index(tmp_path / "ix").ok


def test_check_finds_a_damaged_optional_file_and_gc_keeps_referenced_ones(tmp_path: Path) -> None:
    Index.create(tmp_path / "ix", Schema.default()).close()
    writer = IndexWriter(tmp_path / "ix", producers=[Rows(), Passages()])
    for doc in docs(6):
        writer.add(doc)
    writer.commit(merge=False)
    writer.close()
    IndexWriter(tmp_path / "ix").close()  # a writer's clean-up leaves referenced files alone
    (path,) = (tmp_path / "ix").glob("*.tvec")
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF
    path.write_bytes(bytes(data))
    report = check_index(tmp_path / "ix")
    assert not report.ok and any(path.name in problem for problem in report.problems)
    (counts,) = (tmp_path / "ix").glob("*.tpcn")
    assert any(counts.name not in problem for problem in report.problems)


def test_segments_written_elsewhere_bring_their_optional_components(tmp_path: Path) -> None:
    schema = Schema.default()
    outside = tmp_path / "executor"
    outside.mkdir()
    meta = write_segment(outside, schema, AnalyzerRegistry(), SMALL_CORPUS, producers=[Rows()])
    index = Index.create(tmp_path / "ix", schema)
    index.writer.add_segments([meta], source=outside)
    index.commit()
    index.close()
    assert rows_by_id(tmp_path / "ix") == {d["id"]: row(d) for d in SMALL_CORPUS}


def test_a_component_this_version_does_not_know_is_refused_in_one_line(tmp_path: Path) -> None:
    Index.create(tmp_path / "ix", Schema.default()).close()
    writer = IndexWriter(tmp_path / "ix", producers=[Rows()])
    writer.add(docs(1)[0])
    writer.commit()
    writer.close()
    from zhisou.index import segment

    del segment.OPTIONAL_COMPONENTS["tvec"]
    try:
        with pytest.raises(ZhisouError, match=r"\.tvec file this version of zhisou does not know"):
            IndexReader.open(tmp_path / "ix")
        assert any("does not know" in p for p in check_index(tmp_path / "ix").problems)
    finally:
        register_component(ROWS)


def test_registration_refuses_clashes() -> None:
    with pytest.raises(ValueError, match="required component"):
        register_component(OptionalComponent("pst", np.dtype(np.int32), True, "clash"))
    with pytest.raises(ValueError, match="already registered"):
        register_component(OptionalComponent("tvec", np.dtype(np.int8), True, "another"))
    with pytest.raises(ValueError, match="lower-case"):
        register_component(OptionalComponent("../x", np.dtype(np.int8), True, "bad"))
    with pytest.raises(ValueError, match="counts must name"):
        register_component(OptionalComponent("tbad", np.dtype(np.int8), True, "bad", counts="tvec9"))
