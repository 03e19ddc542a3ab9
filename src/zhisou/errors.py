"""Typed errors raised by the library.

Every error carries a one-line message that says what went wrong, where, and what to do;
the CLI and HTTP layers print that line instead of a traceback.
"""

from __future__ import annotations


class ZhisouError(Exception):
    """Base class of every error zhisou raises on purpose."""


class SchemaError(ZhisouError):
    """The schema file or a document does not fit the schema."""


class QuerySyntaxError(ZhisouError):
    """A query string could not be parsed; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.query = query
        self.position = position
        self.reason = message
        super().__init__(f"query syntax error at position {position}: {message}")


class IndexNotFoundError(ZhisouError):
    """No index (no manifest) at the given directory."""


class IndexExistsError(ZhisouError):
    """``Index.create`` was asked to create an index where one already is."""


class IndexLockedError(ZhisouError):
    """Another writer holds the index's write lock."""


class CorruptIndexError(ZhisouError):
    """A file of the index is missing, truncated or fails its checksum."""


def require_intact(condition: bool, path: object, what: str) -> None:
    """Raise ``CorruptIndexError`` naming ``path`` and ``what`` is wrong in it unless ``condition``."""
    if not condition:
        raise CorruptIndexError(f"{path}: {what}; the index is damaged (restore it or rebuild)")


class DocumentError(ZhisouError):
    """A single document is invalid (missing id, wrong value type, ...)."""


class IngestError(ZhisouError):
    """A source record could not be read; ``source`` and ``line`` say where."""

    def __init__(self, message: str, source: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
