from __future__ import annotations

from zhisou.analysis import AnalyzerRegistry
from zhisou.search.highlight import excerpt, highlight

ZH = AnalyzerRegistry().get("zh")


def test_chinese_without_spaces_is_marked() -> None:
    text = "很多人问：倒排索引是什么？它是搜索引擎的核心。"
    expected = "很多人问：<mark>倒排索引</mark>是什么？它是搜<mark>索引</mark>擎的核心。"
    assert highlight(text, ZH, {"倒排", "索引"}) == expected


def test_marks_use_original_text_after_folding() -> None:
    snippet = highlight("我们用 ＢＭ２５ 做檢索", ZH, {"bm25", "检索"})
    assert snippet == "我们用 <mark>ＢＭ２５</mark> 做<mark>檢索</mark>"


def test_html_is_escaped() -> None:
    snippet = highlight("<script>alert(1)</script> rank & fusion", ZH, {"rank"})
    assert snippet is not None
    assert "<script>" not in snippet and "&lt;script&gt;" in snippet and "&amp;" in snippet
    assert "<mark>rank</mark>" in snippet


def test_best_window_is_chosen_in_long_text() -> None:
    filler = "无关的内容。" * 60
    text = filler + "这里讲混合精度训练和损失缩放。" + filler
    snippet = highlight(text, ZH, {"混合", "精度", "损失"}, fragment_length=60)
    assert snippet is not None
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>混合</mark>" in snippet or "<mark>混合精度</mark>" in snippet
    assert "<mark>损失</mark>" in snippet
    assert len(snippet.replace("<mark>", "").replace("</mark>", "")) <= 62


def test_no_match_gives_none_and_excerpt_cuts() -> None:
    assert highlight("nothing here", ZH, {"zebra"}) is None
    assert excerpt("一" * 200, 10) == "一" * 10 + "…"
    assert excerpt("a <b>", 10) == "a &lt;b&gt;"


def test_excerpt_reads_markdown_as_plain_text() -> None:
    markdown = "# 标题\n\n**粗体** and [a link](https://x.y) `code`\n\n```\nskipped()\n```\n- item"
    assert excerpt(markdown) == "标题 粗体 and a link code item"
