"""The strings a suggestion is found under, and the prefixes a typed text is looked up as.

A suggestion is found under its folded text (lower case, full-width and traditional folded, runs
of spaces as one) and, when it holds Chinese, under its pinyin joined without spaces and under
its initials: 倒排索引 构建 → ``倒排索引 构建``, ``daopaisuoyingoujian``, ``dpsygj``. A typed
prefix is looked up folded, and — when it is Latin letters and spaces — also without its spaces,
so ``dao pai`` and ``daop`` reach the pinyin key.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

from zhisou.analysis.normalize import CJK_CHARS, fold
from zhisou.analysis.pinyin import word_pinyin
from zhisou.analysis.tokenizers import ChineseSegmenter

MAX_CHARS = 80  # a suggestion longer than this is cut at a space, or left out
TYPO_FROM = 4  # Latin prefixes this long or longer also find completions one edit away

_SPACES = re.compile(r"\s+")
_CHINESE_RUN = re.compile(f"[{CJK_CHARS}]+")
_LATIN_PREFIX = re.compile(r"[a-z][a-z ]*")
_LATIN_OR_DIGITS = re.compile(r"[a-z0-9][a-z0-9 ]*")  # bm25 cs → bm25cs (the pinyin key of bm25 参数)
_SEGMENTER = ChineseSegmenter()  # jieba's own dictionary: only to split runs for their pinyin


def normalize(text: str) -> str:
    """The folded form a suggestion is shown and counted under (spaces collapsed, trimmed)."""
    return _SPACES.sub(" ", fold(text).text).strip()


def shown_form(text: str) -> str:
    """A title or tag as a suggestion shows it: as written, runs of spaces as one, trimmed."""
    return _SPACES.sub(" ", text).strip()


def completion_keys(text: str) -> list[str]:
    """The keys ``text`` (already ``normalize``d) is found under, without repeats."""
    keys = [text]
    if _CHINESE_RUN.search(text):
        full: list[str] = []
        initials: list[str] = []
        position = 0
        for run in _CHINESE_RUN.finditer(text):
            latin = text[position : run.start()].replace(" ", "")
            full.append(latin)
            initials.append(latin)
            forms = _run_pinyin(run.group())
            if forms is None:  # a character without a reading: no pinyin keys
                return keys
            full.append(forms[0])
            initials.append(forms[1])
            position = run.end()
        rest = text[position:].replace(" ", "")
        full.append(rest)
        initials.append(rest)
        keys += ["".join(full), "".join(initials)]
    return list(dict.fromkeys(keys))


def _run_pinyin(run: str) -> tuple[str, str] | None:
    """(full pinyin, initials) of a run of Chinese characters, word by word of its precise cut:
    titles are long and unique, their words repeat, and a word's pinyin is remembered."""
    full: list[str] = []
    initials: list[str] = []
    for word, _, _ in _SEGMENTER.segment(run, search=False):
        forms = word_pinyin(word)
        if forms is None:
            return None
        full.append(forms[0])
        initials.append(forms[1])
    return "".join(full), "".join(initials)


def prefix_forms(prefix: str) -> list[str]:
    """What a typed ``prefix`` is looked up as: folded, and without spaces when it is Latin."""
    folded = _SPACES.sub(" ", fold(prefix).text).lstrip()
    forms = [folded]
    if " " in folded and _LATIN_OR_DIGITS.fullmatch(folded):
        forms.append(folded.replace(" ", ""))
    return [form for form in dict.fromkeys(forms) if form]


@lru_cache(maxsize=256)  # the log's completions and the index's ask for the same keystroke
def one_edit_away(prefix: str) -> tuple[str, ...]:
    """Prefixes one edit from a Latin ``prefix`` (letters and spaces: a character after the
    first dropped, swapped with the next, replaced or added before the last), for prefixes of
    ``TYPO_FROM`` letters or more; else
    none. A letter missing at the end needs no edit: the shorter prefix completes already."""
    if len(prefix.replace(" ", "")) < TYPO_FROM or not _LATIN_PREFIX.fullmatch(prefix):
        return ()
    letters = string.ascii_lowercase
    out: set[str] = set()
    for i in range(1, len(prefix)):  # the first letter is taken as typed (Elasticsearch's prefix_length 1)
        out.add(prefix[:i] + prefix[i + 1 :])
        if i + 1 < len(prefix):
            out.add(prefix[:i] + prefix[i + 1] + prefix[i] + prefix[i + 2 :])
        out.update(prefix[:i] + c + prefix[i + 1 :] for c in letters)
        out.update(prefix[:i] + c + prefix[i:] for c in letters)
    out.discard(prefix)
    return tuple(sorted(out))
