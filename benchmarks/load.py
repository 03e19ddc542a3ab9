"""Loopback load test of ``zhisou serve``: wrk drives /api/search with many concurrent clients.

    python benchmarks/load.py                                  # bundled sample notes, 16 clients, 60 s
    python benchmarks/load.py --dataset ../shared/datasets/scifact --path /search

The server runs as its own process (one uvicorn worker, search log on, as users run it); wrk
(Debian package ``wrk``) cycles through the queries, each request a full search with
highlights and facet counts. Prints requests/s, p50/p99 latency and errors, and a Markdown row.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
SAMPLE_QUERIES = [
    "倒排索引",
    "learning to rank",
    "BM25 公式",
    "HNSW 图索引",
    "中文分词",
    "reciprocal rank fusion",
    "混合精度",
    "Spark 倒排索引",
    "向量 检索",
    "LambdaMART",
    "FlashAttention",
    "nDCG",
    "mmap",
    "搜索 日志",
]


def queries_of(dataset: Path | None, limit: int) -> list[str]:
    if dataset is None:
        return SAMPLE_QUERIES
    with open(dataset / "queries.jsonl", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line, _ in zip(handle, range(limit))]


def build_index(dataset: Path | None, target: Path) -> None:
    source = [str(REPO / "examples" / "notes")] if dataset is None else [str(dataset / "corpus.jsonl")]
    subprocess.run([sys.executable, "-m", "zhisou.cli", "init", str(target)], check=True, capture_output=True)
    subprocess.run(
        [sys.executable, "-m", "zhisou.cli", "index", *source, "-i", str(target), "--json"],
        check=True,
        capture_output=True,
    )


def wait_until_up(base_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {base_url} did not come up")


def lua_script(queries: list[str], path: str) -> str:
    paths = ",\n".join(json.dumps(f"{path}?q={quote(q)}") for q in queries)
    return f"""
local paths = {{
{paths}
}}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
"""


def parse_wrk(output: str) -> dict[str, float]:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    return {
        "requests": float(requests.group(1)) if requests else 0.0,
        "requests_per_s": float(rate.group(1)) if rate else 0.0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": float(
            (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, help="BEIR directory (default: the bundled sample notes)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=60, help="seconds")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--path", default="/api/search", help="endpoint to load (/api/search or /search)")
    parser.add_argument("--queries", type=int, default=300, help="queries taken from a dataset")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 1
    if args.dataset is not None and not (args.dataset / "corpus.jsonl").exists():
        print(f"skipped: no BEIR dataset at {args.dataset}", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as workdir:
        index = Path(workdir) / "index"
        build_index(args.dataset, index)
        port = 8765
        base_url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "zhisou.cli", "serve", "-i", str(index), "--port", str(port)],
            env={**os.environ, "NUMBA_NUM_THREADS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_until_up(base_url)
            script = Path(workdir) / "queries.lua"
            script.write_text(lua_script(queries_of(args.dataset, args.queries), args.path), encoding="utf-8")
            # warm up (first requests load compiled kernels and caches)
            subprocess.run(["wrk", "-t1", "-c2", "-d3s", "-s", str(script), base_url], check=True, capture_output=True)
            command = [
                "wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{args.duration}s",
                "--latency",
                "-s",
                str(script),
                base_url,
            ]
            completed = subprocess.run(command, check=True, capture_output=True, text=True)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(completed.stdout)
    result = parse_wrk(completed.stdout)
    corpus = args.dataset.name if args.dataset else "sample notes (46)"
    print(
        f"| {corpus} | `{args.path}` | {args.connections} | {args.duration} s | {result['requests']:,.0f} | "
        f"{result['requests_per_s']:,.0f} | {result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {result['errors']:.0f} |"
    )
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
