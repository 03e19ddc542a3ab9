"""Indexing on every core: worker processes analyse documents and write them as segments, which
the writer adopts (Lucene's per-thread document writers; the same code writes a Spark
executor's segments).

Analysis is pure Python for the most part (the tokenizer's stream, pinyin, stored JSON) — about
60 % of a build — so threads would take turns on the GIL. Sending analysed documents back from
worker processes costs the parent as much to unpickle as the analysis saved; so each worker also
inverts its documents and writes a segment, and the parent receives only the segment's metadata
and adopts it (``IndexWriter.add_segments``: checksums checked, older copies of its ids marked
deleted). Documents go out in blocks of consecutive input (``BLOCK``), each written as one
segment per shard and adopted in input order, so an id added twice keeps its later copy; a bad
document's ``DocumentError`` is raised at its own place, the documents before it added. At most
two blocks per worker are out at a time: memory stays bounded however long the input.

Workers start by ``fork`` when the calling process runs one thread (they inherit the analyzers
and loaded dictionaries), else by ``forkserver`` (a server's threads must not be forked
mid-lock). The first ``PARALLEL_MIN_DOCS`` documents of a batch, and a batch that ends within the
block after them, are added in the calling process: for a small batch workers cost more than
they save (forking, pickling the documents, an idle parent).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from zhisou.analysis import AnalysisResources, AnalyzerRegistry
from zhisou.errors import DocumentError, ZhisouError
from zhisou.index.documents import DocumentPreparer, PreparedDocument
from zhisou.index.segment import ComponentProducer, SegmentMeta
from zhisou.schema import Schema

if TYPE_CHECKING:  # multiprocessing is imported when workers start, not with zhisou
    from concurrent.futures import Future

T = TypeVar("T")

# Documents per worker task, written as one segment per shard. Measured (RESULTS.md, "Parallel
# indexing"; synthetic 100k, 2 workers): 4,096 and 8,192 leave so many segments that the commit
# spends 2 s merging them (8.3 and 8.1 s in all), 32,768 gives too few blocks to keep both
# workers busy (8.4 s); 16,384: 6.4 s, against 10 s in one process.
BLOCK = 16_384
PARALLEL_MIN_DOCS = 4_096
IN_FLIGHT_PER_WORKER = 2


def resolve_workers(threads: int | None) -> int:
    """``threads`` as a process count: None or 1 → 1 (no workers), 0 → one per core."""
    if threads is None:
        return 1
    if threads < 0:
        raise ValueError(f"threads must be 0 (every core) or more, got {threads}")
    return threads or os.cpu_count() or 1


def schema_producers(schema: Schema) -> tuple[ComponentProducer, ...]:
    """What a segment written outside a writer computes besides its postings: passage
    vectors when the schema has semantic recall (the suggestion tables are added by
    ``write_prepared``)."""
    if schema.semantic is None:
        return ()
    from zhisou.embed.store import SchemaEmbeddings

    return (SchemaEmbeddings(schema.semantic),)


Item = tuple[Mapping[str, Any], float | None]  # a document and its content hash (or None)


class SegmentWorker:
    """Writes documents as segments, each into the folder of the shard its id hashes to
    (``directories``: one per shard, or the index's own folder)."""

    def __init__(self, directories: Sequence[str | Path], schema: Schema, analyzers: AnalyzerRegistry) -> None:
        self.directories = [Path(d) for d in directories]
        self.schema = schema
        self.preparer = DocumentPreparer(schema, analyzers)
        self.producers = schema_producers(schema)

    def write(
        self, items: Iterable[Item], docs_per_segment: int, *, keep_going: bool = False
    ) -> Iterator[tuple[int, SegmentMeta] | tuple[int, DocumentError]]:
        """Each written segment as (shard, meta), in the order written, and each bad document as
        (its position, its error): the writing stops there, the documents before it written —
        or, with ``keep_going``, goes on without it."""
        from zhisou.index.buffer import write_prepared
        from zhisou.index.shards import shard_of

        count = len(self.directories)
        pending: list[list[PreparedDocument]] = [[] for _ in self.directories]
        stopped: tuple[int, DocumentError] | None = None
        for position, (doc, content_hash) in enumerate(items):
            try:
                prepared = self.preparer.prepare(doc, content_hash)
            except DocumentError as bad:
                if not keep_going:
                    stopped = (position, bad)
                    break
                yield position, bad
                continue
            shard = 0 if count == 1 else shard_of(prepared.doc_id, count)
            pending[shard].append(prepared)
            if len(pending[shard]) >= docs_per_segment:
                yield shard, write_prepared(self.directories[shard], self.schema, pending[shard], self.producers)
                pending[shard] = []
        for shard, held in enumerate(pending):
            if held:
                yield shard, write_prepared(self.directories[shard], self.schema, held, self.producers)
        if stopped is not None:
            yield stopped


@dataclass(frozen=True)
class Written:
    """What one block became: its segments (shard, meta), its bad documents (position in the
    block, error), and whether the first of them stopped it."""

    segments: list[tuple[int, SegmentMeta]]
    rejected: list[tuple[int, DocumentError]]
    stopped: bool
    size: int  # documents in the block

    @property
    def error(self) -> DocumentError | None:
        """The error that stopped the block."""
        return self.rejected[0][1] if self.stopped else None

    @property
    def added(self) -> int:
        """Documents of the block added (before the stop, or all but the rejected)."""
        return self.rejected[0][0] if self.stopped else self.size - len(self.rejected)


_worker: SegmentWorker | None = None


def _start(directories: list[str], schema: dict[str, Any], resources: AnalysisResources) -> None:
    global _worker
    # Ctrl-C reaches the whole process group: the writer decides what an interruption keeps
    # (``ingest``), and stops the workers; one dying of it would read as a crash.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker writes blocks of 16,384 documents: the compiled postings codec pays for loading
    # numba once per worker (index/postings.py uses it whenever numba is loaded).
    import numba  # noqa: F401

    _worker = SegmentWorker(directories, Schema.from_dict(schema), AnalyzerRegistry(resources))


def _write_block(block: list[Item], keep_going: bool) -> Written:
    assert _worker is not None
    return _written(_worker, block, keep_going)


def _written(worker: SegmentWorker, block: list[Item], keep_going: bool) -> Written:
    segments: list[tuple[int, SegmentMeta]] = []
    rejected: list[tuple[int, DocumentError]] = []
    for first, second in worker.write(block, len(block), keep_going=keep_going):
        if isinstance(second, DocumentError):
            rejected.append((first, second))
        else:
            segments.append((first, second))
    return Written(segments, rejected, bool(rejected) and not keep_going, len(block))


def _context() -> Any:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def write_in_workers(
    items: Iterator[Item],
    directories: Sequence[Path],
    schema: Schema,
    resources: AnalysisResources,
    workers: int,
    *,
    keep_going: bool = False,
) -> Iterator[Written]:
    """``items`` written as segments by ``workers`` processes, block by block, in input order
    (this process only adopts: sharing the cores with them, it slowed them more than its own
    blocks gained). Stops after the first block that holds a bad document (the caller raises its
    error; later blocks' segments stay unnamed, and the next commit removes their files) — or,
    with ``keep_going``, goes on, each block listing its bad documents. A worker that dies (out
    of memory, killed) is a ``ZhisouError``, not a hang."""
    block = list(islice(items, BLOCK))
    if not block:
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    args = ([str(d) for d in directories], schema.to_dict(), resources)
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_start, initargs=args)
    finished = False
    try:
        pending: deque[Future[Written]] = deque()
        while block or pending:
            if block:
                pending.append(pool.submit(_write_block, block, keep_going))
                block = list(islice(items, BLOCK))
                if len(pending) < IN_FLIGHT_PER_WORKER * workers and block:
                    continue
            try:
                written = pending.popleft().result()
            except BrokenProcessPool:
                raise ZhisouError(
                    "an indexing worker process died (out of memory?); nothing of its block was added — "
                    "lower --threads (threads=) and add the rest again"
                ) from None
            yield written
            if written.error is not None:
                return
        finished = True
    finally:
        # Done: wait for the pool's thread and processes to end, so a commit right after may
        # fork its merges (``run_forked`` forks only a process of one thread). Stopped early:
        # cancel, and do not wait.
        pool.shutdown(wait=finished, cancel_futures=not finished)


