"""`zhisou index --threads`: files ingested by worker processes give the report and the index one
process gives — bad records named by file and line, duplicates refused, unchanged ones skipped."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from zhisou import Index, ZhisouError
from zhisou.index import parallel
from zhisou.ingest import ingest

WORDS = ["倒排", "索引", "压缩", "向量", "检索", "spark", "search", "ranking", "segment", "cache"]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "BLOCK", 40)  # batches of 160 records with two workers


def source(tmp_path: Path) -> Path:
    rng = random.Random(9)
    lines = []
    for n in range(500):
        doc: dict[str, object] = {"id": f"r{n}", "title": rng.choice(WORDS), "body": " ".join(rng.choices(WORDS, k=12))}
        if n in (37, 201):
            doc["date"] = "not a date"  # bad in the workers: a value of the wrong kind
        if n == 300:
            doc["id"] = "r12"  # a duplicate of an earlier record
        lines.append(json.dumps(doc, ensure_ascii=False))
    lines.insert(150, "{not json")  # bad while loading
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(tmp_path: Path, name: str, threads: int | None, **options: object) -> tuple[Index, dict[str, object]]:
    index = Index.create(tmp_path / name, threads=threads)
    report = ingest(index, [source(tmp_path)], **options)  # type: ignore[arg-type]
    data = report.to_dict()
    data["errors"] = sorted((e["line"], e["message"]) for e in data["errors"])  # type: ignore[union-attr]
    return index, data


def test_workers_ingest_what_one_process_ingests(tmp_path: Path) -> None:
    one, expected = run(tmp_path, "one", None)
    many, got = run(tmp_path, "many", 2)
    assert len(many.searcher().reader.segments) > 1  # the workers wrote segments
    assert got == expected
    assert expected["added"] == 497 and len(expected["errors"]) == 4  # type: ignore[arg-type]
    for query in ("倒排 索引", "spark ranking", "cache"):
        a, b = one.search(query, size=600), many.search(query, size=600)
        assert sorted(zip(a.ids, a.scores)) == sorted(zip(b.ids, b.scores))
    again = ingest(many, [tmp_path / "docs.jsonl"])  # resumed: everything already there
    assert again.added == 0 and again.unchanged == 497


def test_strict_stops_at_the_first_bad_record_and_adds_nothing(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "ix", threads=2)
    with pytest.raises(ZhisouError):
        ingest(index, [source(tmp_path)], strict=True)
    assert len(index) == 0
