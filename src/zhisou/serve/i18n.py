"""Interface text in Chinese and English, chosen by ``?lang=`` or the Accept-Language header."""

from __future__ import annotations

import re

LANGUAGES = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "site": "zhisou",
        "tagline": "Search your notes",
        "latest": "Latest updates",
        "search": "Search",
        "placeholder": "Search notes…  (press / to focus)",
        "results": "{total} results ({took} ms)",
        "no_results": "No documents match “{query}”.",
        "no_results_help": "Try fewer or different words, remove a filter, or search in the other language.",
        "did_you_mean": "Did you mean",
        "tags": "Tags",
        "year": "Year",
        "mode": "Mode",
        "mode_keyword": "Keyword",
        "mode_semantic": "Semantic",
        "mode_hybrid": "Hybrid",
        "mode_ltr": "Learned",
        "why": "Why here",
        "sort": "Sort",
        "sort_relevance": "Relevance",
        "sort_newest": "Newest",
        "score": "score",
        "channel_missing": "not in this list",
        "model_score": "model score",
        "mode_unavailable": "needs an index with vectors",
        "previous": "Previous",
        "next": "Next",
        "page": "Page {page} of {pages}",
        "related": "Related documents",
        "contents": "Contents",
        "date_range": "Date",
        "date_from": "From",
        "date_to": "To",
        "apply": "Apply",
        "filters": "Filters",
        "remove_filter": "Remove this filter",
        "back_to_results": "← Results for “{query}”",
        "popular_tags": "Popular tags",
        "trending": "Trending",
        "related_searches": "Related searches",
        "suggestions": "Suggestions",
        "source_labels": '{"query": "searched", "title": "title", "tag": "tag", "word": "word"}',
        "recent_docs": "Recent documents",
        "no_related": "No related documents yet.",
        "tagged": "Tagged “{tag}”",
        "clear": "Clear",
        "empty_index": "This index holds no documents yet. Add some with `zhisou index`.",
        "not_found": "Not found",
        "error": "Something went wrong",
        "theme": "Toggle dark mode",
        "language": "中文",
        "source": "Source",
        "query_error": "Searched as plain words: {error}",
        "api_docs": "API",
    },
    "zh": {
        "site": "知搜",
        "tagline": "搜索你的笔记",
        "latest": "最近更新",
        "search": "搜索",
        "placeholder": "搜索笔记…（按 / 聚焦）",
        "results": "共 {total} 条结果（{took} 毫秒）",
        "no_results": "没有与“{query}”匹配的文档。",
        "no_results_help": "试试更少或不同的词，去掉筛选条件，或换一种语言搜索。",
        "did_you_mean": "你是不是要找",
        "tags": "标签",
        "year": "年份",
        "mode": "模式",
        "mode_keyword": "关键词",
        "mode_semantic": "语义",
        "mode_hybrid": "混合",
        "mode_ltr": "学习排序",
        "why": "排序依据",
        "sort": "排序",
        "sort_relevance": "相关度",
        "sort_newest": "最新",
        "score": "得分",
        "channel_missing": "未召回",
        "model_score": "模型得分",
        "mode_unavailable": "需要带向量的索引",
        "previous": "上一页",
        "next": "下一页",
        "page": "第 {page} / {pages} 页",
        "related": "相关文档",
        "contents": "目录",
        "date_range": "日期",
        "date_from": "从",
        "date_to": "到",
        "apply": "应用",
        "filters": "筛选条件",
        "remove_filter": "去掉这个筛选",
        "back_to_results": "← 返回“{query}”的搜索结果",
        "popular_tags": "热门标签",
        "trending": "热门搜索",
        "related_searches": "相关搜索",
        "suggestions": "搜索建议",
        "source_labels": '{"query": "搜过", "title": "标题", "tag": "标签", "word": "词"}',
        "recent_docs": "最近的文档",
        "no_related": "暂无相关文档。",
        "tagged": "标签“{tag}”",
        "clear": "清除",
        "empty_index": "索引里还没有文档，用 `zhisou index` 添加。",
        "not_found": "未找到",
        "error": "出错了",
        "theme": "切换深色模式",
        "language": "English",
        "source": "原文",
        "query_error": "已按普通词语搜索：{error}",
        "api_docs": "API",
    },
}


def choose_language(requested: str | None, accept_language: str | None) -> str:
    """``requested`` (``?lang=``) if known, else the first known language the browser asks for."""
    if requested in LANGUAGES:
        return requested  # type: ignore[return-value]
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return "en"


