"""Server-rendered pages: the latest-updates feed, search, and document pages."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from zhisou.modes import SEARCH_MODES
from zhisou.search.plaintext import markdown_parser
from zhisou.serve.i18n import choose_language, translator
from zhisou.serve.service import Service

Page = Annotated[int, Query(ge=1, le=10_000)]
_markdown = markdown_parser()  # raw HTML is escaped


def render_markdown(text: str) -> str:
    return _markdown.render(text)


def render_document(text: str, title: str | None) -> tuple[str, list[dict[str, Any]]]:
    """A note's Markdown as HTML without a first heading that repeats the page's title (the
    page shows the title already), with ids on its h2/h3 headings; and those headings, the
    table of contents of a long note."""
    tokens = _markdown.parse(text)
    first = tokens[1].content if len(tokens) > 2 and tokens[0].type == "heading_open" else None
    if first is not None and title is not None and " ".join(first.split()) == " ".join(str(title).split()):
        tokens = tokens[3:]
    contents: list[dict[str, Any]] = []
    used: set[str] = set()
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag in ("h2", "h3") and index + 1 < len(tokens):
            words = tokens[index + 1].content
            anchor = base = "s-" + ("-".join(re.findall(r"\w+", words.lower())) or "section")
            number = 1
            while anchor in used:
                number += 1
                anchor = f"{base}-{number}"
            used.add(anchor)
            token.attrSet("id", anchor)
            contents.append({"id": anchor, "text": words, "level": int(token.tag[1])})
    return _markdown.renderer.render(tokens, _markdown.options, {}), contents


def with_query(url: str, query: str | None) -> str:
    """A result's link carrying the query, so its page can mark the words and lead back."""
    if not query:
        return url
    return url + ("&" if "?" in url else "?") + urlencode({"q": query})


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Numbered pagination: first, last and a window around ``page``; None marks a gap."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)} - {0})
    out: list[int | None] = []
    for number in shown:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out


LANGUAGE_COOKIE = "zhisou_lang"
TRENDING_CHIPS = 8


def doc_url(doc_id: str) -> str:
    """The page of a document. Ids whose path segments a browser would resolve (``a/../b``,
    ``./x``, ``a//b``; also written as ``%2e%2e``) go in the query string instead."""
    segments = str(doc_id).split("/")
    if any(segment.lower() in ("", ".", "..", "%2e", "%2e%2e", ".%2e", "%2e.") for segment in segments):
        return "/doc?" + urlencode({"id": doc_id})
    return "/doc/" + quote(str(doc_id), safe="/")


def request_language(request: Request) -> str:
    """``?lang=``, then the language chosen before (a cookie), then Accept-Language."""
    wanted = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return choose_language(wanted, request.headers.get("accept-language"))


def ui_router(service: Service, templates: Jinja2Templates) -> APIRouter:
    router = APIRouter()

    def render(request: Request, template: str, **values: Any) -> HTMLResponse:
        language = request_language(request)
        params: dict[str, Any] = {}
        for key in request.query_params:
            if key not in ("partial", "lang"):
                given = request.query_params.getlist(key)
                params[key] = given if len(given) > 1 else given[0]

        def url(path: str | None = None, **changes: Any) -> str:
            """This page's URL (or ``path``'s) with some query parameters changed; None drops one."""
            merged: dict[str, Any] = {**params, **changes} if path is None else dict(changes)
            query = urlencode([(k, v) for k, v in merged.items() if v not in (None, "")], doseq=True)
            target = path if path is not None else request.url.path
            return f"{target}?{query}" if query else target

        modes = service.modes()
        context = {
            "t": translator(language),
            "lang": language,
            "other_lang": "en" if language == "zh" else "zh",
            "url": url,
            "modes": modes,
            # Learning to rank joins the switch once a model is active; before that it is not
            # a mode this index lacks, only one nobody has trained.
            "all_modes": [m for m in SEARCH_MODES if m != "ltr" or m in modes],
            "page_numbers": page_numbers,
            "sortable": service.date_field is not None,
            **values,
        }
        response = templates.TemplateResponse(request, template, context)
        if request.query_params.get("lang") == language:
            response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax")
        return response

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, page: Page = 1, tag: str | None = None) -> HTMLResponse:
        feed = service.latest(page=page, size=service.settings.page_size, tag=tag or None)
        trending = service.trending(TRENDING_CHIPS)["trending"] if page == 1 and not tag else []
        return render(request, "home.html", feed=feed, tags=service.tags(), tag=tag, trending=trending)

    @router.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search(
        request: Request,
        q: str = "",
        mode: str = "keyword",
        page: Page = 1,
        tag: Annotated[list[str], Query()] = [],  # noqa: B006
        year: str | None = None,
        partial: bool = False,
        explain: bool = False,
        sort: str | None = None,
        date_from: Annotated[str, Query(alias="from")] = "",
        date_to: Annotated[str, Query(alias="to")] = "",
        filters: Annotated[list[str], Query(alias="filter", max_length=64)] = [],  # noqa: B006
    ) -> HTMLResponse:
        results = service.search(
            q,
            mode=mode,
            page=page,
            size=service.settings.page_size,
            tags=tag,
            year=year or None,
            filters=[*filters, *service.date_range(date_from, date_to)],
            explain=explain,
            sort=sort or None,
            client=service.client_of(request),
        )
        template = "_results.html" if partial else "search.html"
        extra: dict[str, Any] = {}
        if not results["hits"]:  # somewhere to go instead of two bare lines
            extra = {"popular": service.tags(12), "recent": service.latest(size=5)["hits"]}
        return render(
            request,
            template,
            results=results,
            q=q,
            mode=mode,
            tags=tag,
            year=year,
            sort=sort or "",
            date_from=date_from,
            date_to=date_to,
            filters=filters,
            **extra,
        )

    @router.get("/doc", response_class=HTMLResponse, include_in_schema=False)
    def document_by_query(request: Request, id: str, q: str = "") -> HTMLResponse:
        return document(request, id, q)

    @router.get("/doc/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def document(request: Request, doc_id: str, q: str = "") -> HTMLResponse:
        doc = service.document(doc_id)
        body = doc.get(service.body_field)
        title = doc.get(service.title_field) if service.title_field else doc_id
        body_html, contents = render_document(body, str(title)) if isinstance(body, str) else ("", [])
        return render(
            request,
            "doc.html",
            doc=doc,
            doc_id=doc_id,
            title=title,
            date=doc.get(service.date_field) if service.date_field else None,
            tags=(doc.get(service.tag_field) or []) if service.tag_field else [],
            body_html=body_html,
            contents=contents if len(contents) >= 3 else [],
            q=q,
            marks=service.doc_marks(q, doc) if q.strip() else [],
            fields=service.other_fields(doc),
            related=service.related(doc_id, 5),
        )

    return router
