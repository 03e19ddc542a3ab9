"""Run the server on a free loopback port in a background thread (browser tests, screenshots,
load tests): ``with serving(settings) as base_url: ...``."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from zhisou.serve.app import create_app
from zhisou.serve.server import uvicorn_config
from zhisou.serve.settings import ServeSettings


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(settings: ServeSettings, startup_timeout: float = 30.0) -> Iterator[str]:
    if not settings.port:
        settings = dataclasses.replace(settings, port=free_port(settings.host))
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings.host, settings.port))
    thread = threading.Thread(target=server.run, name="zhisou-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {settings.host}:{settings.port}")
        time.sleep(0.05)
    try:
        yield f"http://{settings.host}:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
