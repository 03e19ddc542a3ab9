"""What the API and the web UI do, in one place: search pages, the latest-updates feed,
documents and their neighbours, and writes (serialized by one lock: an index has one writer).

Results come back as plain dicts ready for JSON or a template. Where the schema allows, a
hit carries ``title``, ``date``, ``tags``, ``url``, a short plain-text ``excerpt`` and the same
escaped for HTML (``excerpt_html``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from zhisou.api import Index
from zhisou.errors import DocumentError, QuerySyntaxError, ZhisouError
from zhisou.ingest.pipeline import apply_aliases
from zhisou.modes import available, search_mode
from zhisou.search.highlight import marked_words
from zhisou.search.hits import CardFields, card
from zhisou.search.query import Query
from zhisou.search.request import SearchRequest
from zhisou.search.results import Hit, SearchResult
from zhisou.search.searcher import Searcher
from zhisou.serve.searchlog import Client, SearchLog
from zhisou.serve.settings import ServeSettings
from zhisou.suggest.service import RELATED_WAIT_SECONDS

if TYPE_CHECKING:
    from starlette.requests import Request

logger = logging.getLogger("zhisou.serve")
FACET_SIZE = 12
SESSION_COOKIE = "zhisou_session"  # set by a front end that tracks sessions; else the address counts
MAX_RELATED = 20


class NotFound(ZhisouError):
    """A document id the index does not hold."""


def _json_id(value: Any) -> Any:
    """An id as the error report can echo it (JSON cannot carry every value a client sent)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return None
    return value


