"""Build an index with Apache Spark: documents are analysed and written as segments on the
executors, the driver adopts the segments and publishes them with one commit.

    build_index(df, "my-index")                          # from a notebook: any DataFrame
    python -m zhisou.spark.build --input notes.jsonl --output my-index   # or spark-submit this
    zhisou spark build --input notes.jsonl --output my-index

Each partition's documents go through the index's own analyzers (the schema and the per-index
resources — user dictionary, synonyms — are broadcast once) and are written as segments of at
most ``docs_per_segment`` documents straight into the index folder, by ``parallel.SegmentWorker``
(unique names, no shared counter). Nothing is visible until the driver's commit names them: a job
that fails or is killed leaves the index as it was (the segment files it wrote are removed by the
next writer). The index's statistics — document frequencies, document count, field lengths —
are those of all its segments, worked out on open, so scores equal a single-process build's.

The executors must see the output folder at the same path (local mode, or a shared filesystem
mounted on every node). PySpark is imported only here (``pip install 'zhisou[spark]'``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zhisou.analysis import AnalysisResources, AnalyzerRegistry
from zhisou.api import Index
from zhisou.errors import DocumentError, ZhisouError
from zhisou.index.manifest import manifest_generations
from zhisou.index.parallel import SegmentWorker
from zhisou.index.segment import SegmentMeta
from zhisou.index.sharded import ShardedReader
from zhisou.index.shards import is_sharded
from zhisou.schema import Schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DOCS_PER_SEGMENT = 50_000
FORMATS = ("jsonl", "parquet", "csv", "table")


@dataclass(frozen=True)
class BuildReport:
    output: Path
    documents: int
    segments: int
    seconds: float
    shards: int = 1
    terms: int | None = None  # distinct (field, term) pairs, when statistics were computed

    def as_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "documents": self.documents,
            "segments": self.segments,
            "shards": self.shards,
            "terms": self.terms,
            "seconds": round(self.seconds, 3),
        }


def plain_value(value: Any) -> Any:
    """A Spark value as a document field takes it: dates as ISO text, rows as dicts."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [plain_value(item) for item in value]
    if hasattr(value, "asDict"):
        return {key: plain_value(item) for key, item in value.asDict().items()}
    return value


def row_document(row: Any) -> dict[str, Any]:
    """A DataFrame row as a document; a null column is a missing field."""
    return {key: plain_value(value) for key, value in row.asDict(recursive=False).items() if value is not None}


def write_partition(
    rows: Iterable[Any],
    directories: list[str],
    schema: dict[str, Any],
    resources: AnalysisResources,
    docs_per_segment: int,
) -> Iterator[str]:
    """On an executor: a partition's rows as segments, each in the folder of the shard its
    documents' ids hash to (``directories``: one per shard), by the same ``SegmentWorker`` that
    indexes on every core locally; each segment's shard and meta as JSON. A bad document fails
    the task with its error."""
    worker = SegmentWorker(directories, Schema.from_dict(schema), AnalyzerRegistry(resources))
    for shard, meta in worker.write(((row_document(row), None) for row in rows), docs_per_segment):
        if isinstance(meta, DocumentError):
            raise meta
        yield json.dumps({"shard": shard, "meta": meta.to_dict()})


def build_index(
    df: DataFrame,
    output: str | Path,
    schema: Schema | None = None,
    *,
    overwrite: bool = False,
    docs_per_segment: int = DOCS_PER_SEGMENT,
    shards: int = 1,
    statistics: str | Path | None = None,
) -> BuildReport:
    """Index the rows of ``df`` (one document each: an ``id`` column and the schema's fields)
    into a new index of ``shards`` shards at ``output`` — or into the index there, adding to
    and replacing its documents by id, when it exists and ``overwrite`` is not set.

    ``statistics``: a folder to write the collection statistics to, computed on Spark with
    explode + groupBy and checked against the index's own (``statistics.py``)."""
    started = time.perf_counter()
    output = Path(output)
    if (manifest_generations(output) or is_sharded(output)) and not overwrite:
        index = Index.open(output)
        reader = index.searcher().reader
        held = len(reader.shards) if isinstance(reader, ShardedReader) else 1
        problem = None
        if schema is not None and schema.to_dict() != index.schema.to_dict():
            problem = "has another schema"
        elif held != shards:
            problem = f"has {held} shard(s), not {shards}"
        if problem is not None:
            index.close()
            raise ZhisouError(
                f"the index at {output} {problem}; build into a new folder, or replace it (overwrite=True)"
            )
    else:
        index = Index.create(output, schema, overwrite=overwrite, shards=shards)
    try:
        # The writer first: opening one removes files no commit names, which the executors'
        # segments are until the commit below.
        writer = index.writer
        directories = [str(folder.resolve()) for folder in writer.segment_folders]
        context = df.sparkSession.sparkContext
        shipped = context.broadcast((index.schema.to_dict(), AnalysisResources.load(index.directory)))

        def partition(rows: Iterable[Any]) -> Iterator[str]:
            schema_dict, resources = shipped.value
            return write_partition(rows, directories, schema_dict, resources, docs_per_segment)

        rows = df.rdd
        if rows.getNumPartitions() < context.defaultParallelism:  # one big file is one partition
            rows = rows.repartition(context.defaultParallelism)
        try:
            written = rows.mapPartitions(partition).collect()
        except Exception as error:  # py4j wraps the executor's Python error in a Java trace
            raise ZhisouError(f"the Spark job failed: {executor_error(error)}") from None
        segments = [(int(entry["shard"]), SegmentMeta.from_dict(entry["meta"])) for entry in map(json.loads, written)]
        writer.adopt(segments)
        documents = sum(meta.doc_count for _, meta in segments)
        index.commit()
        shipped.unpersist()
        terms = None
        if statistics is not None:
            from zhisou.spark.statistics import collection_statistics

            computed = collection_statistics(df.sparkSession, index.directory)
            terms = computed.terms.count()
            computed.check()
            computed.write(statistics)
            computed.unpersist()
        seconds = time.perf_counter() - started
        return BuildReport(index.directory, documents, len(segments), seconds, shards, terms)
    finally:
        index.close()


