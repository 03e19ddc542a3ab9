"""JSON API under ``/api``. Reads are open; writes need ``Authorization: Bearer <token>``
when the server has a token, and are refused altogether on a read-only server."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from zhisou.search.parser import MAX_QUERY_CHARS
from zhisou.serve.guard import RateLimiter, bearer_matches, same_origin
from zhisou.serve.service import MAX_RELATED, Service
from zhisou.serve.settings import ServeSettings
from zhisou.suggest.complete import MAX_PREFIX_CHARS as MAX_SUGGEST_PREFIX
from zhisou.suggest.complete import MAX_SIZE as MAX_SUGGESTIONS

Page = Annotated[int, Query(ge=1, le=10_000, description="1-based page number")]
Size = Annotated[int, Query(ge=1, le=100, description="hits per page")]
# A search of size 0 answers the count and the facets only (Elasticsearch's size=0, Meilisearch's limit=0).
SearchSize = Annotated[int, Query(ge=0, le=100, description="hits per page; 0: the total and facets only")]
Text = Annotated[str, Query(max_length=MAX_QUERY_CHARS)]
# What a body of documents may be sent as; anything else (a form, text/plain) is refused, so a
# page on another site cannot post documents with a plain form or a no-cors fetch.
DOCUMENT_TYPES = ("application/json", "application/x-ndjson", "application/ndjson", "application/jsonl")


class Click(BaseModel):
    query_id: str = Field(min_length=1, max_length=64)
    id: str = Field(min_length=1, max_length=1024)
    rank: int = Field(ge=1)


def parse_documents(body: bytes, content_type: str) -> list[Any]:
    """A JSON array, a single JSON object, or NDJSON (one object per line)."""
    text = body.decode("utf-8-sig", errors="strict").strip()  # a file sent as saved, byte-order mark and all
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


def known_parameters(request: Request) -> None:
    """A query parameter the endpoint does not take is an error, not silently ignored (a typo
    like ``sotr=-date`` would otherwise return results in another order without a word)."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    known = {param.alias for param in dependant.query_params}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise HTTPException(
            400,
            f"unknown query parameter {unknown[0]!r} for {request.url.path}; "
            f"it takes: {', '.join(sorted(known)) or 'none'}",
        )


