from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import SMALL_CORPUS
from zhisou import (
    CorruptIndexError,
    DocumentError,
    Index,
    IndexExistsError,
    IndexLockedError,
    IndexNotFoundError,
    Schema,
)
from zhisou.index.manifest import load_latest
from zhisou.index.merge import TieredMergePolicy
from zhisou.index.segment import SegmentMeta
from zhisou.schema import FieldSpec


def ids(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [hit.id for hit in result.hits]


def test_round_trip_stored_fields(make_index: Callable[..., Index]) -> None:
    index = make_index()
    for doc in SMALL_CORPUS:
        assert index.get(doc["id"]) == doc
    assert len(index) == len(SMALL_CORPUS)
    assert index.get("missing") is None


def test_nothing_is_visible_before_commit(make_index: Callable[..., Index]) -> None:
    index = make_index()
    index.add({"id": "new", "body": "unseen words zebra"})
    assert index.search("zebra").total == 0
    index.commit()
    assert ids(index.search("zebra")) == ["new"]


def test_reopen_after_commit(make_index: Callable[..., Index]) -> None:
    index = make_index()
    directory = index.directory
    index.close()
    reopened = Index.open(directory)
    assert len(reopened) == len(SMALL_CORPUS)
    assert ids(reopened.search("倒排索引"))[0] == "a"


def test_replace_by_id_across_segments_and_buffer(make_index: Callable[..., Index]) -> None:
    index = make_index(commit_every=3)
    index.add({"id": "a", "title": "replaced", "body": "zebra"})
    index.add({"id": "a", "title": "replaced twice", "body": "giraffe"})  # replaces the buffered one
    index.commit()
    assert len(index) == len(SMALL_CORPUS)
    assert index.get("a") == {"id": "a", "title": "replaced twice", "body": "giraffe"}
    assert index.search("倒排索引").total > 0 and "a" not in ids(index.search("倒排索引"))
    assert index.search("zebra").total == 0
    assert ids(index.search("giraffe")) == ["a"]


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from("abcd"), st.sampled_from(["zebra", "giraffe", "otter"])),
        st.tuples(st.just("delete"), st.sampled_from("abcde"), st.just("")),
        st.tuples(st.sampled_from(["flush", "commit"]), st.just(""), st.just("")),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
@example(steps=[("add", "a", "zebra"), ("commit", "", ""), ("add", "a", "otter"), ("delete", "a", "")])
@example(steps=[("add", "a", "zebra"), ("flush", "", ""), ("add", "a", "otter"), ("flush", "", "")])
def test_adds_deletes_flushes_and_commits_match_a_dict(tmp_path_factory: pytest.TempPathFactory, steps: list) -> None:
    """Replacements by id hold whether the older copy is buffered, flushed or committed
    (the writer applies the ids an add replaces in batches, at flush or at the next delete)."""
    index = Index.create(tmp_path_factory.mktemp("ops") / "ix", Schema((FieldSpec("body", "text"),)))
    model: dict[str, str] = {}
    for operation, doc_id, word in steps:
        if operation == "add":
            index.add({"id": doc_id, "body": word})
            model[doc_id] = word
        elif operation == "delete":
            assert index.delete(doc_id) == int(doc_id in model)
            model.pop(doc_id, None)
        elif operation == "flush":
            index.writer.flush()
        else:
            index.commit()
    index.commit()
    assert len(index) == len(model)
    for doc_id in "abcde":
        assert index.get(doc_id) == ({"id": doc_id, "body": model[doc_id]} if doc_id in model else None)
    for word in ("zebra", "giraffe", "otter"):
        expected = sorted(doc_id for doc_id, text in model.items() if text == word)
        assert sorted(index.search(word, size=10).ids) == expected
    index.close()


def test_delete_is_honoured_and_counted(make_index: Callable[..., Index]) -> None:
    index = make_index(commit_every=2)
    assert index.delete(["b", "nope"]) == 1
    index.commit()
    assert index.get("b") is None
    assert "b" not in ids(index.search("BM25", size=20))
    assert len(index) == len(SMALL_CORPUS) - 1
    assert index.stats()["deleted"] == 1


def test_rollback_drops_uncommitted_changes(make_index: Callable[..., Index]) -> None:
    index = make_index()
    index.delete("a")
    index.add({"id": "z", "body": "zebra"})
    index.rollback()
    index.commit()
    assert index.get("a") is not None and index.get("z") is None


