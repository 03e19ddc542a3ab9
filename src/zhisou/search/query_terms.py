"""A query's words as weighted terms of one field: the precise cut, the words' own parts at a
lower weight, and sub-word recall where a word is absent — the one place both the compiled
plans and the general executor take them from.

Documents are indexed the fine way, straddling sub-words apart (``analysis/tokenizers.py``). A
query is cut the precise way and each Chinese word weighs 1: it matches that word wherever it
is a word or a part of a longer one (``引擎`` finds 搜索引擎), never where it straddles a seam
(``索引`` does not find 搜|索引|擎). The parts the fine cut finds inside a query word (分布式,
系统 inside 分布式系统) weigh ``PART_WEIGHT`` and match the same way. Where the field holds a
query word nowhere as a word, the word as a straddling sub-word stands in for it, at full weight.

Measured on the shared sets (benchmarks/RESULTS.md, "Chinese query analysis"): parts at 0.3
gave the best nDCG@10 of the weights tried (0.2 – 1.0); letting parts match across seams too
changed no score at four decimals and costs a term per part.
"""

from __future__ import annotations

import re

from zhisou.analysis import Analyzer
from zhisou.analysis.normalize import fold
from zhisou.analysis.pinyin import FULL, INITIALS, split_known, text_pinyin
from zhisou.analysis.tokenizers import SUB_WORD
from zhisou.index.reader import IndexReader
from zhisou.index.termdict import term_key

PART_WEIGHT = 0.3
WORD_MEMO = 100_000  # (field, word) → terms, per reader (cleared when full)
PINYIN_WEIGHT = 0.5  # a pinyin form found for a query word the field does not hold
_LATIN_WORD = re.compile(r"[a-z]+")
_VOWEL = re.compile(r"[aeiouv]")


def query_terms(
    reader: IndexReader, field: str, analyzer: Analyzer, text: str, *, pinyin: bool = False
) -> list[tuple[str, float]]:
    """(term, weight) pairs ``text`` looks up in ``field``; a repeated word comes again.
    ``pinyin``: the field holds pinyin forms (``FieldSpec.pinyin``)."""
    stream = analyzer.stream(text, for_query=True)
    return field_terms(reader, field, analyzer, stream.terms, stream.cjk, text if pinyin else None)


def field_terms(
    reader: IndexReader,
    field: str,
    analyzer: Analyzer,
    terms: list[str],
    cjk: list[bool],
    pinyin_text: str | None = None,
) -> list[tuple[str, float]]:
    """The query's analyzed ``terms`` as ``field`` holds them, weighted (see the module).
    A Chinese word's terms depend only on the word and the reader's dictionaries, which never
    change: they are worked out once per reader (``word_terms``) and looked up after that.
    ``pinyin_text``: the query as typed, when the field holds pinyin forms (``pinyin_terms``)."""
    out: list[tuple[str, float]] = []
    unknown: set[str] = set()
    memo: dict[tuple[str, str], tuple[tuple[str, float], ...]] = reader.memo.setdefault("word-terms", {})
    for term, is_cjk in zip(terms, cjk):
        if not is_cjk or len(term) < 2:
            out.append((term, 1.0))
            continue
        found = memo.get((field, term))
        if found is None:
            if len(memo) >= WORD_MEMO:
                memo.clear()
            found = memo[(field, term)] = word_terms(reader, field, analyzer, term)
        if not found or found[0][1] != 1.0:
            unknown.add(term)  # held nowhere as a word nor across a seam
        out.extend(found)
    if pinyin_text:
        out += pinyin_terms(reader, field, analyzer, pinyin_text, unknown)
    return out


def word_terms(reader: IndexReader, field: str, analyzer: Analyzer, word: str) -> tuple[tuple[str, float], ...]:
    """What one Chinese query word looks up in ``field``: the word (or, held nowhere as a word,
    its straddling form), then its parts at ``PART_WEIGHT`` where they are words or parts of
    words (a part the field lacks matches nothing and costs nothing, so parts are not probed)."""
    held_word, held_inner = reader.has_terms([term_key(field, word), term_key(field, SUB_WORD + word)])
    out: list[tuple[str, float]] = []
    if held_word:
        out.append((word, 1.0))
    elif held_inner:
        out.append((SUB_WORD + word, 1.0))
    out += ((part, PART_WEIGHT) for part in analyzer.parts(word))
    return tuple(out)


def pinyin_terms(
    reader: IndexReader, field: str, analyzer: Analyzer, text: str, unknown: set[str]
) -> list[tuple[str, float]]:
    """Pinyin forms for what the field does not hold: runs of Latin words that are no terms of
    it (``dao pai``, ``dpsy``) and Chinese words found nowhere (``unknown``: a homophone typo
    such as 缓村), each split into the fewest known forms — full pinyin first, else initials."""
    letters: list[str] = []
    latin = _LATIN_WORD.findall(fold(text).text)
    if latin:
        analyzed = [analyzer.stream(word).terms for word in latin]
        keys = [term_key(field, terms[0]) for terms in analyzed if terms]
        held = iter(reader.has_terms(keys)) if keys else iter(())
        run: list[str] = []
        for word, terms in zip(latin, analyzed):
            if not terms or next(held):  # a stopword, or a word the field holds: ends a run
                if run:
                    letters.append("".join(run))
                run = []
            else:
                run.append(word)
        if run:
            letters.append("".join(run))
    out: list[tuple[str, float]] = []
    # A Chinese word found nowhere: its pinyin as one known word (缓村 → huancun → 缓存); split
    # into pieces it would only find unrelated words of one syllable each.
    spelled = [spelling for word in sorted(unknown) if (spelling := text_pinyin(word))]
    if spelled:
        known = _held(reader, field, FULL, spelled)
        out += [(FULL + spelling, PINYIN_WEIGHT) for spelling, found in zip(spelled, known) if found]
    for string in letters:
        # Initials only for letters without a vowel (dpsy): an unknown English word is not read
        # as initials of some words.
        for namespace in (FULL, INITIALS) if not _VOWEL.search(string) else (FULL,):
            pieces = split_known(string, lambda forms, n=namespace: _held(reader, field, n, forms))
            if pieces:
                out += [(namespace + piece, PINYIN_WEIGHT) for piece in pieces]
                break
    return out


def _held(reader: IndexReader, field: str, namespace: str, forms: list[str]) -> list[bool]:
    return reader.has_terms([term_key(field, namespace + form) for form in forms])
