"""The tokenizer's fast paths give exactly what the general ones do: the Latin split
(``latin_terms``) the regex's tokens, and a stream without offsets (indexing, queries) the
stream with offsets (highlighting) less the offsets."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from zhisou.analysis.tokenizers import (
    _LATIN_TOKEN_RE,
    _LONE_CJK,
    ChineseSegmenter,
    MixedTokenizer,
    has_single_chinese_word,
    latin_terms,
)

# Letters, digits and every character the token rules treat specially (apostrophes, underscore,
# dot, hyphen), spaces and controls, and a few non-ASCII characters that send text to the regex.
ALPHABET = st.sampled_from([*"abcXYZ019 '_.-,;\t\n\x1f%", "é", "’", "ß", "٣", "²"])


@settings(max_examples=600, deadline=None)
@given(st.text(ALPHABET, max_size=60))
@example("version 3.14.1 of e.g. don't stop_words at 1.5. end.")
@example("a3.5 3.5a .5 5. 'quoted' __init__ x'")
def test_latin_terms_equal_the_regex(text: str) -> None:
    assert latin_terms(text) == _LATIN_TOKEN_RE.findall(text)


# Chinese words and sub-words, Latin letters, digits and dots, full-width forms and traditional
# characters (folding changes them, and 記憶體 becomes 内存), spaces.
PIECES = [*"搜索引擎倒排索引中华人民共和国的是", *"ab Z9. '\t", "ＡＢ", "１２", "體", "記憶體", "é"]
MIXED = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
TOKENIZER = MixedTokenizer(ChineseSegmenter())


@settings(max_examples=300, deadline=None)
@given(MIXED, st.booleans())
@example("搜索引擎 and 中华人民共和国 3.5 記憶體", False)
@example("ＡＢ１２ 搜索", True)
def test_a_stream_without_offsets_is_the_stream_with_them(text: str, precise: bool) -> None:
    bare = TOKENIZER.stream(text, offsets=False, precise=precise)
    full = TOKENIZER.stream(text, offsets=True, precise=precise)
    assert (bare.terms, bare.positions, bare.cjk) == (full.terms, full.positions, full.cjk)
    assert bare.starts is None and full.starts is not None and len(full.starts) == len(full.terms)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*"猫狗a1 \t\n\u3000\xa0\u2003\x1f\x85"]), max_size=8).map("".join))
def test_a_lone_chinese_word_is_found_as_the_whole_search_finds_it(text: str) -> None:
    """The shortcut for text without a second word agrees with searching the whole text."""
    assert has_single_chinese_word(text) == (_LONE_CJK.search(text) is not None)
