"""Analyzers travel to other processes (Spark executors, indexing workers): pickled with their
resources, they analyze exactly as before; the dictionary and stemmer are rebuilt there."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from zhisou.analysis import AnalysisResources, AnalyzerRegistry

TEXT = "倒排索引是搜索引擎的核心 ranking LTR 檢索 ＢＭ２５"


def tokens(registry: AnalyzerRegistry, name: str) -> list[tuple[str, int, int, int]]:
    return [(t.text, t.start, t.end, t.position) for t in registry.get(name).analyze(TEXT, for_query=True)]


@pytest.mark.parametrize("name", ["zh", "en", "keyword", "exact"])
def test_a_pickled_registry_analyzes_alike(name: str) -> None:
    registry = AnalyzerRegistry(AnalysisResources((("搜索引擎的核心", 10, None),), ("ltr, learning to rank",)))
    before = tokens(registry, name)  # loads the dictionary first: pickling must drop it
    copy = pickle.loads(pickle.dumps(registry))
    assert tokens(copy, name) == before
    assert ("搜索引擎的核心", 5, 12, 5) in tokens(copy, "zh") or name != "zh"


def test_an_analyzer_pickled_into_another_process() -> None:
    registry = AnalyzerRegistry(AnalysisResources((("搜索引擎的核心", 10, None),), ()))
    expected = tokens(registry, "zh")
    script = (
        "import pickle, sys\n"
        "registry = pickle.loads(sys.stdin.buffer.read())\n"
        f"found = registry.get('zh').analyze({TEXT!r}, for_query=True)\n"
        "print(repr([(t.text, t.start, t.end, t.position) for t in found]))"
    )
    child = subprocess.run(
        [sys.executable, "-c", script], input=pickle.dumps(registry), capture_output=True, check=True
    )
    assert eval(child.stdout.decode()) == expected
