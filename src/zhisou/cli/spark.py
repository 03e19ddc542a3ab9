"""``zhisou spark``: index builds on Apache Spark (``zhisou.spark``; needs the spark extra and Java)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zhisou.cli.base import JsonOption, app, out, print_json, run

spark_app = typer.Typer(help="Apache Spark: build an index on a cluster or in local mode.", no_args_is_help=True)
app.add_typer(spark_app, name="spark")


@spark_app.command("build")
def spark_build(
    inputs: Annotated[list[str], typer.Option("--input", "-i", help="File, folder or table to index; repeatable.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The index folder to build or add to.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl | parquet | csv | table.")] = "jsonl",
    master: Annotated[str | None, typer.Option(help="Spark master, e.g. local[2] (default: local[*]).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the index at --output.")] = False,
    docs_per_segment: Annotated[int, typer.Option(min=1, help="Most documents in one segment.")] = 50_000,
    shards: Annotated[int, typer.Option(min=1, max=256, help="Shards of a new index (documents by id hash).")] = 1,
    statistics: Annotated[
        Path | None, typer.Option(help="Also compute the collection statistics on Spark; Parquet goes here.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Analyse and write the documents as segments on Spark's executors; publish them in one commit."""

    def action() -> None:
        from zhisou.spark.build import build_index, read_input, session

        spark = session(master)
        try:
            frame = read_input(spark, inputs, fmt)
            report = build_index(
                frame,
                output,
                overwrite=overwrite,
                docs_per_segment=docs_per_segment,
                shards=shards,
                statistics=statistics,
            )
        finally:
            spark.stop()
        if as_json:
            print_json(report.as_dict())
        else:
            out.print(
                f"indexed {report.documents:,} documents as {report.segments} segments into {report.output} "
                f"in {report.seconds:.1f} s"
                + (f"; {report.terms:,} distinct terms counted into {statistics}" if report.terms is not None else "")
            )

    run(action)


@spark_app.command("search")
def spark_search(
    index: Annotated[Path, typer.Option("--index", help="The index to search (a path every executor sees).")],
    queries: Annotated[list[str], typer.Option("--queries", "-q", help="Queries: file, folder or table; repeatable.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Run file (trec) or Parquet folder to write.")],
    fmt: Annotated[str, typer.Option("--format", help="Queries as jsonl | parquet | csv | table.")] = "jsonl",
    k: Annotated[int, typer.Option("--k", min=1, max=10_000, help="Hits per query.")] = 1000,
    mode: Annotated[str, typer.Option(help="Search mode (keyword, semantic, hybrid, ltr).")] = "keyword",
    output_format: Annotated[str, typer.Option("--output-format", help="trec | parquet.")] = "trec",
    master: Annotated[str | None, typer.Option(help="Spark master, e.g. local[2] (default: local[*]).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Score a query set on Spark's executors: a TREC run or Parquet of (query_id, doc_id, rank, score)."""

    def action() -> None:
        from zhisou.spark.build import read_input, session
        from zhisou.spark.search import batch_search, write_run

        spark = session(master, "zhisou search")
        try:
            hits = batch_search(read_input(spark, queries, fmt), index, k=k, mode=mode)
            written = write_run(hits, out_path, output_format)
        finally:
            spark.stop()
        if as_json:
            print_json({"out": str(out_path), "hits": written})
        else:
            out.print(f"wrote {written:,} hits to {out_path}")

    run(action)
