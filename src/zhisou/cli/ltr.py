"""``zhisou ltr``: ranking features, training, and which model an index uses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from zhisou.cli.base import DEFAULT_INDEX, JsonOption, app, err, out, print_json, run
from zhisou.cli.render import progress_bar
from zhisou.errors import ZhisouError
from zhisou.schema import DEFAULT_EMBEDDING_MODEL

ltr_app = typer.Typer(help="Learning to rank: features, training, the active model.", no_args_is_help=True)
app.add_typer(ltr_app, name="ltr")

DatasetOption = Annotated[Path, typer.Option("--dataset", "-d", help="BEIR-format dataset directory.")]
BaseOption = Annotated[str, typer.Option("--base", help="First stage the model reorders: hybrid | bm25.")]
DepthOption = Annotated[int, typer.Option("--depth", min=2, max=1000, help="Candidates per query.")]
CacheOption = Annotated[
    Path | None, typer.Option(help="Index cache directory (default $ZHISOU_CACHE or ~/.cache/zhisou).")
]
ModelOption = Annotated[str, typer.Option(help="Embedding model of the hybrid first stage.")]


def _progress(show: bool) -> Progress:
    return progress_bar(err, show, transient=True)


@ltr_app.command("features")
def features(
    dataset: DatasetOption,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="SVMlight / LETOR file to write.")],
    split: Annotated[str, typer.Option(help="qrels/<split>.tsv whose queries to export.")] = "train",
    base: BaseOption = "hybrid",
    depth: DepthOption = 100,
    cache: CacheOption = None,
    model: ModelOption = DEFAULT_EMBEDDING_MODEL,
    as_json: JsonOption = False,
) -> None:
    """Export the features and labels of a split's candidates in LETOR (SVMlight) format."""
    from zhisou.eval.beir import BeirDataset
    from zhisou.rank.experiment import dataset_index, judged_data

    def action() -> None:
        loaded = BeirDataset.load(dataset, split)
        index = dataset_index(loaded, base, cache_dir=cache, model=model)
        with _progress(not as_json) as progress:
            task = progress.add_task("candidates", total=len(loaded.qrels), docs=0, unit="queries")
            data = judged_data(
                index, loaded, base, depth, lambda done: progress.update(task, completed=done, docs=done)
            )
        data.write_svmlight(out_path)
        summary = {"path": str(out_path), "queries": len(data), "rows": len(data.labels), "features": list(data.names)}
        if as_json:
            print_json(summary)
        else:
            shape = f"{len(data):,} queries, {len(data.labels):,} rows, {len(data.names)} features"
            out.print(f"{shape} → {escape(str(out_path))}")

    run(action)


