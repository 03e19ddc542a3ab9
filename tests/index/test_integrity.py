"""Damage is detected, never laundered; nothing outside the index is ever deleted; bad documents
are refused when added, so a commit never fails because of one."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SMALL_CORPUS
from zhisou import CorruptIndexError, DocumentError, Index, IndexExistsError, IndexLockedError
from zhisou.index import manifest as manifest_module
from zhisou.index.manifest import load_latest
from zhisou.index.segment import Component
from zhisou.search.strategies.terms import BUFFERS


def build(directory: Path, segments: int = 2) -> Index:
    index = Index.create(directory)
    for copy in range(segments):
        index.add({**doc, "id": f"{doc['id']}{copy}"} for doc in SMALL_CORPUS)
        index.commit()
    return index


def segment_names(directory: Path) -> list[str]:
    """The segments of the current commit, in order (names are random: read them)."""
    return [meta.name for meta in load_latest(directory).segments]


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


NESTED: list = ["too deep"]
for _ in range(25):
    NESTED = [NESTED]


# -- 1. validation at add() -------------------------------------------------------------------
@pytest.mark.parametrize(
    "doc",
    [
        {"id": "x", "body": "lone \ud800 surrogate"},
        {"id": "\udfff"},
        {"id": "x", "tags": ["ok", "\ud834"]},
        {"id": "x", "extra": {"nested": ["\udc00"]}},
        {"id": "x", "extra": {"\ud800key": 1}},
        {"\ud800": "a field name", "id": "x"},
        {"id": "x", "extra": b"bytes"},
        {"id": "x", "extra": {1: "int key"}},
        {"id": "x" * 600},
        {"id": "x", "tags": ["t" * 40_000]},
        {"id": "x", "views": 10**5000},
        {"id": "x", "deep": NESTED},
    ],
)
def test_a_bad_document_is_refused_at_add_and_commits_go_on(tmp_path: Path, doc: dict) -> None:
    index = build(tmp_path / "ix", segments=1)
    with pytest.raises(DocumentError):
        index.add(doc)
    index.add({"id": "fine", "body": "still works"})
    index.commit()  # nothing poisoned the writer
    assert index.search("works").ids == ["fine"]
    assert len(index) == len(SMALL_CORPUS) + 1


def test_numbers_and_non_finite_values_are_stored_as_json(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "ix")
    index.add({"id": "n", "title": 5, "body": ["line", 2.5], "extra": {"inf": float("inf"), "list": [float("nan")]}})
    index.commit()
    assert index.get("n") == {"id": "n", "title": 5, "body": ["line", 2.5], "extra": {"inf": None, "list": [None]}}
    assert index.search("5").ids == ["n"]


# -- 2. checksums everywhere, no laundering -----------------------------------------------------
def test_a_flipped_delete_bitmap_is_detected(tmp_path: Path) -> None:
    index = build(tmp_path / "ix")
    index.delete(["a0", "b1"])
    index.commit()
    index.close()
    deletes = [p for p in (tmp_path / "ix").iterdir() if p.suffix == ".del"]
    assert deletes
    for path in deletes:
        original = path.read_bytes()
        flip(path, 33)  # the first byte of the bitmap: brings a deleted document back
        with pytest.raises(CorruptIndexError, match=path.name):
            Index.open(tmp_path / "ix")
        path.write_bytes(original)
    assert Index.open(tmp_path / "ix").get("a0") is None


def test_a_flipped_manifest_is_detected(tmp_path: Path) -> None:
    build(tmp_path / "ix").close()
    path = tmp_path / "ix" / load_latest(tmp_path / "ix").file_name
    text = path.read_text()
    damaged = text.replace('"del_count": 0', '"del_count": 1', 1)  # still valid JSON
    assert damaged != text
    path.write_text(damaged)
    with pytest.raises(CorruptIndexError, match="manifest checksum"):
        Index.open(tmp_path / "ix")


def test_merging_a_damaged_segment_fails_instead_of_laundering_it(tmp_path: Path, monkeypatch) -> None:
    index = build(tmp_path / "ix")
    index.close()
    first = segment_names(tmp_path / "ix")[0]
    postings = tmp_path / "ix" / Component.POSTINGS.file_name(first)
    flip(postings, 40)
    # Open without the checksum (as for a large segment), then optimize must refuse.
    monkeypatch.setattr("zhisou.index.segment_reader.VERIFY_ON_OPEN_BYTES", 0)
    index = Index.open(tmp_path / "ix")
    generation = load_latest(tmp_path / "ix").generation
    with pytest.raises(CorruptIndexError, match=rf"{first}\.pst"):
        index.optimize()
    index.close()
    assert load_latest(tmp_path / "ix").generation == generation  # nothing published: no empty commit, no merge
    assert postings.exists()


def test_a_file_swapped_from_another_segment_is_detected_on_open(tmp_path: Path, monkeypatch) -> None:
    build(tmp_path / "ix").close()
    a, b = (tmp_path / "ix" / Component.LENGTHS.file_name(name) for name in segment_names(tmp_path / "ix"))
    assert a.stat().st_size == b.stat().st_size
    a.write_bytes(b.read_bytes())
    monkeypatch.setattr("zhisou.index.segment_reader.VERIFY_ON_OPEN_BYTES", 0)
    with pytest.raises(CorruptIndexError, match="another segment"):
        Index.open(tmp_path / "ix")


def test_damaged_postings_raise_instead_of_crashing(tmp_path: Path, monkeypatch) -> None:
    """A doc id far outside the segment, in a file not checksummed on open: every strategy
    raises CorruptIndexError; the per-thread score buffer stays clean for the next query."""
    build(tmp_path / "ix", segments=1).close()
    (only,) = segment_names(tmp_path / "ix")
    postings = tmp_path / "ix" / Component.POSTINGS.file_name(only)
    data = bytearray(postings.read_bytes())
    words = np.frombuffer(bytes(data[32:-16]), dtype=np.uint32).copy()
    words[:-1] = 0x1F1F1F1F  # every header says 31-bit gaps: doc ids far outside the segment
    data[32:-16] = words.tobytes()
    postings.write_bytes(bytes(data))
    monkeypatch.setattr("zhisou.index.segment_reader.VERIFY_ON_OPEN_BYTES", 0)
    index = Index.open(tmp_path / "ix")
    for strategy in ("auto", "taat", "maxscore", "blockmax", "bmw", "exhaustive"):
        with pytest.raises(CorruptIndexError, match=rf"{only}\.pst"):
            index.search("bm25 ranking", strategy=strategy)
        assert not BUFFERS.scores.any()
    with pytest.raises(CorruptIndexError):
        index.verify()


# -- 4. never destroy what the index does not own ----------------------------------------------
def test_clean_up_leaves_look_alike_user_files_alone(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    lookalikes = ["seg_000001.doc", "seg_000000.tdk", "seg_000002_3.del", ".draft.tmp", ".manifest_1.json.tmp"]
    for name in lookalikes:
        (folder / name).write_text("my own notes")
    index = Index.create(folder, overwrite=True)  # beside the user's files: needs the flag
    build_docs = [{"id": str(i), "body": f"note {i}"} for i in range(30)]
    for start in range(0, 30, 10):
        index.add(build_docs[start : start + 10])
        index.commit()
    index.optimize()
    index.close()
    for name in lookalikes:
        assert (folder / name).read_text() == "my own notes", name
    assert len(Index.open(folder)) == 30


def test_create_refuses_a_non_empty_folder_and_an_existing_index(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "report.md").write_text("keep me")
    with pytest.raises(IndexExistsError, match="not empty"):
        Index.create(folder)
    build(tmp_path / "ix").close()
    with pytest.raises(IndexExistsError, match="already exists"):
        Index.create(tmp_path / "ix")
    assert len(Index.open(tmp_path / "ix")) == 2 * len(SMALL_CORPUS)


def test_overwrite_waits_for_the_lock_and_keeps_other_files(tmp_path: Path) -> None:
    index = build(tmp_path / "ix")
    (tmp_path / "ix" / "userdict.txt").write_text("倒排索引 5\n")
    (tmp_path / "ix" / "my-notes.txt").write_text("keep me")
    index.add({"id": "pending", "body": "held by the writer"})  # the writer holds the lock
    with pytest.raises(IndexLockedError):
        Index.create(tmp_path / "ix", overwrite=True)
    assert len(Index.open(tmp_path / "ix")) == 2 * len(SMALL_CORPUS)  # nothing was removed
    index.close()
    fresh = Index.create(tmp_path / "ix", overwrite=True)
    assert len(fresh) == 0
    assert (tmp_path / "ix" / "my-notes.txt").read_text() == "keep me"
    assert (tmp_path / "ix" / "userdict.txt").exists()
    assert not [p for p in (tmp_path / "ix").iterdir() if p.name.startswith("seg_")]


# -- 5. opening while a commit removes the old manifest -----------------------------------------
def test_open_retries_when_the_manifest_vanishes(tmp_path: Path, monkeypatch) -> None:
    build(tmp_path / "ix").close()
    real_read = Path.read_bytes
    calls = {"n": 0}

    def vanishing(self: Path) -> bytes:
        if self.name.startswith("manifest_") and calls["n"] == 0:
            calls["n"] += 1
            raise FileNotFoundError(self)
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", vanishing)
    assert len(Index.open(tmp_path / "ix")) == 2 * len(SMALL_CORPUS)
    assert calls["n"] == 1


def test_readers_open_while_a_writer_commits(tmp_path: Path) -> None:
    """Open readers in a loop while another process commits: never an error (the old manifest
    and segment files go away under the opening reader)."""
    import subprocess
    import sys

    build(tmp_path / "ix", segments=1).close()
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom zhisou import Index\nix = Index.open(sys.argv[1])\n"
            "for i in range(150):\n    ix.add({'id': f'w{i % 7}', 'body': f'commit {i}'}); ix.commit()\n",
            str(tmp_path / "ix"),
        ],
        env=dict(os.environ),
    )
    opened = 0
    while writer.poll() is None:
        Index.open(tmp_path / "ix").search("commit")
        opened += 1
    assert writer.returncode == 0
    assert opened > 5
    assert manifest_module.load_latest(tmp_path / "ix").generation >= 150


def test_check_lists_every_damaged_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from zhisou.cli import app
    from zhisou.index.check import check_index

    build(tmp_path / "ix").close()
    assert check_index(tmp_path / "ix").ok
    first, second = segment_names(tmp_path / "ix")
    damaged = [
        tmp_path / "ix" / Component.POSTINGS.file_name(first),
        tmp_path / "ix" / Component.STORE.file_name(second),
    ]
    for path in damaged:
        flip(path, 50)
    (tmp_path / "ix" / Component.IDS.file_name(second)).unlink()
    report = check_index(tmp_path / "ix")
    assert len(report.problems) == 3
    for path in [*damaged, tmp_path / "ix" / Component.IDS.file_name(second)]:
        assert any(path.name in problem for problem in report.problems), path
    result = CliRunner().invoke(app, ["check", "-i", str(tmp_path / "ix")])
    assert result.exit_code == 3
    assert "3 problem(s)" in result.output and f"{first}.pst" in result.output


def test_an_older_format_index_is_refused_then_replaced_cleanly(tmp_path: Path) -> None:
    """Format 1 files carry no frame: the old manifest says which are the index's."""
    import json

    folder = tmp_path / "old"
    folder.mkdir()
    names = [f"seg_000000.{c.suffix}" for c in Component] + ["seg_000000_2.del"]
    for name in names:
        (folder / name).write_bytes(b"old bytes")
    (folder / "seg_000009.doc").write_text("not named by the manifest: left alone")
    segment = {
        "name": "seg_000000",
        "doc_count": 1,
        "del_gen": 2,
        "files": {c.suffix: {"size": 9, "crc32": 0} for c in Component},
    }
    manifest = {
        "format": "zhisou-index",
        "format_version": 1,
        "codec": "zhisou1",
        "generation": 2,
        "segments": [segment],
    }
    (folder / "manifest_2.json").write_text(json.dumps(manifest, indent=1))
    with pytest.raises(CorruptIndexError, match="rebuild"):
        Index.open(folder)
    Index.create(folder, overwrite=True).close()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("seg_")) == ["seg_000009.doc"]
    assert len(Index.open(folder)) == 0