def test_optimize_merges_to_one_segment_and_purges_deletes(make_index: Callable[..., Index]) -> None:
    index = make_index(commit_every=2)
    assert index.stats()["segments"] == 4
    before = {h.id: h.score for h in index.search("rank 索引", size=20).hits}
    index.delete("c")
    index.commit()
    index.optimize()
    stats = index.stats()
    assert stats["segments"] == 1 and stats["deleted"] == 0 and stats["documents"] == len(SMALL_CORPUS) - 1
    after = {h.id: h.score for h in index.search("rank 索引", size=20).hits}
    assert "c" not in after
    assert set(after) == set(before) - {"c"}
    for doc in SMALL_CORPUS:
        if doc["id"] != "c":
            assert index.get(doc["id"]) == doc
    # The merged segment still answers phrases (positions survived the merge).
    assert ids(index.search('"倒排索引"')) == ["a", "f"]


def test_scores_do_not_depend_on_segmentation_or_deletes(make_index: Callable[..., Index]) -> None:
    extra = [{"id": f"x{i}", "body": "filler text about ranking and 索引"} for i in range(5)]
    one = make_index(SMALL_CORPUS)
    many = make_index(SMALL_CORPUS + extra, commit_every=3)
    many.delete([d["id"] for d in extra])
    many.commit()
    # Fully deleted segments are dropped; the rest keep their deleted docs until a merge.
    assert many.stats()["segments"] > 1 and many.stats()["deleted"] >= 1
    for query in ("倒排索引", "rank", "BM25 混合精度", '"learning to rank"', "索引 -tags:spark"):
        a = one.search(query, size=20)
        b = many.search(query, size=20)
        assert ids(a) == ids(b), query
        np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], rtol=0, atol=1e-9)


def test_tiered_policy_merges_a_full_tier() -> None:
    policy = TieredMergePolicy(factor=3, floor_docs=10)
    metas = [SegmentMeta(f"s{i}", 5, {}) for i in range(4)] + [SegmentMeta("big", 500, {})]
    merges = policy.find_merges(metas)
    assert [[m.name for m in group] for group in merges] == [["s0", "s1", "s2"]]
    mostly_deleted = SegmentMeta("d", 100, {}, del_gen=1, del_count=80)
    assert policy.find_merges([mostly_deleted]) == [[mostly_deleted]]


def test_many_small_commits_keep_the_segment_count_small(make_index: Callable[..., Index]) -> None:
    docs = [{"id": str(i), "body": f"document number {i} about 索引"} for i in range(60)]
    index = make_index(docs, commit_every=2)
    assert index.stats()["segments"] < 10
    assert len(index) == 60
    assert index.search("索引").total == 60


def test_ram_budget_flushes_segments(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "ix", ram_budget_mb=0.01)
    index.add({"id": str(i), "body": "word " * 50 + str(i)} for i in range(40))
    index.writer.commit(merge=False)
    index.refresh()
    assert index.stats()["segments"] > 1
    assert len(index) == 40


def test_searcher_snapshot_survives_later_commits(make_index: Callable[..., Index]) -> None:
    index = make_index()
    snapshot = index.searcher()
    index.delete("a")
    index.add({"id": "new", "body": "倒排索引 新文档"})
    index.commit()
    index.optimize()
    assert "a" in ids(snapshot.search("倒排索引"))
    assert "new" not in ids(snapshot.search("倒排索引"))
    assert snapshot.get("a") is not None
    fresh = ids(index.search("倒排索引"))
    assert "new" in fresh and "a" not in fresh


def test_one_writer_at_a_time(make_index: Callable[..., Index]) -> None:
    index = make_index()
    index.add({"id": "q", "body": "x"})  # opens the writer, which holds the lock
    other = Index.open(index.directory)
    with pytest.raises(IndexLockedError, match="another writer"):
        other.add({"id": "r", "body": "y"})
    index.close()
    other.add({"id": "r", "body": "y"})
    other.commit()
    assert other.get("r") is not None and other.get("q") is None


def test_crash_before_commit_keeps_last_commit(make_index: Callable[..., Index]) -> None:
    index = make_index()
    writer = index.writer
    writer.add({"id": "lost", "body": "never committed"})
    writer.flush()  # segment files on disk, but no manifest names them
    directory = index.directory
    # Simulate a crash: drop the lock without committing or cleaning up.
    writer._lock.release()
    orphans = [p for p in directory.iterdir() if p.name.startswith("seg_")]
    reopened = Index.open(directory)
    assert reopened.get("lost") is None and len(reopened) == len(SMALL_CORPUS)
    reopened.add({"id": "next", "body": "after the crash"})
    reopened.commit()
    referenced = load_latest(directory).referenced_files()
    assert all(p.name in referenced or not p.exists() for p in orphans)


