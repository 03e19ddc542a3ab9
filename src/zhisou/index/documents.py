"""Turns a user document (a mapping) into what the index stores: terms with positions,
field lengths, column values and the stored fields. Bad values raise ``DocumentError``."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zhisou.analysis import AnalyzerRegistry
from zhisou.errors import DocumentError
from zhisou.schema import FieldSpec, Schema
from zhisou.values import parse_date, parse_number


@dataclass(slots=True)
class PreparedDocument:
    doc_id: str
    stored: dict[str, Any]
    stored_json: str  # ``stored`` encoded once, reused by the document store
    # Per indexed field: its terms and their positions, in token order (a term's positions
    # never decrease along that order, which the buffer's stable sort relies on).
    tokens: list[tuple[str, list[str], list[int]]]
    lengths: list[int]  # tokens per text field, in schema order
    columns: list[float]  # per column field, NaN when absent


def document_id(doc: Mapping[str, Any], schema: Schema) -> str:
    value = doc.get(schema.id_field)
    if isinstance(value, bool) or not isinstance(value, str | int):
        if value is None:
            raise DocumentError(f"document has no {schema.id_field!r}; every document needs a unique id")
        raise DocumentError(f"{schema.id_field!r} must be a string or integer, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise DocumentError(f"document has an empty {schema.id_field!r}")
    return text


def _text_value(spec: FieldSpec, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    raise DocumentError(f"field {spec.name!r} must be text (or a list of texts), got {type(value).__name__}")


def _keyword_values(spec: FieldSpec, value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise DocumentError(f"field {spec.name!r} must hold strings, got {type(item).__name__}")
        out.append(str(item))
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class DocumentPreparer:
    def __init__(self, schema: Schema, analyzers: AnalyzerRegistry) -> None:
        self.schema = schema
        self.analyzers = analyzers
        self._id_analyzer = analyzers.get("exact")

    def prepare(self, doc: Mapping[str, Any]) -> PreparedDocument:
        if not isinstance(doc, Mapping):
            raise DocumentError(f"a document must be an object, got {type(doc).__name__}")
        schema = self.schema
        doc_id = document_id(doc, schema)
        tokens: list[tuple[str, list[str], list[int]]] = [(schema.id_field, [doc_id], [0])]
        stored: dict[str, Any] = {schema.id_field: doc_id}
        lengths: list[int] = []
        columns: list[float] = []
        for spec in schema.fields:
            value = doc.get(spec.name)
            if spec.type == "text":
                length = 0
                if value is not None:
                    text = _text_value(spec, value)
                    stream = self.analyzers.get(spec.analyzer or "zh").stream(text)
                    length = len(stream.terms)
                    tokens.append((spec.name, stream.terms, stream.positions))
                lengths.append(length)
            elif spec.type == "keyword":
                if value is not None:
                    analyzer = self.analyzers.get(spec.analyzer or "keyword")
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
                stored[spec.name] = _jsonable(value)
        for name, value in doc.items():
            if name not in schema:
                stored[name] = _jsonable(value)
        try:
            stored_json = json.dumps(stored, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise DocumentError(f"document {doc_id!r} has a value that cannot be stored as JSON: {exc}") from exc
        return PreparedDocument(doc_id, stored, stored_json, tokens, lengths, columns)