def api_router(service: Service, settings: ServeSettings) -> APIRouter:
    """Read endpoints return ``JSONResponse`` themselves: their dicts are plain JSON already, and
    FastAPI's generic encoder would add a third to the time of a search."""
    router = APIRouter(prefix="/api", dependencies=[Depends(known_parameters)])

    def require_writer(request: Request) -> None:
        """Writes: refused on a read-only server; only from this server's own origin (or from
        programs, which send no Origin); with the bearer token when the server has one."""
        if not settings.writes:
            raise HTTPException(403, "this server is read-only (started with --read-only)")
        foreign = same_origin(request.headers)
        if foreign is not None:
            raise HTTPException(403, f"cross-site write refused: {foreign}")
        token = settings.write_token
        if token is None:
            return  # loopback-only server without a token (checked at start-up)
        raw = next((value for key, value in request.scope["headers"] if key == b"authorization"), None)
        if not bearer_matches(raw, token):
            raise HTTPException(
                401,
                "missing or wrong bearer token (header 'Authorization: Bearer <token>')",
                headers={"WWW-Authenticate": "Bearer"},
            )

    clicks = RateLimiter(rate=10, burst=60)

    writer = [Depends(require_writer)]

    @router.get("/search", summary="Search with highlights and facet counts")
    def search(
        request: Request,
        q: Text = "",
        mode: str = "keyword",
        page: Page = 1,
        size: SearchSize = 10,
        tag: Annotated[list[str], Query(max_length=64, description="only documents with any of these tags")] = [],  # noqa: B006
        year: str | None = None,
        filters: Annotated[
            list[str],
            Query(
                alias="filter",
                max_length=64,
                description="filter expressions, as `zhisou search --filter`: date:>=2024-06",
            ),
        ] = [],  # noqa: B006
        facets: Annotated[
            str | None, Query(description="comma list of keyword fields and year (default tags,year); none for none")
        ] = None,
        explain: Annotated[
            bool, Query(description="each hit's rank and score in every channel (bm25, semantic) and the fusion")
        ] = False,
        sort: Annotated[
            str | None,
            Query(max_length=64, description="a date or number field, - for descending: -date is newest first"),
        ] = None,
        fusion: Annotated[str | None, Query(max_length=16, description="hybrid: convex (default) or rrf")] = None,
        fusion_weight: Annotated[
            float | None,
            Query(ge=0, le=1, description="hybrid, convex fusion: the semantic list's weight (default 0.5)"),
        ] = None,
        normalization: Annotated[
            str | None, Query(max_length=16, description="hybrid, convex fusion: zscore (default) or minmax")
        ] = None,
    ) -> JSONResponse:
        return JSONResponse(
            service.search(
                q,
                mode=mode,
                page=page,
                size=size,
                tags=tag,
                year=year,
                filters=filters,
                facets=facets,
                explain=explain,
                sort=sort or None,
                client=service.client_of(request),
                fusion=fusion,
                fusion_weight=fusion_weight,
                normalization=normalization,
            )
        )

    @router.get("/suggest", summary="Completions of a typed prefix (past queries, titles, tags; pinyin too)")
    def suggest(
        q: Annotated[str, Query(max_length=MAX_SUGGEST_PREFIX, description="what has been typed so far")] = "",
        size: Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS)] = 8,
    ) -> JSONResponse:
        return JSONResponse(service.suggest(q, size))

    @router.get("/trending", summary="Searches rising most in a recent window against their baseline")
    def trending(
        size: Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS)] = 10,
        window: Annotated[str, Query(max_length=8, description="6h, 1d, 7d … (1h to 366d)")] = "1d",
    ) -> JSONResponse:
        return JSONResponse(service.trending(size, window))

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

    # The same by query parameter, for ids a URL path cannot carry ("a/../b", "./x").
    @router.get("/doc", summary="One document's stored fields (id as a query parameter)")
    def document_by_query(id: str) -> JSONResponse:
        return JSONResponse(service.document(id))

    @router.get("/doc/related", summary="More like this (id as a query parameter)")
    def related_by_query(id: str, size: Annotated[int, Query(ge=1, le=MAX_RELATED)] = 5) -> JSONResponse:
        return JSONResponse({"id": id, "hits": service.related(id, size)})

    # Writes run in a thread of their own, so indexing never takes the readers' threads.
    write_thread = anyio.CapacityLimiter(1)

    @router.post("/docs", dependencies=writer, summary="Add or replace documents (JSON array or NDJSON)")
    async def upsert(request: Request, commit: bool = True) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in DOCUMENT_TYPES:
            raise HTTPException(
                415, "send documents as Content-Type: application/json (an array or one object) or application/x-ndjson"
            )
        body = await request.body()  # the guard caps it while it streams in
        try:
            docs = parse_documents(body, content_type)
        except UnicodeDecodeError:
            raise HTTPException(400, "the request body is not UTF-8") from None
        return await anyio.to_thread.run_sync(partial(service.upsert, docs, commit=commit), limiter=write_thread)

    @router.delete("/docs/{doc_id:path}", dependencies=writer, summary="Delete a document")
    async def delete(doc_id: str, commit: bool = True) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(partial(service.delete, doc_id, commit=commit), limiter=write_thread)

    @router.delete("/doc", dependencies=writer, summary="Delete a document (id as a query parameter)")
    async def delete_by_query(id: str, commit: bool = True) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(partial(service.delete, id, commit=commit), limiter=write_thread)

    @router.post("/commit", dependencies=writer, summary="Publish pending writes")
    async def commit() -> dict[str, Any]:
        return await anyio.to_thread.run_sync(service.commit, limiter=write_thread)

    @router.post("/events/click", status_code=204, summary="Record a click on a search result")
    def click(event: Click, request: Request) -> None:
        if same_origin(request.headers) is not None:
            raise HTTPException(403, "clicks are recorded from this server's own pages only")
        if not clicks.allow(request.client.host if request.client else "?"):
            raise HTTPException(429, "too many events from this client; slow down")
        service.log.click(event.query_id, event.id, event.rank)

    @router.get("/health", summary="Liveness and the served commit")
    def health() -> dict[str, Any]:
        return service.health()

    @router.get("/stats", summary="Index statistics")
    def stats() -> dict[str, Any]:
        return service.stats()

    return router