def test_document_errors_are_clear(make_index: Callable[..., Index]) -> None:
    index = make_index()
    with pytest.raises(DocumentError, match="no 'id'"):
        index.add({"title": "x"})
    with pytest.raises(DocumentError, match=r"'date'.*expected a date"):
        index.add({"id": "x", "date": "yesterday"})
    with pytest.raises(DocumentError, match="'body' must be text"):
        index.add({"id": "x", "body": {"nested": "object"}})
    index.commit()
    assert len(index) == len(SMALL_CORPUS)


def test_open_missing_and_create_existing(tmp_path: Path, make_index: Callable[..., Index]) -> None:
    with pytest.raises(IndexNotFoundError, match="no zhisou index"):
        Index.open(tmp_path / "nowhere")
    index = make_index()
    with pytest.raises(IndexExistsError):
        Index.create(index.directory)


def test_damaged_file_is_reported(make_index: Callable[..., Index]) -> None:
    index = make_index()
    directory = index.directory
    index.close()
    postings = next(p for p in directory.iterdir() if p.suffix == ".pst")
    data = bytearray(postings.read_bytes())
    data[40] ^= 0xFF  # inside the postings, past the 32-byte header
    postings.write_bytes(bytes(data))
    with pytest.raises(CorruptIndexError, match="checksum mismatch"):
        Index.open(directory)  # a small segment is checked whole on open
    data[40] ^= 0xFF
    data[0] ^= 0xFF
    postings.write_bytes(bytes(data))
    with pytest.raises(CorruptIndexError, match="header or footer"):
        Index.open(directory)
    postings.write_bytes(bytes(data[:-4]))
    with pytest.raises(CorruptIndexError, match="size"):
        Index.open(directory)


def test_other_handles_see_commits_after_refresh(make_index: Callable[..., Index]) -> None:
    index = make_index()
    reader_side = Index.open(index.directory)
    assert reader_side.search("zebra").total == 0
    index.add({"id": "z", "body": "zebra"})
    index.commit()
    reader_side.refresh()
    assert reader_side.search("zebra").ids == ["z"]


def test_merge_in_small_batches_equals_a_fresh_index(
    make_index: Callable[..., Index], monkeypatch: pytest.MonkeyPatch
) -> None:
    import zhisou.index.merge as merge

    monkeypatch.setattr(merge, "MERGE_BATCH_TERMS", 3)  # many batches, terms split across them
    fresh = make_index([d for d in SMALL_CORPUS if d["id"] != "e"])
    merged = make_index(SMALL_CORPUS, commit_every=2)
    merged.delete("e")
    merged.commit()
    merged.optimize()
    assert merged.stats()["segments"] == 1 and merged.stats()["terms"] == fresh.stats()["terms"]
    for query in ("倒排索引", '"learning to rank"', '"混合精度"', "rank bm25 索引", "tags:ranking", "date:>=2024"):
        a, b = fresh.search(query, size=20), merged.search(query, size=20)
        assert a.ids == b.ids and a.scores == pytest.approx(b.scores, abs=1e-12), query


@pytest.mark.parametrize("decoded_up_to", [0, 10**9])
def test_doc_ids_of_long_and_short_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decoded_up_to: int) -> None:
    """Page ids come out in page order, from the decoded list (small readers) or gathered from
    each segment's id bytes (large readers), for ASCII, non-ASCII and NUL-holding ids."""
    monkeypatch.setattr("zhisou.index.reader.DECODED_IDS_UP_TO", decoded_up_to)
    index = Index.create(tmp_path / "ix", Schema((FieldSpec("body", "text"),)))
    # Four segments of 70: ASCII; ASCII and Chinese; Chinese and the NUL id; ASCII.
    ascii_ids = [f"doc-{i}" for i in range(169)]
    names = [*ascii_ids[:100], *(f"笔记/{i}.md" for i in range(100)), "nul\x00id", *ascii_ids[100:]]
    for start in range(0, len(names), 70):
        index.add({"id": name, "body": "common words"} for name in names[start : start + 70])
        index.commit()
    reader = index.searcher().reader
    assert len(reader.segments) == 4
    expected = {reader.doc_id(doc): doc for doc in range(reader.max_doc)}
    assert sorted(expected) == sorted(names)
    for page in (names[:5], names[::-1], names[180:60:-1], [names[200], *names[:100]]):
        docs = [expected[name] for name in page]
        assert reader.doc_ids(docs) == page
    assert sorted(index.search("common", size=1000).ids) == sorted(names)
    index.optimize()  # one segment: its own long-page path
    reader = index.searcher().reader
    assert len(reader.segments) == 1
    expected = {reader.doc_id(doc): doc for doc in range(reader.max_doc)}
    for page in (names[::-1], [names[200], *names[:100]], names[10:90]):
        assert reader.doc_ids([expected[name] for name in page]) == page
    index.close()


