"""Autocomplete latency per keystroke and the time to build what it answers from.

    python benchmarks/suggest.py                        # 100k titles + 100k logged queries
    python benchmarks/suggest.py --titles 10000 --queries 10000 --json

A generated index of ``--titles`` documents (a title of two to four words, Chinese or English,
and a tag each) and a generated search log of ``--queries`` distinct queries, each searched by
three to six clients (so every one passes the privacy threshold). Then 300 queries drawn from
the titles and the log are typed one character at a time — Chinese as typed, and the same
queries as full pinyin and as initials — and every prefix is completed (size 8): p50 / p99
per keystroke over all of them, after one untimed pass.

Build times: "table" is making the index's suggestion tables from its documents and terms, as
the writer does for each segment it flushes or merges (timed here apart, over the built index);
"open" is the first completion after opening the index (and one search, which loads numba)
before any log exists (the tables are memory-mapped: nothing is built); "log" is the first
completion once the log exists (reading it and sorting its queries' key table, which a server
then redoes in the background when the log changes); "restart" the first completion of a new
process when the log has not changed since: it answers from the table the last reading stored,
and reads the log in the background.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

SYLLABLES = [a + b for a in "bcdfghjklmnpqrstwxyz" for b in ("a", "e", "i", "o", "u", "an", "en", "ing", "ao")]


def chinese_words(rng: random.Random, count: int) -> list[str]:
    """Two- and three-character words over the 2,500 most common Han characters' block."""
    chars = [chr(code) for code in range(0x4E00, 0x4E00 + 2500)]
    return ["".join(rng.choice(chars) for _ in range(rng.choice((2, 2, 3)))) for _ in range(count)]


def english_words(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(count)]


def phrase(rng: random.Random, zh: list[str], en: list[str]) -> str:
    words = zh if rng.random() < 0.6 else en
    return (" " if words is en else "").join(rng.choice(words) for _ in range(rng.randint(2, 4)))


def build(directory: Path, titles: int, queries: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """The index (committed), and the log's queries (``write_log`` writes them)."""
    from zhisou import Index, Schema

    rng = random.Random(seed)
    zh, en = chinese_words(rng, 20_000), english_words(rng, 20_000)
    tags = [rng.choice(zh) for _ in range(500)]
    index = Index.create(directory / "index", Schema.default())
    title_texts = [phrase(rng, zh, en) for _ in range(titles)]
    index.add({"id": str(n), "title": t, "body": t, "tags": [rng.choice(tags)]} for n, t in enumerate(title_texts))
    index.commit()
    index.close()
    return title_texts, list(dict.fromkeys(phrase(rng, zh, en) for _ in range(queries)))


def write_log(directory: Path, logged: list[str], seed: int = 7) -> None:
    rng = random.Random(seed)
    now = time.time()
    logs = directory / "index" / "logs"
    logs.mkdir()
    today = time.strftime("%Y-%m-%d", time.gmtime(now))
    with open(logs / f"search-{today}.jsonl", "w", encoding="utf-8") as handle:
        for number, query in enumerate(logged):
            for client in range(rng.randint(3, 6)):
                event = {
                    "ts": now - rng.uniform(0, 30 * 86_400),
                    "event": "search",
                    "query_id": f"{number}-{client}",
                    "q": query,
                    "mode": "keyword",
                    "page": 1,
                    "shown": ["0"],
                    "client": f"c{client}",
                }
                handle.write(json.dumps(event, ensure_ascii=False) + "\n")


def table_seconds(index: object) -> float:
    """Time to make every segment's table again from its stored documents and terms."""
    from zhisou.suggest.phrases import SegmentPhrases, phrase_fields

    reader = index.searcher().reader  # type: ignore[attr-defined]
    fields = phrase_fields(reader.schema)
    started = time.perf_counter()
    for segment in reader.segments:
        saved = segment.optional
        segment.optional = {k: v for k, v in saved.items() if k != "sgt"}
        try:
            SegmentPhrases.of(segment, fields)
        finally:
            segment.optional = saved
    return time.perf_counter() - started


def typed_prefixes(texts: list[str]) -> list[str]:
    """Every prefix of each text as typed, and of its full pinyin and initials."""
    from zhisou.suggest.keys import completion_keys, normalize

    out: list[str] = []
    for text in texts:
        for key in completion_keys(normalize(text)):
            out += [key[:end] for end in range(1, min(len(key), 12) + 1)]
    return out


def measure(titles: int, queries: int, workdir: Path) -> dict[str, float]:
    from zhisou import Index

    started = time.perf_counter()
    title_texts, logged = build(workdir, titles, queries)
    setup_s = time.perf_counter() - started
    index = Index.open(workdir / "index")
    index.search(title_texts[0])  # loads the compiled kernels' runtime (numba), as a server's first search does
    started = time.perf_counter()
    index.suggest("a")
    open_s = time.perf_counter() - started
    table_s = table_seconds(index)
    index.close()
    write_log(workdir, logged)
    index = Index.open(workdir / "index")
    started = time.perf_counter()
    index.suggest("a")
    log_s = time.perf_counter() - started
    index.close()
    index = Index.open(workdir / "index")  # restarted, the log unchanged: the last reading's table is stored
    index.search(title_texts[0])
    started = time.perf_counter()
    index.suggest("a")
    restart_s = time.perf_counter() - started
    rng = random.Random(11)
    prefixes = typed_prefixes(rng.sample(title_texts, 150) + rng.sample(logged, 150))
    for prefix in prefixes:
        index.suggest(prefix)
    times = []
    for prefix in prefixes:
        started = time.perf_counter()
        index.suggest(prefix)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "titles": titles,
        "queries": len(logged),
        "entries": sum(len(c) for c in index.suggestions.completers(index.searcher().reader)),
        "keystrokes": len(times),
        "setup_s": setup_s,
        "table_s": table_s,
        "open_s": open_s,
        "log_s": log_s,
        "restart_s": restart_s,
        "p50_ms": statistics.median(times),
        "p99_ms": times[int(0.99 * (len(times) - 1))],
        "max_ms": times[-1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--titles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zhisou-suggest-") as workdir:
        result = measure(args.titles, args.queries, Path(workdir))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['titles']:,} titles + {result['queries']:,} logged queries = {result['entries']:,} suggestions; "
            f"tables {result['table_s']:.2f} s, first completion {result['open_s'] * 1000:.1f} ms without a log, "
            f"{result['log_s']:.2f} s reading the log, {result['restart_s'] * 1000:.1f} ms after a restart; "
            f"{result['keystrokes']:,} keystrokes: "
            f"p50 {result['p50_ms']:.3f} ms, p99 {result['p99_ms']:.3f} ms, max {result['max_ms']:.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