def translator(language: str) -> dict[str, str]:
    return TEXT[language]


# The parser's reasons (search/parser.py) in Chinese, matched by their English wording; a reason
# not listed here is shown as it is.
_SYNTAX_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), chinese)
    for pattern, chinese in (
        (r"^missing '\)' for the '\(' opened here$", "这里的 '(' 缺少配对的 ')'"),
        (r"^unexpected '\)'; no '\(' is open$", "多余的 ')'：前面没有 '('"),
        (r"^unexpected (.+); remove it or balance the parentheses$", "意外的 {0}：删掉它或补齐括号"),
        (r"^(AND|OR|NOT) needs a search term after it$", "{0} 后面需要一个搜索词"),
        (r"^(AND|OR) needs a search term before it$", "{0} 前面需要一个搜索词"),
        (r"^expected a search term before (.+)$", "{0} 前面需要一个搜索词"),
        (r"^expected a search term$", "这里需要一个搜索词"),
        (r"^(.+) must be followed directly by a term$", "{0} 后面要紧跟一个搜索词"),
        (r"^empty parentheses; put a search term inside$", "括号是空的：请在里面写搜索词"),
        (r"^parentheses nested more than (\d+) deep; simplify the query$", "括号嵌套超过 {0} 层：请简化查询"),
        (r"^(\S+): needs a value right after the colon$", "{0}：冒号后面需要一个值"),
        (r"^unterminated phrase: add the closing '\"'$", '短语没有结束：请补上右引号 "'),
        (r"^empty phrase$", "短语是空的"),
        (r"^'\*' needs a prefix before it, like index\*$", "'*' 前面需要前缀，例如 index*"),
        (r"^range is not closed: add '\]' or '\}'$", "范围没有闭合：请补上 ']' 或 '}'"),
        (r"^expected TO between the range bounds$", "范围的上下界之间需要 TO"),
        (r"^range on (\S+) needs two bounds: \[low TO high\]$", "{0} 的范围需要上下两个界：[下界 TO 上界]"),
        (
            r"^(\S+) is a (\w+) field; (?:prefixes work on text|comparisons need a date or number field"
            r"|ranges need a date or number field)$",
            "{0} 是 {1} 字段，不能这样查询",
        ),
        (r"^(\S+):(\S+) needs a value$", "{0}:{1} 后面需要一个值"),
        (r"^unexpected text after the (\S+) range$", "{0} 的范围后面有多余的文字"),
        (r"^more than (\d+) (?:clauses|words); shorten the query$", "超过 {0} 个子句：请缩短查询"),
        (
            r"^more than (\d+) clauses \(a fuzzy word counts as (\d+)\); shorten the query$",
            "超过 {0} 个子句（一个模糊词算 {1} 个）：请缩短查询",
        ),
        (
            r"^a boost is a number after '\^', like bm25\^2 or bm25\^0\.5$",
            "'^' 后面的权重应是数字，例如 bm25^2 或 bm25^0.5",
        ),
        (r"^a boost must be above 0 and at most (\S+)$", "权重必须大于 0 且不超过 {0}"),
        (r"^'~' takes a whole number, like lucene~1 or \"a b\"~3$", "'~' 后面应是整数，例如 lucene~1 或 \"a b\"~3"),
        (r"^a phrase's '~' needs a number of positions, like \"a b\"~3$", "短语后的 '~' 需要位置数，例如 \"a b\"~3"),
        (r"^a phrase's slop is at most (\d+) positions$", "短语的位置间隔最多 {0}"),
        (r"^a fuzzy word allows at most (\d+) edits, like lucene~2$", "模糊词最多允许 {0} 处编辑，例如 lucene~2"),
        (
            r"^'~' follows a word \(fuzzy\) or a \"phrase\" \(proximity\), not this clause$",
            "'~' 只能跟在词（模糊）或 \"短语\"（邻近）后面",
        ),
        (
            r"^this clause is a filter \(it does not score\): a boost has no effect on it$",
            "这是过滤条件（不参与打分），加权重没有作用",
        ),
    )
)


def syntax_error(reason: str, position: int, language: str) -> str:
    """A query syntax error for the interface's language: where, and what is wrong."""
    if language != "zh":
        return f"query syntax error at position {position}: {reason}"
    for pattern, chinese in _SYNTAX_ZH:
        found = pattern.match(reason)
        if found:
            return f"查询语法错误（第 {position + 1} 个字符）：{chinese.format(*found.groups())}"
    return f"查询语法错误（第 {position + 1} 个字符）：{reason}"
