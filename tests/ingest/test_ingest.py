from __future__ import annotations

import json
from pathlib import Path

import pytest

from zhisou import Index, IngestError, ZhisouError
from zhisou.ingest import ingest, load
from zhisou.ingest.loaders import Record


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_jsonl_errors_name_file_and_line(tmp_path: Path) -> None:
    source = write(
        tmp_path / "docs.jsonl",
        b'{"id": "1", "title": "ok", "body": "\xe5\x80\x92\xe6\x8e\x92"}\n'
        b"{not json}\n"
        b'{"title": "no id"}\n'
        b'{"id": "1", "title": "duplicate"}\n'
        b'{"id": "2", "body": "bad \xff utf8"}\n'
        b"[1, 2]\n"
        b'{"id": "3", "date": "not a date"}\n'
        b'{"id": "4", "body": "fine"}\n',
    )
    index = Index.create(tmp_path / "ix")
    report = ingest(index, [source])
    assert report.added == 2
    where = [(Path(e.source).name, e.line) for e in report.errors]
    assert where == [
        ("docs.jsonl", 2),
        ("docs.jsonl", 3),
        ("docs.jsonl", 4),
        ("docs.jsonl", 5),
        ("docs.jsonl", 6),
        ("docs.jsonl", 7),
    ]
    messages = [e.reason for e in report.errors]
    assert "malformed JSON" in messages[0]
    assert "no 'id'" in messages[1]
    assert "duplicate id '1'" in messages[2] and "docs.jsonl:1" in messages[2]
    assert "invalid UTF-8" in messages[3]
    assert "expected a JSON object" in messages[4]
    assert "expected a date" in messages[5]
    assert str(report.errors[0]).startswith(f"{source}:2: ")
    assert {h.id for h in index.search("", size=10).hits} == {"1", "4"}


@pytest.mark.parametrize(
    "name,content",
    [
        ("a.jsonl", '{"id": "1", "title": "字节序"}\n{"id": "2", "title": "second"}\n'),
        ("a.json", '[{"id": "1", "title": "字节序"}, {"id": "2", "title": "second"}]'),
        ("a.csv", "id,title\n1,字节序\n2,second\n"),
    ],
)
def test_a_byte_order_mark_is_not_part_of_the_first_record(tmp_path: Path, name: str, content: str) -> None:
    """Editors on Windows save UTF-8 with a BOM; the first record (or the CSV header) keeps its fields."""
    records = list(load(write(tmp_path / name, "\ufeff" + content)))
    assert [record.doc for record in records] == [{"id": "1", "title": "字节序"}, {"id": "2", "title": "second"}]


@pytest.mark.parametrize("name", ["a.md", "a.txt"])
def test_windows_line_ends_read_as_unix_ones(tmp_path: Path, name: str) -> None:
    text = "---\ntitle: 标题\ntags: [a, b]\n---\n# 大标题\n正文第一行\n\n第二段\n"
    unix = write(tmp_path / "unix" / name, text)
    windows = write(tmp_path / "windows" / name, text.replace("\n", "\r\n"))
    (expected,), (record,) = load(unix), load(windows)
    assert isinstance(record, Record) and record.doc == expected.doc and "\r" not in record.doc["body"]


def test_an_html_page_is_read_in_the_charset_it_declares(tmp_path: Path) -> None:
    """Chinese pages saved as GBK/GB2312 are common; a browser reads them by their <meta>."""
    page = "<html><head>{meta}<title>倒排索引</title></head><body><p>词项到文档的映射</p></body></html>"
    gbk = write(tmp_path / "gbk.html", page.format(meta='<meta charset="GBK">').encode("gbk"))
    legacy = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    gb2312 = write(tmp_path / "gb2312.htm", page.format(meta=legacy).encode("gb2312"))
    mislabelled = write(tmp_path / "utf8.html", page.format(meta='<meta charset="gbk">').encode("utf-8"))
    for path in (gbk, gb2312, mislabelled):  # a file converted to UTF-8 keeps its old declaration
        (record,) = load(path)
        assert isinstance(record, Record), record
        assert (record.doc["title"], record.doc["body"]) == ("倒排索引", "词项到文档的映射"), path.name
    undeclared = write(tmp_path / "plain.html", page.format(meta="").encode("gbk"))
    unknown = write(tmp_path / "odd.html", page.format(meta="<meta charset='klingon'>").encode("gbk"))
    not_text = write(tmp_path / "b64.html", page.format(meta="<meta charset=base64>").encode("gbk"))
    for path, fragment in ((undeclared, "invalid UTF-8"), (unknown, "'klingon'"), (not_text, "'base64'")):
        (error,) = load(path)
        assert isinstance(error, IngestError) and fragment in str(error) and "\n" not in str(error)


def test_strict_aborts_and_keeps_the_previous_commit(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "ix")
    ingest(index, [write(tmp_path / "good.jsonl", '{"id": "old", "body": "kept"}\n')])
    bad = write(tmp_path / "bad.jsonl", '{"id": "new", "body": "x"}\n{oops\n')
    with pytest.raises(IngestError, match=r"bad.jsonl:2: malformed JSON"):
        ingest(index, [bad], strict=True)
    index.commit()  # nothing of the failed run may surface later
    assert index.get("old") is not None and index.get("new") is None


