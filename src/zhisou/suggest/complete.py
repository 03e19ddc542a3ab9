"""Autocomplete: the completions of a typed prefix.

Two sources, in this order: popular past queries (``popular.py``: what people searched, that
returned results, seen from enough distinct clients) and the index's own phrases — titles and
tags of live documents, each weighing the number of documents that carry it, then the Chinese
words its title and body hold in several documents — so a new index with no log still
completes. Every suggestion is found under its text, its pinyin and its initials (``keys.py``);
a Latin prefix of four letters or more that completes to too few also tries the prefixes one
edit away (``serach`` → search engine), ranked after the exact ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from zhisou.suggest.keys import MAX_CHARS, completion_keys, normalize, one_edit_away, prefix_forms
from zhisou.suggest.table import PrefixTable, lengths_of, narrow, offsets_from, pack_arrays, unpack_arrays

SOURCES = ("query", "title", "tag", "word")  # a tie in weight between sources is broken in this order
TIER = {"query": 0, "title": 1, "tag": 1, "word": 2}
MAX_SIZE = 20
KEYS_PER_ENTRY = 3  # text, pinyin, initials (keys.completion_keys)
MAX_PREFIX_CHARS = 64


@dataclass(frozen=True)
class Completion:
    text: str  # as shown (a title or tag as written)
    source: str  # one of SOURCES
    weight: float
    corrected: bool = False  # found through a prefix one edit from the typed one
    key: str = ""  # the folded text, one per suggestion across sources ("": the text is folded)

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "source": self.source, "weight": round(self.weight, 4), "corrected": self.corrected}


@dataclass(frozen=True)
class Entry:
    text: str  # folded (``keys.normalize``): what entries are told apart and ranked by
    source: str
    weight: float
    shown: str = ""  # a title or tag as written, when that differs from ``text``


class Lookup(Protocol):
    """Where completions come from: the best entries (lowest rank first) whose keys start with
    any of ``prefixes``, at most ``limit``."""

    def lookup(self, prefixes: list[str], limit: int) -> list[Entry]: ...


class Completer:
    """Completions over fixed entries held in memory (the search log's popular queries)."""

    def __init__(
        self, entries: Iterable[Entry], *, normalized: bool = False, known: Mapping[str, list[str]] | None = None
    ) -> None:
        """``normalized``: the entries' texts are ``keys.normalize``d already (logged queries).
        ``known``: keys already worked out for some texts (an earlier completer's ``keys``):
        a re-read log is mostly the same queries, and their pinyin is most of the cost."""
        best: dict[str, Entry] = {}
        for entry in entries:  # one entry per text: the best source, then the heavier
            text = entry.text if normalized else normalize(entry.text)
            if not text or len(text) > MAX_CHARS:
                continue
            entry = Entry(text, entry.source, entry.weight)
            old = best.get(text)
            if old is None or rank(entry) < rank(old):
                best[text] = entry
        self.entries = sorted(best.values(), key=rank)  # entry number = rank: lower is better
        known = known or {}
        self.keys = {entry.text: known.get(entry.text) or completion_keys(entry.text) for entry in self.entries}
        self.table = PrefixTable.build(
            (key, number) for number, entry in enumerate(self.entries) for key in self.keys[entry.text]
        )

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, prefixes: list[str], limit: int) -> list[Entry]:
        return [self.entries[number] for number in self.table.best(prefixes, limit, KEYS_PER_ENTRY)]

    def complete(self, prefix: str, size: int = 8) -> list[Completion]:
        return complete(self, prefix, size)

    def pack(self, meta: dict[str, object]) -> np.ndarray:
        """The completer as bytes for a file (``StoredCompleter`` reads it), with ``meta``."""
        texts = [entry.text.encode() for entry in self.entries]
        return pack_arrays(
            {
                "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                "text_blob": np.frombuffer(b"".join(texts), dtype=np.uint8),
                "text_lengths": narrow(np.array([len(text) for text in texts], dtype=np.int64)),
                "source": np.array([SOURCES.index(entry.source) for entry in self.entries], dtype=np.uint8),
                "weight": np.array([entry.weight for entry in self.entries], dtype=np.float64),
                "key_blob": self.table.blob,
                "key_lengths": lengths_of(self.table.offsets),
                "key_payloads": self.table.payloads,
            }
        )


