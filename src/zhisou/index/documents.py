"""Turns a user document (a mapping) into what the index stores: terms with positions,
field lengths, column values and the stored fields. Bad values raise ``DocumentError``.

Everything that could make a later flush fail is checked here, when the document is added:
ids, value types, text that UTF-8 cannot encode (lone surrogates such as ``"\\ud800"``, legal in
JSON), nesting depth and sizes. A document that passes ``prepare`` can always be written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zhisou.analysis import AnalyzerRegistry
from zhisou.analysis.pinyin import pinyin_tokens
from zhisou.errors import DocumentError
from zhisou.schema import FieldSpec, Schema
from zhisou.values import parse_date, parse_number

# Limits, as Elasticsearch sets them: an id of at most 512 bytes, a keyword value of at most
# Lucene's 32766-byte term, stored values nested at most 20 deep (ES's mapping depth limit).
MAX_ID_BYTES = 512
MAX_KEYWORD_BYTES = 32766
MAX_DEPTH = 20
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024  # a document's stored JSON, UTF-8
# A hidden column of every segment: the content hash of each document, when the caller gave one
# (NaN otherwise). A name no schema field can have.
CONTENT_HASH_COLUMN = "#content-hash"


def content_hash(doc: Mapping[str, Any]) -> float | None:
    """A 52-bit hash of a source document (exact in a float64 column), for skipping documents
    that are unchanged when an ingest runs again; None for a document JSON cannot encode."""
    try:
        text = json.dumps(doc, ensure_ascii=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        return None
    digest = hashlib.blake2b(text.encode("ascii"), digest_size=8).digest()
    return float(int.from_bytes(digest, "little") >> 12)


@dataclass(slots=True)
class PreparedDocument:
    doc_id: str
    stored: dict[str, Any]
    stored_json: str  # ``stored`` encoded once, reused by the document store
    # Per indexed field: its terms and their positions, in token order (a term's positions
    # never decrease along that order, which the buffer's stable sort relies on).
    tokens: list[tuple[str, list[str], list[int]]]
    lengths: list[int]  # tokens per text field, in schema order
    columns: list[float]  # per column field, NaN when absent; then the content hash


def _check_utf8(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DocumentError(
            f"{what} holds {text[exc.start : exc.end]!r} at character {exc.start}, which UTF-8 cannot encode "
            "(a lone surrogate); fix the source text"
        ) from None


def document_id(doc: Mapping[str, Any], schema: Schema) -> str:
    value = doc.get(schema.id_field)
    if isinstance(value, bool) or not isinstance(value, str | int):
        if value is None:
            raise DocumentError(f"document has no {schema.id_field!r}; every document needs a unique id")
        raise DocumentError(f"{schema.id_field!r} must be a string or integer, got {type(value).__name__}")
    try:
        text = str(value).strip()
    except ValueError as exc:  # an integer too long to print
        raise DocumentError(f"{schema.id_field!r} is not a usable id ({exc})") from None
    if not text:
        raise DocumentError(f"document has an empty {schema.id_field!r}")
    _check_utf8(text, f"{schema.id_field!r}")
    if len(text.encode("utf-8")) > MAX_ID_BYTES:
        raise DocumentError(f"{schema.id_field!r} is over {MAX_ID_BYTES} bytes; use a shorter id")
    return text


def _scalar_text(value: Any) -> str | None:
    """Text of a text field's value: a string, or a number as written (YAML's ``title: 5``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value) if not isinstance(value, float) or math.isfinite(value) else None
    return None


def _text_value(spec: FieldSpec, value: Any) -> str:
    text = _scalar_text(value)
    if text is None and isinstance(value, list | tuple):
        parts = [_scalar_text(v) for v in value]
        if all(part is not None for part in parts):
            text = "\n".join(parts)  # type: ignore[arg-type]
    if text is None:
        raise DocumentError(f"field {spec.name!r} must be text (or a list of texts), got {type(value).__name__}")
    _check_utf8(text, f"field {spec.name!r}")
    return text


