"""Short fuzzing runs: hypothesis over the loaders and analyzers, and every atheris target for a
few thousand coverage-guided executions (the million-execution run is in RELIABILITY.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability import fuzz
from zhisou.analysis import AnalyzerRegistry
from zhisou.errors import DocumentError, IngestError
from zhisou.index.documents import DocumentPreparer
from zhisou.ingest.loaders import Record, load
from zhisou.schema import Schema

REGISTRY = AnalyzerRegistry()
PREPARER = DocumentPreparer(Schema.default(), REGISTRY)
SHAPES = {
    ".jsonl": [b'{"id": "1", "body": "x"}\n', b"{", b"[", b'"\\ud800"', b"\xff", b"\n", b'{"id": ', b"1e999"],
    ".json": [b"[", b"{", b'"id"', b":", b"]", b"}", b",", b"\xef\xbb\xbf", b"null", b"-0"],
    ".csv": [b"id,body\n", b'"', b",", b"\n", b"\r", b"\x00", b"x" * 10, b"\xe5\x80\x92"],
    ".md": [b"---\n", b"title: ", b"date: 2024-02-30\n", b"&a [1]", b"*a", b"!!python/object:os.system", b"\t", b"{"],
    ".html": [b"<title>", b"</title>", b"<p>", b"<script>", b"&amp;", b"&#xffffff;", b"<!--", b"\xff"],
    ".txt": [b"\xff\xfe", b"\x00", "倒排".encode(), b"\r\n"],
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_file_gives_records_or_one_line_errors(tmp_path: Path, data: st.DataObject) -> None:
    extension = data.draw(st.sampled_from(sorted(SHAPES)))
    pieces = data.draw(st.lists(st.one_of(st.sampled_from(SHAPES[extension]), st.binary(max_size=8)), max_size=40))
    path = tmp_path / f"input{extension}"
    path.write_bytes(b"".join(pieces))
    for item in load(path):
        assert isinstance(item, Record | IngestError)
        if isinstance(item, IngestError):
            assert "\n" not in str(item)
            continue
        try:
            PREPARER.prepare(item.doc)
        except DocumentError as error:
            assert "\n" not in str(error)


@settings(max_examples=400, deadline=None)
@given(text=st.text(), name=st.sampled_from(["zh", "en", "keyword", "exact"]), for_query=st.booleans())
def test_analyzers_take_any_text(text: str, name: str, for_query: bool) -> None:
    analyzer = REGISTRY.get(name)
    for token in analyzer.analyze(text, for_query=for_query):
        assert 0 <= token.start <= token.end <= len(text)
    analyzer.stream(text, for_query=for_query)


@pytest.mark.parametrize("name", ["zh", "en", "keyword", "exact"])
def test_analyzers_take_lone_surrogates(name: str) -> None:
    """hypothesis's text() never draws them; the Python API can pass them."""
    text = "檢索\ud800搜索 ab\udfffc"
    for token in REGISTRY.get(name).analyze(text, for_query=True):
        assert 0 <= token.start <= token.end <= len(text)
    REGISTRY.get(name).stream(text)


def test_every_atheris_target_runs_clean(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    report = fuzz.campaign(runs=3000, timeout=1, work=tmp_path)
    assert report["findings"] == 0, report
    assert report["total_runs"] == 3000 * len(fuzz.TARGETS)
