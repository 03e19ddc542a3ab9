"""Kill -9 a writer at random moments: the index must open on a whole commit every time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zhisou import Index

WRITER = """
import sys
from zhisou import Index
index = Index.open(sys.argv[1], ram_budget_mb=0.05)
batch = int(sys.argv[2])
for round_number in range(10_000):
    index.add({"id": f"{round_number}-{i}", "body": f"crash test 崩溃 {round_number} {i} " * 20} for i in range(batch))
    index.commit()
    print(round_number, flush=True)
"""


@pytest.mark.parametrize("delay", [0.8, 1.2, 1.7])
def test_kill_during_indexing_keeps_a_whole_commit(tmp_path: Path, delay: float) -> None:
    directory = tmp_path / "ix"
    Index.create(directory).close()
    batch = 37
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(directory), str(batch)], stdout=subprocess.PIPE, text=True
    )
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    index = Index.open(directory)
    assert len(index) % batch == 0  # only whole commits are visible
    index.verify()
    committed = len(index)
    index.add({"id": "after", "body": "after the crash"})
    index.commit()  # the next writer takes the lock and cleans up the dead writer's files
    assert len(index) == committed + 1
    assert index.search("崩溃", size=1).total == committed
    index.verify()
