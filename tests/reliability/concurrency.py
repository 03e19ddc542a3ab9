"""Concurrency campaign: readers in threads and in processes against a writer that commits,
merges and optimizes, every answer checked against the commit it came from.

The writer records in each commit's ``user_data`` the digest and size of the document set it
publishes. A reader takes a snapshot (a fresh ``Index.open`` in the reader processes, which
so open while commits delete old files; ``refresh`` on a long-lived handle in the threads),
reads that commit's expectations and checks, on the same snapshot: the document count, that
a word every document holds matches all of them (compiled and general paths), that a
document's own version word finds exactly it, and the digest of every (id, version) stored.

    python -m tests.reliability.concurrency --seconds 300
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

WRITER = r"""
import hashlib, json, random, sys, time
from zhisou.index.merge import TieredMergePolicy
from zhisou.index.writer import IndexWriter

directory, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
writer = IndexWriter(directory, ram_budget_mb=0.05, merge_policy=TieredMergePolicy(factor=3, floor_docs=8))
docs = {}
def digest():
    return hashlib.sha256(json.dumps(sorted(docs.items())).encode()).hexdigest()
deadline = time.monotonic() + seconds
commits = 0
while time.monotonic() < deadline:
    for _ in range(rng.randint(1, 30)):
        if rng.random() < 0.8 or not docs:
            doc_id = f"d{rng.randint(0, 300)}"
            version = rng.randint(0, 10**9)
            body = f"common 共同 v{version} " * rng.randint(1, 5)
            writer.add({"id": doc_id, "title": f"note {doc_id}", "body": body, "version": version})
            docs[doc_id] = version
        else:
            doc_id = rng.choice(sorted(docs))
            writer.delete([doc_id])
            docs.pop(doc_id)
    writer.commit(user_data={"digest": digest(), "count": len(docs)})
    commits += 1
    if rng.random() < 0.05:
        writer.optimize()  # publishes twice; user_data carries over
        commits += 2
print(json.dumps({"commits": commits}))
"""

READER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
from tests.reliability.concurrency import verify
from zhisou import Index
directory, seconds = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + seconds
checked, generations, errors = 0, set(), []
while time.monotonic() < deadline:
    try:
        index = Index.open(directory)
        generations.add(verify(index.searcher()))
        checked += 1
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
print(json.dumps({"checked": checked, "generations": len(generations), "errors": errors[:20]}))
"""


def digest(docs: dict[str, int]) -> str:
    return hashlib.sha256(json.dumps(sorted(docs.items())).encode()).hexdigest()


def verify(searcher: Any) -> int:
    """Check one snapshot against its commit's expectations; returns its generation."""
    reader = searcher.reader
    expected = reader.manifest.user_data
    if "digest" not in expected:
        return reader.generation  # the empty index before the first commit
    docs = {}
    for number in range(reader.max_doc):
        if reader.live[number]:
            stored = reader.stored(number)
            docs[stored["id"]] = stored["version"]
    problems = []
    if reader.doc_count != expected["count"] or len(docs) != expected["count"]:
        problems.append(f"{reader.doc_count} documents, commit says {expected['count']}")
    if digest(docs) != expected["digest"]:
        problems.append("stored documents differ from the commit's")
    for strategy in ("auto", "exhaustive"):
        total = searcher.search("common", size=1, strategy=strategy).total
        if total != len(docs):
            problems.append(f"'common' ({strategy}) matched {total} of {len(docs)}")
    if docs:
        doc_id = sorted(docs)[reader.generation % len(docs)]
        found = searcher.search(f"v{docs[doc_id]}", size=5).ids
        if found != [doc_id]:
            problems.append(f"v{docs[doc_id]} found {found}, expected [{doc_id}]")
    if problems:
        raise AssertionError(f"generation {reader.generation}: " + "; ".join(problems))
    return reader.generation


def campaign(seconds: float, threads: int, processes: int, seed: int, work: Path) -> dict[str, Any]:
    from zhisou import Index

    directory = work / "ix"
    Index.create(directory).close()
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    started = time.perf_counter()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(directory), str(seconds), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(directory), str(seconds), root],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    thread_results: list[dict[str, Any]] = []

    def in_thread() -> None:
        index = Index.open(directory)
        checked, generations, errors = 0, set(), []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                index.refresh()
                generations.add(verify(index.searcher()))
                checked += 1
            except Exception as error:  # the finding is any failure at all
                errors.append(f"{type(error).__name__}: {error}")
        thread_results.append({"checked": checked, "generations": len(generations), "errors": errors[:20]})

    workers = [threading.Thread(target=in_thread) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    written, writer_error = writer.communicate()
    process_results = []
    for reader in readers:
        out, error = reader.communicate()
        process_results.append(json.loads(out) if reader.returncode == 0 else {"checked": 0, "errors": [error[-500:]]})
    if writer.returncode != 0:
        raise RuntimeError(f"writer failed: {writer_error[-2000:]}")
    # Finally the last commit, checked once more on a fresh open.
    final = verify(Index.open(directory).searcher())
    results = thread_results + process_results
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "writer_commits": json.loads(written)["commits"],
        "final_generation": final,
        "reader_threads": threads,
        "reader_processes": processes,
        "verified_searches": sum(r["checked"] for r in results),
        "generations_seen": max((r.get("generations", 0) for r in results), default=0),
        "errors": [e for r in results for e in r["errors"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        report = campaign(args.seconds, args.threads, args.processes, args.seed, Path(work))
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
