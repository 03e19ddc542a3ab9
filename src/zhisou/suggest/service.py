"""Suggestions for one index: autocomplete over its phrases and words (per snapshot) and the
search log's popular queries, trending searches and related searches — the log re-read at most
every ``LOG_REFRESH_SECONDS``. ``Index.suggest`` / ``trending`` / ``related_searches`` and the
API answer from it.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from zhisou.analysis.normalize import CJK_CHARS
from zhisou.index.reader import IndexReader
from zhisou.index.termdict import term_key
from zhisou.rank.clicks import Session, read_sessions
from zhisou.search.hits import CardFields
from zhisou.search.stats import locate
from zhisou.suggest.complete import Completer, Completion, Entry, merge
from zhisou.suggest.popular import MIN_CLIENTS, DenyList, PopularQuery, popular_queries
from zhisou.suggest.related_queries import CoClicks
from zhisou.suggest.trending import DEFAULT_WINDOW, Trend, trending, window_seconds

LOG_REFRESH_SECONDS = 60.0
LOG_DAYS = 90  # how far back suggestions read the log (older days' files are not even opened)
MIN_WORD_DOCS = 2
MAX_WORDS = 200_000
_ALL_CHINESE = re.compile(f"[{CJK_CHARS}]+")
DENY_FILE = "deny.txt"  # under <index>/suggest/: entries no suggestion may contain


def frequent_words(reader: IndexReader, fields: CardFields) -> list[Entry]:
    """Chinese words of two characters or more that the title and body fields hold in at least
    ``MIN_WORD_DOCS`` documents (deleted ones still count until a merge), read off the term
    dictionaries — English terms there are stems, not words to offer."""
    counts: Counter[str] = Counter()
    for name in dict.fromkeys(name for name in (fields.title, fields.body) if name):
        for segment in reader.segments:
            terms, _, doc_counts = segment.field_terms(name, remember=False)
            for term, docs in zip(terms, doc_counts.tolist()):
                if len(term) >= 2 and _ALL_CHINESE.fullmatch(term):
                    counts[term] += docs
    return [Entry(word, "word", docs) for word, docs in counts.most_common(MAX_WORDS) if docs >= MIN_WORD_DOCS]


def index_phrases(reader: IndexReader) -> list[Entry]:
    """Titles and tags of the live documents, each weighing the documents that carry it."""
    fields = CardFields.of(reader.schema)
    titles: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    if fields.title is None and fields.tags is None:
        return []
    for doc in range(reader.max_doc):
        if not reader.live[doc]:
            continue
        stored = reader.stored(doc)
        title = stored.get(fields.title) if fields.title else None
        if isinstance(title, str) and title.strip():
            titles[title.strip()] += 1
        values = stored.get(fields.tags) if fields.tags else None
        for tag in values if isinstance(values, list) else [values]:
            if isinstance(tag, str) and tag.strip():
                tags[tag.strip()] += 1
    return [
        *(Entry(text, "title", count) for text, count in titles.items()),
        *(Entry(text, "tag", count) for text, count in tags.items()),
        *frequent_words(reader, fields),
    ]


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
        self.min_clients = min_clients
        self._lock = threading.Lock()
        self._reader: IndexReader | None = None
        self._index_completer: Completer | None = None  # per snapshot of the index
        self._snapshot: LogSnapshot | None = None
        self._log_read_at = -float("inf")

    # -- the log ---------------------------------------------------------------------------------
    def log(self) -> LogSnapshot:
        """The log as read at most ``LOG_REFRESH_SECONDS`` ago."""
        with self._lock:
            return self._log_locked()

    def _log_locked(self) -> LogSnapshot:
        if self._snapshot is None or time.monotonic() - self._log_read_at >= LOG_REFRESH_SECONDS:
            sessions = read_sessions(self.log_directory, since=time.time() - LOG_DAYS * 86_400).sessions
            deny = DenyList.load(self.deny_file)
            popular = popular_queries(sessions, now=time.time(), min_clients=self.min_clients, deny=deny)
            queries = Completer((Entry(query.text, "query", query.weight) for query in popular), normalized=True)
            self._snapshot = LogSnapshot(sessions, popular, CoClicks(sessions, popular), queries, deny)
            self._log_read_at = time.monotonic()
        return self._snapshot

    # -- autocomplete ----------------------------------------------------------------------------
    def complete(self, reader: IndexReader, prefix: str, size: int = 8) -> list[Completion]:
        """Past queries first, then the index's phrases (``complete.merge``)."""
        queries, phrases = self.completers(reader)
        return merge([queries.complete(prefix, size), phrases.complete(prefix, size)], size)

    def completers(self, reader: IndexReader) -> tuple[Completer, Completer]:
        """The log's completer (as last read) and the one for ``reader``'s snapshot: apart, so
        that re-reading the log does not rebuild the index's, nor a commit the log's."""
        with self._lock:
            snapshot = self._log_locked()
            if reader is not self._reader or self._index_completer is None:
                self._reader = reader
                phrases = index_phrases(reader)
                self._index_completer = Completer(e for e in phrases if not snapshot.deny.denies(e.text))
            return snapshot.completer, self._index_completer

    # -- trending and related --------------------------------------------------------------------
    def trending(self, size: int = 10, window: str = DEFAULT_WINDOW) -> list[Trend]:
        """Rising searches, worked out once per window and reading of the log (the home page
        asks on every visit)."""
        seconds = window_seconds(window)
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

        return self.log().coclicks.related(query, results, size, words, rarity, (field, spec))
