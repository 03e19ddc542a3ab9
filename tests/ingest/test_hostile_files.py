"""Hostile or odd files cost one skipped record each, never the whole ingest; an interrupted
ingest keeps what it read and a second run resumes cheaply."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from zhisou import Index
from zhisou.ingest import ingest

BILLION_LAUGHS = (
    "---\na: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
    + "---\nbody\n"
)


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def test_each_hostile_record_is_reported_and_skipped(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write(
        src / "a.jsonl",
        '{"id": "j1", "body": "first"}\n{"id": "deep", "x": ' + "[" * 50_000 + "]" * 50_000 + "}\n"
        '{"id": "huge", "n": ' + "9" * 5000 + '}\n{"id": "j2", "body": "after the bad lines"}\n',
    )
    write(src / "b.json", "[" * 100_000 + "]" * 100_000)
    write(src / "c.md", "---\ntitle: impossible\ndate: 2024-13-45\n---\nbody\n")
    write(src / "d.md", BILLION_LAUGHS)
    write(src / "e.md", "---\ntitle: 5\ndate: 2024-02-29\n---\na numeric title\n")
    write(src / "f.csv", "id,body\nr1,short\nr2," + "x" * 300_000 + "\nr3,after the long field\n")
    write(src / "g.csv", 'id,body\nq1,"unclosed quote\nq2,fine\n')
    write(src / "h.html", "<html><head><title>Unclosed\n<body><p>the body survives</p></body></html>")
    write(src / "i.html", "<title>First line is the title\nthe rest is the body")
    index = Index.create(tmp_path / "ix")
    report = ingest(index, [src])
    problems = {(Path(e.source).name, e.line): e.reason for e in report.errors}
    assert ("a.jsonl", 2) in problems and "nested too deeply" in problems[("a.jsonl", 2)]
    assert ("a.jsonl", 3) in problems
    assert ("b.json", None) in problems
    assert "date" in problems[("c.md", None)]
    assert "aliases" in problems[("d.md", 3)]
    for doc_id in ("j1", "j2", "e", "r1", "r2", "r3", "h", "i"):
        assert index.get(doc_id) is not None, doc_id
    assert index.get("e")["title"] == 5
    assert index.get("r2")["body"] == "x" * 300_000
    assert index.get("h") == {"id": "h", "title": "Unclosed", "body": "the body survives", "path": "h.html"}
    assert index.get("i")["title"] == "First line is the title"
    assert index.get("i")["body"] == "the rest is the body"
    assert report.added == 8 + 1  # and g.csv's one readable row
    assert len(report.errors) == 5


def test_periodic_commits_and_resume_skip_unchanged_documents(tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "body": f"note {i}"}) + "\n" for i in range(1200)))
    index = Index.create(tmp_path / "ix")
    first = ingest(index, [source], commit_every=500)
    assert first.commits == 3 and first.added == 1200
    lines = source.read_text().splitlines()
    lines[7] = json.dumps({"id": "7", "body": "changed"})
    source.write_text("\n".join(lines) + "\n")
    second = ingest(index, [source])
    assert (second.added, second.unchanged) == (1, 1199)
    assert index.search("changed").ids == ["7"]
    assert len(index) == 1200


def test_ctrl_c_keeps_what_was_read_and_the_rerun_resumes(tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text(
        "".join(json.dumps({"id": f"d{i}", "body": f"文档 {i} 倒排索引 search " * 8}) + "\n" for i in range(120_000))
    )
    command = [sys.executable, "-m", "zhisou.cli", "index", str(source), "-i", str(tmp_path / "ix"), "--json"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "ix").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2.0)
    os.kill(child.pid, signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    report = json.loads(out)
    assert report["interrupted"] and 0 < report["added"] < 120_000
    assert "run the same command again" in err
    assert len(Index.open(tmp_path / "ix")) == report["added"]
    rerun = subprocess.run(command, capture_output=True, text=True, check=True)
    resumed = json.loads(rerun.stdout)
    assert resumed["unchanged"] == report["added"]
    assert resumed["added"] == 120_000 - report["added"]
    assert len(Index.open(tmp_path / "ix")) == 120_000


def test_a_keyboard_interrupt_between_documents_keeps_them(tmp_path: Path) -> None:
    import pytest

    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "body": f"note {i}"}) + "\n" for i in range(1000)))
    index = Index.create(tmp_path / "ix")

    def interrupt_at_600(size: int, added: int) -> None:
        if added == 600:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(index, [source], on_record=interrupt_at_600)
    assert len(Index.open(tmp_path / "ix")) == 600
