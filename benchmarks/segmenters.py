"""Compare jieba-family segmenters in search mode: speed and agreement with jieba.

    python benchmarks/segmenters.py [CORPUS.jsonl | NOTES_DIR]   (default: examples/notes)

Agreement is measured per document: the share of documents whose (word, start, end) tokens are
identical to jieba's, and the token-level F1 against jieba. Segmenters that are not installed
are reported as skipped (pip install jieba rjieba jieba-fast-dat).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

Tokens = list[tuple[str, int, int]]


def load_texts(source: Path) -> list[str]:
    if source.is_dir():
        return [p.read_text(encoding="utf-8") for p in sorted(source.rglob("*.md"))]
    with open(source, encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def segmenters() -> dict[str, Callable[[str], Tokens]]:
    found: dict[str, Callable[[str], Tokens]] = {}
    try:
        jieba = importlib.import_module("jieba")
        jieba.setLogLevel(60)
        jieba.initialize()
        found["jieba"] = lambda t: [tuple(x) for x in jieba.tokenize(t, mode="search")]  # type: ignore[misc]
    except ImportError:
        pass
    try:
        rjieba = importlib.import_module("rjieba")
        instance = rjieba.Jieba()
        found["rjieba"] = lambda t: [tuple(x) for x in instance.tokenize(t, "search")]  # type: ignore[misc]
    except ImportError:
        pass
    try:
        fast = importlib.import_module("jieba_fast_dat")
        fast.setLogLevel(60)
        fast.initialize()
        found["jieba-fast-dat"] = lambda t: [tuple(x) for x in fast.tokenize(t, mode="search")]  # type: ignore[misc]
    except ImportError:
        pass
    return found


def f1(reference: Tokens, candidate: Tokens) -> float:
    common = sum((Counter(reference) & Counter(candidate)).values())
    if not reference and not candidate:
        return 1.0
    precision = common / len(candidate) if candidate else 0.0
    recall = common / len(reference) if reference else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "examples" / "notes"
    if not source.exists():
        print(f"skipped: {source} does not exist")
        return 0
    texts = load_texts(source)
    chars = sum(len(t) for t in texts)
    found = segmenters()
    outputs: dict[str, list[Tokens]] = {}
    print(f"{len(texts):,} documents, {chars:,} characters from {source}")
    print(f"{'segmenter':<16}{'M chars/s':>10}{'identical docs':>16}{'token F1':>10}")
    for name, segment in found.items():
        segment(texts[0])  # warm up (dictionary load)
        started = time.perf_counter()
        outputs[name] = [segment(t) for t in texts]
        seconds = time.perf_counter() - started
        reference = outputs.get("jieba")
        if reference is None:
            same, score = "n/a", "n/a"
        else:
            same = f"{sum(a == b for a, b in zip(reference, outputs[name])) / len(texts):.1%}"
            score = f"{sum(f1(a, b) for a, b in zip(reference, outputs[name])) / len(texts):.3f}"
        print(f"{name:<16}{chars / seconds / 1e6:>10.2f}{same:>16}{score:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
