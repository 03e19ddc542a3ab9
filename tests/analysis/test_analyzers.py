from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhisou.analysis import AnalysisResources, AnalyzerRegistry
from zhisou.analysis.normalize import TAIWAN_WORDS_IN_SIMPLIFIED, fold
from zhisou.errors import SchemaError


@pytest.fixture(scope="module")
def registry() -> AnalyzerRegistry:
    return AnalyzerRegistry()


def test_chinese_search_mode_emits_sub_words_apart(registry: AnalyzerRegistry) -> None:
    """Indexing keeps the word, its parts and (marked) the sub-words across its seams; a query
    gets the word."""
    analyzer = registry.get("zh")
    assert set(analyzer.terms("搜索引擎")) == {"搜索", "\x02索引", "引擎", "搜索引擎"}
    assert set(analyzer.terms("倒排索引")) == {"倒排", "索引"}  # not a dictionary word: two words
    assert analyzer.stream("搜索引擎和倒排索引", for_query=True).terms == ["搜索引擎", "倒排", "索引"]


def test_sub_words_sit_at_their_first_character(registry: AnalyzerRegistry) -> None:
    tokens = {t.text: t for t in registry.get("zh").analyze("用搜索引擎")}
    assert tokens["搜索引擎"].position == tokens["搜索"].position == 1
    assert tokens["\x02索引"].position == 2 and tokens["引擎"].position == 3


def test_mixed_chinese_english(registry: AnalyzerRegistry) -> None:
    terms = registry.get("zh").terms("FlashAttention的关键创新")
    # Latin words are treated like the en analyzer (lower case + Snowball stem); 的 is a stopword.
    assert terms == ["flashattent", "关键", "创新"]


def test_traditional_folds_to_simplified(registry: AnalyzerRegistry) -> None:
    analyzer = registry.get("zh")
    assert set(analyzer.terms("檢索系統")) == set(analyzer.terms("检索系统"))
    assert "检索" in analyzer.terms("檢索")


@pytest.mark.parametrize(
    ("mainland", "taiwan"),
    [
        ("网络", "網路"),
        ("软件", "軟體"),
        ("分布式", "分散式"),
        ("证书", "憑證"),
        ("内存", "記憶體"),
        ("数据库", "資料庫"),
    ],
)
def test_regional_words_meet_on_the_mainland_word(registry: AnalyzerRegistry, mainland: str, taiwan: str) -> None:
    """Taiwan vocabulary in traditional script (OpenCC tw2sp) and the mainland word give the same
    terms, in a sentence as alone; the original offsets cover the whole regional word."""
    analyzer = registry.get("zh")
    assert mainland in analyzer.terms(taiwan)
    assert mainland in analyzer.terms(f"這個{taiwan}設定很重要")
    assert mainland in analyzer.terms(f"这个{mainland}设置很重要")
    text = f"ＯＫ，{taiwan}的問題"
    (token,) = [t for t in analyzer.analyze(text) if t.text == mainland]
    assert text[token.start : token.end] == taiwan


@pytest.mark.parametrize(("taiwan", "mainland"), sorted(TAIWAN_WORDS_IN_SIMPLIFIED.items()))
def test_taiwan_words_in_simplified_script(registry: AnalyzerRegistry, taiwan: str, mainland: str) -> None:
    analyzer = registry.get("zh")
    assert mainland in analyzer.terms(f"使用{taiwan}的时候")
    text = f"{taiwan}很快"
    (token,) = [t for t in analyzer.analyze(text) if t.text == mainland]
    assert text[token.start : token.end] == taiwan


def test_simplified_text_keeps_its_own_vocabulary(registry: AnalyzerRegistry) -> None:
    """Only runs holding a traditional character get the phrase conversion: 文件 stays 文件 in a
    simplified note (tw2sp alone would make it 文档)."""
    analyzer = registry.get("zh")
    assert "文件" in analyzer.terms("打开这个文件")
    assert "进程" not in analyzer.terms("旅游行程安排")
    assert "软件" not in analyzer.terms("软体动物")
    # t2s's phrase table also rewrites words whose characters are all simplified ones
    for simplified in ("把杯子打坏了", "心情低沈", "用英哩计算"):
        assert fold(simplified).text == simplified
    assert fold("他把杯子打坏了，這是事實").text == "他把杯子打坏了,这是事实"  # per run (NFKC: ，→ ,)


def test_traditional_runs_still_get_t2s_phrases() -> None:
    assert fold("請儘快答覆").text == "请尽快答复"
    assert fold("破釜沈舟的決心").text == "破釜沉舟的决心"
    assert fold("他把杯子打壞了").text == "他把杯子打坏了"


def test_every_character_opencc_converts_alone_is_seen_as_traditional() -> None:
    """Folding skips OpenCC for text without a traditional character, a set read from OpenCC over
    the Han blocks of the first plane (beyond it, OpenCC is asked): every character key of t2s's
    tables that it rewrites must be seen (its dictionaries dumped with the wheel's ``opencc_dict``)."""
    import shutil
    import subprocess
    import tempfile

    import opencc

    from zhisou.analysis import normalize

    root = Path(opencc.__file__).parent / "clib"
    tool = root / "bin" / "opencc_dict"
    if not tool.exists() and shutil.which("opencc_dict") is None:
        pytest.skip("OpenCC's opencc_dict tool is not installed with it")
    config = json.loads((root / "share" / "opencc" / "t2s.json").read_text())
    files = [step["dict"]["file"] for step in config["normalization"]]
    files += [part["file"] for step in config["conversion_chain"] for part in step["dict"]["dicts"]]
    with tempfile.TemporaryDirectory() as scratch:
        for name in files:
            out = Path(scratch) / f"{name}.txt"
            command = [str(tool) if tool.exists() else "opencc_dict", "-i", str(root / "share" / "opencc" / name)]
            subprocess.run([*command, "-o", str(out), "-f", "ocd2", "-t", "text"], check=True, capture_output=True)
            for line in out.read_text(encoding="utf-8").splitlines():
                key, values = line.split("\t")
                if len(key) == 1 and values.split(" ")[0] != key:
                    assert normalize.holds_traditional(key), (name, key)
                    assert normalize.holds_traditional(f"简体{key}文字"), (name, key)


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


def test_files_saved_with_a_byte_order_mark_read_whole(tmp_path: Path) -> None:
    """Notepad saves UTF-8 with a BOM: the first word and the first synonym group still work."""
    (tmp_path / "userdict.txt").write_text("\ufeff检索增强生成 1000 n\n", encoding="utf-8")
    (tmp_path / "synonyms.txt").write_text("\ufeff检索, 搜索\n", encoding="utf-8")
    analyzer = AnalyzerRegistry(AnalysisResources.load(tmp_path)).get("zh")
    assert "检索增强生成" in analyzer.terms("检索增强生成")
    assert {t.text for t in analyzer.analyze("检索", for_query=True)} == {"检索", "搜索"}


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


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["記憶體", "網路", "軟體", "憑證", "演算法", "网路", "记忆体", "這", "个", "Ａ", "b", " ", "。", "ﬁ"]
        ),
        max_size=12,
    )
)
def test_folding_keeps_an_ordered_offset_map(pieces: list[str]) -> None:
    """Whatever regional words and width changes a text holds, every folded character points at
    an original one, in order, so tokens map back to a slice of the original."""
    text = "".join(pieces)
    folded = fold(text)
    if folded.origin is None:
        assert len(folded.text) == len(text)
    else:
        assert len(folded.origin) == len(folded.text)
        assert list(folded.origin) == sorted(folded.origin)
        assert all(0 <= place < len(text) for place in folded.origin)