class StoredCompleter:
    """A ``Completer`` read back from what ``pack`` made (memory-mapped: nothing is rebuilt).
    ``denies`` is the deny-list in force, applied again to what it finds: the table is only
    used while that list is the one it was made with, but a stale table must not leak."""

    def __init__(self, raw: np.ndarray, denies: Callable[[str], bool]) -> None:
        arrays = unpack_arrays(raw)
        self.meta = json.loads(bytes(arrays["meta"]))
        self.text_blob, self.text_offsets = arrays["text_blob"], offsets_from(arrays, "text")
        self.source, self.weight = arrays["source"], arrays["weight"]
        self.table = PrefixTable(arrays["key_blob"], offsets_from(arrays, "key"), arrays["key_payloads"])
        self.denies = denies

    def __len__(self) -> int:
        return len(self.weight)

    def lookup(self, prefixes: list[str], limit: int) -> list[Entry]:
        found = []
        for number in self.table.best(prefixes, limit + 8, KEYS_PER_ENTRY):
            text = bytes(self.text_blob[self.text_offsets[number] : self.text_offsets[number + 1]]).decode()
            if not self.denies(text):
                found.append(Entry(text, SOURCES[int(self.source[number])], float(self.weight[number])))
        return found[:limit]

    def complete(self, prefix: str, size: int = 8) -> list[Completion]:
        return complete(self, prefix, size)


def complete(source: Lookup, prefix: str, size: int = 8) -> list[Completion]:
    """Up to ``size`` completions of ``prefix`` from ``source``, best first: the exact ones, then
    — when they are too few — those found one edit away."""
    size = max(1, min(size, MAX_SIZE))
    forms = prefix_forms(prefix[:MAX_PREFIX_CHARS])
    if not forms:
        return []
    typed = {form.strip() for form in forms}  # the typed text itself completes nothing
    found = [entry for entry in source.lookup(forms, size + 1) if entry.text not in typed][:size]
    out = [Completion(entry.shown or entry.text, entry.source, entry.weight, key=entry.text) for entry in found]
    if len(out) < size:
        variants = [variant for form in forms for variant in one_edit_away(form)]
        if variants:
            seen = {entry.text for entry in found} | typed
            more = [entry for entry in source.lookup(variants, size + len(seen)) if entry.text not in seen]
            out += [
                Completion(entry.shown or entry.text, entry.source, entry.weight, True, entry.text)
                for entry in more[: size - len(out)]
            ]
    return out


def merge(lists: Iterable[list[Completion]], size: int) -> list[Completion]:
    """Completions from several completers as one list: exact before corrected, then by source
    tier, each list's own order kept within a tier; a folded text once (its first appearance),
    shown as a title or tag writes it when one of the others does (a past query ``bm25 调参`` is
    shown ``BM25 调参``, as the title it completes to is written)."""
    ordered = sorted(
        ((completion.corrected, TIER[completion.source], number, position), completion)
        for number, found in enumerate(lists)
        for position, completion in enumerate(found)
    )
    out: dict[str, Completion] = {}
    for _, completion in ordered:
        key = completion.key or completion.text
        first = out.get(key)
        if first is None:
            out[key] = completion
        elif first.text == key and completion.text != key:
            out[key] = replace(first, text=completion.text)
    return list(out.values())[:size]


def rank(entry: Entry) -> tuple[int, float, int, str]:
    """Past queries first, then titles and tags, then frequent words, each heaviest first."""
    return TIER[entry.source], -entry.weight, SOURCES.index(entry.source), entry.text