def test_markdown_front_matter_and_title_fallback(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    write(notes / "a.md", "---\ntitle: 倒排索引\ndate: 2024-05-01\ntags: [索引, ir]\n---\n\n正文内容。\n")
    write(notes / "sub" / "b.md", "# Heading Title\n\nBody text.\n")
    write(notes / "c.md", "---\ntitle: [unclosed\n---\nbody\n")
    write(notes / "ignored.bin", b"\x00\x01")
    records = list(load(notes))
    docs = {r.doc["id"]: r.doc for r in records if not isinstance(r, IngestError)}
    errors = [r for r in records if isinstance(r, IngestError)]
    expected = {"title": "倒排索引", "date": "2024-05-01", "tags": ["索引", "ir"], "id": "a", "body": "正文内容。"}
    assert docs["a"] == {**expected, "path": "a.md"}
    assert docs["sub/b"]["title"] == "Heading Title" and docs["sub/b"]["path"] == "sub/b.md"
    assert len(errors) == 1 and errors[0].source.endswith("c.md") and "front matter" in errors[0].reason


def test_csv_html_text_and_json(tmp_path: Path) -> None:
    write(tmp_path / "d" / "rows.csv", 'id,title,body\n1,BM25,scoring\n2,Two,"multi\nline"\n3,x,y,extra\n')
    write(
        tmp_path / "d" / "page.html",
        "<html><head><title>Page 标题</title><style>p{}</style></head><body><p>可见文本</p>"
        "<script>var hidden=1</script></body></html>",
    )
    write(tmp_path / "d" / "plain.txt", "just text")
    write(tmp_path / "d" / "many.json", json.dumps([{"id": "j1", "body": "json one"}, 5]))
    index = Index.create(tmp_path / "ix")
    report = ingest(index, [tmp_path / "d"])
    assert report.added == 5
    assert sorted((Path(e.source).name, e.line) for e in report.errors) == [("many.json", None), ("rows.csv", 5)]
    page = index.get("page")
    assert page is not None and page["title"] == "Page 标题" and page["body"] == "可见文本"
    assert index.get("2")["body"] == "multi\nline"  # type: ignore[index]
    assert index.get("plain")["title"] == "plain"  # type: ignore[index]


def test_csv_tags_are_lists_split_at_the_separator(tmp_path: Path) -> None:
    rows = write(tmp_path / "rows.csv", 'id,title,body,tags\n1,慢查询,排查,"排障; 数据库 ;"\n2,BM25,scoring,ranking\n')
    index = Index.create(tmp_path / "ix")  # the default schema: tags is a keyword field
    assert ingest(index, [rows]).added == 2
    assert index.get("1")["tags"] == ["排障", "数据库"]  # type: ignore[index]
    assert index.get("2")["tags"] == ["ranking"]  # type: ignore[index]
    assert [hit.id for hit in index.search("", filters=["tags:数据库"]).hits] == ["1"]
    index.close()
    # Another separator, from the command line; the body (a text field) is never split.
    piped = write(tmp_path / "piped.csv", 'id,title,body,tags\n3,x,"a; b",排障|工具\n')
    from typer.testing import CliRunner

    from zhisou.cli import app

    result = CliRunner().invoke(app, ["index", str(piped), "-i", str(tmp_path / "ix"), "--list-sep", "|"])
    assert result.exit_code == 0, result.output
    reopened = Index.open(tmp_path / "ix")
    assert reopened.get("3")["tags"] == ["排障", "工具"] and reopened.get("3")["body"] == "a; b"  # type: ignore[index]
    with pytest.raises(ZhisouError, match="separator must not be empty"):
        ingest(reopened, [piped], list_sep="")


def test_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"id": ["p1", "p2"], "title": ["Parquet", "列存"], "tags": [["x"], ["y", "z"]]})
    pq.write_table(table, tmp_path / "t.parquet")
    index = Index.create(tmp_path / "ix")
    assert ingest(index, [tmp_path / "t.parquet"]).added == 2
    assert index.search("tags:z").hits[0].id == "p2"


def test_unreadable_and_missing_sources(tmp_path: Path) -> None:
    write(tmp_path / "bad.md", b"\xff\xfe broken")
    index = Index.create(tmp_path / "ix")
    report = ingest(index, [tmp_path / "bad.md", tmp_path / "missing.jsonl", write(tmp_path / "x.pdf", "x")])
    reasons = [e.reason for e in report.errors]
    assert "invalid UTF-8" in reasons[0]
    assert reasons[1] == "no such file or folder"
    assert "unknown file type '.pdf'" in reasons[2]


def test_beir_field_names_are_mapped(tmp_path: Path) -> None:
    source = write(tmp_path / "corpus.jsonl", '{"_id": "d1", "title": "T", "text": "beir body"}\n')
    index = Index.create(tmp_path / "ix")
    ingest(index, [source])
    assert index.get("d1") == {"id": "d1", "title": "T", "body": "beir body"}


def test_a_csv_error_names_the_line_its_record_starts_on(tmp_path: Path) -> None:
    """A quoted value may span lines and blank lines may sit between rows: a record's problem is
    reported at the line where the record begins, as a reader finds it in an editor."""
    rows = write(
        tmp_path / "rows.csv",
        'id,title,body,date\n\n1,A,"two\nlines",2024-01-01\n\n2,B,"spans\nthree\nlines",2024-13-45\n3,C,x,y,extra\n',
    )
    index = Index.create(tmp_path / "ix")
    report = ingest(index, [rows])
    assert report.added == 1 and index.get("1")["body"] == "two\nlines"  # type: ignore[index]
    found = sorted((e.line, "date" in e.reason or "columns" in e.reason) for e in report.errors)
    assert found == [(6, True), (9, True)]
