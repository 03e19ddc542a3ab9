"""The Python API: an index is a directory.

    index = Index.create("notes-index")            # or Index.open(...)
    index.add([{"id": "1", "title": "倒排索引", "body": "..."}])
    index.commit()
    result = index.search("倒排索引", size=5)

Writes go through one ``IndexWriter`` (opened on first use, holding the directory's lock);
searches go through a ``Searcher`` on the latest commit. A searcher taken with
``index.searcher()`` keeps its snapshot however much is committed after it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zhisou.analysis import ANALYSIS_VERSION
from zhisou.errors import DocumentError, IndexExistsError, ZhisouError
from zhisou.index.codec import CODEC_VERSION
from zhisou.index.directory import atomic_write_bytes, fsync_directory
from zhisou.index.manifest import Manifest, load_latest, manifest_generations
from zhisou.index.reader import IndexReader
from zhisou.index.sharded import ShardedReader, ShardedWriter, create_shards, drop_shards, open_reader
from zhisou.index.shards import is_sharded, load_shard_set
from zhisou.index.writer import IndexWriter, replace_index
from zhisou.schema import Schema
from zhisou.search.results import SearchResult
from zhisou.search.searcher import Searcher
from zhisou.search.similarity import BM25

if TYPE_CHECKING:
    from zhisou.suggest.complete import Completion
    from zhisou.suggest.service import Suggestions
    from zhisou.suggest.trending import Trend

SCHEMA_FILE = "schema.json"
REFRESH_SECONDS = 1.0


class Index:
    def __init__(
        self,
        directory: Path,
        *,
        ram_budget_mb: float = 256,
        similarity: BM25 | None = None,
        on_embedded: Callable[[int], None] | None = None,
        threads: int | None = None,
    ) -> None:
        """``on_embedded``: called with how many passages were just embedded, while the writer
        of an index with semantic recall flushes (for a progress display). ``threads``: processes
        that analyse long batches of added documents (0: one per core; default: this one)."""
        self.directory = Path(directory)
        self.ram_budget_mb = ram_budget_mb
        self.on_embedded = on_embedded
        self.threads = threads
        self.similarity = similarity or BM25()
        self._writer: IndexWriter | ShardedWriter | None = None
        self._searcher: Searcher | None = None
        self._reader: IndexReader = open_reader(self.directory)
        self._checked_at = time.monotonic()
        self._suggestions: Suggestions | None = None

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        directory: str | Path,
        schema: Schema | None = None,
        *,
        overwrite: bool = False,
        origin: str | None = None,
        shards: int = 1,
        **options: Any,
    ) -> Index:
        """Create an empty index at ``directory`` (of ``shards`` shards: ``index/sharded.py``).

        A new or empty folder is always fine. An existing index is replaced only with
        ``overwrite=True`` — atomically, under its write lock (``IndexLockedError`` while another
        writer has it open), removing only the old index's own files. A folder holding other
        files needs ``overwrite=True`` too; the index is then created beside them and they are
        never touched. ``origin`` is recorded in the manifest's settings (``zhisou demo`` marks
        its index so it can rebuild it without asking).
        """
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise IndexExistsError(f"{directory} is a file; choose a folder for the index")
        existing = bool(manifest_generations(directory)) or is_sharded(directory)
        if not overwrite:
            if existing:
                raise IndexExistsError(
                    f"an index already exists at {directory}; open it, or replace it with --overwrite (overwrite=True)"
                )
            if directory.exists() and any(directory.iterdir()):
                raise IndexExistsError(
                    f"{directory} is not empty; choose an empty or new folder, or pass --overwrite (overwrite=True) "
                    "to create the index beside its files (they are left alone)"
                )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZhisouError(f"cannot create {directory}: {exc.strerror}") from None
        schema = schema or Schema.default()
        settings = {"origin": origin} if origin else {}
        manifest = Manifest(generation=0, schema=schema.to_dict(), settings=settings)
        if shards != 1 or is_sharded(directory):
            # Replacing a sharded index (or an index by a sharded one) is not atomic: the old
            # one is removed, then the new one laid out.
            if existing:
                drop_shards(directory)
            if shards != 1:
                create_shards(directory, schema, shards, settings)
            else:
                manifest.write(directory)
        elif existing:
            replace_index(directory, manifest)
        else:
            manifest.write(directory)
        atomic_write_bytes(
            directory / SCHEMA_FILE, (json.dumps(schema.to_dict(), ensure_ascii=False, indent=2) + "\n").encode()
        )
        fsync_directory(directory)
        return cls(directory, **options)

    @staticmethod
    def origin_of(directory: str | Path) -> str | None:
        """What created the index at ``directory`` (``Index.create``'s ``origin``), if readable."""
        try:
            if is_sharded(Path(directory)):
                return load_shard_set(Path(directory)).settings.get("origin")
            return load_latest(Path(directory)).settings.get("origin")
        except ZhisouError:
            return None

    @classmethod
    def open(cls, directory: str | Path, **options: Any) -> Index:
        return cls(Path(directory), **options)

    @classmethod
    def open_or_create(cls, directory: str | Path, schema: Schema | None = None, **options: Any) -> Index:
        if manifest_generations(Path(directory)) or is_sharded(Path(directory)):
            return cls.open(directory, **options)
        return cls.create(directory, schema, **options)

    @property
    def schema(self) -> Schema:
        return self._reader.schema

    # -- writing ---------------------------------------------------------------------------
    @property
    def writer(self) -> IndexWriter | ShardedWriter:
        if self._writer is None or self._writer.closed:
            kind = ShardedWriter if isinstance(self._reader, ShardedReader) else IndexWriter
            self._writer = kind(
                self.directory,
                ram_budget_mb=self.ram_budget_mb,
                analyzers=self._reader.analyzers,
                on_embedded=self.on_embedded,
                threads=self.threads,
            )
        return self._writer

    def add(self, docs: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> int:
        """Add or replace documents (visible after ``commit``). Returns how many were added."""
        if isinstance(docs, Mapping):
            docs = [docs]
        elif isinstance(docs, str | bytes) or not isinstance(docs, Iterable):
            raise DocumentError(f"add() takes a document (a dict) or several, got {type(docs).__name__}")
        return self.writer.add_many(docs)

    def delete(self, doc_ids: str | Iterable[str]) -> int:
        """Delete documents by id (visible after ``commit``). Returns how many existed."""
        if isinstance(doc_ids, str):
            doc_ids = [doc_ids]
        elif not isinstance(doc_ids, Iterable):
            raise DocumentError(f"delete() takes an id or several, got {type(doc_ids).__name__}")
        return self.writer.delete(doc_ids)

    def commit(self) -> int:
        """Publish all changes atomically; returns the new generation."""
        manifest = self.writer.commit()
        self.refresh()
        return manifest.generation

    def rollback(self) -> None:
        if self._writer is not None and not self._writer.closed:
            self._writer.rollback()

    @property
    def open_writer(self) -> IndexWriter | ShardedWriter | None:
        """The writer, if one is open (holding the write lock); None otherwise."""
        return self._writer if self._writer is not None and not self._writer.closed else None

    def optimize(self) -> int:
        """Merge all segments into one, dropping deleted documents."""
        manifest = self.writer.optimize()
        self.refresh()
        return manifest.generation

    # -- reading ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Switch searches to the newest commit now (they also check every ``REFRESH_SECONDS``,
        as Elasticsearch's refresh interval does; this handle's own commits show at once)."""
        self._checked_at = time.monotonic()
        reader = self._reader.reopen()
        if reader is not self._reader:
            self._reader = reader
            self._searcher = None

    def searcher(self) -> Searcher:
        """A searcher on the latest commit; it keeps that snapshot for as long as you hold it.

        Commits made through another handle or process become visible within ``REFRESH_SECONDS``.
        """
        if time.monotonic() - self._checked_at >= REFRESH_SECONDS:
            self.refresh()
        if self._searcher is None:
            self._searcher = Searcher(self._reader, self.similarity)
        return self._searcher

    def search(self, query: str = "", **options: Any) -> SearchResult:
        """See ``Searcher.search`` for the options (page, size, filters, sort, ...)."""
        return self.searcher().search(query, **options)

    @property
    def suggestions(self) -> Suggestions:
        """Autocomplete, trending and related searches (``suggest/service.py``)."""
        if self._suggestions is None:
            from zhisou.suggest.service import Suggestions

            self._suggestions = Suggestions(self.directory)
        return self._suggestions

    def suggest(self, prefix: str, size: int = 8) -> list[Completion]:
        """Completions of a typed ``prefix``, best first: popular past queries from the search
        log, then the index's titles, tags and frequent words; by text, pinyin or initials, and
        one typo away for Latin prefixes of four letters or more (``suggest/complete.py``)."""
        return self.suggestions.complete(self.searcher().reader, prefix, size)

    def trending(self, size: int = 10, window: str = "1d", *, wait: float | None = None) -> list[Trend]:
        """Searches rising most in the last ``window`` (``6h``, ``1d``, ``7d``) against their
        baseline (``suggest/trending.py``); ``wait``: at most this long for a first reading of
        the search log (then none yet), None: until it is read."""
        return self.suggestions.trending(size, window, wait=wait)

    def related_searches(self, query: str, results: list[str], size: int = 6) -> list[str]:
        """Logged searches related to ``query`` (whose results are the ids ``results``): by
        co-click, then by its most distinctive word (``suggest/related_queries.py``)."""
        return self.suggestions.related(self.searcher().reader, query, results, size)

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self.searcher().get(doc_id)

    def __len__(self) -> int:
        return self.searcher().doc_count

    def stats(self) -> dict[str, Any]:
        reader = self.searcher().reader
        manifest = reader.manifest
        folders = [self.directory]
        if isinstance(reader, ShardedReader):
            folders += [shard.directory for shard in reader.shards]
        size = sum(p.stat().st_size for folder in folders for p in folder.iterdir() if p.is_file())
        return {
            "path": str(self.directory),
            "shards": len(reader.shards) if isinstance(reader, ShardedReader) else 1,
            "generation": manifest.generation,
            "documents": reader.doc_count,
            "deleted": sum(s.del_count for s in manifest.segments),
            "segments": len(manifest.segments),
            # Segments of an older codec (read through index/legacy.py): ``optimize`` rewrites them.
            "old_codec_segments": sum(segment.meta.codec != CODEC_VERSION for segment in reader.segments),
            # Segments whose terms came from an older analysis (ANALYSIS_VERSION): indexing their
            # documents again (``zhisou index``, ``sync``) brings them up to date.
            "old_analysis_segments": sum(segment.meta.analysis < ANALYSIS_VERSION for segment in reader.segments),
            "terms": reader.distinct_live_terms(),  # distinct (field, term) keys of live documents
            "size_bytes": size,
            "fields": [
                {"name": f.name, "type": f.type, "analyzer": f.analyzer, "boost": f.boost} for f in reader.schema.fields
            ],
        }

    def verify(self) -> None:
        """Read every file of the current commit against its checksum (``zhisou check``
        lists every problem; this raises ``CorruptIndexError`` at the first)."""
        self.searcher().reader.verify(remember=False)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
