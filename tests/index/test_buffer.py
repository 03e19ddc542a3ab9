"""The in-memory segment's flush: tokens ordered by term with a compiled counting sort where
numba is loaded (or a flush is large enough to load it), numpy's stable sort otherwise; both
must give the same segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou import Index, Schema
from zhisou.index import buffer
from zhisou.index.codec import FOOTER_BYTES, HEADER_BYTES
from zhisou.schema import FieldSpec


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 50).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(0, n - 1), max_size=400))))
def test_counting_order_is_a_stable_sort(case: tuple[int, list[int]]) -> None:
    n_keys, values = case
    keys = np.array(values, dtype=np.int64)
    expected = np.argsort(keys, kind="stable")
    assert np.array_equal(buffer._counting_order(keys, n_keys), expected)
    assert np.array_equal(buffer.stable_order(keys, n_keys), expected)


def _segment_payloads(path: Path) -> dict[str, bytes]:
    """Each file of the index's one segment by suffix, without its frame (which names the
    segment's uid and so differs between builds)."""
    (segment,) = {p.name.split(".")[0] for p in path.glob("seg_*")}
    return {p.suffix: p.read_bytes()[HEADER_BYTES:-FOOTER_BYTES] for p in path.glob(f"{segment}.*")}


def test_flush_writes_the_same_segment_with_either_sort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(300)]
    docs = [{"id": f"d{i}", "body": " ".join(rng.choice(words, size=int(rng.integers(1, 40))))} for i in range(400)]
    files = []
    for compiled in (True, False):  # every flush by counting, then every flush by numpy
        monkeypatch.setattr(buffer, "compiled_pays", lambda values, compiled=compiled: compiled)
        path = tmp_path / f"ix{compiled}"
        index = Index.create(path, Schema((FieldSpec("body", "text"),)))
        index.add(docs)
        index.commit()
        index.close()
        files.append(_segment_payloads(path))
    assert files[0].keys() == files[1].keys() and ".pst" in files[0]
    for suffix, content in files[0].items():
        assert content == files[1][suffix], suffix


def test_a_flush_parses_stored_documents_only_for_a_producer_that_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = []
    real = buffer.StoredDocs._parsed

    def counting(self: buffer.StoredDocs) -> list[dict[str, object]]:
        parses.append(len(self))
        return real(self)

    monkeypatch.setattr(buffer.StoredDocs, "_parsed", counting)
    docs = [{"id": f"d{i}", "title": f"倒排索引 第{i}篇", "body": "倒排索引 压缩 search"} for i in range(30)]
    body_only = Index.create(tmp_path / "body", Schema((FieldSpec("body", "text"),)))
    body_only.add(docs)
    body_only.commit()
    assert parses == []  # suggestions of a schema without title or tags read no document
    titled = Index.create(tmp_path / "titled")  # the default schema: title, body, tags, ...
    titled.add(docs)
    titled.commit()
    assert parses and set(parses) == {30}
    assert "倒排索引 第0篇" in [c.text for c in titled.suggest("倒排")]  # the titles were read
