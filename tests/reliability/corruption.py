"""Corruption campaign: damage every file a commit references and check that zhisou notices.

For each file × damage (truncate, flip a byte, zero-fill a range, swap in another segment's
file of the same kind), a copy of a small index is damaged and probed in a child process:
open, the reference queries, and ``check_index`` (what ``zhisou check`` runs). Each case ends as

* ``detected`` — ``CorruptIndexError`` naming the damaged file, from open or a search;
* ``harmless`` — every answer equals the intact index's (only ``verify`` can tell);
* ``wrong`` — a different answer and no error (a failure);
* ``crash`` — the child died or raised anything else (a failure).

``zhisou check`` must name the file in every case. Run long: ``python -m tests.reliability.corruption
--cases 2000`` (``--quick`` sets ZHISOU_VERIFY_ON_OPEN_MB=0: no checksum on open, only the
structural and bound checks, where ``wrong`` answers are possible and counted).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

KINDS = ("truncate", "flip", "zero", "swap")
QUERIES = (
    "倒排索引",
    "ranking bm25",
    '"learning to rank"',
    "索",
    "spark OR 训练",
    "tags:ranking",
    "index*",
    "rank -fusion",
)

PROBE = r"""
import json, sys
from pathlib import Path
from zhisou import Index
from zhisou.errors import CorruptIndexError
from zhisou.index.check import check_index
QUERIES = json.loads(sys.argv[1])

def answers(index):
    out = {}
    for query in QUERIES:
        for strategy in ("auto", "exhaustive", "blockmax"):
            result = index.search(query, size=20, strategy=strategy)
            out[f"{strategy}:{query}"] = [[h.id, round(h.score, 6), h.doc] for h in result.hits] + [result.total]
    searcher = index.searcher()
    facets = searcher.facets(searcher.reader.live, ["tags"])
    out["facets"] = {k: [[f.value, f.count] for f in v] for k, v in facets.items()}
    out["docs"] = sorted(searcher.reader.all_doc_ids())
    return out

for line in sys.stdin:
    case = json.loads(line)
    print(json.dumps({"start": case["id"]}), flush=True)
    outcome = {"id": case["id"]}
    try:
        index = Index.open(case["dir"])
        outcome["answers"] = answers(index)
    except CorruptIndexError as error:
        outcome["detected"] = str(error)
    problems = check_index(Path(case["dir"])).problems  # what `zhisou check` reports
    outcome["check"] = "\n".join(problems) or None
    print(json.dumps(outcome, ensure_ascii=False), flush=True)
