"""Suggestions for one index: autocomplete over its phrases and words (the segments' tables,
``phrases.py``) and the search log's popular queries, trending searches and related searches —
the log re-read in the background about every ``LOG_REFRESH_SECONDS``. ``Index.suggest`` /
``trending`` / ``related_searches`` and the API answer from it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.index.directory import atomic_write_bytes
from zhisou.index.reader import IndexReader
from zhisou.index.termdict import term_key
from zhisou.rank.clicks import Session, SessionLog
from zhisou.search.hits import CardFields
from zhisou.search.stats import locate
from zhisou.serve.searchlog import log_files
from zhisou.suggest.complete import Completer, Completion, Entry, StoredCompleter, complete, merge
from zhisou.suggest.phrases import IndexPhrases, SegmentPhrases, phrase_fields
from zhisou.suggest.popular import CLIENTS_COUNTED_BY, MIN_CLIENTS, DenyList, PopularQuery, popular_queries
from zhisou.suggest.related_queries import CoClicks
from zhisou.suggest.trending import DEFAULT_WINDOW, Trend, trending, window_seconds

LOG_REFRESH_SECONDS = 60.0
LOG_REBUILD_SECONDS = 900.0  # an unchanged log is read again this often all the same
RELATED_WAIT_SECONDS = 2.0  # the longest a search (or a server's trending) waits for a first reading of the log
LOG_DAYS = 90  # how far back suggestions read the log (older days' files are not even opened)
DENY_FILE = "deny.txt"  # under <index>/suggest/: entries no suggestion may contain
QUERIES_FILE = "queries.sgt"  # under <index>/suggest/: the popular queries' key table, as last read


@dataclass(frozen=True)
class LogSnapshot:
    """What the search log says, as last read: every session, and the queries that may be shown."""

    sessions: list[Session]
    popular: list[PopularQuery]
    coclicks: CoClicks
    completer: Completer  # over ``popular``
    deny: DenyList
    trends: dict[float, list[Trend]] = field(default_factory=dict)  # per window, made on first use


class Suggestions:
    """Autocomplete, trending and related searches for the index in ``directory``."""

    def __init__(self, directory: Path, *, min_clients: int = MIN_CLIENTS, deny_file: Path | None = None) -> None:
        self.log_directory = directory / "logs"
        self.deny_file = deny_file if deny_file is not None else directory / "suggest" / DENY_FILE
        self.queries_file = directory / "suggest" / QUERIES_FILE
        self.min_clients = min_clients
        self._lock = threading.Lock()
        self._log_changed = threading.Condition(self._lock)  # a reading of the log ended
        self._reader: IndexReader | None = None
        self._phrases: IndexPhrases | None = None  # per snapshot of the index
        self._segment_phrases: dict[str, SegmentPhrases] = {}  # by segment uid
        self._snapshot: LogSnapshot | None = None
        self._stored: StoredCompleter | None = None  # the last reading's queries, until this one reads
        self._log_read_at = -float("inf")  # when the snapshot was made or found current
        self._log_rebuilt_at = -float("inf")  # when it was made
        self._log_files: tuple[object, ...] = ()  # what the log's files and the deny-list were then
        self._refreshing = False
        self._session_log = SessionLog(self.log_directory)  # read by one thread at a time
        self._related_words: tuple[Callable[[str], list[str]], Hashable] | None = None  # as last used

    # -- the log ---------------------------------------------------------------------------------
    def log(self) -> LogSnapshot:
        """The log as read at most ``LOG_REFRESH_SECONDS`` ago, about: the first call reads it
        (or waits for the reading under way); later, a snapshot that old is answered while a
        thread reads the log again (requests never wait for a re-read of a large log), and only
        when its files or the deny-list changed, or ``LOG_REBUILD_SECONDS`` passed (decay and
        windows move with the clock)."""
        with self._lock:
            return self._log_locked()

    def _log_locked(self) -> LogSnapshot:
        while self._snapshot is None and self._refreshing:
            self._log_changed.wait()
        if self._snapshot is None:
            self._log_files = self._log_signature()
            self._snapshot = self._read_log()
            self._log_read_at = self._log_rebuilt_at = time.monotonic()
        elif time.monotonic() - self._log_read_at >= LOG_REFRESH_SECONDS:
            self._read_in_background()
        return self._snapshot

    def _queries_locked(self) -> Completer | StoredCompleter:
        """The popular queries' completer — without reading the log when the last reading
        stored its table (``QUERIES_FILE``) and the log has not changed since (a restarted
        server): the log is then read in the background, for trending and related searches."""
        if self._snapshot is None and not self._refreshing:
            self._stored = self._stored or self._load_stored()
            if self._stored is not None:
                self._read_in_background()
        if self._snapshot is None and self._stored is not None:
            return self._stored
        return self._log_locked().completer

    def start(self) -> None:
        """Begin reading the log in the background (a server, as it starts): requests that need
        it before the reading ends wait for it rather than read it again."""
        with self._lock:
            if self._snapshot is None:
                self._read_in_background()

    def _read_in_background(self) -> None:
        if not self._refreshing:
            self._refreshing = True
            threading.Thread(target=self._refresh_log, name="zhisou-suggest-log", daemon=True).start()

    def _refresh_log(self) -> None:
        snapshot = None
        signature = self._log_signature()
        try:
            stale = time.monotonic() - self._log_rebuilt_at >= LOG_REBUILD_SECONDS
            if self._snapshot is None or signature != self._log_files or stale:
                snapshot = self._read_log()
            if snapshot is not None and self._related_words is not None:
                snapshot.coclicks.prepare(*self._related_words)  # here, not in the next search
        except Exception:  # a log that cannot be read now: keep answering from the last reading
            snapshot = None
        with self._lock:
            if snapshot is not None:
                self._snapshot, self._log_files, self._stored = snapshot, signature, None
                self._log_rebuilt_at = time.monotonic()
            self._log_read_at = time.monotonic()
            self._refreshing = False
            self._log_changed.notify_all()

    def _log_signature(self) -> tuple[object, ...]:
        """Names, sizes and change times of the log's files and the deny-list."""
        paths = [*log_files(self.log_directory), self.deny_file]
        out: list[object] = []
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                continue
            out.append((path.name, stat.st_size, stat.st_mtime_ns))
        return tuple(out)

    def _read_log(self) -> LogSnapshot:
        signature = self._log_signature()
        sessions = self._session_log.read(since=time.time() - LOG_DAYS * 86_400)
        deny = DenyList.load(self.deny_file)
        popular = popular_queries(sessions, now=time.time(), min_clients=self.min_clients, deny=deny)
        last = self._snapshot  # read without the lock: only its completer's keys, which never change
        queries = Completer(
            (Entry(query.text, "query", query.weight) for query in popular),
            normalized=True,
            known=last.completer.keys if last is not None else None,
        )
        self._store(queries, signature)
        return LogSnapshot(sessions, popular, CoClicks(sessions, popular), queries, deny)

    def _store(self, queries: Completer, signature: tuple[object, ...]) -> None:
        """Keep the queries' completer for the next process, with what the log was (best effort:
        a read-only index directory just goes without)."""
        meta = self._settings(signature)
        try:
            self.queries_file.parent.mkdir(exist_ok=True)
            atomic_write_bytes(self.queries_file, queries.pack(meta).tobytes(), unique=True)
        except OSError:
            pass

    def _load_stored(self) -> StoredCompleter | None:
        """The stored queries' completer, memory-mapped, when it was made with the same settings
        from the log as it is now (the same files, sizes and change times, and deny-list)."""
        try:
            raw = np.asarray(np.memmap(self.queries_file, dtype=np.uint8, mode="r"))
            stored = StoredCompleter(raw, DenyList.load(self.deny_file).denies)
        except (OSError, ValueError, ZhisouError):
            return None
        now = self._settings(self._log_signature())
        return stored if stored.meta == json.loads(json.dumps(now)) else None

    def _settings(self, signature: tuple[object, ...]) -> dict[str, object]:
        """What a stored queries table was made with; one made otherwise is not reused
        (``clients``: what counts as one client — addresses since 2026-12-02)."""
        return {"min_clients": self.min_clients, "clients": CLIENTS_COUNTED_BY, "log_days": LOG_DAYS, "log": signature}

    # -- autocomplete ----------------------------------------------------------------------------
    def complete(self, reader: IndexReader, prefix: str, size: int = 8) -> list[Completion]:
        """Past queries first, then the index's phrases (``complete.merge``)."""
        queries, phrases = self.completers(reader)
        return merge([queries.complete(prefix, size), complete(phrases, prefix, size)], size)

    def completers(self, reader: IndexReader) -> tuple[Completer | StoredCompleter, IndexPhrases]:
        """The log's completer (as last read) and the phrases of ``reader``'s snapshot: apart, so
        that re-reading the log does not touch the index's, nor a commit the log's."""
        with self._lock:
            queries = self._queries_locked()
            denies = queries.denies if isinstance(queries, StoredCompleter) else self._log_locked().deny.denies
            if reader is not self._reader or self._phrases is None:
                fields = phrase_fields(reader.schema)
                known = self._segment_phrases
                self._segment_phrases = {
                    segment.meta.uid: known.get(segment.meta.uid) or SegmentPhrases.of(segment, fields)
                    for segment in reader.segments
                }
                self._phrases = IndexPhrases(
                    [(self._segment_phrases[segment.meta.uid], segment.live) for segment in reader.segments], denies
                )
                self._reader = reader
            elif self._phrases.denies != denies:  # bound methods: equal when of the same deny-list
                self._phrases = IndexPhrases(self._phrases.segments, denies)
            return queries, self._phrases

    # -- trending and related --------------------------------------------------------------------
    def trending(self, size: int = 10, window: str = DEFAULT_WINDOW, *, wait: float | None = None) -> list[Trend]:
        """Rising searches, worked out once per window and reading of the log (the home page
        asks on every visit). ``wait``: the longest to wait for a first reading of the log,
        after which there are none yet while it goes on in the background (a server's home
        page); None waits for it."""
        seconds = window_seconds(window)
        if wait is not None and self._log_within(wait) is None:
            return []  # the first reading goes on
        with self._lock:
            snapshot = self._log_locked()
            found = snapshot.trends.get(seconds)
            if found is None:
                found = snapshot.trends[seconds] = trending(
                    snapshot.sessions, now=time.time(), window=seconds, min_clients=self.min_clients, deny=snapshot.deny
                )
        return found[:size]

    def related(self, reader: IndexReader, query: str, results: list[str], size: int = 6) -> list[str]:
        """Related searches for ``query``, whose results are the ids ``results``."""
        if not query.strip():
            return []
        fields = CardFields.of(reader.schema)
        field = fields.body or fields.title
        if field is None:
            return []
        spec = reader.schema.get(field)
        analyzer = reader.analyzers.get(spec.analyzer_name if spec is not None else "zh")

        def words(text: str) -> list[str]:
            return analyzer.stream(text, for_query=True).terms

        def rarity(terms: list[str]) -> list[int]:
            return locate(reader, [term_key(field, term) for term in terms])[1].tolist()

        snapshot = self._log_within(RELATED_WAIT_SECONDS)
        if snapshot is None:  # a large log still being read for the first time: none yet
            return []
        self._related_words = (words, (field, spec))
        return snapshot.coclicks.related(query, results, size, words, rarity, (field, spec))

    def _log_within(self, seconds: float) -> LogSnapshot | None:
        """The log as ``log`` gives it, but waiting at most ``seconds`` for a first reading
        (which then goes on in the background): related searches are part of every search."""
        with self._lock:
            if self._snapshot is None:
                self._read_in_background()
                self._log_changed.wait_for(lambda: self._snapshot is not None or not self._refreshing, seconds)
                if self._snapshot is None:
                    return None
            return self._log_locked()
