"""Pinyin (issue: Chinese-first quality, item 2): full pinyin, spaced syllables, initials and
homophone typos find the Chinese words of fields that hold pinyin forms."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou import Index, Schema
from zhisou.analysis.pinyin import split_known, word_pinyin
from zhisou.errors import SchemaError
from zhisou.schema import FieldSpec

NOTES = [
    {"id": "inverted", "title": "倒排索引", "body": "倒排索引把词映射到包含它的文档。"},
    {"id": "cache", "title": "缓存", "body": "缓存命中率决定了延迟。"},
    {"id": "bank", "title": "银行", "body": "银行系统的分布式事务。"},
    {"id": "english", "title": "Notes", "body": "daopai is written here as a plain English token."},
]


@pytest.mark.parametrize(
    "query", ["daopai", "dao pai", "dao pai suo yin", "daopaisuoyin", "dpsy", "DaoPai", "the daopai"]
)
def test_pinyin_and_initials_find_the_chinese_word(make_index: Callable[..., Index], query: str) -> None:
    index = make_index(NOTES[:3], Schema.default())
    assert index.search(query).ids[:1] == ["inverted"]


def test_a_homophone_typo_still_finds_the_word(make_index: Callable[..., Index]) -> None:
    index = make_index(NOTES, Schema.default())
    assert index.search("缓村").ids == ["cache"]  # huan cun
    assert index.search("yinhang").ids == ["bank"]  # the phrase reading of 银行, not yin xing


@pytest.mark.parametrize(
    ("query", "marked"), [("dpsy", "倒排索引"), ("dao pai", "倒排"), ("缓村", "缓存"), ("yinhang", "银行")]
)
def test_a_word_found_through_its_pinyin_is_marked(make_index: Callable[..., Index], query: str, marked: str) -> None:
    index = make_index(NOTES, Schema.default())
    hit = index.search(query).hits[0]
    assert f"<mark>{marked}</mark>" in hit.highlights["body"]
    assert "<mark>" not in (index.search("daopai").hits[0].highlights.get("title") or "")  # Notes: no pinyin


def test_an_exact_match_comes_before_a_pinyin_one(make_index: Callable[..., Index]) -> None:
    """A field that holds the Latin word matches it as a word, first; pinyin is only looked up
    in fields that lack the word, at a lower weight."""
    index = make_index(NOTES, Schema.default())
    found = index.search("daopai")
    assert found.ids == ["english", "inverted"] and found.scores[0] > found.scores[1]
    result = index.search("倒排 yinhang")
    assert result.ids[0] == "inverted" and "bank" in result.ids


def test_an_unknown_english_word_is_not_read_as_initials(make_index: Callable[..., Index]) -> None:
    index = make_index(NOTES[:3], Schema.default())
    assert index.search("zebra").ids == []


def test_fields_without_pinyin_hold_no_pinyin_forms(make_index: Callable[..., Index]) -> None:
    index = make_index(NOTES[:3], Schema((FieldSpec("title", "text"), FieldSpec("body", "text"))))
    assert index.search("daopai").ids == []
    with pytest.raises(SchemaError, match="pinyin is for text fields"):
        FieldSpec("tags", "keyword", pinyin=True)
    assert "pinyin" not in Schema((FieldSpec("body", "text"),)).to_dict()["fields"][0]  # old schemas unchanged
    assert Schema.from_dict(Schema.default().to_dict()).fields[0].pinyin


def test_word_pinyin() -> None:
    assert word_pinyin("倒排索引") == ("daopaisuoyin", "dpsy")
    assert word_pinyin("绿色女人") == ("lvsenvren", "lsnr")  # ü is written v
    assert word_pinyin("abc") is None


def _pypinyin_plain(word: str) -> tuple[str, str] | None:
    """``word_pinyin`` the long way: pypinyin's own ``lazy_pinyin`` in its plain style."""
    from pypinyin import lazy_pinyin

    full = lazy_pinyin(word, errors=lambda chars: [""] * len(chars))
    if not full or not all(syllable.isascii() and syllable.isalpha() for syllable in full):
        return None
    return "".join(full), "".join(syllable[0] for syllable in full)


def test_word_pinyin_is_pypinyins_plain_style_for_every_character_and_phrase() -> None:
    """Readings are taken from pypinyin's tables and tone marks stripped by a table rather than
    by its converter: the same letters for every character and phrase it knows."""
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    words = [chr(code) for code in pinyin_dict] + list(phrases_dict)
    assert len(words) > 80_000
    differ = [word for word in words if word_pinyin.__wrapped__(word) != _pypinyin_plain(word)]
    assert not differ, differ[:10]


def _pieces() -> list[str]:
    """Phrases and characters to build words pypinyin's phrase table does not hold: pieces of
    phrases (its cut must find them again), polyphonic characters, text it does not read."""
    from pypinyin.phrases_dict import phrases_dict

    phrases = sorted(phrases_dict)[::97]
    return phrases + [phrase[:1] for phrase in phrases] + [phrase[1:] for phrase in phrases] + list("行长重乐a1〇𠀀")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_pieces()), min_size=1, max_size=5))
def test_word_pinyin_reads_any_word_as_pypinyin_does(pieces: list[str]) -> None:
    word = "".join(pieces)
    assert word_pinyin.__wrapped__(word) == _pypinyin_plain(word)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["dao", "pai", "suo", "yin", "a", "hang"]), min_size=1, max_size=6))
def test_split_known_finds_the_fewest_known_pieces(pieces: list[str]) -> None:
    known = {"dao", "pai", "suo", "yin", "a", "hang", "daopai", "yinhang"}
    letters = "".join(pieces)
    found = split_known(letters, lambda forms: [form in known for form in forms])
    assert found is not None and "".join(found) == letters and all(piece in known for piece in found)
    assert len(found) <= len(pieces)
    assert split_known(letters + "q", lambda forms: [form in known for form in forms]) is None
