"""The command line: output for people and programs, exit codes, one-line errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from zhisou.cli import app
from zhisou.schema import Schema

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_sharded_index_works_through_every_command(tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    code, out, _ = invoke("init", index, "--shards", "3")
    assert code == 0 and "in 3 shards" in out
    source = tmp_path / "docs.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": f"d{n}", "title": f"倒排索引 {n}", "body": "倒排索引 spark" if n % 2 else "bm25"}) + "\n"
            for n in range(30)
        ),
        encoding="utf-8",
    )
    code, out, _ = invoke("index", str(source), "-i", index, "--json")
    assert code == 0 and json.loads(out)["added"] == 30
    code, out, _ = invoke("search", "spark", "-i", index, "--json", "--size", "50")
    assert code == 0 and json.loads(out)["total"] == 15
    code, out, _ = invoke("delete", "d1", "-i", index)
    assert code == 0 and "deleted 1 of 1" in out
    code, out, _ = invoke("stats", "-i", index, "--json")
    stats = json.loads(out)
    assert stats["documents"] == 29 and stats["shards"] == 3 and stats["size_bytes"] > 10_000
    code, out, _ = invoke("optimize", "-i", index, "--json")
    assert code == 0 and json.loads(out)["segments"] == 3  # one per shard
    code, out, _ = invoke("check", "-i", index, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["documents"] == 29
    from zhisou.index.manifest import load_generation
    from zhisou.index.shards import load_shard_set

    record = load_shard_set(tmp_path / "ix")  # the segment the committed shard holds, not an older one
    (name,) = [meta.name for meta in load_generation(tmp_path / "ix" / "shard-001", record.generations[1]).segments]
    damaged = tmp_path / "ix" / "shard-001" / f"{name}.pst"
    damaged.write_bytes(damaged.read_bytes()[:-3] + b"xyz")
    code, _, err = invoke("check", "-i", index)
    assert code != 0 and "shard-001" in err


def test_init_index_search_get_delete_stats(tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    code, out, _ = invoke("init", index)
    assert code == 0 and "created index" in out
    source = tmp_path / "docs.jsonl"
    source.write_text(
        '{"id": "1", "title": "倒排索引", "body": "倒排索引是核心。", "tags": ["ir"]}\n'
        '{"id": "2", "title": "BM25", "body": "BM25 scoring.", "tags": ["ranking"]}\n',
        encoding="utf-8",
    )
    code, out, _ = invoke("index", str(source), "-i", index, "--json")
    assert code == 0 and json.loads(out)["added"] == 2
    single = tmp_path / "one.jsonl"
    single.write_text('{"id": "3", "title": "One", "body": "just one"}\n', encoding="utf-8")
    code, out, _ = invoke("index", str(single), "-i", index)
    assert code == 0 and "added 1 document in" in out

    code, out, _ = invoke("search", "倒排索引", "-i", index)
    assert code == 0 and "倒排索引" in out and "1 match ·" in out, out
    # The search's own time, with the process's start-up (loading the kernels) apart.
    took, startup = out.rsplit("·", 1)[1].split(" ms (start-up ")
    assert float(took) < float(startup.split()[0].replace(",", ""))
    code, out, _ = invoke("search", "scoring", "-i", index, "--json", "--size", "5")
    data = json.loads(out)
    assert code == 0 and data["total"] == 1 and data["hits"][0]["id"] == "2"
    assert data["hits"][0]["highlights"]["body"] == "BM25 <mark>scoring</mark>."
    code, out, _ = invoke("search", "", "-i", index, "--filter", "tags:ranking", "--json")
    assert [h["id"] for h in json.loads(out)["hits"]] == ["2"]
    code, out, _ = invoke("search", "", "-i", index, "--size", "0", "--filter", "tags:ranking")  # the count only
    assert code == 0 and out.strip() == "1 match", out
    code, out, _ = invoke("search", "索引 OR scoring", "-i", index, "--size", "0")
    assert code == 0 and out.strip() == "2 matches for 索引 OR scoring", out
    code, out, _ = invoke("search", "scorign", "-i", index)  # nothing matches: a corrected query
    assert code == 0 and "no results for scorign" in out and "did you mean: scoring?" in out, out
    code, out, _ = invoke("search", "scorign", "-i", index, "--json")
    assert json.loads(out)["suggestion"] == "scoring"
    code, out, _ = invoke("search", "scoring", "-i", index, "--json")
    assert json.loads(out)["suggestion"] is None

    code, out, _ = invoke("get", "1", "-i", index, "--json")
    assert code == 0 and json.loads(out)["title"] == "倒排索引"
    code, out, err = invoke("delete", "1", "1", "nope", "-i", index)
    assert code == 1 and "deleted 1 of 2" in out and "no document with id 'nope'" in err  # the one missing named
    code, out, _ = invoke("delete", "1", "-i", index, "--json")
    assert code == 1 and json.loads(out) == {
        "deleted": 0,
        "missing": ["1"],
        "generation": json.loads(out)["generation"],
    }
    code, out, _ = invoke("stats", "-i", index, "--json")
    assert json.loads(out)["documents"] == 2  # "2", and "3" added on its own
    code, out, _ = invoke("optimize", "-i", index, "--json")
    assert code == 0 and json.loads(out)["segments"] == 1
    code, out, _ = invoke("check", "-i", index)
    assert code == 0 and "match their checksums" in out


def test_a_schema_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    schema = {"fields": [{"name": "headline", "type": "text"}, {"name": "content", "type": "text"}]}
    path = tmp_path / "schema.json"
    path.write_text("\ufeff" + json.dumps(schema), encoding="utf-8")
    code, _, err = invoke("init", str(tmp_path / "ix"), "--schema", str(path), "--json")
    assert code == 0, err
    assert Schema.load(tmp_path / "ix" / "schema.json").field_names == ("id", "headline", "content")


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    code, out, err = invoke("search", "x", "-i", missing)
    assert code == 3 and "error: no zhisou index at" in err and "Traceback" not in out + err

    index = str(tmp_path / "ix")
    invoke("init", index)
    code, _, err = invoke("search", "(unbalanced", "-i", index)
    assert code == 2 and "query syntax error at position 0" in err and "^" in err
    code, _, err = invoke("get", "nope", "-i", index)
    assert code == 2 and "no document with id 'nope'" in err
    code, _, err = invoke("init", index)
    assert code == 3 and "already exists" in err


def test_json_errors_flags_and_the_caret_under_chinese(tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    invoke("init", index)
    # With --json an error is JSON on stdout too, the exit code unchanged.
    code, out, err = invoke("search", "x", "-i", str(tmp_path / "nowhere"), "--json")
    assert code == 3 and "error:" in err and json.loads(out)["exit_code"] == 3
    assert "no zhisou index at" in json.loads(out)["error"]
    code, out, err = invoke("search", "倒排 AND (索引", "-i", index, "--json")
    report = json.loads(out)
    assert code == 2 and report["query"] == "倒排 AND (索引" and report["position"] == 7
    # The caret sits under "(": two cells for each Chinese character before it.
    query_line, caret_line = err.splitlines()[-2:]
    assert query_line.strip() == "倒排 AND (索引" and caret_line.index("^") == 2 + 4 + 5
    code, out, _ = invoke("search", "x", "-i", str(tmp_path / "nowhere"))
    assert code == 3 and out == ""  # without --json, stdout stays empty
    # Flags (--help too) are shown as flags in the help, not as options taking a <bool>.
    code, out, _ = invoke("search", "--help")
    assert "--json" in out and "--explain" in out and "--help" in out
    assert not [line for line in out.splitlines() if "<bool>" in line]


def test_skipped_records_exit_1(tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    source.write_text('{"id": "1", "body": "ok"}\n{broken\n', encoding="utf-8")
    code, out, err = invoke("index", str(source), "-i", str(tmp_path / "ix"))
    assert code == 1
    assert f"{source}:2: malformed JSON" in (out + err).replace("\n", "")
    code, _, err = invoke("index", str(source), "-i", str(tmp_path / "ix2"), "--strict")
    assert code == 2 and "malformed JSON" in err
    assert not (tmp_path / "ix2").exists()  # the failed run created it: no empty index left behind
    # An index that existed keeps everything it had.
    code, _, _ = invoke("index", str(source), "-i", str(tmp_path / "ix"), "--strict")
    assert code == 2 and (tmp_path / "ix").exists()
    assert json.loads(invoke("stats", "-i", str(tmp_path / "ix"), "--json")[1])["documents"] == 1


def test_a_locked_index_fails_before_any_progress_bar(tmp_path: Path) -> None:
    from zhisou import Index

    source = tmp_path / "d.jsonl"
    source.write_text('{"id": "1", "body": "ok"}\n', encoding="utf-8")
    invoke("index", str(source), "-i", str(tmp_path / "ix"))
    holder = Index.open(tmp_path / "ix")
    holder.delete(["1"])  # holds the write lock
    try:
        code, _, err = invoke("index", str(source), "-i", str(tmp_path / "ix"))
    finally:
        holder.rollback()
        holder.close()
    assert code == 3 and "lock" in err.lower()
    assert "indexing" not in err and "━" not in err


def test_demo_builds_and_searches(tmp_path: Path) -> None:
    code, out, _ = invoke("demo", "-i", str(tmp_path / "demo"), "--json")
    data = json.loads(out)
    assert code == 0 and data["added"] >= 40 and data["skipped"] == 0
    assert data["queries"]["倒排索引"]["hits"][0]["id"] == "inverted-index"
    from zhisou.cli.demo import semantic_installed

    assert data["semantic"] is semantic_installed()
    if data["semantic"]:
        # No note says "解码更快" or "大模型"; the one on speculative sampling answers it (BM25 #2,
        # semantic #5 on notes whose similarities all lie within 0.87 ± 0.01: first by the default
        # fusion of scores, second by rank fusion).
        assert data["hybrid_queries"]["怎么让大模型解码更快"]["hits"][0]["id"] == "speculative-decoding"
        gpu = data["hybrid_queries"]["why are my GPU training runs out of memory"]["hits"]
        assert gpu[0]["id"] == "gradient-checkpointing"
        code, out, _ = invoke("search", "-i", str(tmp_path / "demo"), "--mode", "semantic", "大模型推理加速", "--json")
        assert code == 0 and json.loads(out)["hits"][0]["id"] == "speculative-decoding"
    code, out, _ = invoke("demo", "-i", str(tmp_path / "plain"), "--no-semantic", "--json")
    assert json.loads(out)["semantic"] is False and not json.loads(out)["hybrid_queries"]
    code, _, err = invoke("search", "-i", str(tmp_path / "plain"), "--mode", "hybrid", "rank")
    assert code == 2 and "needs an index with vectors" in err


def test_serve_refuses_bad_setups_in_one_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ZHISOU_TOKEN", raising=False)
    code, _, err = invoke("serve", "-i", str(tmp_path / "nowhere"))
    assert code == 3 and "no zhisou index at" in err
    index = str(tmp_path / "ix")
    invoke("init", index)
    code, _, err = invoke("serve", "-i", index, "--host", "0.0.0.0")
    assert code == 2 and "without a token" in err and "Traceback" not in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        code, _, err = invoke("serve", "-i", index, "--port", port)
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err


def test_demo_and_init_never_destroy_what_they_did_not_create(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    code, _, _ = invoke("init", str(mine))
    assert code == 0
    (mine / "notes.md").write_text("my notes")
    code, _, err = invoke("demo", "-i", str(mine))
    assert code == 3 and "already exists" in err and "--overwrite" in err
    assert (mine / "notes.md").read_text() == "my notes"
    demo = tmp_path / "demo"
    assert invoke("demo", "-i", str(demo), "--json")[0] == 0
    assert invoke("demo", "-i", str(demo), "--json")[0] == 0  # its own index: rebuilt without asking
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "seg_000000.doc").write_text("a user's file")
    code, _, err = invoke("init", str(folder))
    assert code == 3 and "not empty" in err
    assert invoke("init", str(folder), "--overwrite")[0] == 0
    assert (folder / "seg_000000.doc").read_text() == "a user's file"


def test_every_command_lists_its_summary_as_one_line() -> None:
    """A command list shows the first paragraph of each command's help with its line breaks
    (typer's rich mode): a summary written over two lines reads as a sentence broken mid-way."""
    import typer.main
    from typer.core import TyperGroup

    def commands(group: TyperGroup, path: str) -> list[tuple[str, Any]]:
        found: list[tuple[str, Any]] = []
        for name, command in group.commands.items():
            found.append((f"{path} {name}", command))
            if isinstance(command, TyperGroup):
                found += commands(command, f"{path} {name}")
        return found

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    listed = commands(root, "zhisou")
    assert len(listed) > 20
    for name, command in listed:
        summary = (command.short_help or command.help or "").strip().split("\n\n")[0]
        assert summary and "\n" not in summary, f"{name}: {summary!r}"
