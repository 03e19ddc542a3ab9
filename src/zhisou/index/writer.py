"""The single index writer: buffers documents, flushes segments, applies deletes, commits.

Contract: ``add``/``delete`` change nothing visible until ``commit`` writes a new manifest.
Deletes and replacements apply in call order — re-adding an id replaces the document that
was there, whether it is committed, flushed or still buffered. A crash before ``commit``
leaves the previous commit intact; files it wrote are removed the next time a writer opens.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.analysis import ANALYSIS_VERSION, AnalysisResources, AnalyzerRegistry
from zhisou.errors import SchemaError, ZhisouError
from zhisou.index.buffer import SegmentBuffer, segment_fields
from zhisou.index.codec import has_header
from zhisou.index.deletes import write_live
from zhisou.index.directory import TEMP_SUFFIX, WriteLock, fsync_directory
from zhisou.index.documents import CONTENT_HASH_COLUMN, DocumentPreparer, PreparedDocument, document_id
from zhisou.index.manifest import FORMAT, Manifest, load_latest, manifest_file_name, manifest_generations
from zhisou.index.merge import TieredMergePolicy, merge_segments
from zhisou.index.parallel import add_documents, resolve_workers, run_forked
from zhisou.index.segment import (
    SEGMENT_NAME,
    ComponentProducer,
    SegmentMeta,
    deletes_file_name,
    new_segment_name,
)
from zhisou.index.segment_reader import SegmentReader
from zhisou.index.termdict import encode_keys, term_key
from zhisou.schema import Schema

# Names of the files a writer creates. Clean-up removes an unreferenced file only when its name
# matches *and* its content says zhisou wrote it (a codec header, a zhisou manifest), so files
# of the user's that merely look alike are never touched.
# Optional components (``segment.OptionalComponent``) have 2-8 letter or digit suffixes too; a
# file so named is still only removed when its header says zhisou wrote it.
_SEGMENT_FILE = re.compile(r"^seg_[0-9a-f]+\.[a-z0-9]{2,8}$|^seg_[0-9a-f]+_\d+\.del$")
_MANIFEST_FILE = re.compile(r"^manifest_\d+\.json$")
_TEMP_FILE = re.compile(rf"^\.(?:manifest_\d+\.json|seg_[0-9a-f]+_\d+\.del){re.escape(TEMP_SUFFIX)}$")
DEFAULT_RAM_BUDGET_MB = 256


def is_owned_file(path: Path) -> bool:
    """Whether ``path`` is an index file zhisou wrote (by name and by content)."""
    name = path.name
    if _TEMP_FILE.match(name):
        return True
    if _SEGMENT_FILE.match(name):
        return has_header(path)
    if _MANIFEST_FILE.match(name):
        try:
            with open(path, "rb") as handle:
                return f'"format": "{FORMAT}"'.encode() in handle.read(64)
        except OSError:
            return False
    return False


def remove_unreferenced_files(directory: Path, keep: set[str]) -> None:
    """Delete the index files no commit in ``keep`` names: what an aborted or older writer left."""
    for entry in directory.iterdir():
        if entry.name not in keep and is_owned_file(entry):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def replace_index(directory: Path, manifest: Manifest) -> Manifest:
    """Publish ``manifest`` (schema and settings of a new, empty index) over the index at
    ``directory`` under its write lock, then remove the old index's files. Readers see the old
    index or the new one; an old manifest that cannot be read is replaced too."""
    lock = WriteLock(directory)
    lock.acquire()
    try:
        generations = manifest_generations(directory)
        generation = (generations[0] + 1) if generations else 0
        old_files = set().union(*(_files_named_by(directory / manifest_file_name(g)) for g in generations))
        replacement = Manifest(generation, manifest.schema, (), manifest.settings, manifest.user_data)
        replacement.write(directory)
        keep = replacement.referenced_files()
        for name in old_files - keep:  # an older format's files carry no frame: known by the manifest
            with contextlib.suppress(FileNotFoundError):
                (directory / name).unlink()
        remove_unreferenced_files(directory, keep)
        return replacement
    finally:
        lock.release()


def _files_named_by(path: Path) -> set[str]:
    """The segment files a zhisou manifest of any format version names (empty if unreadable)."""
    try:
        data = json.loads(path.read_bytes())
        if data.get("format") != FORMAT:
            return set()
        names = set()
        for segment in data["segments"]:
            name = str(segment["name"])
            if not SEGMENT_NAME.fullmatch(name):
                continue
            names.update(f"{name}.{suffix}" for suffix in segment["files"] if re.fullmatch(r"[a-z]{3}", str(suffix)))
            if int(segment.get("del_gen", 0)):
                names.add(deletes_file_name(name, int(segment["del_gen"])))
        return names
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return set()


def _replace(metas: list[SegmentMeta], group: list[SegmentMeta], merged: SegmentMeta) -> list[SegmentMeta]:
    """``metas`` with the segments of ``group`` replaced by ``merged``, where the first of them was."""
    names = {m.name for m in group}
    position = min(i for i, m in enumerate(metas) if m.name in names)
    kept = [m for m in metas if m.name not in names]
    kept.insert(position, merged)
    return kept


class IndexWriter:
    def __init__(
        self,
        directory: Path,
        *,
        ram_budget_mb: float = DEFAULT_RAM_BUDGET_MB,
        merge_policy: TieredMergePolicy | None = None,
        analyzers: AnalyzerRegistry | None = None,
        producers: Sequence[ComponentProducer] = (),
        on_embedded: Callable[[int], None] | None = None,
        threads: int | None = None,
    ) -> None:
        """``producers`` compute optional components (embeddings, say) for every flushed
        segment; with none given, an index with semantic recall embeds its passages, calling
        ``on_embedded`` with how many it just encoded. ``threads``: processes that analyse the
        documents of ``add_many`` (0: one per core; default 1, this one; ``parallel.py``)."""
        self.directory = Path(directory)
        self.producers = tuple(producers)
        self._lock = WriteLock(self.directory)
        self._lock.acquire()
        self._previous: Manifest | None = None  # the commit before ``_manifest``, this writer's
        try:
            self._manifest = load_latest(self.directory)
            self.schema = Schema.from_dict(self._manifest.schema, str(self.directory))
            self.analyzers = analyzers or AnalyzerRegistry(AnalysisResources.load(self.directory))
            self._preparer = DocumentPreparer(self.schema, self.analyzers)
            if self.schema.semantic is not None and not self.producers:
                from zhisou.embed.store import SchemaEmbeddings

                self.producers = (SchemaEmbeddings(self.schema.semantic, on_embedded),)
            from zhisou.suggest.phrases import with_suggestions

            self.producers = with_suggestions(self.schema, self.producers)
            self.workers = resolve_workers(threads)
            self.ram_budget_bytes = int(ram_budget_mb * 1024 * 1024)
            self.merge_policy = merge_policy or TieredMergePolicy()
            self._remove_unreferenced_files()
            self._load_segments()
        except BaseException:
            self._lock.release()
            raise

    def _load_segments(self) -> None:
        self._segments: list[SegmentReader] = [SegmentReader(self.directory, m) for m in self._manifest.segments]
        self._live: dict[str, np.ndarray] = {}  # live masks changed since the last commit
        self._buffer = SegmentBuffer(self.schema)
        self._flushed = False  # a segment was written since the last commit
        # Ids added since the last flush whose older copies in ``_segments`` are not marked
        # deleted yet: applied in one batch per segment at the next flush or delete (as
        # Lucene buffers delete terms), instead of a dictionary search per added document.
        self._pending_ids: list[str] = []

    # -- changes -----------------------------------------------------------------------------
    def add(self, doc: Mapping[str, Any], content_hash: float | None = None) -> str:
        """Add or replace one document; returns its id. Raises ``DocumentError`` for a bad one
        (checked here, in full: a document accepted now never makes a flush fail).
        ``content_hash`` (see ``documents.content_hash``) lets a later ingest skip it unchanged."""
        return self.add_prepared(self.prepare(doc, content_hash))

    def prepare(self, doc: Mapping[str, Any], content_hash: float | None = None) -> PreparedDocument:
        """Validate and analyze ``doc`` (the slow part of ``add``), changing nothing."""
        self._check_open()
        return self._preparer.prepare(doc, content_hash)

    def add_prepared(self, prepared: PreparedDocument) -> str:
        """Buffer a prepared document (the short part of ``add`` that changes the writer)."""
        self._check_open()
        self._buffer.delete(prepared.doc_id)
        self._pending_ids.append(prepared.doc_id)
        self._buffer.add(prepared)
        if self._buffer.ram_bytes >= self.ram_budget_bytes:
            self.flush()
        return prepared.doc_id

    def add_many(self, docs: Iterable[Mapping[str, Any]]) -> int:
        """Add or replace documents in order; returns how many. A long batch is analysed and
        written as segments by ``threads`` processes (``parallel.py``). A bad document raises
        its ``DocumentError`` with the ones before it added."""
        self._check_open()
        return add_documents(self, docs)

    @property
    def segment_folders(self) -> list[Path]:
        """Where segments for this writer are written (``parallel.py``)."""
        return [self.directory]

    def adopt(self, segments: list[tuple[int, SegmentMeta]]) -> None:
        """Adopt segments written in ``segment_folders`` (shard numbers are all 0 here)."""
        self.add_segments([meta for _, meta in segments])

    def unchanged(self, doc_ids: list[str], hashes: list[float | None]) -> list[bool]:
        """For each id: whether the flushed or committed document with that id is live and was
        added with this content hash (so adding it again would change nothing): not when its
        segment's terms came from an older analysis, which adding it again brings up to date."""
        self._apply_pending_ids()
        result = [False] * len(doc_ids)
        wanted = [i for i, h in enumerate(hashes) if h is not None]
        if not wanted:
            return result
        keys = encode_keys([term_key(self.schema.id_field, doc_ids[i]) for i in wanted])
        for segment in self._segments:
            ranges = segment.postings_of(keys)
            column = segment.columns.get(CONTENT_HASH_COLUMN)
            if column is None or segment.meta.analysis < ANALYSIS_VERSION:
                continue
            live = self._live.get(segment.meta.name)
            if live is None:
                live = segment.live_mask()
            for row in np.flatnonzero(ranges[:, 1]).tolist():
                docs, _ = segment.postings_range(int(ranges[row, 0]), int(ranges[row, 1]))
                doc = int(docs[-1])
                if live[doc] and column[doc] == hashes[wanted[row]]:
                    result[wanted[row]] = True
        return result

    def delete(self, doc_ids: str | Iterable[str]) -> int:
        """Delete documents by id (one id, or several); returns how many live documents matched."""
        self._check_open()
        if isinstance(doc_ids, str):
            doc_ids = [doc_ids]  # not its characters, one by one
        self._apply_pending_ids()
        deleted = 0
        for doc_id in doc_ids:
            deleted += self._delete_id(document_id({self.schema.id_field: doc_id}, self.schema))
        return deleted

    def _delete_id(self, doc_id: str) -> int:
        deleted = int(self._buffer.delete(doc_id))
        key = term_key(self.schema.id_field, doc_id)
        for segment in self._segments:
            docs, _ = segment.postings(key)
            if not len(docs):
                continue
            live = self._live.get(segment.meta.name)
            if live is None:
                live = segment.live_mask().copy()
            hits = docs[live[docs]]
            if len(hits):
                live[hits] = False
                self._live[segment.meta.name] = live
                deleted += len(hits)
        return deleted

    def _apply_pending_ids(self) -> None:
        """Mark deleted the committed or flushed copies of the ids added since the last flush."""
        if not self._pending_ids:
            return
        ids, self._pending_ids = self._pending_ids, []
        self._mark_older_copies(ids)

    def _mark_older_copies(self, ids: list[str]) -> None:
        """Mark deleted every copy of these ids in the segments held now (newer ones replace them)."""
        keys = encode_keys([term_key(self.schema.id_field, doc_id) for doc_id in ids])
        for segment in self._segments:
            ranges = segment.postings_of(keys)
            held = np.flatnonzero(ranges[:, 1])
            if not len(held):
                continue
            docs, _ = segment.postings_range(ranges[held, 0], ranges[held, 1])
            live = self._live.get(segment.meta.name)
            if live is None:
                live = segment.live_mask().copy()
            live[docs] = False
            self._live[segment.meta.name] = live

    def add_segments(self, segments: Sequence[SegmentMeta], source: Path | None = None) -> int:
        """Adopt segments written elsewhere — by ``write_segment`` in other processes or on other
        machines (Spark executors) — as Lucene's ``addIndexes`` does; returns their documents.

        Their files are copied from ``source`` (unless they already lie in this index's folder),
        then checked whole against their checksums; their field layout must be this schema's.
        Their documents replace older copies of the same ids, as adds do, and they are visible
        after the next ``commit``, with the statistics of the whole index (computed on open)."""
        self._check_open()
        layout = segment_fields(self.schema)
        held = {segment.meta.name for segment in self._segments}
        for meta in segments:
            if meta.fields != layout:
                raise SchemaError(
                    f"segment {meta.name}: fields {meta.fields} differ from this index's {layout}; "
                    "write it with this index's schema"
                )
            if meta.del_gen or meta.name in held or not SEGMENT_NAME.fullmatch(meta.name):
                raise ZhisouError(f"segment {meta.name}: already in the index, or carries deletes; cannot adopt it")
            held.add(meta.name)
        if source is not None and Path(source).resolve() != self.directory.resolve():
            for meta in segments:
                for suffix in meta.files:
                    file_name = f"{meta.name}.{suffix}"
                    target = self.directory / file_name
                    shutil.copyfile(Path(source) / file_name, target)
                    with open(target, "rb+") as handle:
                        os.fsync(handle.fileno())
        readers = []
        for meta in segments:
            reader = SegmentReader(self.directory, meta)
            reader.verify(remember=False)
            readers.append(reader)
        self._apply_pending_ids()
        ids = [doc_id for reader in readers for doc_id in reader.all_doc_ids()]
        for doc_id in ids:
            self._buffer.delete(doc_id)
        if len(set(ids)) == len(ids):
            self._mark_older_copies(ids)
            self._segments.extend(readers)
        else:  # an id in two of them: the later segment's copy wins, as a later add would
            for reader in readers:
                self._mark_older_copies(reader.all_doc_ids())
                self._segments.append(reader)
        self._flushed = True
        return sum(meta.doc_count for meta in segments)

    def _new_segment_name(self) -> str:
        """A fresh segment name whose files do not exist (a file that happens to carry such a
        name is never overwritten)."""
        while True:
            name = new_segment_name()
            if next(self.directory.glob(f"{name}.*"), None) is None:
                return name

    @property
    def has_changes(self) -> bool:
        """Whether anything was added or deleted since the last commit."""
        return bool(len(self._buffer) or self._live or self._pending_ids or self._flushed)

    def flush(self) -> None:
        """Write the buffered documents as a new (not yet committed) segment."""
        self._apply_pending_ids()  # before the new segment joins: it holds the newest copies
        if not len(self._buffer):
            return
        name = self._new_segment_name()
        meta, live = self._buffer.write(self.directory, name, self.producers)
        self._flushed = True
        self._segments.append(SegmentReader(self.directory, meta))
        if live is not None:
            self._live[name] = live
        self._buffer = SegmentBuffer(self.schema)

    def commit(self, *, merge: bool = True, user_data: Mapping[str, Any] | None = None) -> Manifest:
        """Publish every change so far as one new generation (atomic)."""
        self._check_open()
        self.flush()
        generation = self._manifest.generation + 1
        metas = self._metas_with_deletes(generation)
        if metas == list(self._manifest.segments) and user_data is None:
            return self._manifest  # nothing added or deleted since the last commit: no empty generation
        if merge:
            groups = self.merge_policy.find_merges(metas)
            names = [self._new_segment_name() for _ in groups]
            if self.workers > 1 and len(groups) > 1:
                merged = run_forked(lambda i: self._merged(groups[i], names[i]), len(groups), self.workers)
            else:
                merged = [self._merged(group, name) for group, name in zip(groups, names)]
            for group, meta in zip(groups, merged):
                metas = _replace(metas, group, meta)
        return self._publish(generation, metas, user_data)

    def optimize(self) -> Manifest:
        """Commit, then merge every segment into one (drops all deleted documents)."""
        self.commit(merge=False)
        metas = list(self._manifest.segments)
        if len(metas) > 1 or any(m.del_count for m in metas):
            generation = self._manifest.generation + 1
            metas = _replace(metas, metas, self._merged(metas, self._new_segment_name()))
            return self._publish(generation, metas, None)
        return self._manifest

    def _metas_with_deletes(self, generation: int) -> list[SegmentMeta]:
        metas: list[SegmentMeta] = []
        for segment in self._segments:
            meta = segment.meta
            live = self._live.get(meta.name)
            if live is not None:
                crc = write_live(self.directory / deletes_file_name(meta.name, generation), live, meta.uid_bytes)
                meta = meta.with_deletes(generation, int(meta.doc_count - live.sum()), crc)
            if meta.live_count > 0:
                metas.append(meta)
        return metas

    def _merged(self, group: list[SegmentMeta], name: str) -> SegmentMeta:
        """``group`` merged into a new segment ``name`` (not yet part of any commit)."""
        by_name = {s.meta.name: s for s in self._segments}
        readers = [by_name[m.name] if by_name[m.name].meta == m else SegmentReader(self.directory, m) for m in group]
        for reader in readers:  # never copy damage into a new segment with a fresh, valid checksum
            reader.verify(remember=False)
        lives = [r.live_mask() for r in readers]
        return merge_segments(self.directory, name, readers, lives, segment_fields(self.schema), self.producers)

    def _publish(self, generation: int, metas: list[SegmentMeta], user_data: Mapping[str, Any] | None) -> Manifest:
        fsync_directory(self.directory)
        manifest = Manifest(
            generation=generation,
            schema=self._manifest.schema,
            segments=tuple(metas),
            settings=self._manifest.settings,
            user_data=dict(user_data) if user_data is not None else self._manifest.user_data,
        )
        manifest.write(self.directory)
        self._previous = self._manifest
        self._manifest = manifest
        self._load_segments()
        self._remove_unreferenced_files()
        return manifest

    def rollback(self) -> None:
        """Drop every change since the last commit."""
        self._check_open()
        self._load_segments()
        self._remove_unreferenced_files()

    def _remove_unreferenced_files(self) -> None:
        """Remove what no commit needs. The previous commit's files stay until the next one, so a
        reader that has just read the previous manifest can still map its segments (with many
        commits a second, the files of the commit it read were deleted while it opened them)."""
        keep = self._manifest.referenced_files()
        if self._previous is not None:
            keep |= self._previous.referenced_files()
        remove_unreferenced_files(self.directory, keep)

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def closed(self) -> bool:
        return not self._lock.held

    def _check_open(self) -> None:
        if self.closed:
            raise ZhisouError(f"{self.directory}: this writer is closed; open a new one")

    def close(self) -> None:
        """Release the lock. Uncommitted changes are dropped (call ``commit`` first)."""
        if not self.closed:
            with contextlib.suppress(Exception):
                self.rollback()
            self._lock.release()

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
