"""Passages: sentence boundaries in Chinese and English, budgets, overlap, titles."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zhisou.embed.passages import sentences, split_passages


def chars(texts: list[str]) -> list[int]:
    return [len(t) for t in texts]  # one token per character: budgets easy to check by hand


def test_sentences_end_at_chinese_and_english_marks_and_line_breaks() -> None:
    text = "倒排索引很快。真的吗？是的！BM25 ranks. It works; mostly?\n\nA new line without end"
    assert [text[a:b] for a, b in sentences(text)] == [
        "倒排索引很快。",
        "真的吗？",
        "是的！",
        "BM25 ranks.",
        "It works;",
        "mostly?",
        "A new line without end",
    ]
    version = "v1.2 is out. e.g.x"
    assert [version[a:b] for a, b in sentences(version)] == ["v1.2 is out.", "e.g.x"]  # no cut inside


def test_passages_fill_the_budget_overlap_and_carry_the_title() -> None:
    text = "一二三。四五六。七八九。十十十。"  # four sentences of 4 characters
    passages = split_passages([text], ["题"], chars, max_tokens=10, overlap=4)
    assert [p.text for p in passages] == ["题\n一二三。四五六。", "题\n四五六。七八九。", "题\n七八九。十十十。"]
    assert all(p.doc == 0 for p in passages)
    assert [(p.start, p.end) for p in passages] == [(0, 8), (4, 12), (8, 16)]
    no_overlap = split_passages([text], [""], chars, max_tokens=8, overlap=0)
    assert [p.text for p in no_overlap] == ["一二三。四五六。", "七八九。十十十。"]


def test_every_document_gives_a_passage() -> None:
    passages = split_passages(["", "   ", "正文。"], ["only a title", "", ""], chars, 50)
    assert [(p.doc, p.text) for p in passages] == [(0, "only a title"), (1, ""), (2, "正文。")]


@given(st.lists(st.text(alphabet="ab 。.!\n", max_size=60), min_size=1, max_size=5), st.integers(8, 30))
def test_passages_cover_every_sentence_within_the_budget(texts: list[str], budget: int) -> None:
    passages = split_passages(texts, [""] * len(texts), chars, budget, overlap=3)
    for number, text in enumerate(texts):
        mine = [p for p in passages if p.doc == number]
        assert mine, "every document gives a passage"
        covered = set()
        for p in mine:
            covered.update(range(p.start, p.end))
            spans_inside = [(a, b) for a, b in sentences(text) if p.start <= a and b <= p.end]
            if len(spans_inside) > 1:  # a single long sentence may exceed it; packed ones may not
                assert sum(b - a for a, b in spans_inside) <= budget
        for a, b in sentences(text):
            assert set(range(a, b)) <= covered
