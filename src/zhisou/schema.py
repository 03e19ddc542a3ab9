"""Index schema: which fields a document has and how each is analyzed, stored and scored.

A schema is plain data, saved as ``schema.json`` in the index directory and copied into every
manifest. Field types:

* ``text``    — analyzed (``zh`` by default), scored with BM25 times ``boost``, positions kept for phrases.
* ``keyword`` — exact values (one or many per document) for filters and facets: ``tags:llm``.
* ``date``    — ISO dates or datetimes, for range filters and sorting (``date:>=2024-01-01``).
* ``number``  — integers or floats, for range filters and sorting.

One field is the document id (``id_field``); it is stored and indexed exactly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from zhisou.analysis.analyzers import ANALYZER_NAMES
from zhisou.errors import SchemaError

FieldType = Literal["text", "keyword", "date", "number"]
FIELD_TYPES: tuple[str, ...] = ("text", "keyword", "date", "number")
_DEFAULT_ANALYZER = {"text": "zh", "keyword": "keyword"}


@dataclass(frozen=True)
class FieldSpec:
    """One field of the schema."""

    name: str
    type: FieldType = "text"
    analyzer: str | None = None
    boost: float = 1.0
    stored: bool = True
    pinyin: bool = False  # text: also index each Chinese word's pinyin and initials (analysis/pinyin.py)
    copy_from: str | None = None  # text: index another field's values as words (Elasticsearch's copy_to)

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise SchemaError(f"field name {self.name!r} must be letters, digits, '_' or '-'")
        if self.type not in FIELD_TYPES:
            raise SchemaError(
                f"field {self.name!r}: unknown type {self.type!r}; choose one of {', '.join(FIELD_TYPES)}"
            )
        if self.analyzer is None and self.type in _DEFAULT_ANALYZER:
            object.__setattr__(self, "analyzer", _DEFAULT_ANALYZER[self.type])
        if self.analyzer is not None and self.analyzer not in ANALYZER_NAMES:
            raise SchemaError(
                f"field {self.name!r}: unknown analyzer {self.analyzer!r}; choose one of {', '.join(ANALYZER_NAMES)}"
            )
        if not (self.boost > 0):
            raise SchemaError(f"field {self.name!r}: boost must be > 0, got {self.boost}")
        if self.pinyin and self.type != "text":
            raise SchemaError(f"field {self.name!r}: pinyin is for text fields, not {self.type}")
        if self.copy_from is not None and (self.type != "text" or self.stored):
            raise SchemaError(f'field {self.name!r}: copy_from makes a text field with "stored": false')

    @property
    def analyzer_name(self) -> str:
        """The analyzer that turns this field's values into terms (``zh`` for text, ``keyword``
        for keywords unless the schema names another)."""
        return self.analyzer or _DEFAULT_ANALYZER.get(self.type, "keyword")


DEFAULT_EMBEDDING_MODEL = "multilingual-e5-small"


@dataclass(frozen=True)
class SemanticSpec:
    """Semantic recall: which model embeds the documents, and what it reads. Every document
    is split into passages of at most ``passage_tokens`` tokens of its ``fields`` (text fields,
    joined in order), each led by the ``title`` field; the index records the model, and a query
    is encoded by the same one."""

    model: str = DEFAULT_EMBEDDING_MODEL  # a registered name, a model directory, or a Hugging Face name
    fields: tuple[str, ...] = ()  # default: every text field but the title
    title: str | None = None  # default: a text field called "title", if any
    passage_tokens: int = 512
    overlap_tokens: int = 32
    # A segment with at least this many passages also gets an HNSW graph (approximate search,
    # ``embed/ann.py``); smaller ones are searched exactly, which is as fast there.
    hnsw_min_passages: int = 20_000

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise SchemaError("semantic: model must name an embedding model")
        if not 16 <= self.passage_tokens <= 8192 or not 0 <= self.overlap_tokens < self.passage_tokens // 2:
            raise SchemaError("semantic: passage_tokens must be 16-8192 and overlap_tokens under half of it")
        if not isinstance(self.hnsw_min_passages, int) or self.hnsw_min_passages < 1:
            raise SchemaError("semantic: hnsw_min_passages must be a whole number >= 1")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "fields": list(self.fields),
            "title": self.title,
            "passage_tokens": self.passage_tokens,
            "overlap_tokens": self.overlap_tokens,
        }
        if self.hnsw_min_passages != SemanticSpec.hnsw_min_passages:  # schemas written before it stay as they were
            out["hnsw_min_passages"] = self.hnsw_min_passages
        return out


@dataclass(frozen=True)
class Schema:
    """The fields of an index, in a fixed order; ``id_field`` names the unique document id;
    ``semantic`` turns on semantic recall (embeddings of every document's passages)."""

    fields: tuple[FieldSpec, ...]
    id_field: str = "id"
    semantic: SemanticSpec | None = None
    _by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)
    _text: tuple[FieldSpec, ...] = field(init=False, repr=False, compare=False)
    _columns: tuple[FieldSpec, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, FieldSpec] = {}
        for spec in self.fields:
            if spec.name in by_name:
                raise SchemaError(f"field {spec.name!r} is declared twice")
            by_name[spec.name] = spec
        if self.id_field in by_name:
            raise SchemaError(f"field {self.id_field!r} is the document id; do not declare it as a field")
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_text", tuple(f for f in self.fields if f.type == "text"))
        object.__setattr__(self, "_columns", tuple(f for f in self.fields if f.type in ("date", "number")))
        if not self.text_fields:
            raise SchemaError("a schema needs at least one text field")
        for spec in self.fields:
            source = by_name.get(spec.copy_from) if spec.copy_from is not None else None
            if spec.copy_from is not None and (source is None or source.type not in ("text", "keyword")):
                raise SchemaError(f"field {spec.name!r}: copy_from {spec.copy_from!r} is not a text or keyword field")
        if self.semantic is not None:
            object.__setattr__(self, "semantic", self._resolve_semantic(self.semantic))

    def _resolve_semantic(self, spec: SemanticSpec) -> SemanticSpec:
        """The spec with its defaults filled from the fields, checked against them."""
        text = [f.name for f in self.text_fields]
        title = spec.title if spec.title is not None else ("title" if "title" in text and len(text) > 1 else None)
        copies = {f.name for f in self.text_fields if f.copy_from is not None}
        fields = spec.fields or tuple(name for name in text if name != title and name not in copies)
        for name in (*fields, *([title] if title else [])):
            if name not in text:
                raise SchemaError(f"semantic: {name!r} is not a text field; text fields: {', '.join(text)}")
        return replace(spec, fields=tuple(fields), title=title)

    def with_semantic(self, spec: SemanticSpec | None) -> Schema:
        return Schema(self.fields, self.id_field, spec)

    # -- lookups -------------------------------------------------------------------------------
    def get(self, name: str) -> FieldSpec | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name or name == self.id_field

    @property
    def text_fields(self) -> tuple[FieldSpec, ...]:
        return self._text

    @property
    def column_fields(self) -> tuple[FieldSpec, ...]:
        """Date and number fields: one value per document, kept in a column for ranges and sorting."""
        return self._columns

    @property
    def field_names(self) -> tuple[str, ...]:
        return (self.id_field, *(f.name for f in self.fields))

    # -- (de)serialization ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        defaults = {"pinyin": False, "copy_from": None}  # left out when unset: older schemas read the same
        fields = [{k: v for k, v in asdict(f).items() if k not in defaults or v != defaults[k]} for f in self.fields]
        out: dict[str, Any] = {"id_field": self.id_field, "fields": fields}
        if self.semantic is not None:
            out["semantic"] = self.semantic.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "schema") -> Schema:
        if not isinstance(data, dict) or not isinstance(data.get("fields"), list):
            raise SchemaError(f"{source}: expected an object with a 'fields' list")
        specs = []
        for number, entry in enumerate(data["fields"], start=1):
            if not isinstance(entry, dict) or "name" not in entry:
                raise SchemaError(f"{source}: field #{number} needs at least a 'name'")
            unknown = set(entry) - {"name", "type", "analyzer", "boost", "stored", "pinyin", "copy_from"}
            if unknown:
                raise SchemaError(f"{source}: field {entry['name']!r} has unknown keys {sorted(unknown)}")
            try:
                specs.append(FieldSpec(**entry))
            except TypeError as exc:
                raise SchemaError(f"{source}: field {entry['name']!r}: {exc}") from exc
        semantic = data.get("semantic")
        if semantic is not None:
            if not isinstance(semantic, dict):
                example = f'{{"model": "{DEFAULT_EMBEDDING_MODEL}"}}'
                raise SchemaError(f"{source}: 'semantic' must be an object, e.g. {example}")
            unknown = set(semantic) - {
                "model",
                "fields",
                "title",
                "passage_tokens",
                "overlap_tokens",
                "hnsw_min_passages",
            }
            if unknown:
                raise SchemaError(f"{source}: semantic has unknown keys {sorted(unknown)}")
            try:
                semantic = SemanticSpec(**{**semantic, "fields": tuple(semantic.get("fields") or ())})
            except TypeError as exc:
                raise SchemaError(f"{source}: semantic: {exc}") from exc
        return cls(tuple(specs), id_field=str(data.get("id_field", "id")), semantic=semantic)

    @classmethod
    def load(cls, path: Path) -> Schema:
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark is no JSON error
        except FileNotFoundError as exc:
            raise SchemaError(f"schema file {path} does not exist") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SchemaError(f"{path}: not valid JSON ({exc}); fix the file and retry") from exc
        return cls.from_dict(data, str(path))

    @classmethod
    def default(cls) -> Schema:
        """Notes and blogs: ``title`` (boosted), ``body`` (both with pinyin forms), ``tags``
        (also searchable as words, below title and body: ``tag_words``), ``date``, ``url``."""
        return cls(
            (
                FieldSpec("title", "text", boost=2.0, pinyin=True),
                FieldSpec("body", "text", pinyin=True),
                FieldSpec("tags", "keyword"),
                FieldSpec("tag_words", "text", boost=0.5, stored=False, copy_from="tags"),
                FieldSpec("date", "date"),
                FieldSpec("url", "keyword", analyzer="exact"),
            )
        )
