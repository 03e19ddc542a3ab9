"""The index's own completions — titles, tags and frequent Chinese words — kept in each segment,
built when the segment is written and memory-mapped when it is read.

At flush, ``SuggestProducer`` stores each document's title and tags with the keys they are found
under (text, pinyin, initials: ``keys.completion_keys``) as a per-document component, so a merge
carries them over without working out pinyin again. From those rows and the segment's term
dictionary it derives the segment's table: its entries (a phrase with the documents carrying it,
or a Chinese word of the title and body fields with its document frequency), ranked, and a sorted
key table over them (``table.PrefixTable``), packed in one file.

At query time ``IndexPhrases`` asks each segment for its best entries under the typed prefix,
weighs a title or tag by the live documents carrying it, adds up the segments, and ranks. Like
Elasticsearch's completion suggester, each segment offers its own best few: an entry that is
middling in every segment but first when they are added up can be missed. A segment written
without the table (by an older zhisou, or outside a writer) gets one built in memory on first use.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from zhisou.analysis.normalize import CJK_CHARS
from zhisou.analysis.pinyin import word_pinyin
from zhisou.errors import CorruptIndexError
from zhisou.index.segment import (
    SUGGEST_COUNTS,
    SUGGEST_PHRASES,
    SUGGEST_TABLE,
    ComponentProducer,
    OptionalComponent,
    SegmentTerms,
)
from zhisou.index.segment_reader import SegmentReader
from zhisou.schema import Schema
from zhisou.search.hits import CardFields
from zhisou.suggest.complete import KEYS_PER_ENTRY, SOURCES, Entry, rank
from zhisou.suggest.keys import MAX_CHARS, completion_keys, normalize, shown_form
from zhisou.suggest.table import PrefixTable, lengths_of, narrow, offsets_from, pack_arrays, unpack_arrays

MIN_WORD_DOCS = 2  # a word is offered when the index holds it in this many documents
MAX_WORDS = 200_000  # per segment, the most frequent
_ALL_CHINESE = re.compile(f"[{CJK_CHARS}]{{2,}}")
_ITEM, _PART = "\x1e", "\x1f"  # between a document's phrases, and between a phrase's parts
_CODES = {"title": "t", "tag": "g"}
_SOURCE_OF = {code: source for source, code in _CODES.items()}
_SOURCE_NUMBER = {source: number for number, source in enumerate(SOURCES)}


@dataclass(frozen=True)
class PhraseFields:
    """The fields phrases come from: the title and tags (stored), the title and body (words)."""

    title: str | None
    body: str | None
    tags: str | None

    def any(self) -> bool:
        return bool(self.title or self.tags or self.body)


def phrase_fields(schema: Schema) -> PhraseFields:
    fields = CardFields.of(schema)
    return PhraseFields(fields.title, fields.body, fields.tags)


def with_suggestions(schema: Schema, producers: Sequence[ComponentProducer]) -> tuple[ComponentProducer, ...]:
    """``producers`` and, when the schema has a field phrases come from and none is there, the
    producer of the segments' suggestion tables."""
    fields = phrase_fields(schema)
    if not fields.any() or any(isinstance(producer, SuggestProducer) for producer in producers):
        return tuple(producers)
    return (*producers, SuggestProducer(fields))


@lru_cache(maxsize=65_536)
def phrase_keys(text: str) -> tuple[str, ...]:
    """A title, tag or word normalized, then the keys it is found under (the normalized text
    first); () when nothing or too much is left. Tags and words repeat from flush to flush."""
    folded = normalize(text)
    return tuple(completion_keys(folded)) if folded and len(folded) <= MAX_CHARS else ()


