"""Crash campaign: SIGKILL a writer at random moments and check that no commit is ever lost.

A child process opens the index, reads the committed documents, and applies seeded random
operations — add, replace, delete, flush, commit (with merges: a small merge policy merges
often), optimize — keeping a model of what the next commit must hold. Before each commit it
appends the commit's expected generation and document-set digest to a journal (fsynced); after
it, a "done" line. The parent kills it after a random delay, then checks:

* the index opens, and ``verify`` (``zhisou check``) passes;
* its generation and exact (id, version) set are the last done commit's — or the one in
  flight when the kill landed (written atomically, so it is all or nothing);
* a new writer takes the lock and commits.

Run long: ``python -m tests.reliability.crash --kills 500``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

CHILD = r"""
import hashlib, json, os, random, sys
from zhisou import Index
from zhisou.index.merge import TieredMergePolicy

directory, journal_path, seed, phase_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
phase_fd = os.open(phase_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
def phase(name):  # what the writer is doing, for the report (no fsync: the kernel keeps it)
    os.pwrite(phase_fd, name.ljust(12).encode(), 0)
index = Index.open(directory, ram_budget_mb=0.02)
writer = index.writer
writer.merge_policy = TieredMergePolicy(factor=3, floor_docs=8, max_deleted_ratio=0.3)
searcher = index.searcher()
model = {}
for doc_id in searcher.reader.all_doc_ids():
    if searcher.reader.find(doc_id) is not None:
        model[doc_id] = searcher.get(doc_id)["version"]
generation = writer.manifest.generation

def digest(docs):
    return hashlib.sha256(json.dumps(sorted(docs.items())).encode()).hexdigest()

journal = open(journal_path, "a")
def note(record):
    journal.write(json.dumps(record) + "\n"); journal.flush(); os.fsync(journal.fileno())

print("ready", flush=True)
while True:
    roll = rng.random()
    if roll < 0.55:
        phase("add")
        for _ in range(rng.randint(1, 40)):
            doc_id = f"d{rng.randint(0, 400)}"
            version = rng.randint(0, 10**9)
            body = f"崩溃 crash test v{version} " * rng.randint(1, 30)
            index.add({"id": doc_id, "title": f"note {doc_id}", "body": body, "version": version})
            model[doc_id] = version
    elif roll < 0.75:
        ids = [f"d{rng.randint(0, 400)}" for _ in range(rng.randint(1, 15))]
        phase("delete")
        index.delete(ids)
        for doc_id in ids:
            model.pop(doc_id, None)
    elif roll < 0.82:
        phase("flush")
        writer.flush()
    elif roll < 0.97:  # a commit also runs the merges the policy picks
        note({"intent": generation + 1, "digest": digest(model), "count": len(model)})
        phase("commit")
        generation = index.commit()
        note({"done": generation})
    else:
        # optimize commits first, then publishes the merged segment: up to two generations
        note({"intent": generation + 1, "digest": digest(model), "count": len(model), "optimize": True})
        note({"intent": generation + 2, "digest": digest(model), "count": len(model), "optimize": True})
        phase("optimize")
        generation = index.optimize()
        note({"done": generation})
"""


def digest(docs: dict[str, int]) -> str:
    return hashlib.sha256(json.dumps(sorted(docs.items())).encode()).hexdigest()


def committed_state(directory: Path) -> tuple[int, dict[str, int]]:
    from zhisou import Index

    index = Index.open(directory)
    index.verify()
    reader = index.searcher().reader
    docs = {}
    for number in range(reader.max_doc):
        if reader.live[number]:
            stored = reader.stored(number)
            docs[stored["id"]] = stored["version"]
    return reader.generation, docs


def acceptable(journal: Path) -> dict[int, str]:
    """generation → digest of every commit the journal says was (or may have been) made."""
    states = {}
    last_done = 0
    for line in journal.read_text().splitlines():
        record = json.loads(line)
        if "intent" in record:
            states[record["intent"]] = record["digest"]
        else:
            last_done = record["done"]
    # Only the newest done commit, or a newer one in flight, may be what the index shows.
    return {generation: d for generation, d in states.items() if generation >= last_done}


def campaign(kills: int, seed: int, work: Path, max_delay: float = 1.5) -> dict[str, Any]:
    from zhisou import Index

    directory = work / "ix"
    journal = work / "journal.jsonl"
    Index.create(directory).close()
    journal.write_text(json.dumps({"intent": 0, "digest": digest({})}) + "\n" + json.dumps({"done": 0}) + "\n")
    rng = random.Random(seed)
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    outcomes: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    phase_file = work / "phase"
    failures = []
    generations = []
    started = time.perf_counter()
    for number in range(kills):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(directory), str(journal), str(seed * 100_003 + number), str(phase_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert child.stdout is not None
        ready = child.stdout.readline().strip()
        if ready != "ready":
            _, error = child.communicate()
            failures.append({"kill": number, "error": f"writer failed to start: {error[-500:]}"})
            outcomes["writer failed to start"] += 1
            break
        time.sleep(rng.uniform(0, max_delay))
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
        phases[phase_file.read_text().strip() or "opening"] += 1
        allowed = acceptable(journal)
        try:
            generation, docs = committed_state(directory)
        except Exception as error:  # any failure to open is the finding
            failures.append({"kill": number, "error": f"{type(error).__name__}: {error}"})
            outcomes["unopenable"] += 1
            break
        if allowed.get(generation) != digest(docs):
            failures.append({"kill": number, "generation": generation, "allowed": sorted(allowed), "count": len(docs)})
            outcomes["lost or wrong commit"] += 1
            break
        outcomes["survived"] += 1
        generations.append(generation)
        # The journal restarts from what the index holds (the in-flight commit may have landed).
        journal.write_text(
            json.dumps({"intent": generation, "digest": digest(docs)}) + "\n" + json.dumps({"done": generation}) + "\n"
        )
    # A new writer takes the lock and proceeds.
    index = Index.open(directory)
    index.add({"id": "after", "body": "after the last kill", "version": 0})
    index.commit()
    proceeds = index.get("after") is not None
    index.close()
    return {
        "kills": kills,
        "seed": seed,
        "outcomes": dict(outcomes),
        "killed_during": dict(phases),
        "commits_reached": max(generations, default=0),
        "writer_proceeds": proceeds,
        "seconds": round(time.perf_counter() - started, 1),
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=1.5, help="seconds; kills land uniformly before it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        report = campaign(args.kills, args.seed, Path(work), args.max_delay)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
