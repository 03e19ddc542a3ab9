"""An app over a fresh copy of the small corpus for every test (writes must not leak)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what FastAPI documents
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from zhisou import Index
from zhisou.serve.app import create_app
from zhisou.serve.settings import ServeSettings

TOKEN = "s3cret-token"
BASE_URL = "http://127.0.0.1:8000"  # a loopback Host: the server refuses other names


@pytest.fixture
def index_dir(make_index: Callable[..., Index]) -> Path:
    index = make_index()
    index.close()  # the server opens its own handle and takes the write lock when it writes
    return index.directory


@pytest.fixture
def make_client(index_dir: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def build(**options: Any) -> TestClient:
        client = TestClient(create_app(ServeSettings(index_dir, **options)), base_url=BASE_URL)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