def doc_phrases(doc: Mapping[str, Any], fields: PhraseFields) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    """A document's title and tags: (source, normalized text) → (the text as written, spaces
    collapsed; its keys), without repeats."""
    found: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    title = doc.get(fields.title) if fields.title else None
    values = doc.get(fields.tags) if fields.tags else None
    for source, text in [
        ("title", title),
        *(("tag", tag) for tag in (values if isinstance(values, list) else [values])),
    ]:
        if isinstance(text, str) and (keys := phrase_keys(text)):
            found.setdefault((source, keys[0]), (shown_form(text), keys))
    return found


def encode_phrases(phrases: dict[tuple[str, str], tuple[str, tuple[str, ...]]]) -> bytes:
    """A document's phrases with their keys: ``code \x1f text \x1f key …`` joined by ``\x1e``
    (``normalize`` turns both separators into spaces, so no text holds them), the code in capitals
    (``T``, ``G``) and the text as written before the keys when it differs from the folded one."""
    items = []
    for (source, _), (shown, keys) in phrases.items():
        code = _CODES[source]
        items.append(_PART.join((code, *keys)) if shown == keys[0] else _PART.join((code.upper(), shown, *keys)))
    return _ITEM.join(items).encode()


def segment_words(terms: SegmentTerms, fields: PhraseFields) -> Counter[str]:
    """Chinese words of two characters or more in the title and body fields, with the documents
    holding them (a word in both fields counts in each)."""
    counts: Counter[str] = Counter()
    for name in dict.fromkeys(name for name in (fields.title, fields.body) if name):
        first, end = terms.field_range(name)
        skip = len(name) + 1
        for key, docs in zip(terms.keys[first:end], terms.doc_freqs[first:end].tolist()):
            word = key[skip:].decode()
            if _ALL_CHINESE.fullmatch(word):
                counts[word] += docs
    return counts


def build_table(counts: np.ndarray, blob: np.ndarray, words: Counter[str]) -> np.ndarray:
    """A segment's packed table from its per-document phrase rows and its words."""
    ends = np.cumsum(np.asarray(counts, dtype=np.int64).reshape(-1))
    data = np.asarray(blob, dtype=np.uint8).reshape(-1).tobytes()
    docs_of: dict[tuple[str, str], list[int]] = {}
    keys_of: dict[str, list[str]] = {}
    shown_of: dict[tuple[str, str], Counter[str]] = {}
    start = 0
    for doc, end in enumerate(ends.tolist()):
        if end > start:
            for item in data[start:end].decode().split(_ITEM):
                code, *keys = item.split(_PART)
                shown = keys.pop(0) if code.isupper() else None
                entry = (_SOURCE_OF[code.lower()], keys[0])
                docs_of.setdefault(entry, []).append(doc)
                keys_of.setdefault(keys[0], keys)
                shown_of.setdefault(entry, Counter())[shown or keys[0]] += 1
        start = end
    # A title or tag is shown as most of its documents write it (the first of equals).
    entries = [
        (Entry(text, source, len(docs), _most_written(shown_of[source, text], text)), docs)
        for (source, text), docs in docs_of.items()
    ]
    # A word that is also a title here is kept apart: it still counts when the title's
    # documents are deleted.
    entries += [(Entry(word, "word", count), []) for word, count in words.most_common(MAX_WORDS)]
    entries.sort(key=lambda pair: rank(pair[0]))
    texts = [entry.text.encode() for entry, _ in entries]
    # How titles and tags are written, for them alone: they rank before every word.
    shown = [entry.shown.encode() for entry, _ in entries if entry.source != "word"]
    doc_lists = [docs for _, docs in entries]
    key_table = PrefixTable.build(
        (key, number)
        for number, (entry, _) in enumerate(entries)
        for key in (keys_of.get(entry.text) or _word_keys(entry))
    )
    return pack_arrays(
        {
            "text_blob": np.frombuffer(b"".join(texts), dtype=np.uint8),
            "text_lengths": narrow(np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))),
            "shown_blob": np.frombuffer(b"".join(shown), dtype=np.uint8),
            "shown_lengths": narrow(np.fromiter((len(text) for text in shown), dtype=np.int64, count=len(shown))),
            "source": np.array([_SOURCE_NUMBER[entry.source] for entry, _ in entries], dtype=np.uint8),
            "weight": narrow(np.array([entry.weight for entry, _ in entries], dtype=np.int64)),
            "doc_offsets": _offsets(len(docs) for docs in doc_lists),
            "docs": np.array([doc for docs in doc_lists for doc in docs], dtype=np.int32),
            "key_blob": key_table.blob,
            "key_lengths": lengths_of(key_table.offsets),
            "key_payloads": key_table.payloads,
        }
    )


