"""``zhisou eval``: retrieval quality on a BEIR dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zhisou.cli.base import (
    JsonOption,
    app,
    count,
    err,
    out,
    print_json,
    run,
)
from zhisou.errors import ZhisouError
from zhisou.schema import DEFAULT_EMBEDDING_MODEL
from zhisou.search.fusion import DEFAULT_FUSION, DEFAULT_NORMALIZATION, DEFAULT_WEIGHT
from zhisou.search.similarity import BM25, SIMILARITIES


@app.command("eval")
def eval_command(
    dataset: Annotated[Path, typer.Option("--dataset", "-d", help="BEIR-format dataset directory.")],
    split: Annotated[str, typer.Option(help="qrels/<split>.tsv to evaluate.")] = "test",
    mode: Annotated[
        str,
        typer.Option(help="Retrieval mode: bm25 (keyword) | semantic (dense) | hybrid | ltr (zhisou ltr train first)."),
    ] = "bm25",
    base: Annotated[str, typer.Option(help="ltr: the first stage its model reorders, hybrid | bm25.")] = "hybrid",
    folds: Annotated[
        int,
        typer.Option(help="ltr: rerank each query by a model trained on the other folds of this split (e.g. 5)."),
    ] = 0,
    model: Annotated[str, typer.Option(help="Embedding model for semantic and hybrid.")] = DEFAULT_EMBEDDING_MODEL,
    fusion: Annotated[str, typer.Option(help="Hybrid fusion: convex | rrf.")] = DEFAULT_FUSION,
    fusion_weight: Annotated[float, typer.Option(help="Convex fusion: the semantic list's weight.")] = DEFAULT_WEIGHT,
    normalization: Annotated[str, typer.Option(help="Convex fusion: zscore | minmax.")] = DEFAULT_NORMALIZATION,
    k: Annotated[int, typer.Option("--k", help="Hits retrieved per query.")] = 1000,
    run_file: Annotated[Path | None, typer.Option("--run", help="Write a TREC run file here.")] = None,
    k1: Annotated[float, typer.Option(help="BM25 k1 (no reindex needed to change it).")] = BM25.k1,
    b: Annotated[float, typer.Option(help="BM25 b.")] = BM25.b,
    similarity_name: Annotated[
        str, typer.Option("--similarity", help=f"Scoring function: {' | '.join(SIMILARITIES)}.")
    ] = "bm25",
    cache: Annotated[
        Path | None, typer.Option(help="Index cache directory (default $ZHISOU_CACHE or ~/.cache/zhisou).")
    ] = None,
    shards: Annotated[int, typer.Option(min=1, max=256, help="Build the dataset's index in this many shards.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Evaluate retrieval on a BEIR dataset: nDCG@10, Recall@100/1000, MRR@10, MAP, queries/s."""
    from zhisou.eval.runner import run_evaluation

    def action() -> None:
        def on_progress(indexed: int) -> None:
            if not as_json and err.is_terminal:
                err.print(f"indexing: {indexed:,} documents", end="\r")

        if similarity_name not in SIMILARITIES:
            raise ZhisouError(f"unknown similarity {similarity_name!r}; choose one of: {', '.join(SIMILARITIES)}")
        try:
            similarity = SIMILARITIES[similarity_name](k1, b)
        except ValueError as exc:
            raise ZhisouError(str(exc)) from exc
        report = run_evaluation(
            dataset,
            split=split,
            mode=mode,
            k=k,
            cache_dir=cache,
            run_file=run_file,
            similarity=similarity,
            on_progress=on_progress,
            model=model,
            fusion=fusion,
            fusion_weight=fusion_weight,
            normalization=normalization,
            base=base,
            folds=folds,
            shards=shards,
        )
        if as_json:
            print_json(report.to_dict())
            return
        built = f"built in {report.index_seconds:.1f}s" if report.index_seconds is not None else "cached"
        out.print(
            f"[bold]{escape(report.dataset)}[/] ({report.split}): {report.queries:,} queries, "
            f"{count(report.documents, 'document', 'documents')}, mode {report.mode}, k={report.k}; index {built}"
        )
        table = Table(box=None)
        for name in report.metrics:
            table.add_column(name, justify="right")
        table.add_column("queries/s", justify="right")
        table.add_row(*(f"{v:.4f}" for v in report.metrics.values()), f"{report.queries_per_second:,.0f}")
        out.print(table)
        if run_file is not None:
            out.print(f"run written to {escape(str(run_file))}")

    run(action)
