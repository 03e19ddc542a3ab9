"""Completion keys, typed-prefix forms, one-edit variants and the prefix table."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou.suggest.keys import completion_keys, normalize, one_edit_away, prefix_forms
from zhisou.suggest.table import PrefixTable, lengths_of, narrow, offsets_from


def test_a_chinese_phrase_is_found_under_its_text_pinyin_and_initials() -> None:
    assert completion_keys(normalize("倒排索引 构建")) == ["倒排索引 构建", "daopaisuoyingoujian", "dpsygj"]
    # Latin words inside stay as they are, without spaces, in both pinyin keys.
    assert completion_keys(normalize("Redis  缓存")) == ["redis 缓存", "redishuancun", "redishc"]
    assert completion_keys(normalize("Search Engine")) == ["search engine"]
    # Full-width and traditional text folds like queries do.
    assert normalize("ＢＭ２５ 網路") == "bm25 网络"


def test_a_typed_prefix_is_looked_up_folded_and_without_spaces() -> None:
    assert prefix_forms("Dao Pai") == ["dao pai", "daopai"]
    assert prefix_forms("BM25 cs") == ["bm25 cs", "bm25cs"]  # reaches bm25 参数's initials key
    assert prefix_forms("倒排 ") == ["倒排 "]
    assert prefix_forms("   ") == []


_letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=5, max_size=10)


@given(_letters, st.data())
def test_one_edit_away_recovers_the_prefix_from_any_one_typo(intended: str, data: st.DataObject) -> None:
    """A typo after the first letter — a letter dropped, swapped, replaced or added, or one too
    many at the end — in a prefix of five or more letters leaves the intended prefix among the
    variants (or it is the typed text itself)."""
    i = data.draw(st.integers(1, len(intended) - 2))  # the first letter is taken as typed
    letter = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz"))
    typos = [
        intended[:i] + intended[i + 1 :],  # dropped
        intended[:i] + intended[i + 1] + intended[i] + intended[i + 2 :],  # swapped
        intended[:i] + letter + intended[i + 1 :],  # replaced
        intended[:i] + letter + intended[i:],  # added
        intended + letter,  # one too many at the end
    ]
    for typo in typos:
        assert typo == intended or intended in one_edit_away(typo), typo


def test_short_or_non_latin_prefixes_get_no_variants() -> None:
    assert one_edit_away("sea") == () and one_edit_away("倒排索引") == () and one_edit_away("bm25") == ()


@settings(deadline=None)  # the first call compiles the lookup kernel
@given(
    st.lists(st.text(alphabet="ab倒排 z", max_size=6), max_size=40),
    st.lists(st.text(alphabet="ab倒排 z", max_size=3), min_size=1, max_size=8),
)
def test_prefix_ranges_agree_with_a_scan(keys: list[str], prefixes: list[str]) -> None:
    table = PrefixTable.build((key, number) for number, key in enumerate(keys))
    found = table.ranges(prefixes)
    for prefix, (first, end) in zip(prefixes, found.tolist()):
        got = sorted((table.key(row), int(table.payloads[row])) for row in range(first, end))
        expected = sorted({(key, number) for number, key in enumerate(keys) if key.startswith(prefix)})
        assert got == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=40))
def test_offsets_stored_as_lengths_read_back_as_older_tables_stored_them(strings: list[bytes]) -> None:
    """Tables keep string offsets as narrowed lengths; a table that stored the offsets reads the same."""
    offsets = np.concatenate(([0], np.cumsum([len(s) for s in strings], dtype=np.int64))).astype(np.int64)
    lengths = lengths_of(offsets)
    assert lengths.dtype == (np.uint16 if any(len(s) > 255 for s in strings) else np.uint8)
    assert offsets_from({"key_lengths": lengths}, "key").tolist() == offsets.tolist()
    assert offsets_from({"key_offsets": offsets}, "key").tolist() == offsets.tolist()
    assert narrow(np.array([-1, 2**31 - 1])).dtype == np.int32
    assert narrow(np.array([0, 2**32])).dtype == np.int64
