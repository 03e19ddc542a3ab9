"""On-disk index: immutable segments, the manifest commit point, the writer and readers."""

from zhisou.index.reader import IndexReader
from zhisou.index.writer import IndexWriter

__all__ = ["IndexReader", "IndexWriter"]