class Service:
    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.index = Index.open(settings.index)
        self.log = SearchLog(settings.log_directory, settings.search_log, max_bytes=settings.log_max_bytes)
        self._write_lock = threading.Lock()
        self.fields = CardFields.of(self.index.schema)
        self.title_field = self.fields.title
        self.body_field = self.fields.body
        self.date_field = self.fields.date
        self.tag_field = self.fields.tags
        self.facet_fields = [f for f in (self.tag_field, self.date_field) if f]
        self._shuffler = random.Random()

    def warm_up(self) -> None:
        """Run one search of each kind before the first visitor does: loading the compiled
        kernels and building per-snapshot caches takes a few hundred milliseconds."""
        self.index.suggestions.start()  # the search log, for suggestions: read in the background
        self.search("index 索引", log=False)
        self.latest(size=1)

    # -- reading -----------------------------------------------------------------------------
    def modes(self) -> list[str]:
        """Search modes this index supports (semantic ones once it holds vectors, ``ltr`` once
        it holds an active ranking model)."""
        searcher = self.index.searcher()
        return available(has_vectors=searcher.has_vectors, has_model=searcher.ranking_model() is not None)

    def _filters(self, searcher: Searcher, tags: list[str], year: str | None, extra: Iterable[str] = ()) -> list[Query]:
        """The page's filters, parsed once: any of ``tags``, the calendar ``year``, and filter
        expressions as the CLI's ``--filter`` takes them (``date:>=2024-06``)."""
        filters: list[Query] = []
        if tags:
            if self.tag_field is None:
                raise ZhisouError("this index has no tags field to filter on")
            filters.append(searcher.filter_clause(self.tag_field, tags))
        if year:
            if self.date_field is None:
                raise ZhisouError("this index has no date field to filter on")
            if not re.fullmatch(r"\d{4}", year):
                raise ZhisouError(f"year must be four digits, got {year!r}")
            filters.append(searcher.filter_clause(self.date_field, year))
        for text in extra:
            if text.strip():
                try:
                    filters.extend(searcher.filter_query([text]))
                except QuerySyntaxError as error:
                    raise ZhisouError(f"filter {text!r}: {error}") from None
        return filters

    def _facet_fields(self, wanted: str | None) -> list[str]:
        """``None``: tags and year; ``""`` or ``none``: no facets; else a comma list of keyword
        fields and ``year``."""
        if wanted is None:
            return self.facet_fields
        names = [name.strip() for name in wanted.split(",") if name.strip() and name.strip() != "none"]
        if "year" in names and self.date_field is None:
            raise ZhisouError("this index has no date field to count years of")
        return [self.date_field if name == "year" and self.date_field else name for name in names]

    def search(
        self,
        query: str,
        *,
        mode: str = "keyword",
        page: int = 1,
        size: int = 10,
        tags: Iterable[str] = (),
        year: str | None = None,
        filters: Iterable[str] = (),
        facets: str | None = None,
        log: bool = True,
        explain: bool = False,
        sort: str | None = None,
        client: Client | None = None,
        fusion: str | None = None,
        fusion_weight: float | None = None,
        normalization: str | None = None,
    ) -> dict[str, Any]:
        """A page of results with highlights, facet counts and, when nothing matches, a
        did-you-mean. A query with broken syntax is searched as plain words (``query_error``
        says why), as Elasticsearch's ``simple_query_string`` does. ``sort``: a date or number
        field, ``-`` first for descending (``-date``: newest first; ``year`` names the date
        field); by default relevance, or newest first without a query. ``fusion``,
        ``fusion_weight``, ``normalization``: how hybrid mode fuses (the library's defaults when None)."""
        searcher = self.index.searcher()
        has_model = mode == "ltr" and searcher.ranking_model() is not None
        mode = search_mode(mode, has_vectors=searcher.has_vectors, has_model=has_model).name
        tags, filters = list(tags), list(filters)
        clauses = self._filters(searcher, tags, year, filters) or None
        facet_fields = self._facet_fields(facets)
        query = query.strip()
        plain, query_error, error_detail = False, None, None
        parsed: str | Query = query
        if query and mode != "semantic":  # a semantic search reads the text: no syntax
            try:
                parsed = searcher.parse(query)  # once: the search takes the tree
            except QuerySyntaxError as error:
                plain, query_error = True, str(error)
                error_detail = {"reason": error.reason, "position": error.position}
        sort = self._sort(sort) if sort else (None if query else (f"-{self.date_field}" if self.date_field else None))
        # One pass: the page and the facet counts over every match come from the same scoring.
        result = searcher.search(
            parsed,
            page=page,
            size=size,
            filters=clauses,
            sort=sort,
            plain=plain,
            facets=facet_fields or None,
            facet_size=FACET_SIZE,
            mode=mode if query else "keyword",  # no query: the newest documents, whatever the mode
            explain=explain,
            **{
                name: value
                for name, value in (
                    ("fusion", fusion),
                    ("fusion_weight", fusion_weight),
                    ("normalization", normalization),
                )
                if value is not None
            },
        )
        out = self._page(result)
        log = log and size > 0  # size 0 counts (a program's request): no page shown, nothing to learn from
        shuffled = log and bool(query) and self._shuffler.random() < self.settings.shuffle_share
        if shuffled:  # the intervention: this page in a random order, its ranks as displayed
            first = out["hits"][0]["rank"] if out["hits"] else 1
            self._shuffler.shuffle(out["hits"])
            for rank, hit in enumerate(out["hits"], start=first):
                hit["rank"] = rank
        out["query"] = query
        out["sort"] = sort
        out.update(
            mode=mode,
            query_error=query_error,
            query_error_detail=error_detail,
            filters={"tags": tags, "year": year, "filter": filters},
        )
        out["facets"] = {
            ("year" if name == self.date_field else name): [{"value": f.value, "count": f.count} for f in values]
            for name, values in result.facets.items()
        }
        out["suggestion"] = searcher.did_you_mean(query) if query and not result.total else None
        shown = [hit["id"] for hit in out["hits"]]
        out["related_searches"] = self.index.related_searches(query, shown) if query and page == 1 and size else []
        out["query_id"] = (
            self.log.search(query, mode, page, shown, out["filters"], size, shuffled, client) if log else None
        )
        return out

    def suggest(self, prefix: str, size: int = 8) -> dict[str, Any]:
        """Completions of ``prefix`` for the search box (``Index.suggest``)."""
        found = self.index.suggest(prefix, size) if prefix.strip() else []
        return {"q": prefix, "suggestions": [completion.as_dict() for completion in found]}

    def trending(self, size: int = 10, window: str = "1d") -> dict[str, Any]:
        """Rising searches for the home page's chips (``Index.trending``): none yet while a large
        log is read for the first time, rather than a page held for it."""
        found = self.index.trending(size, window, wait=RELATED_WAIT_SECONDS)
        return {"window": window, "trending": [trend.as_dict() for trend in found]}

    def client_of(self, request: Request) -> Client:
        """Who is searching, as the log records it: the session cookie (``SESSION_COOKIE``),
        else the address, and the address alone, hashed (``SearchLog.who``)."""
        address = request.client.host if request.client else None
        return self.log.who(address, request.cookies.get(SESSION_COOKIE) or None)

    def _sort(self, sort: str) -> str:
        """``sort`` checked: a date or number field of the schema (``date`` and ``year`` name the
        date field), with ``-`` for descending."""
        descending = sort.startswith("-")
        name = sort.lstrip("-+").strip()
        if name in ("date", "year") and self.date_field:
            name = self.date_field
        spec = next((f for f in self.index.schema.fields if f.name == name), None)
        if spec is None or spec.type not in ("date", "number"):
            sortable = [f.name for f in self.index.schema.fields if f.type in ("date", "number")]
            raise ZhisouError(
                f"cannot sort by {sort!r}: sort by a date or number field ({', '.join(sortable) or 'none here'}), "
                "with - for descending, e.g. -date"
            )
        return f"-{name}" if descending else name

    def latest(self, *, page: int = 1, size: int = 10, tag: str | None = None) -> dict[str, Any]:
        """The newest documents first: the home page's feed."""
        searcher = self.index.searcher()
        filters = self._filters(searcher, [tag] if tag else [], None) or None
        sort = f"-{self.date_field}" if self.date_field else None
        result = searcher.search("", page=page, size=size, filters=filters, sort=sort)
        out = self._page(result)
        out["tag"] = tag
        return out

    def date_range(self, start: str, end: str) -> list[str]:
        """The filter for documents dated from ``start`` to ``end`` (both inclusive, either may
        be empty; a year, month or day as the query syntax reads them), or none."""
        start, end = start.strip(), end.strip()
        if not start and not end:
            return []
        if self.date_field is None:
            raise ZhisouError("this index has no date field to filter on")
        for value in (start, end):
            if value and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
                raise ZhisouError(f"date {value!r}: write it as 2024, 2024-05 or 2024-05-01")
        return [f"{self.date_field}:[{start or '*'} TO {end or '*'}]"]

    def doc_marks(self, query: str, doc: Mapping[str, Any]) -> list[str]:
        """What a document page marks after a result was opened: the words of ``query`` as
        typed (the precise cut's tokens, original spelling; not its syntax: field names,
        filters, boosts) and the words of ``doc`` its results page marks, as written in the
        document (檢索 for 检索, 倒排索引 for ``dpsy``, Spark for ``spak~``, 引擎 for 擎)."""
        searcher = self.index.searcher()
        request = SearchRequest(query[:200])
        text = searcher.semantic_query(request).text  # the words that score
        analyzer = searcher.reader.analyzers.get("zh")
        words = {text[token.start : token.end] for token in analyzer.analyze(text, for_query=True)}
        for name, terms in searcher.highlight_terms(request).items():
            spec, value = self.index.schema.get(name), doc.get(name)
            if spec is not None and spec.type == "text" and isinstance(value, str) and terms:
                words |= marked_words(value, searcher.reader.analyzers.get(spec.analyzer_name), terms)
        return sorted((word for word in words if word.strip()), key=len, reverse=True)

    def tags(self, size: int = 30) -> list[dict[str, Any]]:
        """The most used tags over the whole index."""
        if self.tag_field is None:
            return []
        searcher = self.index.searcher()
        counts = searcher.facets(searcher.reader.live, [self.tag_field], size)[self.tag_field]
        return [{"value": f.value, "count": f.count} for f in counts]

    def document(self, doc_id: str) -> dict[str, Any]:
        stored = self.index.get(doc_id)
        if stored is None:
            raise NotFound(f"no document with id {doc_id!r}")
        return stored

    def other_fields(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Stored fields a page does not already show as title, date, tags, body or source link."""
        shown = {self.index.schema.id_field, self.title_field, self.body_field, self.date_field, self.tag_field, "url"}
        return {name: value for name, value in doc.items() if name not in shown and value not in (None, "", [])}

    def related(self, doc_id: str, size: int = 5) -> list[dict[str, Any]]:
        if not 1 <= size <= MAX_RELATED:
            raise ZhisouError(f"size must be between 1 and {MAX_RELATED}, got {size}")
        searcher = self.index.searcher()
        if searcher.reader.find(doc_id) is None:
            raise NotFound(f"no document with id {doc_id!r}")
        return [self.card(hit) for hit in searcher.related(doc_id, size=size).hits]

    def card(self, hit: Hit) -> dict[str, Any]:
        return card(hit, self.fields)

    def _page(self, result: SearchResult) -> dict[str, Any]:
        return {
            "query": result.query,
            "total": result.total,
            "page": result.page,
            "size": result.size,
            "pages": result.pages,
            "took_ms": round(result.took_ms, 3),
            "hits": [self.card(hit) for hit in result.hits],
        }

    def stats(self) -> dict[str, Any]:
        return self.index.stats()

    def health(self) -> dict[str, Any]:
        reader = self.index.searcher().reader
        return {"status": "ok", "documents": reader.doc_count, "generation": reader.manifest.generation}

    # -- writing -----------------------------------------------------------------------------
    def upsert(self, docs: list[Any], *, commit: bool = True) -> dict[str, Any]:
        """Add or replace documents; a bad one is reported by its position and skipped (each is
        validated in full when added, so none can make the commit fail)."""
        fields = set(self.index.schema.field_names)
        errors: list[dict[str, Any]] = []
        indexed = 0
        with self._write_lock, self._writing():
            for position, doc in enumerate(docs):
                if not isinstance(doc, Mapping):
                    errors.append({"position": position, "error": "a document must be a JSON object"})
                    continue
                try:
                    self.index.add(apply_aliases(dict(doc), fields, {}))
                    indexed += 1
                except DocumentError as error:
                    errors.append({"position": position, "id": _json_id(doc.get("id")), "error": str(error)})
            generation = self.index.commit() if commit and indexed else None
        return {"indexed": indexed, "errors": errors, "committed": generation is not None, "generation": generation}

    def delete(self, doc_id: str, *, commit: bool = True) -> dict[str, Any]:
        with self._write_lock, self._writing():
            deleted = self.index.delete(doc_id)
            if not deleted:
                raise NotFound(f"no document with id {doc_id!r}")
            generation = self.index.commit() if commit else None
        return {"deleted": deleted, "committed": generation is not None, "generation": generation}

    def commit(self) -> dict[str, Any]:
        with self._write_lock, self._writing():
            return {"generation": self.index.commit()}

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Around every write: afterwards the write lock is let go unless writes are pending
        (``commit=false``), so `zhisou index` can add documents while the server runs.

        A write that fails unexpectedly (a full disk) is answered with an error. If no earlier
        write was waiting for a commit, what it changed is dropped and the lock let go: the next
        write starts clean. If earlier writes were accepted with ``commit=false``, nothing is
        dropped — they were accepted — and the next commit (or the shutdown) retries them all,
        the failed request's documents included (sent again, they replace themselves)."""
        writer = self.index.open_writer
        accepted_before = writer is not None and writer.has_changes
        try:
            yield
        except ZhisouError:
            self._release_if_idle()
            raise
        except BaseException:
            if not accepted_before:
                with contextlib.suppress(Exception):
                    self.index.rollback()
                self.index.close()
            raise
        self._release_if_idle()

    def _release_if_idle(self) -> None:
        writer = self.index.open_writer
        if writer is not None and not writer.has_changes:
            self.index.close()

    def close(self) -> None:
        """On shutdown, writes left uncommitted (``commit=false``) are committed, not dropped."""
        with self._write_lock:
            writer = self.index.open_writer
            if writer is not None and writer.has_changes:
                try:
                    self.index.commit()
                except Exception:  # the server is going away: say so, keep the last commit
                    logger.exception("could not commit pending writes on shutdown")
            self.index.close()
