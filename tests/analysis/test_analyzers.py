from __future__ import annotations

from pathlib import Path

import pytest

from zhisou.analysis import AnalysisResources, AnalyzerRegistry
from zhisou.errors import SchemaError


@pytest.fixture(scope="module")
def registry() -> AnalyzerRegistry:
    return AnalyzerRegistry()


def test_chinese_search_mode_emits_sub_words(registry: AnalyzerRegistry) -> None:
    terms = registry.get("zh").terms("搜索引擎")
    assert {"搜索", "索引", "引擎", "搜索引擎"} <= set(terms)


def test_sub_words_sit_at_their_first_character(registry: AnalyzerRegistry) -> None:
    tokens = {t.text: t for t in registry.get("zh").analyze("用搜索引擎")}
    assert tokens["搜索引擎"].position == tokens["搜索"].position == 1
    assert tokens["引擎"].position == 3


def test_mixed_chinese_english(registry: AnalyzerRegistry) -> None:
    terms = registry.get("zh").terms("FlashAttention的关键创新")
    # Latin words are treated like the en analyzer (lower case + Snowball stem); 的 is a stopword.
    assert terms == ["flashattent", "关键", "创新"]


def test_traditional_folds_to_simplified(registry: AnalyzerRegistry) -> None:
    analyzer = registry.get("zh")
    assert set(analyzer.terms("檢索系統")) == set(analyzer.terms("检索系统"))
    assert "检索" in analyzer.terms("檢索")


def test_full_width_folds_to_half_width(registry: AnalyzerRegistry) -> None:
    assert registry.get("zh").terms("ＢＭ２５ Ｒａｎｋｉｎｇ") == ["bm25", "rank"]


def test_offsets_point_into_the_original_text(registry: AnalyzerRegistry) -> None:
    text = "ＢＭ２５和檢索"
    for token in registry.get("zh").analyze(text):
        assert text[token.start : token.end]  # non-empty slice of the original
    bm25 = registry.get("zh").analyze(text)[0]
    assert text[bm25.start : bm25.end] == "ＢＭ２５"


def test_english_analyzer_stems_and_drops_stopwords(registry: AnalyzerRegistry) -> None:
    assert registry.get("en").terms("The indexes are Running into the indexing") == ["index", "run", "index"]


def test_stopword_gap_keeps_positions(registry: AnalyzerRegistry) -> None:
    tokens = registry.get("en").analyze("learning to rank")
    assert [(t.text, t.position) for t in tokens] == [("learn", 0), ("rank", 2)]


def test_numbers_and_decimals(registry: AnalyzerRegistry) -> None:
    assert registry.get("en").terms("python 3.11 on x86_64") == ["python", "3.11", "x86_64"]


def test_keyword_and_exact(registry: AnalyzerRegistry) -> None:
    assert registry.get("keyword").terms("  Machine Learning ") == ["machine learning"]
    assert registry.get("exact").terms("Doc-42") == ["Doc-42"]
    assert registry.get("keyword").terms("   ") == []


def test_unknown_analyzer_is_a_clear_error(registry: AnalyzerRegistry) -> None:
    with pytest.raises(SchemaError, match="unknown analyzer 'klingon'"):
        registry.get("klingon")


def test_user_dictionary_keeps_a_term_whole(tmp_path: Path) -> None:
    plain = AnalyzerRegistry().get("zh").terms("检索增强生成")
    assert "检索增强生成" not in plain
    (tmp_path / "userdict.txt").write_text("检索增强生成 1000 n\n", encoding="utf-8")
    custom = AnalyzerRegistry(AnalysisResources.load(tmp_path)).get("zh").terms("检索增强生成")
    assert "检索增强生成" in custom


def test_bad_user_dictionary_line_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "userdict.txt").write_text("好词 10\n坏词 many\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"userdict.txt:2: frequency must be a whole number"):
        AnalysisResources.load(tmp_path)


def test_synonyms_expand_queries_only(tmp_path: Path) -> None:
    (tmp_path / "synonyms.txt").write_text("# groups\n检索, 搜索, retrieval\n", encoding="utf-8")
    analyzer = AnalyzerRegistry(AnalysisResources.load(tmp_path)).get("zh")
    assert analyzer.terms("检索") == ["检索"]
    expanded = [t.text for t in analyzer.analyze("检索", for_query=True)]
    assert set(expanded) == {"检索", "搜索", "retriev"}
