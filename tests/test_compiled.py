"""Kernels compile on first use: importing zhisou and building a small index load no numba (and
searching loads no optional extra: PySpark, LightGBM, ONNX Runtime)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from zhisou import Index, Schema
from zhisou.schema import FieldSpec
from zhisou.search import kernels

seen = {"after import": "numba" in sys.modules}
index = Index.create(sys.argv[1], Schema((FieldSpec("body", "text"),)))
index.add({"id": str(i), "body": f"note {i} about 倒排索引 and ranking"} for i in range(50))
index.commit()
seen["after build"] = "numba" in sys.modules
result = index.search("ranking 索引", size=3)
seen["after search"] = "numba" in sys.modules
seen["hits"] = result.total
seen["module name bound to dispatcher"] = type(kernels.accumulate).__name__
seen["heavy extras"] = sorted(m for m in ("pyspark", "py4j", "lightgbm", "onnxruntime") if m in sys.modules)
print(json.dumps(seen))
"""


def test_numba_loads_on_the_first_search_only(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "ix")], capture_output=True, text=True, check=True
    )
    seen = json.loads(run.stdout)
    assert seen["after import"] is False
    assert seen["after build"] is False
    assert seen["after search"] is True
    assert seen["hits"] == 50
    assert seen["module name bound to dispatcher"] == "CPUDispatcher"
    assert seen["heavy extras"] == []  # Spark, learning to rank and embeddings load only when used
