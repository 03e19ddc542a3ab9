"""Segments written elsewhere (other processes, Spark executors) join an index — Lucene's
addIndexes — and the index then searches exactly like one built in one place."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SMALL_CORPUS
from zhisou import CorruptIndexError, Index, Schema
from zhisou.analysis import AnalyzerRegistry
from zhisou.errors import SchemaError, ZhisouError
from zhisou.index.buffer import write_segment
from zhisou.index.segment import Component
from zhisou.schema import FieldSpec

QUERIES = ["倒排索引", "rank", "learning to rank", '"混合精度"', "spark OR 训练", "tags:ranking", "rank -fusion"]


def answers(index: Index) -> dict[str, list[tuple[str, float]]]:
    return {q: [(h.id, round(h.score, 9)) for h in index.search(q, size=20).hits] for q in QUERIES}


def test_adopted_segments_search_like_one_index(tmp_path: Path) -> None:
    schema = Schema.default()
    outside = tmp_path / "executors"
    outside.mkdir()
    registry = AnalyzerRegistry()
    halves = [SMALL_CORPUS[:3], SMALL_CORPUS[3:]]
    metas = [write_segment(outside, schema, registry, half) for half in halves]
    assert len({meta.name for meta in metas}) == 2  # names need no shared counter

    index = Index.create(tmp_path / "ix", schema)
    index.add({"id": "a", "title": "an older copy", "body": "to be replaced"})
    index.commit()
    assert index.writer.add_segments(metas, source=outside) == len(SMALL_CORPUS)
    index.commit()

    reference = Index.create(tmp_path / "ref", schema)
    reference.add(SMALL_CORPUS)
    reference.commit()
    assert len(index) == len(SMALL_CORPUS)
    assert index.get("a") == reference.get("a")
    assert answers(index) == answers(reference)
    index.optimize()
    assert answers(index) == answers(reference)


def test_segments_from_another_process_with_a_pickled_analyzer(tmp_path: Path) -> None:
    registry = AnalyzerRegistry()
    script = (
        "import pickle, sys\n"
        "from pathlib import Path\n"
        "from zhisou import Schema\n"
        "from zhisou.index.buffer import write_segment\n"
        "registry, docs, folder = pickle.loads(sys.stdin.buffer.read())\n"
        "sys.stdout.buffer.write(pickle.dumps(write_segment(Path(folder), Schema.default(), registry, docs)))\n"
    )
    outside = tmp_path / "worker"
    outside.mkdir()
    payload = pickle.dumps((registry, SMALL_CORPUS, str(outside)))
    meta = pickle.loads(
        subprocess.run([sys.executable, "-c", script], input=payload, capture_output=True, check=True).stdout
    )
    index = Index.create(tmp_path / "ix")
    index.writer.add_segments([meta], source=outside)
    index.commit()
    assert index.search("倒排索引").ids[0] == "a"


def test_adoption_refuses_other_layouts_and_damage(tmp_path: Path) -> None:
    outside = tmp_path / "out"
    outside.mkdir()
    other = write_segment(outside, Schema((FieldSpec("body", "text"),)), AnalyzerRegistry(), SMALL_CORPUS)
    index = Index.create(tmp_path / "ix")
    with pytest.raises(SchemaError, match="differ from this index"):
        index.writer.add_segments([other], source=outside)
    good = write_segment(outside, Schema.default(), AnalyzerRegistry(), SMALL_CORPUS)
    path = outside / Component.POSITIONS.file_name(good.name)
    data = bytearray(path.read_bytes())
    data[40] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptIndexError, match=good.name):
        index.writer.add_segments([good], source=outside)
    with pytest.raises(ZhisouError):
        index.writer.add_segments([good, good], source=outside)
    index.commit()
    assert len(index) == 0
