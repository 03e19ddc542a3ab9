"""Segments record the analysis their terms came from, so an index made by an older zhisou says so
and indexing its documents again brings them up to date instead of skipping them as unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zhisou.index.segment_writer as segment_writer
from zhisou import Index
from zhisou.analysis import ANALYSIS_VERSION
from zhisou.index.segment import SegmentMeta
from zhisou.ingest.pipeline import ingest

OLDER = ANALYSIS_VERSION - 1


def _segments(index: Index) -> list[SegmentMeta]:
    return list(index.searcher().reader.manifest.segments)


def _older_segment(index: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    """One document committed as an older zhisou would have analyzed it."""
    with monkeypatch.context() as patch:
        patch.setattr(segment_writer, "ANALYSIS_VERSION", OLDER)
        index.add([{"id": "a", "body": "打坏了"}])
        index.commit()


def test_a_segment_records_the_analysis_its_terms_came_from(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "ix")
    index.add([{"id": "a", "body": "倒排索引"}])
    index.commit()
    (meta,) = _segments(index)
    assert meta.analysis == ANALYSIS_VERSION
    assert SegmentMeta.from_dict(meta.to_dict()).analysis == ANALYSIS_VERSION
    recorded = meta.to_dict()
    del recorded["analysis"]  # a manifest written before segments recorded it
    assert SegmentMeta.from_dict(recorded).analysis == 0
    assert index.stats()["old_analysis_segments"] == 0


def test_a_merge_keeps_the_oldest_analysis_of_its_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = Index.create(tmp_path / "ix")
    _older_segment(index, monkeypatch)
    index.add([{"id": "b", "body": "倒排索引"}])
    index.commit()
    assert sorted(meta.analysis for meta in _segments(index)) == [OLDER, ANALYSIS_VERSION]
    assert index.stats()["old_analysis_segments"] == 1
    index.optimize()
    assert [meta.analysis for meta in _segments(index)] == [OLDER]


def test_indexing_again_brings_older_analysis_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "body": f"笔记 {i}"}) + "\n" for i in range(20)))
    index = Index.create(tmp_path / "ix")
    with monkeypatch.context() as patch:
        patch.setattr(segment_writer, "ANALYSIS_VERSION", OLDER)
        assert ingest(index, [source]).added == 20
    again = ingest(index, [source])  # the same content: skipped only if analyzed as now
    assert (again.added, again.unchanged) == (20, 0)
    index.optimize()
    assert index.stats()["old_analysis_segments"] == 0
    third = ingest(index, [source])
    assert (third.added, third.unchanged) == (0, 20)
    assert len(index) == 20


def test_stats_says_which_segments_an_older_analysis_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from zhisou.cli import app

    index = Index.create(tmp_path / "ix")
    _older_segment(index, monkeypatch)
    index.close()
    result = CliRunner().invoke(app, ["stats", "-i", str(tmp_path / "ix")])
    assert result.exit_code == 0
    assert "1 segment(s) analyzed by an older zhisou" in " ".join(result.stdout.split())