def _keyword_values(spec: FieldSpec, value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise DocumentError(f"field {spec.name!r} must hold strings, got {type(item).__name__}")
        text = str(item)
        _check_utf8(text, f"field {spec.name!r}")
        if len(text.encode("utf-8")) > MAX_KEYWORD_BYTES:
            raise DocumentError(f"field {spec.name!r} has a value over {MAX_KEYWORD_BYTES} bytes; make it a text field")
        out.append(text)
    return out


def _jsonable(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` as plain JSON data: dates as ISO text, non-finite numbers as null; anything
    JSON cannot hold, text UTF-8 cannot encode or nesting deeper than ``MAX_DEPTH`` is refused."""
    if isinstance(value, str):
        _check_utf8(value, where)
        return value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if depth >= MAX_DEPTH:
        raise DocumentError(f"{where} is nested more than {MAX_DEPTH} levels deep; flatten it")
    if isinstance(value, list | tuple):
        return [_jsonable(item, where, depth + 1) for item in value]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise DocumentError(f"{where} has a key of type {type(key).__name__}; keys must be text")
            _check_utf8(key, f"a key of {where}")
            out[key] = _jsonable(item, where, depth + 1)
        return out
    raise DocumentError(f"{where} holds a {type(value).__name__}, which cannot be stored as JSON")


class DocumentPreparer:
    def __init__(self, schema: Schema, analyzers: AnalyzerRegistry) -> None:
        self.schema = schema
        self.analyzers = analyzers
        self._id_analyzer = analyzers.get("exact")

    def prepare(self, doc: Mapping[str, Any], content_hash: float | None = None) -> PreparedDocument:
        """``content_hash``: the source's ``content_hash``, kept in a hidden column."""
        if not isinstance(doc, Mapping):
            raise DocumentError(f"a document must be an object, got {type(doc).__name__}")
        schema = self.schema
        doc_id = document_id(doc, schema)
        tokens: list[tuple[str, list[str], list[int]]] = [(schema.id_field, [doc_id], [0])]
        stored: dict[str, Any] = {schema.id_field: doc_id}
        lengths: list[int] = []
        columns: list[float] = []
        for spec in schema.fields:
            value = doc.get(spec.name if spec.copy_from is None else spec.copy_from)
            if spec.copy_from is not None and isinstance(value, list | tuple):
                value = [item for item in value if isinstance(item, str)]  # tags: the words of each
            if spec.type == "text":
                length = 0
                if value is not None:
                    text = _text_value(spec, value)
                    stream = self.analyzers.get(spec.analyzer_name).stream(text)
                    length = len(stream.terms)
                    tokens.append((spec.name, stream.terms, stream.positions))
                    if spec.pinyin:  # not counted in the field's length
                        tokens.append((spec.name, *pinyin_tokens(stream.terms, stream.positions, stream.cjk)))
                lengths.append(length)
            elif spec.type == "keyword":
                if value is not None:
                    analyzer = self.analyzers.get(spec.analyzer_name)
                    values = [
                        (term, ordinal)
                        for ordinal, item in enumerate(_keyword_values(spec, value))
                        for term in analyzer.terms(item)
                    ]
                    tokens.append((spec.name, [t for t, _ in values], [o for _, o in values]))
            else:
                number = math.nan
                if value is not None and value != "":
                    try:
                        number = parse_date(value) if spec.type == "date" else parse_number(value)
                    except ValueError as exc:
                        raise DocumentError(f"field {spec.name!r}: {exc}") from exc
                columns.append(number)
            if value is not None and spec.stored:
                stored[spec.name] = _jsonable(value, f"field {spec.name!r}")
        for name, value in doc.items():
            if not isinstance(name, str):
                raise DocumentError(f"document {doc_id!r} has a field name of type {type(name).__name__}")
            if name not in schema:
                _check_utf8(name, "a field name")
                stored[name] = _jsonable(value, f"field {name!r}")
        try:
            stored_json = json.dumps(stored, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:  # e.g. an integer too long to print
            raise DocumentError(f"document {doc_id!r} has a value that cannot be stored as JSON: {exc}") from None
        if len(stored_json) > MAX_DOCUMENT_BYTES // 4 and len(stored_json.encode("utf-8")) > MAX_DOCUMENT_BYTES:
            raise DocumentError(f"document {doc_id!r} is over {MAX_DOCUMENT_BYTES >> 20} MiB; split it")
        columns.append(math.nan if content_hash is None else content_hash)
        return PreparedDocument(doc_id, stored, stored_json, tokens, lengths, columns)
