"""JSON API under ``/api``. Reads are open; writes need ``Authorization: Bearer <token>``
when the server has a token, and are refused altogether on a read-only server."""

from __future__ import annotations

import json
import secrets
from functools import partial
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from zhisou.serve.service import MAX_RELATED, Service
from zhisou.serve.settings import ServeSettings

MAX_BODY_BYTES = 64 * 1024 * 1024
Page = Annotated[int, Query(ge=1, le=10_000, description="1-based page number")]
Size = Annotated[int, Query(ge=1, le=100, description="hits per page")]


class Click(BaseModel):
    query_id: str = Field(min_length=1, max_length=64)
    id: str = Field(min_length=1, max_length=1024)
    rank: int = Field(ge=1)


def parse_documents(body: bytes, content_type: str) -> list[Any]:
    """A JSON array, a single JSON object, or NDJSON (one object per line)."""
    text = body.decode("utf-8", errors="strict").strip()
    if not text:
        raise HTTPException(400, "the request body is empty; send a JSON array of documents or NDJSON")
    if "ndjson" not in content_type and "jsonl" not in content_type:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            if not text.startswith("{"):
                raise HTTPException(
                    400, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
                ) from None
        else:
            return data if isinstance(data, list) else [data]
    docs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise HTTPException(400, f"NDJSON line {number}: {error.msg} at column {error.colno}") from None
    return docs


def api_router(service: Service, settings: ServeSettings) -> APIRouter:
    """Read endpoints return ``JSONResponse`` themselves: their dicts are plain JSON already, and
    FastAPI's generic encoder would add a third to the time of a search."""
    router = APIRouter(prefix="/api")

    def require_writer(request: Request) -> None:
        if not settings.writes:
            raise HTTPException(403, "this server is read-only (started with --read-only)")
        token = settings.write_token
        if token is None:
            return  # loopback-only server without a token (checked at start-up)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip(), token):
            raise HTTPException(
                401,
                "missing or wrong bearer token (header 'Authorization: Bearer <token>')",
                headers={"WWW-Authenticate": "Bearer"},
            )

    writer = [Depends(require_writer)]

    @router.get("/search", summary="Search with highlights and facet counts")
    def search(
        q: str = "",
        mode: str = "keyword",
        page: Page = 1,
        size: Size = 10,
        tag: Annotated[list[str], Query(description="only documents with any of these tags")] = [],  # noqa: B006
        year: str | None = None,
        filters: Annotated[
            list[str],
            Query(alias="filter", description="filter expressions, as `zhisou search --filter`: date:>=2024-06"),
        ] = [],  # noqa: B006
        facets: Annotated[
            str | None, Query(description="comma list of keyword fields and year (default tags,year); none for none")
        ] = None,
    ) -> JSONResponse:
        return JSONResponse(
            service.search(q, mode=mode, page=page, size=size, tags=tag, year=year, filters=filters, facets=facets)
        )

    @router.get("/latest", summary="Newest documents first (the home feed)")
    def latest(page: Page = 1, size: Size = 10, tag: str | None = None) -> JSONResponse:
        return JSONResponse(service.latest(page=page, size=size, tag=tag))

    # Ids may hold "/" (files in folders): paths match them; /related is tried first.
    @router.get("/docs/{doc_id:path}/related", summary="More like this")
    def related(doc_id: str, size: Annotated[int, Query(ge=1, le=MAX_RELATED)] = 5) -> JSONResponse:
        return JSONResponse({"id": doc_id, "hits": service.related(doc_id, size)})

    @router.get("/docs/{doc_id:path}", summary="One document's stored fields")
    def document(doc_id: str) -> JSONResponse:
        return JSONResponse(service.document(doc_id))

    # Writes run in a thread of their own, so indexing never takes the readers' threads.
    write_thread = anyio.CapacityLimiter(1)

    @router.post("/docs", dependencies=writer, summary="Add or replace documents (JSON array or NDJSON)")
    async def upsert(request: Request, commit: bool = True) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, f"request body over {MAX_BODY_BYTES // 2**20} MB; send smaller batches")
        try:
            docs = parse_documents(body, request.headers.get("content-type", ""))
        except UnicodeDecodeError:
            raise HTTPException(400, "the request body is not UTF-8") from None
        return await anyio.to_thread.run_sync(partial(service.upsert, docs, commit=commit), limiter=write_thread)

    @router.delete("/docs/{doc_id:path}", dependencies=writer, summary="Delete a document")
    async def delete(doc_id: str, commit: bool = True) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(partial(service.delete, doc_id, commit=commit), limiter=write_thread)

    @router.post("/commit", dependencies=writer, summary="Publish pending writes")
    async def commit() -> dict[str, Any]:
        return await anyio.to_thread.run_sync(service.commit, limiter=write_thread)

    @router.post("/events/click", status_code=204, summary="Record a click on a search result")
    def click(event: Click) -> None:
        service.log.click(event.query_id, event.id, event.rank)

    @router.get("/health", summary="Liveness and the served commit")
    def health() -> dict[str, Any]:
        return service.health()

    @router.get("/stats", summary="Index statistics")
    def stats() -> dict[str, Any]:
        return service.stats()

    return router
