"""``zhisou serve``: the web UI and the HTTP API."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from zhisou.cli.base import (
    DEFAULT_INDEX,
    EXIT_INPUT,
    IndexOption,
    app,
    err,
    fail,
    run,
)


@app.command()
def serve(
    index: IndexOption = Path(DEFAULT_INDEX),
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None, typer.Option(envvar="ZHISOU_TOKEN", help="Bearer token for write endpoints.", show_default=False)
    ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", metavar="", help="Refuse every write endpoint.")] = False,
    search_log: Annotated[
        bool, typer.Option("--search-log/--no-search-log", metavar="", help="Log queries, shown results and clicks.")
    ] = True,
    page_size: Annotated[int, typer.Option(help="Results per page in the web UI.")] = 10,
    shuffle_share: Annotated[
        float,
        typer.Option(
            help="Share of logged searches shown in a random page order, so that training from clicks "
            "can tell position bias from relevance (e.g. 0.05)."
        ),
    ] = 0.0,
    threads: Annotated[int, typer.Option(help="Worker threads for searches (more rarely helps: one GIL).")] = 1,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host", help="Host name clients use to reach the server (repeatable; default: loopback)."
        ),
    ] = None,
) -> None:
    """Serve the web UI (latest updates, search, documents) and the HTTP API (/api/docs)."""

    def action() -> None:
        try:
            import uvicorn

            from zhisou.serve.app import create_app
            from zhisou.serve.server import uvicorn_config
            from zhisou.serve.settings import ServeSettings
        except ImportError as exc:
            fail(f"zhisou serve needs the serve extra ({exc.name} is missing): pip install 'zhisou[serve]'", EXIT_INPUT)
        settings = ServeSettings(
            index,
            host=host,
            port=port,
            token=token,
            writes=not read_only,
            search_log=search_log,
            page_size=page_size,
            shuffle_share=shuffle_share,
            threads=threads,
            allowed_hosts=tuple(allowed_host or ()),
        )
        application = create_app(settings)
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            try:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
            except OSError as exc:
                fail(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port or --host", EXIT_INPUT)
        writes = (
            "read-only" if read_only else ("writes need a token" if settings.write_token else "writes open (loopback)")
        )
        err.print(f"serving [bold]{escape(str(index))}[/] on http://{host}:{port}/  ({writes}; API docs at /api/docs)")
        uvicorn.Server(uvicorn_config(application, host, port)).run()

    run(action)
