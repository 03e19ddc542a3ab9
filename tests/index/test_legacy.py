"""Codec-2 segments (``index/legacy.py``): an index written by zhisou's codec 2 opens, searches as
it did, takes new documents and deletes, and merges with codec-3 segments into codec 3.

``tests/fixtures/zhisou2-index`` was written by zhisou at commit 674e15a^ (the last codec-2
writer): ``zhisou index`` of the sample notes a*–c*, then d*–f* (two segments), then
``zhisou delete flash-attention``. ``OLD_RESULTS`` are what that zhisou answered on it.
Property tests turn segments of random codec-3 indexes into codec 2 (``downgrade``, the old
layout written by hand) and require every strategy to answer exactly as before, and a merge
of old and new segments to equal an index built at once.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhisou import Index
from zhisou.errors import CorruptIndexError
from zhisou.index.check import check_index
from zhisou.index.manifest import Manifest, checksummed, load_latest
from zhisou.index.segment import Codec2Component, Component, FileInfo, SegmentMeta
from zhisou.index.segment_reader import SegmentReader
from zhisou.search.strategies import STRATEGIES

FIXTURE = Path(__file__).parent.parent / "fixtures" / "zhisou2-index"

# What zhisou 674e15a^ answered on the fixture (ids and scores rounded to 9 places; then the total).
OLD_RESULTS = {
    "倒排索引": [["crash-safety", 2.770770902], ["chinese-segmentation", 1.747024297], 2],
    "flash attention": [["attention", 2.481152117], 1],
    "bm25 参数": [
        ["bm25-parameters", 4.998857825],
        ["bm25-explained", 2.904982544],
        ["beir", 0.715255064],
        ["evaluation-practice", 0.701260944],
        ["ann-overview", 0.389955774],
        5,
    ],
    "混合精度 训练": [["bf16-vs-fp16", 2.179712081], ["click-models", 0.662382], ["attention", 0.606353447], 3],
    '"attention"': [["attention", 2.481152117], 1],
    "分词": [["chinese-segmentation", 3.323657791], 1],
    "crash safety fsync": [["crash-safety", 1.660714384], 1],
    "embedding 向量": [
        ["embeddings", 4.404105761],
        ["faiss-ivf-pq", 1.349803203],
        ["ann-overview", 1.20526568],
        3,
    ],
}


def answers(index: Index, queries: list[str], strategy: str = "auto", size: int = 10) -> dict[str, object]:
    searcher = index.searcher()
    out: dict[str, object] = {}
    for query in queries:
        result = searcher.search(query, size=size, strategy=strategy)
        out[query] = [[i, round(s, 9)] for i, s in zip(result.ids, result.scores)] + [result.total]
    return out


@pytest.fixture
def old_index(tmp_path: Path) -> Path:
    target = tmp_path / "old"
    shutil.copytree(FIXTURE, target)
    return target


def test_a_codec2_index_answers_as_the_zhisou_that_wrote_it(old_index: Path) -> None:
    manifest = load_latest(old_index)
    assert {meta.codec for meta in manifest.segments} == {2}
    index = Index.open(old_index)
    assert answers(index, list(OLD_RESULTS)) == OLD_RESULTS
    assert index.get("flash-attention") is None  # its delete holds
    assert index.get("attention")["title"]
    report = check_index(old_index)
    assert report.ok, report.problems
    assert report.documents == 13


def test_writing_to_a_codec2_index_keeps_its_segments_then_merges_them(old_index: Path, tmp_path: Path) -> None:
    index = Index.open(old_index)
    new_doc = {"id": "fresh", "title": "倒排索引 again", "body": "倒排索引 maps terms to postings", "tags": ["index"]}
    index.add(new_doc)
    index.delete("beir")
    index.commit()
    manifest = load_latest(old_index)
    assert sorted(meta.codec for meta in manifest.segments) == [2, 2, 3]
    raw = json.loads((old_index / manifest.file_name).read_text())
    assert raw["format_version"] == 3 and raw["codec"] == "zhisou3"
    queries = [*OLD_RESULTS, "again postings"]
    mixed = answers(Index.open(old_index), queries)
    assert mixed["again postings"][0][0] == "fresh"
    assert all(hit[0] != "beir" for hit in mixed["bm25 参数"][:-1])

    index.optimize()
    merged = load_latest(old_index)
    assert [meta.codec for meta in merged.segments] == [3]
    assert not [name for name in merged.referenced_files() if name.endswith((".doc", ".frq"))]
    assert answers(Index.open(old_index), queries) == mixed
    assert check_index(old_index).ok

    # The same documents indexed at once by this zhisou score the same.
    reopened = Index.open(old_index)
    fresh = Index.create(tmp_path / "fresh", reopened.schema)
    fresh.add([reopened.get(doc_id) for doc_id in sorted(reopened.searcher().reader.all_doc_ids())])
    fresh.commit()
    assert answers(fresh, queries) == mixed


# -- codec-2 segments written by hand from codec-3 ones --------------------------------------------

_HEADER = struct.Struct("<4sHH8s16s")
_FOOTER = struct.Struct("<4sIQ")


def _write_framed(path: Path, suffix: str, uid: bytes, payload: bytes, version: int = 2) -> FileInfo:
    head = _HEADER.pack(b"ZHSH", version, 0, suffix.encode(), uid)
    crc = zlib.crc32(payload, zlib.crc32(head))
    path.write_bytes(head + payload + _FOOTER.pack(b"ZHSF", crc, len(payload)))
    return FileInfo(len(head) + len(payload) + _FOOTER.size, crc)


def downgrade(directory: Path, which: list[int], *, format2: bool = False) -> None:
    """Rewrite segments ``which`` (positions in the manifest) in codec 2's layout: i64 term
    dictionary numbers, i32 doc ids, frequencies and positions; every file framed as version 2.
    ``format2``: write the manifest as zhisou2 did (every segment codec 2)."""
    manifest = load_latest(directory)
    metas = list(manifest.segments)
    for position in which:
        meta = metas[position]
        reader = SegmentReader(directory, meta)
        n_terms = len(reader.term_info)
        docs, freqs = reader.postings_of_rows(0, n_terms)
        positions = reader.positions_of_rows(0, n_terms, freqs)
        counts = reader.term_info[:, 1].astype(np.int64)
        per_term = np.add.reduceat(freqs.astype(np.int64), np.cumsum(counts) - counts) if n_terms else counts
        info = np.column_stack((np.cumsum(counts) - counts, counts, np.cumsum(per_term) - per_term))
        payloads = {
            Codec2Component.TERM_OFFSETS: reader._arrays[Component.TERM_OFFSETS].astype(np.int64),
            Codec2Component.TERM_INFO: info.astype(np.int64).ravel(),
            Codec2Component.DOCS: docs.astype(np.int32),
            Codec2Component.FREQS: freqs.astype(np.int32),
            Codec2Component.POSITIONS: positions.astype(np.int32),
        }
        files: dict[str, FileInfo] = {}
        for suffix in meta.files:
            if suffix in {"tdo", "tdi", "pst", "pos"}:
                continue
            path = directory / f"{meta.name}.{suffix}"
            payload = path.read_bytes()[_HEADER.size : -_FOOTER.size]
            files[suffix] = _write_framed(path, suffix, meta.uid_bytes, payload)
        (directory / f"{meta.name}.pst").unlink()
        for component, array in payloads.items():
            path = directory / component.file_name(meta.name)
            files[component.suffix] = _write_framed(path, component.suffix, meta.uid_bytes, array.tobytes())
        metas[position] = dataclasses.replace(meta, files=files, codec=2)
    if not format2:
        Manifest(manifest.generation, manifest.schema, tuple(metas), manifest.settings, manifest.user_data).write(
            directory
        )
        return
    assert sorted(which) == list(range(len(metas)))
    data = json.loads(Manifest(manifest.generation, manifest.schema, tuple(metas)).to_json())
    data.pop("checksum")
    data["format_version"], data["codec"] = 2, "zhisou2"
    for segment in data["segments"]:
        segment.pop("codec")
    (directory / manifest.file_name).write_bytes(checksummed(data))


WORDS = ["索引", "检索", "排序", "向量", "模型", "alpha", "beta", "gamma", "delta", "search", "rank", "engine"]


def random_docs(rng: random.Random, count: int) -> list[dict[str, object]]:
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    return [
        {
            "id": f"d{i}",
            "title": " ".join(rng.choices(WORDS, weights, k=rng.randint(0, 3))),
            "body": " ".join(rng.choices(WORDS, weights, k=rng.randint(1, 300))),
            "tags": rng.sample(["x", "y", "z"], rng.randint(0, 2)),
        }
        for i in range(count)
    ]


QUERIES = [
    "索引 alpha",
    "search engine rank",
    "检索",
    "beta gamma delta 向量",
    '"alpha beta"',
    "tags:x 模型",
    "rank -索引",
]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), sizes=st.lists(st.integers(5, 400), min_size=1, max_size=3), data=st.data())
def test_codec2_segments_search_and_merge_like_codec3(tmp_path_factory, seed: int, sizes: list[int], data) -> None:
    rng = random.Random(seed)
    docs = random_docs(rng, sum(sizes))
    directory = tmp_path_factory.mktemp("mixed") / "ix"
    index = Index.create(directory)
    start = 0
    for size in sizes:
        index.add(docs[start : start + size])
        index.writer.commit(merge=False)
        start += size
    index.delete([f"d{i}" for i in range(3, len(docs), 7)])  # never a whole segment (≥ 5 docs each)
    index.writer.commit(merge=False)
    index.close()
    strategies = list(STRATEGIES)
    expected = {name: answers(Index.open(directory), QUERIES, name, size=15) for name in strategies}
    n_segments = len(load_latest(directory).segments)
    which = data.draw(st.lists(st.integers(0, n_segments - 1), min_size=1, unique=True))
    format2 = data.draw(st.booleans()) and len(which) == n_segments
    downgrade(directory, sorted(which), format2=format2)
    assert sum(meta.codec == 2 for meta in load_latest(directory).segments) == len(which)
    for name in strategies:
        assert answers(Index.open(directory), QUERIES, name, size=15) == expected[name], name
    assert check_index(directory).ok
    with Index.open(directory) as merged:
        merged.optimize()
    assert [meta.codec for meta in load_latest(directory).segments] == [3]
    for name in strategies:
        got = answers(Index.open(directory), QUERIES, name, size=15)
        for query in QUERIES:  # a merge sums in another order: scores agree to rounding
            assert [hit[0] for hit in got[query][:-1]] == [hit[0] for hit in expected[name][query][:-1]], (name, query)
            assert got[query][-1] == expected[name][query][-1]
            np.testing.assert_allclose(
                [hit[1] for hit in got[query][:-1]], [hit[1] for hit in expected[name][query][:-1]], atol=1e-8
            )


def _segment_of(directory: Path) -> SegmentMeta:
    downgrade(directory, [0])
    return load_latest(directory).segments[0]


def _rewrite(directory: Path, meta: SegmentMeta, component: Codec2Component, array: np.ndarray) -> None:
    path = directory / component.file_name(meta.name)
    info = _write_framed(path, component.suffix, meta.uid_bytes, array.tobytes())
    manifest = load_latest(directory)
    changed = dataclasses.replace(meta, files={**meta.files, component.suffix: info})
    Manifest(manifest.generation, manifest.schema, (changed,), manifest.settings, manifest.user_data).write(directory)


@pytest.mark.parametrize(
    ("component", "damage", "message"),
    [
        (Codec2Component.DOCS, lambda a: np.where(a == a.max(), 10_000, a), "outside the segment"),
        (Codec2Component.DOCS, lambda a: a[::-1].copy(), "ascend"),
        (Codec2Component.FREQS, lambda a: a * 0, "frequency below 1"),
        (Codec2Component.TERM_INFO, lambda a: (a.reshape(-1, 3) + np.array([1, 0, 0])).ravel(), "tile"),
        (Codec2Component.POSITIONS, lambda a: a[:-1].copy(), "tile"),
    ],
)
def test_a_damaged_codec2_segment_is_one_clear_error(tmp_path: Path, component, damage, message: str) -> None:
    directory = tmp_path / "ix"
    index = Index.create(directory)
    index.add(random_docs(random.Random(3), 50))
    index.commit()
    meta = _segment_of(directory)
    array = np.fromfile(directory / component.file_name(meta.name), dtype=np.uint8)[_HEADER.size : -_FOOTER.size]
    _rewrite(directory, meta, component, damage(array.view(component.dtype)))
    with pytest.raises(CorruptIndexError, match=message) as caught:
        Index.open(directory).search("索引")
    assert "\n" not in str(caught.value) and meta.name in str(caught.value)


def test_a_manifest_of_an_unknown_format_says_rebuild(old_index: Path) -> None:
    manifest = load_latest(old_index)
    data = json.loads((old_index / manifest.file_name).read_text())
    data.pop("checksum")
    data["format_version"], data["codec"] = 1, "zhisou1"
    (old_index / manifest.file_name).write_bytes(checksummed(data))
    with pytest.raises(CorruptIndexError, match="rebuild the index"):
        Index.open(old_index)