def test_a_commit_with_nothing_to_publish_writes_no_generation(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "ix", Schema((FieldSpec("body", "text"),)))
    index.add({"id": "a", "body": "alpha beta"})
    first = index.commit()
    assert index.delete(["missing"]) == 0
    assert index.commit() == first  # deleting nothing: no empty commit
    assert load_latest(tmp_path / "ix").generation == first
    index.delete(["a"])
    assert index.commit() == first + 1


def test_stats_count_distinct_live_terms_across_segments(tmp_path: Path) -> None:
    """The count equals the dictionary size of the same documents merged into one segment
    (the reference: merging keeps exactly the live documents' terms)."""
    index = Index.create(tmp_path / "ix", Schema((FieldSpec("body", "text"),)))
    index.add({"id": "a", "body": "alpha beta"})
    index.commit()
    index.add({"id": "b", "body": "beta gamma"})  # a second segment: beta in both
    index.add({"id": "c", "body": "delta"})
    index.commit()
    index.delete(["c"])  # delta's only document
    index.commit()
    segments = index.searcher().reader.segments
    assert len(segments) == 2
    counted = index.stats()["terms"]
    assert counted < sum(len(segment.terms) for segment in segments)
    index.optimize()
    merged = index.searcher().reader.segments
    assert len(merged) == 1 and counted == len(merged[0].terms) == index.stats()["terms"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.sampled_from([1, 5, 15, 16, 17, 32, 47, 48]), min_size=2, max_size=5),
    deleted=st.sets(st.integers(0, 200), max_size=12),
)
@example(sizes=[1, 1], deleted={0, 1})  # every document deleted: the merge leaves no segment
def test_merges_keep_every_stored_document_whether_blocks_are_copied_or_rewritten(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], deleted: set[int]
) -> None:
    """A merge copies a source's compressed blocks of 16 documents as they are when the source has
    no deletes and the merged output stands at a block boundary, and re-encodes documents
    otherwise (deletes, sizes that are not multiples of 16 shifting later sources): either way
    every live document keeps its stored fields, in order."""
    docs = [
        {"id": f"d{i}", "title": f"标题 {i}", "body": f"body {i} " + "词" * (i % 7), "tags": [str(i % 3)]}
        for i in range(sum(sizes))
    ]
    index = Index.create(tmp_path_factory.mktemp("merge") / "ix")
    start = 0
    for size in sizes:
        index.add(docs[start : start + size])
        index.writer.commit(merge=False)
        start += size
    index.delete([f"d{i}" for i in deleted if i < len(docs)])
    index.commit()
    index.optimize()
    reader = index.searcher().reader
    live = [doc for i, doc in enumerate(docs) if i not in deleted]
    assert len(reader.segments) == (1 if live else 0)  # a merge of nothing but deletes leaves no segment
    assert reader.all_doc_ids() == [doc["id"] for doc in live]
    for doc in live:
        stored = index.get(str(doc["id"]))
        assert stored is not None and {key: stored[key] for key in doc} == doc
    index.close()


def test_a_compressed_block_between_block_starts_is_refused(tmp_path: Path) -> None:
    from zhisou.index.docstore import encode_block, encode_doc
    from zhisou.index.segment_writer import SegmentWriter

    writer = SegmentWriter(tmp_path, "seg_00000000000000aa", 17)
    block = encode_block([encode_doc({"id": str(i)}) for i in range(16)])
    with pytest.raises(ValueError, match="between block starts"):
        writer.finish(np.zeros((0, 17), dtype=np.uint32), np.zeros((0, 17)), [encode_doc({"id": "x"}), block], [], {})
    writer.abort()
