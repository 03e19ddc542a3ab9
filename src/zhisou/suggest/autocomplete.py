"""Autocomplete for one index: its phrases and words (per snapshot) and the search log's popular queries
(re-read at most every ``LOG_REFRESH_SECONDS``), as one ``Completer`` rebuilt when either changes.
``Index.suggest`` and ``GET /api/suggest`` answer from it.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from pathlib import Path

from zhisou.analysis.normalize import CJK_CHARS
from zhisou.index.reader import IndexReader
from zhisou.rank.clicks import read_sessions
from zhisou.search.hits import CardFields
from zhisou.suggest.complete import Completer, Completion, Entry
from zhisou.suggest.popular import MIN_CLIENTS, DenyList, popular_queries

LOG_REFRESH_SECONDS = 60.0
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
            terms, _, doc_counts = segment.field_terms(name)
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


class Autocomplete:
    def __init__(self, directory: Path, *, min_clients: int = MIN_CLIENTS, deny_file: Path | None = None) -> None:
        self.log_directory = directory / "logs"
        self.deny_file = deny_file if deny_file is not None else directory / "suggest" / DENY_FILE
        self.min_clients = min_clients
        self._lock = threading.Lock()
        self._reader: IndexReader | None = None
        self._phrases: list[Entry] = []
        self._queries: list[Entry] = []
        self._log_read_at = -float("inf")
        self._completer: Completer | None = None

    def complete(self, reader: IndexReader, prefix: str, size: int = 8) -> list[Completion]:
        return self.completer(reader).complete(prefix, size)

    def completer(self, reader: IndexReader) -> Completer:
        """The completer for ``reader``'s snapshot and the log as last read."""
        with self._lock:
            stale = self._completer is None
            if reader is not self._reader:
                self._reader, self._phrases, stale = reader, index_phrases(reader), True
            if time.monotonic() - self._log_read_at >= LOG_REFRESH_SECONDS:
                self._queries, stale = self.logged_queries(), True
                self._log_read_at = time.monotonic()
            if stale:
                deny = DenyList.load(self.deny_file)
                phrases = [entry for entry in self._phrases if not deny.denies(entry.text)]
                self._completer = Completer([*self._queries, *phrases])
            assert self._completer is not None
            return self._completer

    def logged_queries(self) -> list[Entry]:
        sessions = read_sessions(self.log_directory).sessions
        deny = DenyList.load(self.deny_file)
        found = popular_queries(sessions, now=time.time(), min_clients=self.min_clients, deny=deny)
        return [Entry(query.text, "query", query.weight) for query in found]
