"""The term dictionary's compiled binary search agrees with a Python dict on any key set."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou.index.termdict import TermDictionary, encode_keys

words = st.text(alphabet="ab索引\x1f", max_size=6).map(str.encode)


def dictionary(keys: list[bytes]) -> TermDictionary:
    blob = np.frombuffer(b"".join(keys), dtype=np.uint8)
    offsets = np.array([0, *np.cumsum([len(k) for k in keys])], dtype=np.int64)
    return TermDictionary(blob, offsets)


@settings(deadline=None)  # the first call loads the compiled search
@given(st.sets(words), st.lists(words, max_size=12))
def test_ordinals_match_a_dict(stored: set[bytes], wanted: list[bytes]) -> None:
    keys = sorted(stored)
    expected = [{key: i for i, key in enumerate(keys)}.get(key, -1) for key in wanted]
    terms = dictionary(keys)
    assert terms.ordinals(wanted).tolist() == expected
    assert [terms.ordinal(key) for key in wanted] == expected


def test_prefixes_and_extensions_of_a_key_are_not_the_key() -> None:
    terms = dictionary([b"body\x1fab", b"body\x1fabc", b"body\x1fb"])
    assert terms.ordinals([b"body\x1fa", b"body\x1fab", b"body\x1fabcd", b"body\x1fabc", b""]).tolist() == [
        -1,
        0,
        -1,
        1,
        -1,
    ]


def test_postings_of_a_segment_agree_with_its_postings(make_index) -> None:  # type: ignore[no-untyped-def]
    segment = make_index().searcher().reader.segments[0]
    keys = [b"body\x1frank", b"body\x1f\xe7\xb4\xa2\xe5\xbc\x95", b"body\x1fnever-indexed", b"title\x1fbm25"]
    for key, (start, count) in zip(keys, segment.postings_of(encode_keys(keys)).tolist()):
        docs, _ = segment.postings(key)
        assert count == len(docs)
        assert (segment.postings_range(start, count)[0] == docs).all()
    assert segment.postings_of(encode_keys([b"body\x1fnever-indexed"])).tolist() == [[0, 0]]
    assert segment.postings_of(encode_keys([])).shape == (0, 2)


def test_lookups_across_many_sample_blocks() -> None:
    keys = sorted({f"body\x1f{word}".encode() for word in (f"w{n:05d}" for n in range(0, 3000, 3))})
    terms = dictionary(keys)
    position = {key: i for i, key in enumerate(keys)}
    wanted = [
        *keys[::63],  # block starts and their neighbours
        *keys[1::64],
        keys[-1],
        b"body\x1fw00001",  # between keys
        b"a",  # before the first key
        b"zzz",  # after the last
        b"body\x1fw",  # a prefix of every key
        *[f"body\x1fw{n:05d}".encode() for n in range(1, 3000, 97)],
    ]
    assert terms.ordinals(wanted).tolist() == [position.get(key, -1) for key in wanted]


@settings(deadline=None, max_examples=200)
@given(st.lists(st.sets(words), max_size=6))
def test_merged_key_lists_are_the_sorted_union_with_each_keys_rank(key_sets: list[set[bytes]]) -> None:
    """The compiled k-way merge and the Python path (set, sort) give the same union and ranks:
    keys that are prefixes of others, shared between lists or in none, empty lists."""
    from zhisou.index import termdict

    dictionaries = [dictionary(sorted(keys)) for keys in key_sets]
    union = sorted(set().union(*key_sets))
    expected = [[union.index(key) for key in sorted(keys)] for keys in key_sets]
    for merge in (termdict._merge_key_lists_compiled, termdict._merge_key_lists_python, termdict.merge_key_lists):
        found_union, found_ranks = merge(dictionaries)
        assert found_union == union
        assert [ranks.tolist() for ranks in found_ranks] == expected


@given(st.sets(words), st.lists(words, max_size=6))
def test_prefix_ranges_hold_exactly_the_keys_with_the_prefix(stored: set[bytes], prefixes: list[bytes]) -> None:
    keys = sorted(stored)
    terms = dictionary(keys)
    for prefix in [b"", *prefixes, *(key[:cut] for key in keys[:3] for cut in range(len(key) + 1))]:
        found = terms.prefix_range(prefix)
        assert [keys[o] for o in found] == [key for key in keys if key.startswith(prefix)]
