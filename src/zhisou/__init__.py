"""zhisou (知搜): hybrid search for Chinese and English document collections."""

from zhisou._version import __version__
from zhisou.api import Index
from zhisou.errors import (
    CorruptIndexError,
    DocumentError,
    IndexExistsError,
    IndexLockedError,
    IndexNotFoundError,
    IngestError,
    QuerySyntaxError,
    SchemaError,
    ZhisouError,
)
from zhisou.schema import FieldSpec, Schema
from zhisou.search import BM25, Hit, Searcher, SearchResult

__all__ = [
    "BM25",
    "CorruptIndexError",
    "DocumentError",
    "FieldSpec",
    "Hit",
    "Index",
    "IndexExistsError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IngestError",
    "QuerySyntaxError",
    "Schema",
    "SchemaError",
    "SearchResult",
    "Searcher",
    "ZhisouError",
    "__version__",
]