"""


def build_index(directory: Path) -> None:
    """Three segments with deletes (so .del files exist), Chinese and English, tags and dates."""
    from tests.conftest import SMALL_CORPUS
    from zhisou import Index

    index = Index.create(directory)
    for copy in range(3):
        index.add({**doc, "id": f"{doc['id']}{copy}"} for doc in SMALL_CORPUS)
        index.commit()
    index.delete(["a1", "c2", "h0"])
    index.commit()
    index.close()


def damage(path: Path, kind: str, rng: random.Random, others: list[Path]) -> str:
    """Damage ``path`` in place; returns a description. ``others``: same-kind files of other segments."""
    data = bytearray(path.read_bytes())
    if kind == "truncate":
        cut = rng.randrange(0, max(len(data), 1))
        path.write_bytes(bytes(data[:cut]))
        return f"truncated to {cut} of {len(data)} bytes"
    if kind == "flip":
        at = rng.randrange(len(data))
        bit = 1 << rng.randrange(8)
        data[at] ^= bit
        path.write_bytes(bytes(data))
        return f"flipped bit {bit} of byte {at}"
    if kind == "zero":
        start = rng.randrange(len(data))
        end = min(len(data), start + rng.choice((1, 8, 64, len(data))))
        if not any(data[start:end]):
            data[start] ^= 0x5A  # already zero: zero-filling changes nothing, damage it another way
        else:
            data[start:end] = bytes(end - start)
        path.write_bytes(bytes(data))
        return f"zeroed bytes {start}-{end}"
    if kind == "swap":
        other = rng.choice(others)
        shutil.copyfile(other, path)
        return f"replaced by {other.name}"
    raise ValueError(kind)


def referenced_files(directory: Path) -> list[Path]:
    from zhisou.index.manifest import load_latest

    return sorted(directory / name for name in load_latest(directory).referenced_files())


def plan_cases(source: Path, work: Path, count: int | None, seed: int) -> list[dict[str, Any]]:
    """Every file × kind (sampled down to ``count`` when given), each on its own damaged copy."""
    rng = random.Random(seed)
    files = referenced_files(source)
    pairs = [(f, k) for f in files for k in KINDS]
    if count is not None and count < len(pairs):
        pairs = rng.sample(pairs, count)
    elif count is not None:
        pairs = [rng.choice(pairs) for _ in range(count)]
    cases = []
    for number, (file, kind) in enumerate(pairs):
        suffix = file.name.rsplit(".", 1)[-1]
        others = [f for f in files if f != file and f.name.rsplit(".", 1)[-1] == suffix]
        if kind == "swap" and not others:
            kind = "flip"  # the manifest has no sibling of its kind
        copy = work / f"case{number}"
        shutil.copytree(source, copy)
        target = copy / file.name
        what = damage(target, kind, rng, [copy / o.name for o in others])
        cases.append({"id": number, "dir": str(copy), "file": file.name, "kind": kind, "what": what})
    return cases


def run_probes(cases: list[dict[str, Any]], env: dict[str, str]) -> dict[int, dict[str, Any]]:
    """Feed the cases to child processes; a child that dies marks its current case a crash and
    a new child goes on with the rest."""
    results: dict[int, dict[str, Any]] = {}
    pending = list(cases)
    while pending:
        child = subprocess.run(
            [sys.executable, "-c", PROBE, json.dumps(QUERIES)],
            input="".join(json.dumps(c) + "\n" for c in pending),
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        started = None
        for line in child.stdout.splitlines():
            message = json.loads(line)
            if "start" in message:
                started = message["start"]
            else:
                results[message["id"]] = message
                started = None
        if started is not None:
            tail = (child.stderr.strip().splitlines() or [f"exit code {child.returncode}"])[-1]
            results[started] = {"id": started, "crash": f"exit {child.returncode}: {tail}"}
        pending = [c for c in pending if c["id"] not in results]
        if child.returncode != 0 and started is None and pending:
            raise RuntimeError(f"probe failed before any case: {child.stderr[-2000:]}")
    return results


def classify(case: dict[str, Any], result: dict[str, Any], expected: dict[str, Any]) -> str:
    if "crash" in result:
        return "crash"
    if "detected" in result:
        return "detected" if case["file"] in result["detected"] else "detected-wrong-name"
    return "harmless" if result["answers"] == expected else "wrong"


def campaign(count: int | None, seed: int, quick: bool, work: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["ZHISOU_VERIFY_ON_OPEN_MB"] = "0" if quick else "128"
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    source = work / "intact"
    build_index(source)
    expected = run_probes([{"id": -1, "dir": str(source)}], env)[-1]
    if "answers" not in expected or expected.get("check"):
        raise RuntimeError(f"the intact index does not probe clean: {expected}")
    cases = plan_cases(source, work, count, seed)
    started = time.perf_counter()
    results = run_probes(cases, env)
    outcomes: Counter[str] = Counter()
    check_named = 0
    failures = []
    for case in cases:
        result = results[case["id"]]
        outcome = classify(case, result, expected["answers"])
        outcomes[outcome] += 1
        named = bool(result.get("check")) and case["file"] in result["check"]
        check_named += named
        if outcome in ("crash", "wrong", "detected-wrong-name") or not named:
            failures.append({**case, **{k: v for k, v in result.items() if k != "answers"}, "outcome": outcome})
    return {
        "cases": len(cases),
        "seed": seed,
        "mode": "structural checks only" if quick else "checksums on open",
        "outcomes": dict(outcomes),
        "check_named_file": check_named,
        "seconds": round(time.perf_counter() - started, 1),
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=None, help="sample this many cases (default: every file × kind)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="no checksums on open (ZHISOU_VERIFY_ON_OPEN_MB=0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        report = campaign(args.cases, args.seed, args.quick, Path(work))
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