def executor_error(error: Exception) -> str:
    """The line that says what went wrong in an executor (a zhisou error's own, when there is
    one) out of the Java stack trace py4j hands back."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("zhisou.errors.") and ": " in line:
            return line.split(": ", 1)[1]
    found = [line for line in lines if "Error: " in line or "Exception: " in line]
    return (found[-1] if found else lines[0] if lines else type(error).__name__)[:500]


def session(master: str | None = None, app_name: str = "zhisou build") -> SparkSession:
    """A Spark session (``master`` e.g. ``local[2]``; None: spark-submit's, else local[*])
    whose Python workers run this interpreter, so they import the same zhisou. Raises
    ``ZhisouError`` with what to install when PySpark or Java is missing."""
    import os
    import shutil

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ZhisouError("Spark builds need PySpark: pip install 'zhisou[spark]'") from None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ZhisouError("Spark needs Java 17 or 21: install openjdk-17-jre-headless (Debian) or set JAVA_HOME")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name).config("spark.ui.enabled", "false")
    if master is not None:  # else spark-submit's --master, or PySpark's own default, local[*]
        builder = builder.master(master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("ZHISOU_SPARK_LOG_LEVEL", "ERROR"))
    return spark


def read_input(spark: SparkSession, inputs: list[str], fmt: str) -> DataFrame:
    """The documents of ``inputs`` in ``fmt`` (a table: its name); one line when they cannot be read."""
    if fmt not in FORMATS:
        raise ZhisouError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "table" and len(inputs) != 1:
        raise ZhisouError("--format table takes one --input: the table's name")
    try:
        if fmt == "jsonl":
            return spark.read.json(inputs)
        if fmt == "parquet":
            return spark.read.parquet(*inputs)
        if fmt == "csv":
            return spark.read.option("header", True).option("multiLine", True).csv(inputs)
        return spark.table(inputs[0])
    except Exception as error:  # pyspark's AnalysisException and kin: the first line says it
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ZhisouError(f"cannot read {', '.join(inputs)} as {fmt}: {first}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zhisou.spark.build", description=__doc__.split("\n")[0])
    parser.add_argument("--input", action="append", required=True, help="a file, folder or table; repeatable")
    parser.add_argument("--format", choices=FORMATS, default="jsonl")
    parser.add_argument("--output", required=True, help="the index folder")
    parser.add_argument("--master", default=None, help="e.g. local[2]; default: spark-submit's, else local[*]")
    parser.add_argument("--overwrite", action="store_true", help="replace the index at --output")
    parser.add_argument("--docs-per-segment", type=int, default=DOCS_PER_SEGMENT)
    parser.add_argument("--shards", type=int, default=1, help="shards of a new index (by id hash)")
    parser.add_argument("--statistics", default=None, help="write the collection statistics (Parquet) here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        spark = session(args.master)
        try:
            df = read_input(spark, args.input, args.format)
            report = build_index(
                df,
                args.output,
                overwrite=args.overwrite,
                docs_per_segment=args.docs_per_segment,
                shards=args.shards,
                statistics=args.statistics,
            )
        finally:
            spark.stop()
    except ZhisouError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(
            f"indexed {report.documents:,} documents as {report.segments} segments into {report.output} "
            f"in {report.seconds:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
