"""The ASGI application: API, pages, static files and one-line errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

from zhisou._version import __version__
from zhisou.errors import CorruptIndexError, IndexLockedError, ZhisouError
from zhisou.serve.api import api_router
from zhisou.serve.guard import Guard, allowed_hosts
from zhisou.serve.i18n import syntax_error, translator
from zhisou.serve.service import NotFound, Service
from zhisou.serve.settings import ServeSettings
from zhisou.serve.ui import doc_url, request_language, ui_router, with_query

HERE = Path(__file__).parent
logger = logging.getLogger("zhisou.serve")
# Library errors as HTTP statuses; any other ZhisouError is the client's input: 400.
# A damaged index is the server's problem, not the request's: 503, naming the file.
ERROR_STATUS: tuple[tuple[type[ZhisouError], int], ...] = (
    (NotFound, 404),
    (IndexLockedError, 409),
    (CorruptIndexError, 503),
)


def _validation_message(error: RequestValidationError) -> str:
    """FastAPI's list of problems as one line: ``page: Input should be greater than or equal to 1``."""
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("query", "body", "path"))
        parts.append(f"{where}: {problem.get('msg', 'invalid')}" if where else str(problem.get("msg")))
    return "; ".join(parts) or "invalid request"


def create_app(settings: ServeSettings) -> FastAPI:
    settings.check()
    service = Service(settings)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["doc_url"] = doc_url
    templates.env.filters["with_query"] = with_query
    templates.env.globals["syntax_error"] = syntax_error

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Requests run in worker threads; searching is CPU-bound under one interpreter lock, so
        # extra threads only add switching (16 clients: 416 req/s with 1 thread, 302 with 2,
        # 228 with 4 — benchmarks/RESULTS.md). Writes have their own thread (api.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        await anyio.to_thread.run_sync(service.warm_up)
        yield
        service.close()

    app = FastAPI(
        title="zhisou",
        version=__version__,
        description="Hybrid search over Chinese and English documents.",
        docs_url=None,  # served below from local files: no CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    # The bundled Swagger UI (4.x) renders OpenAPI 3.0 documents only: with FastAPI's 3.1
    # label it showed "Unable to render this definition" instead of the API.
    app.openapi_version = "3.0.3"
    app.state.service = service
    app.include_router(api_router(service, settings))
    app.include_router(ui_router(service, templates))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount("/api/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        return templates.TemplateResponse(request, "api_docs.html", {})

    def error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        if request.url.path.startswith("/api"):
            return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)
        language = request_language(request)
        context = {
            "t": translator(language),
            "lang": language,
            "status": status,
            "message": message,
            "other_lang": "en" if language == "zh" else "zh",
            "url": lambda path=None, **_: path or "/",
        }
        return templates.TemplateResponse(request, "error.html", context, status_code=status)

    @app.exception_handler(ZhisouError)
    async def library_error(request: Request, exc: ZhisouError) -> Response:
        status = next((code for kind, code in ERROR_STATUS if isinstance(exc, kind)), 400)
        return error(request, status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return error(request, 422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no page at {request.url.path}"
        return error(request, exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # A bug or an I/O failure (disk full, permissions): one line for the client, the
        # traceback for the server's log. Committed data is untouched: commits are atomic.
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error(request, 500, f"internal error ({type(exc).__name__}: {exc}); see the server log")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    app.add_middleware(Guard, hosts=allowed_hosts(settings.host, settings.allowed_hosts))
    return app
