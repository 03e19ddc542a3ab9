"""The ``zhisou`` command line. Thin over the Python API: tables for people, ``--json`` for programs.

One module per command group — ``write`` (init, index, delete), ``read`` (search, get),
``admin`` (stats, optimize, check), ``demo``, ``evaluate`` (eval), ``serve``, ``model``, ``ltr``,
``spark`` — over ``base`` (the app, options, errors → exit codes) and ``render`` (what people see).

Exit codes: 0 success; 1 finished, but some input records were skipped; 2 invalid input
(query syntax, schema, bad option); 3 index problem (missing, locked, damaged); 130 interrupted.
"""

from __future__ import annotations

import importlib
import os
from typing import Annotated

import typer

from zhisou._version import __version__
from zhisou.cli.base import app, out, reset_json_output

# Importing a command module registers its commands, in this order in --help.
COMMAND_GROUPS = ("write", "read", "admin", "demo", "evaluate", "serve", "model", "ltr", "spark")
for _group in COMMAND_GROUPS:
    importlib.import_module(f"zhisou.cli.{_group}")

__all__ = ["app", "main"]


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", metavar="", help="Print the version.")] = False) -> None:
    reset_json_output()
    if version:
        out.print(f"zhisou {__version__}")
        raise typer.Exit()


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()


if __name__ == "__main__":
    main()
