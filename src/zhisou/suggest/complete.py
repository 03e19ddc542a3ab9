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

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from zhisou.suggest.keys import MAX_CHARS, completion_keys, normalize, one_edit_away, prefix_forms
from zhisou.suggest.table import PrefixTable

SOURCES = ("query", "title", "tag", "word")  # a tie in weight between sources is broken in this order
_TIER = {"query": 0, "title": 1, "tag": 1, "word": 2}
MAX_SIZE = 20
KEYS_PER_ENTRY = 3  # text, pinyin, initials (keys.completion_keys)
MAX_PREFIX_CHARS = 64


@dataclass(frozen=True)
class Completion:
    text: str
    source: str  # one of SOURCES
    weight: float
    corrected: bool = False  # found through a prefix one edit from the typed one

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "source": self.source, "weight": round(self.weight, 4), "corrected": self.corrected}


@dataclass(frozen=True)
class Entry:
    text: str
    source: str
    weight: float


class Completer:
    """Completions over fixed entries (rebuilt when the index or the log changes)."""

    def __init__(self, entries: Iterable[Entry], *, normalized: bool = False) -> None:
        """``normalized``: the entries' texts are ``keys.normalize``d already (logged queries)."""
        best: dict[str, Entry] = {}
        for entry in entries:  # one entry per text: the best source, then the heavier
            text = entry.text if normalized else normalize(entry.text)
            if not text or len(text) > MAX_CHARS:
                continue
            entry = Entry(text, entry.source, entry.weight)
            old = best.get(text)
            if old is None or _rank(entry) < _rank(old):
                best[text] = entry
        self.entries = sorted(best.values(), key=_rank)  # entry number = rank: lower is better
        self.table = PrefixTable.build(
            (key, number) for number, entry in enumerate(self.entries) for key in completion_keys(entry.text)
        )

    def __len__(self) -> int:
        return len(self.entries)

    def complete(self, prefix: str, size: int = 8) -> list[Completion]:
        """Up to ``size`` completions of ``prefix``, best first."""
        size = max(1, min(size, MAX_SIZE))
        forms = prefix_forms(prefix[:MAX_PREFIX_CHARS])
        if not forms:
            return []
        typed = {form.strip() for form in forms}  # the typed text itself completes nothing
        found = [n for n in self._best(self.table.ranges(forms), size + 1) if self.entries[n].text not in typed]
        out = [self._completion(number, False) for number in found[:size]]
        if len(out) < size:
            variants = [variant for form in forms for variant in one_edit_away(form)]
            if variants:
                seen = set(found)
                more = [n for n in self._best(self.table.ranges(variants), size + len(seen)) if n not in seen]
                out += [self._completion(number, True) for number in more[: size - len(out)]]
        return out

    def _best(self, ranges: np.ndarray, size: int) -> list[int]:
        """The ``size`` best distinct entries under any of the key ranges (entry numbers are
        ranks, so the smallest numbers)."""
        hit = ranges[ranges[:, 1] > ranges[:, 0]]  # most of a typo's variants find nothing
        if not len(hit):
            return []
        spans = hit.tolist()
        numbers = np.concatenate([self.table.payloads[first:end] for first, end in spans])
        # An entry has at most KEYS_PER_ENTRY keys under each range, so the smallest
        # size · that · ranges numbers hold the ``size`` smallest distinct ones: a partial sort
        # instead of sorting every completion of a one-letter prefix.
        keep = size * KEYS_PER_ENTRY * len(spans)
        if len(numbers) > keep:
            numbers = np.partition(numbers, keep - 1)[:keep]
        return np.unique(numbers)[:size].tolist()

    def _completion(self, number: int, corrected: bool) -> Completion:
        entry = self.entries[number]
        return Completion(entry.text, entry.source, entry.weight, corrected)


def merge(lists: Iterable[list[Completion]], size: int) -> list[Completion]:
    """Completions from several completers as one list: exact before corrected, then by source
    tier, each list's own order kept within a tier; a text once (its first appearance)."""
    ordered = sorted(
        ((completion.corrected, _TIER[completion.source], number, position), completion)
        for number, found in enumerate(lists)
        for position, completion in enumerate(found)
    )
    out: list[Completion] = []
    seen: set[str] = set()
    for _, completion in ordered:
        if completion.text not in seen:
            seen.add(completion.text)
            out.append(completion)
    return out[:size]


def _rank(entry: Entry) -> tuple[int, float, int, str]:
    """Past queries first, then titles and tags, then frequent words, each heaviest first."""
    return _TIER[entry.source], -entry.weight, SOURCES.index(entry.source), entry.text
