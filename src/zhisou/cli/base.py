"""What every command shares: the Typer app, the consoles, common options, and the one place
library errors become one line and an exit code.

Exit codes: 0 success; 1 finished, but some input records were skipped; 2 invalid input
(query syntax, schema, bad option); 3 index problem (missing, locked, damaged); 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape

from zhisou.errors import (
    CorruptIndexError,
    IndexExistsError,
    IndexLockedError,
    IndexNotFoundError,
    QuerySyntaxError,
    ZhisouError,
)

EXIT_SKIPPED, EXIT_INPUT, EXIT_INDEX = 1, 2, 3
DEFAULT_INDEX = "zhisou-index"

app = typer.Typer(
    help="知搜 zhisou — search Chinese and English documents. An index is a directory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

IndexOption = Annotated[
    Path, typer.Option("--index", "-i", envvar="ZHISOU_INDEX", help="Index directory.", show_default=True)
]
_json_output: ContextVar[bool] = ContextVar("json_output", default=False)


def _remember_json(value: bool) -> bool:
    """``--json`` also decides how errors are reported (``fail``): Click calls this for every
    command run, with False when the flag is absent."""
    _json_output.set(bool(value))
    return value


JsonOption = Annotated[
    bool, typer.Option("--json", metavar="", callback=_remember_json, help="Print JSON for programs.")
]

T = TypeVar("T")


def reset_json_output() -> None:
    """Every command starts reporting errors as text (the root callback calls this)."""
    _json_output.set(False)


def fail(message: str, code: int) -> NoReturn:
    """Report an error in one line (and, under ``--json``, as JSON on stdout too) and exit."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    if _json_output.get():
        print_json({"error": message, "exit_code": code})
    raise typer.Exit(code)


def run(action: Callable[[], T]) -> T:
    """Turn library errors into one line and an exit code, never a traceback."""
    try:
        return action()
    except QuerySyntaxError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        # The caret under the character at fault, counted in terminal cells (a Chinese
        # character is two wide).
        err.print(f"  {escape(exc.query)}\n  {' ' * cell_len(exc.query[: exc.position])}^")
        if _json_output.get():
            print_json({"error": str(exc), "exit_code": EXIT_INPUT, "query": exc.query, "position": exc.position})
        raise typer.Exit(EXIT_INPUT) from None
    except (IndexNotFoundError, IndexLockedError, CorruptIndexError, IndexExistsError) as exc:
        fail(str(exc), EXIT_INDEX)
    except ZhisouError as exc:
        fail(str(exc), EXIT_INPUT)
    except KeyboardInterrupt:
        err.print("interrupted; the last commit is intact")
        raise typer.Exit(130) from None


def count(number: int, one: str, many: str) -> str:
    """``1 match``, ``2 matches``, ``1,024 documents``."""
    return f"{number:,} {one if number == 1 else many}"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
