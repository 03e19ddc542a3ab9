"""Stable file ids (relative to the index's files root, or front matter id:) and ``zhisou sync``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from zhisou.api import Index
from zhisou.cli import app
from zhisou.ingest.sources import SOURCES_FILE, files_root

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def ids(index: Path) -> list[str]:
    with Index.open(index) as opened:
        return sorted(opened.search("*", size=100).ids)


def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    write(root / "a.md", "# 倒排索引\n\n倒排索引把词映射到文档。\n")
    write(root / "sub" / "b.md", "# 缓存\n\n缓存命中率。\n")
    write(root / "sub" / "c.md", "---\nid: custom-c\ntitle: 慢查询\n---\n慢查询日志 slow_query_log。\n")
    return root


def test_a_file_keeps_one_id_whichever_folder_is_indexed(tmp_path: Path) -> None:
    root = notes(tmp_path)
    index = str(tmp_path / "ix")
    assert invoke("index", str(root), "-i", index)[0] == 0
    assert files_root(Path(index)) == root.resolve()
    assert invoke("index", str(root / "sub"), "-i", index)[0] == 0  # ids still relative to notes/
    assert invoke("index", str(root / "sub" / "b.md"), "-i", index)[0] == 0
    assert ids(Path(index)) == ["a", "custom-c", "sub/b"]
    with Index.open(index) as opened:
        assert opened.get("sub/b")["path"] == "sub/b.md"
        assert opened.get("custom-c")["path"] == "sub/c.md"


def test_the_first_folder_indexed_is_the_root_unless_root_is_given(tmp_path: Path) -> None:
    root = notes(tmp_path)
    index = str(tmp_path / "ix")
    assert invoke("index", str(root / "sub"), "-i", index, "--root", str(root))[0] == 0
    assert ids(Path(index)) == ["custom-c", "sub/b"]
    code, output = invoke("index", str(root), "-i", index, "--root", str(root / "sub"))
    assert code != 0 and "files root is" in output and "Traceback" not in output
    assert len(output.strip().splitlines()) == 1


def test_a_file_outside_the_root_is_refused_with_the_reason(tmp_path: Path) -> None:
    root = notes(tmp_path)
    write(tmp_path / "elsewhere" / "a.md", "# 另一个 a\n\n同名文件。\n")
    index = str(tmp_path / "ix")
    invoke("index", str(root), "-i", index)
    code, output = invoke("index", str(tmp_path / "elsewhere"), "-i", index)
    assert code != 0 and "outside this index's files root" in output
    with Index.open(index) as opened:
        assert "倒排索引" in opened.get("a")["body"]  # not replaced by the other a.md


def test_sync_adds_new_and_changed_files_and_deletes_removed_ones(tmp_path: Path) -> None:
    root = notes(tmp_path)
    index = str(tmp_path / "ix")
    code, output = invoke("sync", str(root), "-i", index, "--json")
    assert code == 0 and json.loads(output)["added"] == 3
    (root / "a.md").unlink()
    write(root / "sub" / "b.md", "# 缓存\n\n缓存穿透与缓存雪崩。\n")  # changed
    write(root / "sub" / "d.md", "# 新笔记\n\n分布式锁。\n")  # new
    code, output = invoke("sync", str(root), "-i", index, "--json")
    report = json.loads(output)
    assert code == 0 and (report["added"], report["unchanged"], report["deleted"]) == (2, 1, 1)
    assert ids(Path(index)) == ["custom-c", "sub/b", "sub/d"]
    with Index.open(index) as opened:
        assert "雪崩" in opened.get("sub/b")["body"]
    code, output = invoke("sync", str(root), "-i", index)
    assert code == 0 and "added 0 documents" in output and "deleted 0" in output


def test_sync_of_a_sub_folder_leaves_the_rest_alone(tmp_path: Path) -> None:
    root = notes(tmp_path)
    index = str(tmp_path / "ix")
    invoke("sync", str(root), "-i", index)
    (root / "sub" / "b.md").unlink()
    (root / "a.md").unlink()  # outside the folder synced below: kept
    code, output = invoke("sync", str(root / "sub"), "-i", index, "--json")
    assert code == 0 and json.loads(output)["deleted"] == 1
    assert ids(Path(index)) == ["a", "custom-c"]


def test_a_file_that_fails_to_load_keeps_its_document(tmp_path: Path) -> None:
    root = notes(tmp_path)
    index = str(tmp_path / "ix")
    invoke("sync", str(root), "-i", index)
    (root / "sub" / "b.md").write_bytes(b"# \xff\xfe broken")  # not UTF-8 any more
    code, output = invoke("sync", str(root), "-i", index, "--json")
    assert code != 0 and json.loads(output)["deleted"] == 0
    assert ids(Path(index)) == ["a", "custom-c", "sub/b"]


def test_the_root_is_recorded_in_the_index(tmp_path: Path) -> None:
    root = notes(tmp_path)
    index = tmp_path / "ix"
    invoke("index", str(root / "sub" / "b.md"), "-i", str(index))
    assert json.loads((index / SOURCES_FILE).read_text())["root"] == str((root / "sub").resolve())


def test_sync_of_a_folder_of_data_files_adds_them(tmp_path: Path) -> None:
    """No Markdown, HTML or text file: nothing is file-derived, so nothing to delete, and the
    records are added (no root needed)."""
    folder = tmp_path / "data"
    write(folder / "docs.jsonl", '{"id": "r1", "body": "第一条"}\n{"id": "r2", "body": "第二条"}\n')
    index = str(tmp_path / "ix")
    code, output = invoke("sync", str(folder), "-i", index, "--json")
    assert code == 0 and json.loads(output)["added"] == 2 and json.loads(output)["deleted"] == 0
    assert ids(Path(index)) == ["r1", "r2"]