def _most_written(forms: Counter[str], text: str) -> str:
    """The written form most documents use, or "" when that is the folded ``text`` itself."""
    form = forms.most_common(1)[0][0]
    return "" if form == text else form


def _word_keys(entry: Entry) -> tuple[str, ...]:
    """A word of one document of the segment is found by its characters only: most of a
    segment's words are such, and their pinyin would cost more than the rest of the table."""
    if entry.weight < MIN_WORD_DOCS:
        return (entry.text,)
    forms = word_pinyin(entry.text)  # a term is folded already, and one word: no cut needed
    return (entry.text, *forms) if forms is not None else (entry.text,)


def _offsets(lengths: Iterator[int] | Any) -> np.ndarray:
    return narrow(np.concatenate(([0], np.cumsum(np.fromiter(lengths, dtype=np.int64)))))


class SuggestProducer(ComponentProducer):
    """A writer's producer of every new segment's phrases (at flush) and table (at flush and
    after a merge)."""

    def __init__(self, fields: PhraseFields) -> None:
        self.fields = fields

    def produce(self, docs: Sequence[dict[str, Any]]) -> dict[OptionalComponent, np.ndarray]:
        if self.fields.title or self.fields.tags:
            encoded = [encode_phrases(doc_phrases(doc, self.fields)) for doc in docs]
        else:  # no phrases to find: the documents are not read
            encoded = [b""] * len(docs)
        return {
            SUGGEST_COUNTS: np.array([len(e) for e in encoded], dtype=np.int32).reshape(-1, 1),
            SUGGEST_PHRASES: np.frombuffer(b"".join(encoded), dtype=np.uint8).reshape(-1, 1),
        }

    def derive(
        self, components: Mapping[OptionalComponent, np.ndarray], terms: SegmentTerms
    ) -> dict[OptionalComponent, np.ndarray]:
        counts, blob = components.get(SUGGEST_COUNTS), components.get(SUGGEST_PHRASES)
        if counts is None or blob is None:  # a merge of segments of which one lacks them
            return {}
        return {SUGGEST_TABLE: build_table(counts, blob, segment_words(terms, self.fields))}


