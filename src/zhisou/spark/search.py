"""Batch search on Spark: a large query set scored by the executors, each opening the index
once per Python worker (read-only, memory-mapped) — for offline evaluation and for the candidate
lists learning to rank trains on.

    batch_search(queries_df, "my-index", k=1000)        # a DataFrame: query_id, doc_id, rank, score
    zhisou spark search --index my-index --queries queries.jsonl --out run.txt     # a TREC run
    zhisou spark search --index my-index --queries queries.jsonl --out run.parquet --output-format parquet

The query text is searched as plain words (no operators), as ``zhisou eval`` does, in the mode
asked for; each query's hits are ranked as a single-process search ranks them. The executors must
see the index at the same path (as for builds: local mode or a shared filesystem).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zhisou.api import Index
from zhisou.errors import ZhisouError
from zhisou.eval.runner import trec_line
from zhisou.spark.build import executor_error

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

ID_COLUMNS = ("query_id", "_id", "id", "qid")
TEXT_COLUMNS = ("text", "query", "q")
OUTPUT_FORMATS = ("trec", "parquet")
_OPEN: dict[str, Index] = {}  # per Python worker: the index each path names, opened once


def _index(path: str) -> Index:
    index = _OPEN.get(path)
    if index is None:
        index = _OPEN[path] = Index.open(path)
    return index


def score_partition(
    rows: Iterable[Any], path: str, id_column: str, text_column: str, k: int, mode: str
) -> Iterator[Any]:
    """On an executor: (query id, doc id, rank, score) for every hit of every query in ``rows``."""
    searcher = _index(path).searcher()
    for row in rows:
        query_id, text = row[id_column], row[text_column]
        if query_id is None or not isinstance(text, str) or not text.strip():
            continue
        result = searcher.search(text, size=k, with_docs=False, plain=True, mode=mode)
        for rank, (doc_id, score) in enumerate(zip(result.ids, result.scores), start=1):
            yield str(query_id), doc_id, rank, float(score)


def pick_column(columns: list[str], choices: tuple[str, ...], what: str) -> str:
    found = next((name for name in choices if name in columns), None)
    if found is None:
        raise ZhisouError(f"the queries have no {what} column: name one of {', '.join(choices)} (found {columns})")
    return found


def batch_search(queries: DataFrame, index: str | Path, *, k: int = 1000, mode: str = "keyword") -> DataFrame:
    """Every query of ``queries`` (an id column — query_id, _id, id or qid — and a text column —
    text, query or q) searched on the executors: a DataFrame of (query_id, doc_id, rank, score)."""
    from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

    path = str(Path(index).resolve())
    opened = Index.open(path)  # one clear error on the driver for a missing index or an unknown mode
    try:
        opened.searcher().search("zhisou", size=1, with_docs=False, plain=True, mode=mode)
    finally:
        opened.close()
    id_column = pick_column(queries.columns, ID_COLUMNS, "query id")
    text_column = pick_column(queries.columns, TEXT_COLUMNS, "query text")
    rows = queries.select(id_column, text_column).rdd
    parallelism = queries.sparkSession.sparkContext.defaultParallelism
    if rows.getNumPartitions() < parallelism:
        rows = rows.repartition(parallelism)
    hits = rows.mapPartitions(lambda part: score_partition(part, path, id_column, text_column, k, mode))
    schema = StructType(
        [
            StructField("query_id", StringType(), False),
            StructField("doc_id", StringType(), False),
            StructField("rank", IntegerType(), False),
            StructField("score", DoubleType(), False),
        ]
    )
    return queries.sparkSession.createDataFrame(hits, schema)


def write_run(hits: DataFrame, out: str | Path, output_format: str = "trec", tag: str = "zhisou") -> int:
    """Write ``batch_search``'s hits as one TREC run file (streamed through the driver, queries in
    id order) or as a Parquet folder (written by the executors); returns the number of hits."""
    if output_format not in OUTPUT_FORMATS:
        raise ZhisouError(f"--output-format {output_format!r}: use one of {', '.join(OUTPUT_FORMATS)}")
    try:
        if output_format == "parquet":
            hits.write.mode("overwrite").parquet(str(out))
            return int(hits.sparkSession.read.parquet(str(out)).count())  # not the searches again
        written = 0
        with open(out, "w", encoding="utf-8") as handle:
            for row in hits.orderBy("query_id", "rank").toLocalIterator():
                handle.write(trec_line(row.query_id, row.doc_id, row.rank, row.score, tag))
                written += 1
        return written
    except OSError as error:
        raise ZhisouError(f"cannot write {out}: {error.strerror}") from None
    except Exception as error:  # the job failed on an executor: py4j's Java trace, cut to its line
        if isinstance(error, ZhisouError):
            raise
        raise ZhisouError(f"the Spark job failed: {executor_error(error)}") from None
