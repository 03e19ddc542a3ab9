from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou.analysis import AnalyzerRegistry
from zhisou.search.highlight import excerpt, highlight
from zhisou.search.plaintext import plain_text

ZH = AnalyzerRegistry().get("zh")


def test_chinese_without_spaces_is_marked() -> None:
    text = "很多人问：倒排索引是什么？它是搜索引擎的核心。"
    # The words 倒排, 索引 are marked where they are words, not inside 搜索引擎 ...
    assert highlight(text, ZH, {"倒排", "索引"}) == "很多人问：<mark>倒排索引</mark>是什么？它是搜索引擎的核心。"
    # ... and a sub-word match (a query that fell back to it) marks the whole word, never 搜<mark>索引</mark>擎
    expected = "很多人问：倒排索引是什么？它是<mark>搜索引擎</mark>的核心。"
    assert highlight(text, ZH, {"\x02索引"}) == expected


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
    assert excerpt("a <b>", 10) == "a <b>"  # plain text: whoever makes HTML escapes it


def test_excerpt_reads_markdown_as_plain_text() -> None:
    markdown = "# 标题\n\n**粗体** and [a link](https://x.y) `code`\n\n```\nskipped()\n```\n- item"
    assert excerpt(markdown) == "标题 粗体 and a link code item"


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.sampled_from(["搜索引擎", "倒排索引", "分布式系统", "的", "缓存", "，", "bm25", "。", "引擎盖"]), max_size=10
    )
)
def test_a_highlight_never_splits_a_word(pieces: list[str]) -> None:
    """Whatever sub-word matched, every mark starts and ends on a boundary of the precise cut."""
    text = "".join(pieces)
    marked = highlight(text, ZH, {"索引", "引擎", "布式", "系统", "bm25", "缓存"})
    if marked is None:
        return
    bounds = {0, len(text)} | {edge for span in ZH.word_spans(text) for edge in span}
    bounds |= {i for i in range(len(text) + 1) if i == 0 or i == len(text) or not ("\u4e00" <= text[i - 1] <= "\u9fff")}
    plain = marked.replace("</mark>", "\x01").replace("<mark>", "\x00")
    position = 0
    for char in plain:
        if char in "\x00\x01":
            assert position in bounds, (text, marked)
        else:
            position += 1


def test_snippets_and_excerpts_come_from_rendered_markdown() -> None:
    note = (
        "# 慢查询排查\n\n开启 `slow_query_log` 后，**重点**内容写在 ~/.cache/pip 里，见 [文档](http://x)。\n\n"
        "```sql\nset global slow_query_log = on;\n```\n"
    )
    assert (
        plain_text(note, "慢查询排查").splitlines()[0]
        == "开启 slow_query_log 后，重点内容写在 ~/.cache/pip 里，见 文档。"
    )
    opening = excerpt(note, 150, "慢查询排查")
    assert (
        opening == "开启 slow_query_log 后，重点内容写在 ~/.cache/pip 里，见 文档。"
    )  # no '#', no repeated title, no code
    assert excerpt(note, 150).startswith("慢查询排查 开启")  # a different title: the heading is text
    marked = highlight(plain_text(note, "慢查询排查"), ZH, {"slow_query_log"})
    assert marked is not None and "<mark>slow_query_log</mark>" in marked and "#" not in marked and "**" not in marked
    assert "重点内容" in plain_text("**重点**内容") and "重点 内容" not in plain_text("**重点**内容")
    assert plain_text("just plain text, 1 line") == "just plain text, 1 line"


def test_the_repeated_heading_is_found_by_the_schema_title_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The title role comes from the schema (here ``name``), not from a field called title."""
    from zhisou import Index, Schema
    from zhisou.schema import FieldSpec

    index = Index.create(tmp_path / "ix", Schema((FieldSpec("name", "text"), FieldSpec("text", "text"))))
    index.add({"id": "1", "name": "慢查询", "text": "# 慢查询\n\n打开慢查询日志。"})
    index.commit()
    snippet = index.search("慢查询", fields=["text"]).hits[0].highlights["text"]
    assert "#" not in snippet and snippet.count("<mark>") == 1  # the heading is not repeated