class SegmentPhrases:
    """One segment's table, read from its packed bytes (views: a mapped file stays mapped)."""

    def __init__(self, raw: np.ndarray) -> None:
        arrays = unpack_arrays(raw)
        self.text_blob, self.text_offsets = arrays["text_blob"], offsets_from(arrays, "text")
        # Tables written before 2026-12-03 hold only the folded texts: shown as they are.
        self.shown_blob = arrays.get("shown_blob")
        self.shown_offsets = offsets_from(arrays, "shown") if self.shown_blob is not None else None
        self.source, self.weight = arrays["source"], arrays["weight"]
        self.doc_offsets, self.docs = arrays["doc_offsets"], arrays["docs"]
        self.keys = PrefixTable(arrays["key_blob"], offsets_from(arrays, "key"), arrays["key_payloads"])

    @classmethod
    def of(cls, segment: SegmentReader, fields: PhraseFields) -> SegmentPhrases:
        """The segment's stored table, or one built now from its stored fields and terms."""
        raw = segment.optional.get(SUGGEST_TABLE.suffix)
        if raw is not None:
            try:
                return cls(raw)
            except (KeyError, ValueError) as error:  # checksummed, so written wrong: say where
                raise CorruptIndexError(
                    f"segment {segment.meta.name}: its suggestion table cannot be read ({error}); rebuild the index"
                ) from None
        made = SuggestProducer(fields).produce([segment.stored(doc) for doc in range(segment.doc_count)])
        words = segment_words(_terms(segment, fields), fields)
        return cls(build_table(made[SUGGEST_COUNTS], made[SUGGEST_PHRASES], words))

    def __len__(self) -> int:
        return len(self.weight)

    def best(self, prefixes: list[str], limit: int, live: np.ndarray | None) -> list[Entry]:
        """The segment's best ``limit`` entries under ``prefixes``, a title or tag weighing the
        live documents that carry it (left out when none does)."""
        out: list[Entry] = []
        for number in self.keys.best(prefixes, limit, KEYS_PER_ENTRY):
            source = SOURCES[int(self.source[number])]
            weight = int(self.weight[number])
            if source != "word" and live is not None:
                weight = int(live[self.docs[self.doc_offsets[number] : self.doc_offsets[number + 1]]].sum())
                if not weight:
                    continue
            text = bytes(self.text_blob[self.text_offsets[number] : self.text_offsets[number + 1]]).decode()
            out.append(Entry(text, source, weight, self._shown(number)))
        return out

    def _shown(self, number: int) -> str:
        """How the entry is written, if not as its folded text ("" for a word, past the titles
        and tags the written forms cover)."""
        if self.shown_blob is None or self.shown_offsets is None or number + 1 >= len(self.shown_offsets):
            return ""
        return bytes(self.shown_blob[self.shown_offsets[number] : self.shown_offsets[number + 1]]).decode()


def _terms(segment: SegmentReader, fields: PhraseFields) -> SegmentTerms:
    """The title and body fields' terms of a segment, as a writer hands them to ``derive``."""
    rows: list[tuple[bytes, int]] = []
    for name in dict.fromkeys(name for name in (fields.title, fields.body) if name):
        terms, _, doc_counts = segment.field_terms(name, remember=False)
        rows += [((name + _PART + term).encode(), docs) for term, docs in zip(terms, doc_counts.tolist())]
    rows.sort()
    return SegmentTerms([key for key, _ in rows], np.array([docs for _, docs in rows], dtype=np.int64))


class IndexPhrases:
    """Completions from every segment of one snapshot of the index (``complete.Lookup``)."""

    def __init__(self, segments: list[tuple[SegmentPhrases, np.ndarray | None]], denies: Callable[[str], bool]) -> None:
        """``segments``: each segment's table and live mask (None: every document is live)."""
        self.segments = segments
        self.denies = denies

    def __len__(self) -> int:
        return sum(len(phrases) for phrases, _ in self.segments)

    def lookup(self, prefixes: list[str], limit: int) -> list[Entry]:
        # Each segment offers some more than the limit, so that a few entries left out below
        # (denied, too rare) or reordered by the sum still leave ``limit``.
        wanted = limit + 8
        weights: Counter[tuple[str, str]] = Counter()
        shown: dict[tuple[str, str], Counter[str]] = {}  # how the segments write it, by weight
        for phrases, live in self.segments:
            for entry in phrases.best(prefixes, wanted, live):
                weights[entry.text, entry.source] += entry.weight
                shown.setdefault((entry.text, entry.source), Counter())[entry.shown] += entry.weight
        best: dict[str, Entry] = {}
        for (text, source), weight in weights.items():  # a text once: its best source, then the heavier
            entry = Entry(text, source, weight, shown[text, source].most_common(1)[0][0])
            if (source == "word" and weight < MIN_WORD_DOCS) or self.denies(text):
                continue
            old = best.get(text)
            if old is None or rank(entry) < rank(old):
                best[text] = entry
        return sorted(best.values(), key=rank)[:limit]
