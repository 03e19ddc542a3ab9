"""Coverage-guided fuzzing (atheris, libFuzzer's engine) of everything that reads user input:
the query parser and the searcher behind it, the analyzers, every file loader, the document
preparer and the per-index dictionary files.

Each target states what it may raise (a zhisou error for bad input); anything else, a crash or
an input that runs longer than ``-timeout`` seconds is a finding (libFuzzer saves the input).

    python -m tests.reliability.fuzz --runs 250000          # every target, a summary as JSON
    python -m tests.reliability.fuzz --target parser -- -runs=1000 -timeout=1   # one, raw libFuzzer

With a hang limit of 1 s per input (``-timeout=1``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS = ("parser", "search", "analyzers", "loaders", "resources")
EXTENSIONS = (".jsonl", ".json", ".csv", ".md", ".html", ".txt")
FIELDS_TEXT = ("title", "body", "tags", "date", "views", "id", "url", "nope")


def _run_target(name: str, libfuzzer_args: list[str]) -> None:
    import atheris

    # The numba kernels' modules stay uninstrumented: numba cannot compile atheris's probes.
    kernel_modules = [
        "zhisou.search.kernels",
        "zhisou.index.termdict",
        "zhisou.index.postings",
        "zhisou.compiled",
        "zhisou.suggest.table",
    ]
    with atheris.instrument_imports(include=["zhisou"], exclude=kernel_modules):
        from zhisou import Index, Schema
        from zhisou.analysis import AnalysisResources, AnalyzerRegistry
        from zhisou.analysis.tokenizers import parse_user_dictionary
        from zhisou.errors import DocumentError, QuerySyntaxError, SchemaError, ZhisouError
        from zhisou.index.documents import DocumentPreparer
        from zhisou.ingest.loaders import Record, load
        from zhisou.schema import FieldSpec
        from zhisou.search.parser import FieldInfo, parse_query

    fields = {
        "title": FieldInfo("text"),
        "body": FieldInfo("text"),
        "tags": FieldInfo("keyword"),
        "date": FieldInfo("date"),
        "views": FieldInfo("number"),
        "id": FieldInfo("keyword"),
    }
    registry = AnalyzerRegistry()
    schema = Schema(
        (
            FieldSpec("title", "text", boost=2.0),
            FieldSpec("body", "text"),
            FieldSpec("tags", "keyword"),
            FieldSpec("date", "date"),
            FieldSpec("views", "number"),
        )
    )
    preparer = DocumentPreparer(schema, registry)
    scratch = Path(tempfile.mkdtemp(prefix="zhisou-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    index = None
    if name == "search":
        from tests.conftest import SMALL_CORPUS

        index = Index.create(scratch / "ix", schema)
        index.add(dict(doc, views=i) for i, doc in enumerate(SMALL_CORPUS))
        index.commit()
        # Every path a fuzzed search can take, once, before the clock starts: with a cold numba
        # cache the first call of a kernel compiles it (seconds), which libFuzzer's 1 s limit
        # would report as a hang of whichever input got there first.
        for strategy in ("auto", "exhaustive", "blockmax", "maxscore"):
            for sort in (None, "-date", "views"):
                for text in ("倒排索引", "ranking 搜索 -索", '"倒排 索引"', "索*", "title:ranking OR 搜索", ""):
                    for plain in (False, True):
                        index.search(text, strategy=strategy, sort=sort, plain=plain, filters=["date:[2020 TO *]"])
                        index.search(text, strategy=strategy, sort=sort, plain=plain, size=5)

    def text_of(data: atheris.FuzzedDataProvider, limit: int) -> str:
        """Mostly query-like text: operators, field names, CJK and ASCII pieces, any Unicode."""
        pieces = []
        while data.remaining_bytes() and len(pieces) < limit:
            choice = data.ConsumeIntInRange(0, 5)
            if choice == 0:
                pieces.append(data.PickValueInList(list('()"+-*:[]{}<>=\\ ~^/')))
            elif choice == 1:
                pieces.append(
                    data.PickValueInList(["AND", "OR", "NOT", "TO", " ", "*", *[f + ":" for f in FIELDS_TEXT]])
                )
            elif choice == 2:
                pieces.append(
                    data.PickValueInList(["倒排索引", "搜索", "索", "檢索", "ＢＭ２５", "ranking", "2024-01", "12.5"])
                )
            else:
                pieces.append(data.ConsumeUnicode(data.ConsumeIntInRange(0, 8)))
        return "".join(pieces)

    def parser(raw: bytes) -> None:
        data = atheris.FuzzedDataProvider(raw)
        operator = "and" if data.ConsumeBool() else "or"
        text = text_of(data, 64)
        try:
            parse_query(text, fields, default_operator=operator)  # type: ignore[arg-type]
        except QuerySyntaxError as error:
            if not 0 <= error.position <= max(len(text), 10_000):
                raise AssertionError(f"position {error.position} outside the query") from error

    def search(raw: bytes) -> None:
        data = atheris.FuzzedDataProvider(raw)
        strategy = data.PickValueInList(["auto", "exhaustive", "blockmax", "maxscore"])
        sort = data.PickValueInList([None, "-date", "views"])
        plain = data.ConsumeBool()
        filters = [text_of(data, 6)] if data.ConsumeBool() else None
        text = text_of(data, 24)
        assert index is not None
        try:
            result = index.search(text, strategy=strategy, sort=sort, plain=plain, filters=filters, size=5)
        except ZhisouError:
            return
        assert result.total >= len(result.hits)

    def analyzers(raw: bytes) -> None:
        data = atheris.FuzzedDataProvider(raw)
        name = data.PickValueInList(["zh", "en", "keyword", "exact"])
        text = data.ConsumeUnicode(data.remaining_bytes())
        analyzer = registry.get(name)
        for token in analyzer.analyze(text, for_query=data.ConsumeBool() if data.remaining_bytes() else False):
            assert 0 <= token.start <= token.end <= len(text), (token, len(text))
        analyzer.stream(text)

    def loaders(raw: bytes) -> None:
        data = atheris.FuzzedDataProvider(raw)
        extension = data.PickValueInList(list(EXTENSIONS))
        path = scratch / f"input{extension}"
        path.write_bytes(data.ConsumeBytes(data.remaining_bytes()))
        for item in load(path):
            if isinstance(item, Record):
                with contextlib.suppress(DocumentError):
                    preparer.prepare(item.doc)

    segmenter = registry._segmenter_instance()  # shared: loading a dictionary takes 15 ms

    def resources(raw: bytes) -> None:
        """userdict.txt and synonyms.txt as a user may write them."""
        text = atheris.FuzzedDataProvider(raw).ConsumeUnicode(len(raw))
        try:
            words = parse_user_dictionary(text, "userdict.txt")
        except SchemaError:
            return
        jieba = segmenter._loaded()
        for word, freq, tag in words[:20]:
            jieba.add_word(word, freq, tag)
        lines = tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
        synonyms = AnalyzerRegistry(AnalysisResources((), lines[:50])).get("en")
        synonyms.analyze(text[:200], for_query=True)
        registry.get("zh").analyze(text[:200])

    targets: dict[str, Any] = {
        "parser": parser,
        "search": search,
        "analyzers": analyzers,
        "loaders": loaders,
        "resources": resources,
    }
    atheris.Setup([sys.argv[0], *libfuzzer_args], targets[name])
    atheris.Fuzz()


def campaign(runs: int, timeout: int, work: Path, targets: tuple[str, ...] = TARGETS) -> dict[str, Any]:
    """Every target for ``runs`` executions in its own process; executions, time and findings."""
    report: dict[str, Any] = {"targets": {}, "total_runs": 0, "findings": 0}
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    for name in targets:
        corpus = work / f"corpus-{name}"
        corpus.mkdir(parents=True, exist_ok=True)
        artifacts = work / f"findings-{name}"
        artifacts.mkdir(exist_ok=True)
        started = time.perf_counter()
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.reliability.fuzz",
                "--target",
                name,
                "--",
                f"-runs={runs}",
                f"-timeout={timeout}",
                "-rss_limit_mb=4096",
                "-max_len=4096",
                f"-artifact_prefix={artifacts}/",
                "-print_final_stats=1",
                str(corpus),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        done = re.search(r"Done (\d+) runs in (\d+) second", child.stderr)
        executed = (
            int(done.group(1))
            if done
            else int(m.group(1))
            if (m := re.search(r"stat::number_of_executed_units:\s*(\d+)", child.stderr))
            else 0
        )
        findings = sorted(p.name for p in artifacts.iterdir())
        report["targets"][name] = {
            "runs": executed,
            "seconds": round(time.perf_counter() - started, 1),
            "exit": child.returncode,
            "findings": findings,
            "coverage": (re.findall(r"cov: (\d+)", child.stderr) or ["?"])[-1],
            "tail": child.stderr.strip().splitlines()[-12:] if child.returncode else [],
        }
        report["total_runs"] += executed
        report["findings"] += len(findings) + (child.returncode != 0 and not findings)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", choices=TARGETS, help="run one target under libFuzzer (arguments after --)")
    parser.add_argument("--runs", type=int, default=250_000, help="executions per target (the campaign)")
    parser.add_argument("--timeout", type=int, default=1, help="seconds one input may take")
    parser.add_argument("--work", type=Path, default=None, help="keep corpora and findings here")
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args()
    if args.target:
        _run_target(args.target, args.rest)
        return
    if args.work is not None:
        print(json.dumps(campaign(args.runs, args.timeout, args.work), ensure_ascii=False, indent=1))
        return
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps(campaign(args.runs, args.timeout, Path(work)), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