@ltr_app.command("train")
def train(
    dataset: Annotated[Path | None, typer.Option("--dataset", "-d", help="BEIR-format dataset directory.")] = None,
    from_logs: Annotated[
        bool, typer.Option("--from-logs", metavar="", help="Train from the search log of --index (clicks) instead.")
    ] = False,
    index: Annotated[
        Path | None, typer.Option("--index", "-i", envvar="ZHISOU_INDEX", help="With --from-logs.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="With --from-logs: sessions from this date on.")] = None,
    debias: Annotated[
        bool,
        typer.Option("--debias/--no-debias", metavar="", help="With --from-logs: correct position bias (click model)."),
    ] = True,
    split: Annotated[str, typer.Option(help="qrels/<split>.tsv to train on.")] = "train",
    objective: Annotated[
        str, typer.Option(help="pointwise | pairwise | listwise, or the library's name (lambdarank, rank:ndcg …).")
    ] = "listwise",
    backend: Annotated[str, typer.Option(help="lightgbm | xgboost.")] = "lightgbm",
    folds: Annotated[int, typer.Option(help="Also report k-fold cross-validated nDCG@10 (e.g. 5).")] = 0,
    base: BaseOption = "hybrid",
    depth: DepthOption = 100,
    seed: Annotated[int, typer.Option(help="Seed of the dev split, folds and boosting.")] = 42,
    cache: CacheOption = None,
    model: ModelOption = DEFAULT_EMBEDDING_MODEL,
    as_json: JsonOption = False,
) -> None:
    """Train a ranking model on a dataset's judgments; active only if it wins on held-out queries.

    The new model must beat the active model (or the first stage, when none is active) on the
    dataset's held-out queries; otherwise it is stored and the active one stays."""
    from zhisou.rank.experiment import report_dict, train_on_dataset

    def action() -> None:
        if from_logs and dataset is not None:
            raise ZhisouError("give --dataset DIR or --from-logs, not both: judgments or clicks, one source a model")
        if from_logs:
            _train_from_logs(
                index or Path(DEFAULT_INDEX), since, backend, objective, base, depth, debias, seed, as_json
            )
            return
        if dataset is None:
            raise ZhisouError("give --dataset DIR (a BEIR dataset with judgments), or --from-logs --index DIR")
        with _progress(not as_json) as progress:
            queries = progress.add_task("candidates", total=None, docs=0, unit="queries")
            rounds = progress.add_task("boosting rounds", total=None, visible=False, docs=0, unit="rounds")

            def on_queries(done: int, total: int) -> None:
                progress.update(queries, completed=done, total=total, docs=done)

            def on_round(done: int, at_most: int) -> None:
                progress.update(rounds, completed=done, total=at_most, visible=True, docs=done)

            report = train_on_dataset(
                dataset,
                split=split,
                backend=backend,
                objective=objective,
                base=base,
                n_folds=folds,
                depth=depth,
                seed=seed,
                cache_dir=cache,
                model=model,
                on_queries=on_queries,
                on_round=on_round,
            )
        if as_json:
            print_json(report_dict(report))
            return
        state = "[green]active[/]" if report.activated else "[yellow]stored, not activated[/]"
        out.print(
            f"[bold]model-{report.version}[/] ({report.backend} {report.objective}, {report.rounds} rounds, "
            f"{report.seconds:.1f}s) on {escape(report.dataset)} {report.split}: {state}"
        )
        out.print(f"  dev nDCG@10 {report.dev['nDCG@10']:.4f} (first stage {report.dev['first_stage_nDCG@10']:.4f})")
        out.print(f"  guard: {escape(report.guard)}")
        if report.cross_validated:
            cv = report.cross_validated
            out.print(
                f"  {len(report.folds)}-fold nDCG@10 {cv['nDCG@10']:.4f} (first stage {cv['first_stage_nDCG@10']:.4f})"
            )
        table = Table("feature", "gain share", box=None)
        total = sum(report.importance.values()) or 1.0
        for name, gain in list(report.importance.items())[:12]:
            table.add_row(escape(name), f"{gain / total:.1%}")
        out.print(table)

    run(action)


def _train_from_logs(
    index: Path,
    since: str | None,
    backend: str,
    objective: str,
    base: str,
    depth: int,
    debias: bool,
    seed: int,
    as_json: bool,
) -> None:
    from dataclasses import asdict

    from zhisou.rank.fromlogs import train_from_logs
    from zhisou.values import parse_date

    start = None
    if since is not None:
        try:
            start = parse_date(since)
        except ValueError as error:
            raise ZhisouError(f"--since: {error}") from None
    with _progress(not as_json) as progress:
        queries = progress.add_task("candidates", total=None, docs=0, unit="queries")
        rounds = progress.add_task("boosting rounds", total=None, visible=False, docs=0, unit="rounds")
        report = train_from_logs(
            index,
            since=start,
            backend=backend,
            objective=objective,
            base=base,
            depth=depth,
            debias=debias,
            seed=seed,
            on_queries=lambda done, total: progress.update(queries, completed=done, total=total, docs=done),
            on_round=lambda done, at_most: progress.update(
                rounds, completed=done, total=at_most, visible=True, docs=done
            ),
        )
    if as_json:
        print_json(asdict(report))
        return
    for line in report.skipped[:20]:
        err.print(f"[yellow]skipped[/] {escape(line)}")
    if len(report.skipped) > 20:
        err.print(f"[yellow]skipped[/] … {len(report.skipped) - 20} more lines")
    state = "[green]active[/]" if report.activated else "[yellow]stored, not activated[/]"
    out.print(
        f"[bold]model-{report.version}[/] from {report.sessions:,} sessions, {report.queries:,} queries "
        f"({report.rounds} rounds, {report.seconds:.1f}s): {state}"
    )
    shown = " ".join(f"{p:.2f}" for p in report.propensities)
    out.print(f"  examination by rank (click model): {shown}")
    out.print(f"  guard: {escape(report.guard)}")


def _store_directory(index: Path | None, dataset: Path | None, base: str, cache: Path | None, model: str) -> Path:
    """The index folder whose models a command manages: ``--index``, or a dataset's eval index."""
    if dataset is None:
        return index or Path(DEFAULT_INDEX)
    from zhisou.eval.beir import BeirDataset
    from zhisou.rank.experiment import dataset_index

    split = next((p.stem for p in sorted((dataset / "qrels").glob("*.tsv"))), "test")
    return dataset_index(BeirDataset.load(dataset, split), base, cache_dir=cache, model=model).directory


IndexArg = Annotated[Path | None, typer.Option("--index", "-i", envvar="ZHISOU_INDEX", help="Index directory.")]
DatasetArg = Annotated[Path | None, typer.Option("--dataset", "-d", help="Or: a dataset's evaluation index.")]


@ltr_app.command("status")
def status(
    index: IndexArg = None,
    dataset: DatasetArg = None,
    base: BaseOption = "hybrid",
    cache: CacheOption = None,
    model: ModelOption = DEFAULT_EMBEDDING_MODEL,
    as_json: JsonOption = False,
) -> None:
    """The stored ranking models and which one is active."""
    from zhisou.rank.model import ModelStore

    def action() -> None:
        store = ModelStore(_store_directory(index, dataset, base, cache, model))
        active = store.active()
        rows = []
        for version in store.versions():
            meta = store.meta(version)
            dev = meta.get("dev") or {}
            rows.append(
                {
                    "version": version,
                    "active": version == active,
                    "backend": meta.get("backend"),
                    "objective": meta.get("objective"),
                    "trained_at": meta.get("trained_at"),
                    "dev_ndcg@10": dev.get("nDCG@10"),
                    "first_stage_ndcg@10": dev.get("first_stage_nDCG@10"),
                    "data": meta.get("train_fingerprint"),
                }
            )
        if as_json:
            print_json({"directory": str(store.directory), "active": active, "models": rows})
            return
        if not rows:
            out.print(f"no ranking models in {escape(str(store.directory))}; train one with zhisou ltr train")
            return
        table = Table("", "model", "objective", "trained", "dev nDCG@10", "first stage", "data", box=None)
        for row in rows:
            ndcg, first = row["dev_ndcg@10"], row["first_stage_ndcg@10"]
            table.add_row(
                "[green]*[/]" if row["active"] else "",
                f"model-{row['version']}",
                f"{row['backend']} {row['objective']}",
                str(row["trained_at"] or ""),
                f"{ndcg:.4f}" if isinstance(ndcg, float) else "",
                f"{first:.4f}" if isinstance(first, float) else "",
                str(row["data"] or ""),
            )
        out.print(table)

    run(action)


@ltr_app.command("activate")
def activate(
    version: Annotated[int, typer.Argument(help="Model version (see zhisou ltr status).")],
    index: IndexArg = None,
    dataset: DatasetArg = None,
    base: BaseOption = "hybrid",
    cache: CacheOption = None,
    model: ModelOption = DEFAULT_EMBEDDING_MODEL,
    as_json: JsonOption = False,
) -> None:
    """Make a stored model the active one (an operator's decision: no guard)."""
    from zhisou.rank.model import ModelStore

    def action() -> None:
        store = ModelStore(_store_directory(index, dataset, base, cache, model))
        store.activate(version)
        if as_json:
            print_json({"active": version})
        else:
            out.print(f"model-{version} is active")

    run(action)


@ltr_app.command("rollback")
def rollback(
    index: IndexArg = None,
    dataset: DatasetArg = None,
    base: BaseOption = "hybrid",
    cache: CacheOption = None,
    model: ModelOption = DEFAULT_EMBEDDING_MODEL,
    as_json: JsonOption = False,
) -> None:
    """Return to the model that was active before the current one."""
    from zhisou.rank.model import ModelStore

    def action() -> None:
        previous = ModelStore(_store_directory(index, dataset, base, cache, model)).rollback()
        if as_json:
            print_json({"active": previous})
        else:
            out.print(f"model-{previous} is active" if previous is not None else "no ranking model is active now")

    run(action)
