"""A query's words as weighted terms of one field: the precise cut, the words' own parts at a
lower weight, and sub-word recall where a word is absent — the one place both the compiled
plans and the general executor take them from.

Documents are indexed the fine way, straddling sub-words apart (``analysis/tokenizers.py``). A
query is cut the precise way and each Chinese word weighs 1: it matches that word wherever it
is a word or a part of a longer one (``引擎`` finds 搜索引擎), never where it straddles a seam
(``索引`` does not find 搜|索引|擎). The parts the fine cut finds inside a query word (分布式,
系统 inside 分布式系统) weigh ``PART_WEIGHT``, in either form. Where the field holds a query word
nowhere as a word, the word as a straddling sub-word stands in for it, at full weight.

Measured on the shared sets (benchmarks/RESULTS.md, "Precise query analysis"): parts at 0.3
gave the best nDCG@10 of the weights tried (0.3 – 1.0).
"""

from __future__ import annotations

from zhisou.analysis import Analyzer
from zhisou.analysis.tokenizers import SUB_WORD
from zhisou.index.reader import IndexReader
from zhisou.index.termdict import term_key

PART_WEIGHT = 0.3


def query_terms(reader: IndexReader, field: str, analyzer: Analyzer, text: str) -> list[tuple[str, float]]:
    """(term, weight) pairs ``text`` looks up in ``field``; a repeated word comes again."""
    stream = analyzer.stream(text, for_query=True)
    return field_terms(reader, field, analyzer, stream.terms, stream.cjk)


def field_terms(
    reader: IndexReader, field: str, analyzer: Analyzer, terms: list[str], cjk: list[bool]
) -> list[tuple[str, float]]:
    """The query's analyzed ``terms`` as ``field`` holds them, weighted (see the module). One
    batch of dictionary probes per segment for the words; a second only when one is absent.
    Parts are not probed: a part the field lacks matches nothing and costs nothing."""
    words = [term for term, is_cjk in zip(terms, cjk) if is_cjk and len(term) > 1]
    if not words:
        return [(term, 1.0) for term in terms]
    held = reader.has_terms([term_key(field, word) for word in words])
    absent = {word for word, found in zip(words, held.tolist()) if not found}
    inner: set[str] = set()
    if absent:
        ordered = sorted(absent)
        found = reader.has_terms([term_key(field, SUB_WORD + word) for word in ordered]).tolist()
        inner = {word for word, is_held in zip(ordered, found) if is_held}
    out: list[tuple[str, float]] = []
    for term, is_cjk in zip(terms, cjk):
        if not is_cjk or len(term) < 2:
            out.append((term, 1.0))
            continue
        if term not in absent:
            out.append((term, 1.0))
        elif term in inner:
            out.append((SUB_WORD + term, 1.0))  # absent as a word: where it straddles a seam
        for part in analyzer.parts(term):  # in either form: a word elsewhere, or across a seam
            out.append((part, PART_WEIGHT))
            out.append((SUB_WORD + part, PART_WEIGHT))
    return out