_forked_task: Callable[[int], Any] | None = None  # what ``run_forked``'s children run


def _run_forked_task(index: int) -> Any:
    assert _forked_task is not None
    return _forked_task(index)


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interruption keeps


def run_forked(task: Callable[[int], T], count: int, workers: int) -> list[T]:
    """``[task(0), …, task(count - 1)]``, run by up to ``workers`` forked processes when this
    process may fork (one thread; else here, one after another). ``task`` reaches the children
    through the fork, not by pickling (a writer's merges: its readers and producers); only the
    results travel back, pickled. A child that dies is a ``ZhisouError``; a task's own error is
    raised here."""
    global _forked_task
    import multiprocessing

    forkable = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    if workers <= 1 or count <= 1 or not forkable:
        return [task(i) for i in range(count)]
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    _forked_task = task
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(min(workers, count), mp_context=context, initializer=_ignore_interrupts) as pool:
            return list(pool.map(_run_forked_task, range(count)))
    except BrokenProcessPool:
        raise ZhisouError(
            "a worker process died (out of memory?) while merging segments; nothing was committed — "
            "commit again with fewer threads"
        ) from None
    finally:
        _forked_task = None


class BlockWriter(Protocol):
    """What a writer offers ``add_documents``: its folders, schema and analyzers, adding one
    document here, and adopting segments written in them."""

    schema: Schema
    analyzers: AnalyzerRegistry
    workers: int

    @property
    def segment_folders(self) -> list[Path]: ...

    def add(self, doc: Mapping[str, Any], content_hash: float | None = None) -> str: ...

    def adopt(self, segments: list[tuple[int, SegmentMeta]]) -> None: ...


def add_documents(writer: BlockWriter, docs: Iterable[Mapping[str, Any]]) -> int:
    """A writer's ``add_many``: the first ``PARALLEL_MIN_DOCS`` documents, and any batch that
    ends within one more block, through ``writer.add`` in this process; the rest written by the
    writer's workers and adopted in input order. Returns how many were added; raises a bad
    document's ``DocumentError`` with the documents before it added."""
    iterator = iter(docs)
    count = 0
    for doc in iterator if writer.workers <= 1 else islice(iterator, PARALLEL_MIN_DOCS):
        writer.add(doc)
        count += 1
    if writer.workers <= 1:
        return count
    block = list(islice(iterator, BLOCK))
    if len(block) < BLOCK:  # the batch ends within a block: workers would cost more than they save
        for doc in block:
            writer.add(doc)
            count += 1
        return count
    items = ((doc, None) for doc in chain(block, iterator))
    resources = writer.analyzers.resources
    for written in write_in_workers(items, writer.segment_folders, writer.schema, resources, writer.workers):
        if written.segments:
            writer.adopt(written.segments)
        count += written.added
        if written.error is not None:
            raise written.error
    return count
