"""The segments' own suggestion tables: written with the segment, memory-mapped, carried through
merges, and answering as one completer over every live document would."""

from __future__ import annotations

import mmap
import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou import Index
from zhisou.index.segment import SUGGEST_TABLE
from zhisou.index.segment_reader import SegmentReader
from zhisou.suggest.complete import Completer, Entry, complete
from zhisou.suggest.keys import completion_keys, normalize
from zhisou.suggest.phrases import MIN_WORD_DOCS, IndexPhrases, SegmentPhrases, phrase_fields
from zhisou.suggest.table import pack_arrays, unpack_arrays

WORDS = ["倒排", "索引", "压缩", "缓存", "穿透", "分词", "向量", "检索", "排序", "日志"]
LATIN = ["search", "engine", "cache", "vector", "ranking", "segment"]
TAGS = ["索引", "排障", "search", "缓存"]


def corpus(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for number in range(count):
        if rng.random() < 0.6:
            title = "".join(rng.sample(WORDS, rng.randint(1, 3)))
        else:
            title = " ".join(rng.sample(LATIN, rng.randint(1, 2)))
            title = title.title() if rng.random() < 0.3 else title  # shown as written, found folded
        body = "，".join(rng.sample(WORDS, 4)) + "。"
        docs.append({"id": f"d{number}", "title": title, "body": body, "tags": rng.sample(TAGS, rng.randint(0, 2))})
    return docs


def reference(index: Index) -> Completer:
    """One completer over what the live documents hold now: each (text, source) weighing the live
    documents carrying it, and the Chinese words of title and body by document frequency (which,
    like BM25's statistics, counts deleted documents until a merge)."""
    reader = index.searcher().reader
    fields = phrase_fields(reader.schema)
    weights: Counter[tuple[str, str]] = Counter()
    for doc in np.flatnonzero(reader.live).tolist():
        stored = reader.stored(doc)
        found = {("title", normalize(stored["title"]))} | {("tag", normalize(tag)) for tag in stored.get("tags", [])}
        for source, text in found:
            weights[text, source] += 1
    words: Counter[str] = Counter()
    for segment in reader.segments:
        for name in (fields.title, fields.body):
            terms, _, doc_counts = segment.field_terms(name, remember=False)
            for term, docs in zip(terms, doc_counts.tolist()):
                if re.fullmatch("[\u4e00-\u9fff]{2,}", term):
                    words[term] += docs
    entries = [Entry(text, source, weight) for (text, source), weight in weights.items()]
    entries += [Entry(word, "word", docs) for word, docs in words.items() if docs >= MIN_WORD_DOCS]
    return Completer(entries)


def prefixes_of(completer: Completer) -> list[str]:
    out = set()
    for entry in completer.entries:
        for key in completion_keys(entry.text):
            out.update(key[:end] for end in range(1, min(len(key), 5) + 1))
    return sorted(out)


def phrases_of(index: Index) -> IndexPhrases:
    return index.suggestions.completers(index.searcher().reader)[1]


def assert_agrees(index: Index) -> None:
    expected, phrases = reference(index), phrases_of(index)
    for prefix in prefixes_of(expected):
        found = complete(phrases, prefix, 5)
        assert [c.key for c in found] == [c.text for c in expected.complete(prefix, 5)], prefix
        assert all(normalize(c.text) == c.key for c in found), prefix


def test_a_flushed_segment_holds_its_table_memory_mapped(make_index: Callable[..., Index]) -> None:
    index = make_index(corpus(1, 30))
    (segment,) = index.searcher().reader.segments
    assert {"sgn", "sgp", "sgt"} <= set(segment.meta.files)
    raw = segment.optional[SUGGEST_TABLE.suffix]
    table = SegmentPhrases(raw)
    base: Any = table.keys.blob
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.base
    assert isinstance(base, mmap.mmap)  # a view of the mapped file, not a copy
    assert len(table) > 0


def test_many_segments_with_deletions_agree_with_one_completer(make_index: Callable[..., Index]) -> None:
    docs = corpus(2, 80)
    index = make_index(docs, commit_every=20)
    assert len(index.searcher().reader.segments) > 1
    index.delete([doc["id"] for doc in docs[::3]])
    index.commit()
    index.refresh()
    assert_agrees(index)
    index.optimize()  # merged: the table is derived again from the kept rows and merged terms
    index.refresh()
    assert len(index.searcher().reader.segments) == 1
    assert_agrees(index)


def test_a_deleted_documents_title_is_not_offered(make_index: Callable[..., Index]) -> None:
    index = make_index(
        [
            {"id": "a", "title": "向量检索入门", "body": "x"},
            {"id": "b", "title": "向量压缩", "body": "y"},
        ]
    )
    assert [c.text for c in index.suggest("向量")] == ["向量压缩", "向量检索入门"]
    index.delete("a")
    index.commit()
    index.refresh()
    found = [c.text for c in index.suggest("xiangl")]
    assert found[0] == "向量压缩" and "向量检索入门" not in found


def test_a_segment_without_a_table_gets_the_same_one_built_in_memory(make_index: Callable[..., Index]) -> None:
    index = make_index(corpus(3, 40))
    (segment,) = index.searcher().reader.segments
    stored = SegmentPhrases(segment.optional[SUGGEST_TABLE.suffix])
    bare: SegmentReader = segment
    saved = bare.optional
    bare.optional = {suffix: array for suffix, array in saved.items() if suffix != SUGGEST_TABLE.suffix}
    try:
        built = SegmentPhrases.of(bare, phrase_fields(index.schema))
    finally:
        bare.optional = saved
    for name in ("text_blob", "text_offsets", "source", "weight", "doc_offsets", "docs"):
        assert np.array_equal(getattr(built, name), getattr(stored, name)), name
    assert np.array_equal(built.keys.blob, stored.keys.blob)
    assert np.array_equal(built.keys.payloads, stored.keys.payloads)


def test_titles_and_tags_are_shown_as_most_live_documents_write_them(make_index: Callable[..., Index]) -> None:
    """Found under the folded text, shown as written: the form most live documents use."""
    docs = [
        {"id": "a", "title": "bm25 调参", "body": "x", "tags": ["LLM"]},
        {"id": "b", "title": "bm25  调参", "body": "x", "tags": ["llm"]},
        {"id": "c", "title": "BM25 调参", "body": "x", "tags": ["LLM"]},
        {"id": "d", "title": "檢索增強生成", "body": "x"},
        {"id": "e", "title": "ＧＰＵ 推理", "body": "x"},
    ]
    index = make_index(docs, commit_every=2)  # a and b in one segment, c in another
    assert len(index.searcher().reader.segments) > 1

    def shown(prefix: str) -> list[tuple[str, str, float]]:
        return [(c.text, c.source, c.weight) for c in index.suggest(prefix)]

    assert shown("bm25") == [("bm25 调参", "title", 3)]  # one suggestion; two of three write it so
    assert shown("ll") == [("LLM", "tag", 3)]
    assert shown("检索") == shown("檢索") == [("檢索增強生成", "title", 1)]
    assert shown("gpu") == [("ＧＰＵ 推理", "title", 1)]
    index.delete(["a", "b"])
    index.commit()
    index.refresh()
    assert shown("bm") == [("BM25 调参", "title", 1)]


def test_a_table_written_without_the_written_forms_shows_the_folded_texts(make_index: Callable[..., Index]) -> None:
    index = make_index([{"id": "a", "title": "Vector Search", "body": "x"}])
    (segment,) = index.searcher().reader.segments
    arrays = unpack_arrays(segment.optional[SUGGEST_TABLE.suffix])
    assert bytes(arrays["shown_blob"]) == b"Vector Search"
    older = SegmentPhrases(pack_arrays({k: v for k, v in arrays.items() if not k.startswith("shown_")}))
    assert older.best(["vec"], 5, None) == [Entry("vector search", "title", 1)]
    assert SegmentPhrases(segment.optional[SUGGEST_TABLE.suffix]).best(["vec"], 5, None) == [
        Entry("vector search", "title", 1, "Vector Search")
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdefgh", min_size=1, max_size=6),
        st.one_of(
            st.lists(st.integers(-(2**40), 2**40), max_size=20).map(lambda v: np.array(v, dtype=np.int64)),
            st.lists(st.integers(0, 255), max_size=30).map(lambda v: np.array(v, dtype=np.uint8)),
            st.lists(st.integers(-(2**31), 2**31 - 1), max_size=9).map(lambda v: np.array(v, dtype=np.int32)),
        ),
        max_size=6,
    )
)
def test_packed_arrays_read_back_as_written(arrays: dict[str, np.ndarray]) -> None:
    back = unpack_arrays(pack_arrays(arrays))
    assert list(back) == list(arrays)
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype and np.array_equal(back[name], array)
