"""Reading and writing a sharded index (``shards.py`` has its on-disk record).

``ShardedReader`` is an ``IndexReader`` over every shard's segments, one shard after another
(Lucene's ``MultiReader``): collection statistics, stored fields, facets and the feed read it as
one index, so scores equal a single index's over the same documents; ``shards`` and
``shard_bases`` let a searcher run each shard's part of a query on its own thread
(``search/sharded.py``). ``ShardedWriter`` routes adds and deletes by id hash to one
``IndexWriter`` per shard and publishes them together.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.analysis import AnalysisResources, AnalyzerRegistry
from zhisou.errors import CorruptIndexError, IndexNotFoundError, ZhisouError
from zhisou.index.directory import WriteLock, fsync_directory
from zhisou.index.documents import PreparedDocument, document_id
from zhisou.index.manifest import Manifest, load_generation, manifest_generations
from zhisou.index.parallel import add_documents, resolve_workers
from zhisou.index.reader import OPEN_RETRY_SECONDS, IndexReader
from zhisou.index.segment import SegmentMeta
from zhisou.index.shards import ShardSet, load_shard_set, record_generations, remove_old_records, shard_of
from zhisou.index.writer import IndexWriter
from zhisou.schema import Schema


class ShardedReader(IndexReader):
    """A point-in-time view of a sharded index: each shard at the generation one record names."""

    def __init__(self, root: Path, record: ShardSet, shards: list[IndexReader], analyzers: AnalyzerRegistry) -> None:
        segments = [segment for shard in shards for segment in shard.segments]
        manifest = Manifest(
            generation=record.generation,
            schema=record.schema,
            segments=tuple(segment.meta for segment in segments),
            settings=record.settings,
        )
        super().__init__(root, manifest, segments, analyzers)
        self.record = record
        self.shards = shards
        self.shard_bases = np.cumsum([0] + [shard.max_doc for shard in shards], dtype=np.int64)

    @classmethod
    def open(  # type: ignore[override]
        cls, directory: Path, analyzers: AnalyzerRegistry | None = None, *, previous: ShardedReader | None = None
    ) -> ShardedReader:
        """Open the newest sharded commit (reusing ``previous``'s shard readers that did not change)."""
        root = Path(directory)
        registry = analyzers or AnalyzerRegistry(AnalysisResources.load(root))
        opened = {} if previous is None else {(r.directory.name, r.generation): r for r in previous.shards}
        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        while True:
            record = load_shard_set(root)
            try:
                shards = []
                for path, generation in zip(record.paths(root), record.generations):
                    shard = opened.get((path.name, generation))
                    if shard is None:
                        shard = IndexReader.open(path, registry, generation=generation)
                        opened[(path.name, generation)] = shard
                    shards.append(shard)
            except (CorruptIndexError, FileNotFoundError, IndexNotFoundError) as exc:
                if load_shard_set(root).generation != record.generation and time.monotonic() < deadline:
                    continue  # a newer sharded commit removed what this one named
                if isinstance(exc, CorruptIndexError):
                    raise
                raise CorruptIndexError(f"{root}: {exc}; the sharded index is damaged") from exc
            return cls(root, record, shards, registry)

    def is_current(self) -> bool:
        generations = record_generations(self.directory)
        return not generations or generations[0] == self.generation

    def reopen(self) -> ShardedReader:
        if self.is_current():
            return self
        return ShardedReader.open(self.directory, self.analyzers, previous=self)


class ShardedWriter:
    """One ``IndexWriter`` per shard behind the ``IndexWriter`` methods an ``Index`` uses.

    Holds the root's write lock and every shard's. A commit commits the shards that changed,
    then writes the next shard record; opening rolls back a commit that stopped between the
    two (a shard whose newest generation is past the record's gets the recorded one again), so
    a sharded commit is all or nothing."""

    def __init__(
        self,
        root: Path,
        *,
        ram_budget_mb: float = 256,
        analyzers: AnalyzerRegistry | None = None,
        on_embedded: Callable[[int], None] | None = None,
        threads: int | None = None,
    ) -> None:
        self.directory = Path(root)
        self.workers = resolve_workers(threads)
        self._lock = WriteLock(self.directory)
        self._lock.acquire()
        self.writers: list[IndexWriter] = []
        try:
            self._record = load_shard_set(self.directory)
            self._previous: ShardSet | None = None
            self.schema = Schema.from_dict(self._record.schema, str(self.directory))
            self.analyzers = analyzers or AnalyzerRegistry(AnalysisResources.load(self.directory))
            self._roll_back_interrupted_commit()
            budget = ram_budget_mb / self._record.count
            for path in self._record.paths(self.directory):
                self.writers.append(
                    IndexWriter(path, ram_budget_mb=budget, analyzers=self.analyzers, on_embedded=on_embedded)
                )
            remove_old_records(self.directory, {self._record.generation})
        except BaseException:
            for writer in self.writers:
                writer.close()
            self._lock.release()
            raise

    def _roll_back_interrupted_commit(self) -> None:
        """Shards committed by a sharded commit whose record was never written get the recorded
        generation's segments back, as a newer generation (their files are still there: a
        writer keeps the commit before its last)."""
        for path, recorded in zip(self._record.paths(self.directory), self._record.generations):
            newest = manifest_generations(path)
            if not newest or newest[0] <= recorded:
                continue
            lock = WriteLock(path)
            lock.acquire()
            try:
                try:
                    old = load_generation(path, recorded)
                except FileNotFoundError:
                    raise CorruptIndexError(
                        f"{path}: generation {recorded}, which the shard record names, is gone; restore the index"
                    ) from None
                Manifest(newest[0] + 1, old.schema, old.segments, old.settings, old.user_data).write(path)
            finally:
                lock.release()
        # The record now names an older generation than the shards' newest: name theirs.
        generations = [manifest_generations(p)[0] for p in self._record.paths(self.directory)]
        if tuple(generations) != self._record.generations:
            self._publish(generations)

    def _publish(self, generations: Sequence[int]) -> ShardSet:
        record = self._record.next(generations)
        record.write(self.directory)
        fsync_directory(self.directory)
        self._previous, self._record = self._record, record
        # The record before last stays, as a shard keeps the commit before its last: a reader
        # that has just read it can still open what it names.
        remove_old_records(self.directory, {record.generation, self._previous.generation})
        return record

    # -- routing -----------------------------------------------------------------------------
    def shard_of(self, doc_id: str) -> int:
        return shard_of(doc_id, len(self.writers))

    def add(self, doc: Mapping[str, Any], content_hash: float | None = None) -> str:
        return self.add_prepared(self.prepare(doc, content_hash))

    def prepare(self, doc: Mapping[str, Any], content_hash: float | None = None) -> PreparedDocument:
        return self.writers[0].prepare(doc, content_hash)

    def add_prepared(self, prepared: PreparedDocument) -> str:
        return self.writers[self.shard_of(prepared.doc_id)].add_prepared(prepared)

    def add_many(self, docs: Iterable[Mapping[str, Any]]) -> int:
        """As ``IndexWriter.add_many``: a long batch written as segments of every shard by
        ``threads`` processes."""
        self._check_open()
        return add_documents(self, docs)

    @property
    def segment_folders(self) -> list[Path]:
        return [writer.directory for writer in self.writers]

    def adopt(self, segments: list[tuple[int, SegmentMeta]]) -> None:
        """Adopt segments written in ``segment_folders``, each shard's in one call, in order."""
        by_shard: dict[int, list[SegmentMeta]] = {}
        for shard, meta in segments:
            by_shard.setdefault(shard, []).append(meta)
        for shard, metas in by_shard.items():
            self.writers[shard].add_segments(metas)

    def unchanged(self, doc_ids: list[str], hashes: list[float | None]) -> list[bool]:
        result = [False] * len(doc_ids)
        groups: dict[int, list[int]] = {}
        for position, doc_id in enumerate(doc_ids):
            groups.setdefault(self.shard_of(doc_id), []).append(position)
        for shard, positions in groups.items():
            answers = self.writers[shard].unchanged([doc_ids[p] for p in positions], [hashes[p] for p in positions])
            for position, answer in zip(positions, answers):
                result[position] = answer
        return result

    def delete(self, doc_ids: str | Iterable[str]) -> int:
        if isinstance(doc_ids, str):
            doc_ids = [doc_ids]
        deleted = 0
        for doc_id in doc_ids:
            normalised = document_id({self.schema.id_field: doc_id}, self.schema)
            deleted += self.writers[self.shard_of(normalised)].delete([normalised])
        return deleted

    # -- commits -----------------------------------------------------------------------------
    @property
    def has_changes(self) -> bool:
        return any(writer.has_changes for writer in self.writers)

    def flush(self) -> None:
        for writer in self.writers:
            writer.flush()

    def commit(self, *, merge: bool = True) -> ShardSet:
        """Commit every shard that changed, then publish them together."""
        self._check_open()
        generations = [writer.commit(merge=merge).generation for writer in self.writers]
        if tuple(generations) == self._record.generations:
            return self._record
        return self._publish(generations)

    def optimize(self) -> ShardSet:
        """Merge each shard into one segment (shards stay apart)."""
        self._check_open()
        generations = [writer.optimize().generation for writer in self.writers]
        if tuple(generations) == self._record.generations:
            return self._record
        return self._publish(generations)

    def rollback(self) -> None:
        for writer in self.writers:
            writer.rollback()

    @property
    def manifest(self) -> ShardSet:
        return self._record

    @property
    def closed(self) -> bool:
        return not self._lock.held

    def _check_open(self) -> None:
        if self.closed:
            raise ZhisouError(f"{self.directory}: this writer is closed; open a new one")

    def close(self) -> None:
        if not self.closed:
            for writer in self.writers:
                with contextlib.suppress(Exception):
                    writer.close()
            self._lock.release()

    def __enter__(self) -> ShardedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_reader(directory: Path, analyzers: AnalyzerRegistry | None = None) -> IndexReader:
    """The newest commit of the index at ``directory``, sharded or not."""
    from zhisou.index.shards import is_sharded

    if is_sharded(directory):
        return ShardedReader.open(directory, analyzers)
    return IndexReader.open(directory, analyzers)


def create_shards(root: Path, schema: Schema, count: int, settings: Mapping[str, Any] | None = None) -> ShardSet:
    """Lay out an empty sharded index of ``count`` shards in ``root`` (which holds no index):
    each shard an empty index, then the first record — written last, so a folder without one
    is no index (what a failed creation leaves is replaced by the next)."""
    from zhisou.index.shards import MAX_SHARDS, shard_name

    if not 1 <= count <= MAX_SHARDS:
        raise ZhisouError(f"shards: {count} is out of range; choose 1 to {MAX_SHARDS}")
    names = tuple(shard_name(number) for number in range(count))
    generations = []
    for name in names:
        path = root / name
        path.mkdir(parents=True, exist_ok=True)
        existing = manifest_generations(path)
        if existing:  # left by a creation that did not finish: replace it
            from zhisou.index.writer import replace_index

            manifest = replace_index(path, Manifest(0, schema.to_dict(), settings=dict(settings or {})))
        else:
            manifest = Manifest(0, schema.to_dict(), settings=dict(settings or {}))
            manifest.write(path)
        fsync_directory(path)
        generations.append(manifest.generation)
    record = ShardSet(0, schema.to_dict(), names, tuple(generations), dict(settings or {}))
    record.write(root)
    fsync_directory(root)
    return record


def drop_shards(root: Path) -> None:
    """Remove the index at ``root`` (sharded or not) under its write lock, for a replacement:
    the shard records first (the folder stops being a sharded index), then the shards' folders
    and a plain index's files. Files of the user's are left alone."""
    import shutil

    from zhisou.index.manifest import manifest_file_name
    from zhisou.index.shards import record_file_name
    from zhisou.index.writer import remove_unreferenced_files

    lock = WriteLock(root)
    lock.acquire()
    try:
        for generation in record_generations(root):
            (root / record_file_name(generation)).unlink(missing_ok=True)
        fsync_directory(root)
        for folder in root.glob("shard-[0-9][0-9][0-9]"):
            if folder.is_dir() and manifest_generations(folder):  # a shard: an index of ours
                shutil.rmtree(folder, ignore_errors=True)
        remove_unreferenced_files(root, set())  # a plain index's segments and manifests
        for generation in manifest_generations(root):
            (root / manifest_file_name(generation)).unlink(missing_ok=True)
        fsync_directory(root)
    finally:
        lock.release()
