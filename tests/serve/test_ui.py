"""Server-rendered pages: feed, search, documents, language, escaping."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.serve.conftest import BASE_URL
from zhisou import Index, Schema
from zhisou.schema import FieldSpec
from zhisou.serve.app import create_app
from zhisou.serve.i18n import TEXT, choose_language
from zhisou.serve.settings import ServeSettings
from zhisou.serve.ui import page_numbers


def card_ids(html: str) -> list[str]:
    return re.findall(r'class="hit-link" href="/doc/[^"]*" data-id="([^"]+)"', html)


def test_home_is_the_latest_updates_feed(make_client: Callable[..., TestClient]) -> None:
    client = make_client(page_size=3)
    page = client.get("/", headers={"accept-language": "en-US,en;q=0.9"})
    assert page.status_code == 200
    assert "Latest updates" in page.text
    assert card_ids(page.text) == ["f", "d", "c"]
    assert 'href="/?page=2"' in page.text and 'aria-current="page">1<' in page.text
    assert card_ids(client.get("/?page=3").text) == ["b", "e"]
    assert 'class="excerpt"' in page.text and "2025-02-01" in page.text


def test_home_filters_by_tag(client: TestClient) -> None:
    page = client.get("/", params={"tag": "ranking"})
    assert card_ids(page.text) == ["d", "h", "b"]
    assert re.search(r"class=\"tag size-\d active\"", page.text)


def test_interface_language_follows_accept_language_and_lang(client: TestClient) -> None:
    assert "最近更新" in client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"}).text
    assert "Latest updates" in client.get("/", headers={"accept-language": "fr-FR, en;q=0.5"}).text
    chosen = client.get("/", params={"lang": "zh"}, headers={"accept-language": "en"})
    assert "最近更新" in chosen.text and chosen.cookies.get("zhisou_lang") == "zh"
    assert "最近更新" in client.get("/", headers={"accept-language": "en"}).text  # remembered


def test_search_page_highlights_and_counts(client: TestClient) -> None:
    page = client.get("/search", params={"q": "倒排索引"}, headers={"accept-language": "en"})
    assert "<mark>" in page.text
    assert set(card_ids(page.text)) >= {"a", "f"}
    assert 'data-facet="tag"' in page.text and 'data-facet="year"' in page.text
    assert 'data-mode="semantic"' in page.text and 'aria-disabled="true"' in page.text
    assert re.search(r'data-query-id="[0-9a-f]{16}"', page.text)


def test_partial_results_are_a_fragment(client: TestClient) -> None:
    fragment = client.get("/search", params={"q": "rank", "partial": "1"}).text
    assert "<html" not in fragment and card_ids(fragment)
    assert "partial" not in re.sub(r'data-[a-z-]+="[^"]*"', "", fragment)  # links drop it


def test_no_results_page_offers_did_you_mean(client: TestClient) -> None:
    page = client.get("/search", params={"q": "fusoin"}, headers={"accept-language": "en"})
    assert "No documents match" in page.text
    assert 'id="did-you-mean"' in page.text and ">fusion<" in page.text


def test_document_page_renders_markdown_safely_with_related(client: TestClient) -> None:
    client.post(
        "/api/docs",
        json=[
            {
                "id": "md",
                "title": "<script>alert(1)</script> 倒排索引笔记",
                "body": "# 标题\n\n**粗体** 倒排索引\n\n<script>alert(2)</script>\n\n[x](javascript:alert(3))",
                "url": "javascript:alert(4)",
            }
        ],
    )
    page = client.get("/doc/md").text
    assert "<strong>粗体</strong>" in page and "<h1>标题</h1>" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert 'class="related-link"' in page


def test_unknown_pages_render_a_readable_404(client: TestClient) -> None:
    page = client.get("/doc/nope", headers={"accept-language": "en"})
    assert page.status_code == 404 and "no document with id" in page.text and "<html" in page.text
    assert client.get("/search", params={"page": "x"}).status_code == 422


def test_page_numbers_show_first_last_and_a_window() -> None:
    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 3) == [1, 2, 3]
    assert page_numbers(6, 20) == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert page_numbers(20, 20) == [1, None, 18, 19, 20]
    assert page_numbers(3, 5) == [1, 2, 3, 4, 5]


def test_static_assets_are_local(client: TestClient) -> None:
    page = client.get("/").text
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for asset in ("/static/style.css", "/static/app.js", "/static/theme.js"):
        assert client.get(asset).status_code == 200


def test_document_page_shows_the_fields_of_a_custom_schema(make_index: Callable[..., Index]) -> None:
    schema = Schema(
        (
            FieldSpec("title", "text"),
            FieldSpec("body", "text"),
            FieldSpec("category", "keyword"),
            FieldSpec("views", "number"),
        )
    )
    index = make_index([{"id": "p1", "title": "产品手册", "body": "安装步骤", "category": "手册", "views": 42}], schema)
    index.close()
    with TestClient(create_app(ServeSettings(index.directory)), base_url=BASE_URL) as client:
        page = client.get("/doc/p1").text
        assert "<dt>category</dt><dd>手册</dd>" in page and "<dt>views</dt><dd>42</dd>" in page
        home = client.get("/").text  # no date or tags field: the feed still lists documents
        assert card_ids(home) == ["p1"]


def test_both_languages_say_everything_and_q_values_rank_them() -> None:
    assert set(TEXT["zh"]) == set(TEXT["en"])
    assert choose_language(None, "en;q=0.4, zh-TW;q=0.8") == "zh"
    assert choose_language(None, "de, fr;q=0.9") == "en"
    assert choose_language("en", "zh-CN") == "en"
    assert choose_language("xx", "zh;q=bad, en") == "en"


def test_a_syntax_error_is_explained_in_the_interface_language(client: TestClient) -> None:
    """The page searches the words anyway and says why, in Chinese on the Chinese interface."""
    chinese = client.get("/search", params={"q": "(倒排 索引", "lang": "zh"}).text
    assert "查询语法错误（第 1 个字符）：这里的 &#39;(&#39; 缺少配对的 &#39;)&#39;" in chinese
    assert "query syntax error" not in chinese
    english = client.get("/search", params={"q": "(倒排 索引", "lang": "en"}).text
    assert "query syntax error at position 0: missing &#39;)&#39;" in english
    phrase = client.get("/search", params={"q": '"未闭合', "lang": "zh"}).text
    assert "短语没有结束" in phrase


def test_every_parser_reason_has_a_chinese_wording(make_index: Callable[..., Index]) -> None:
    """Each reason the parser gives for a malformed query reads as Chinese on the Chinese page."""
    from zhisou.errors import QuerySyntaxError
    from zhisou.serve.i18n import syntax_error

    searcher = make_index().searcher()

    broken = [
        "(a",
        "a)",
        "a AND",
        "AND",
        "+",
        "()",
        "title:",
        '"a',
        '""',
        "*",
        "date:[2020 TO",
        "date:[2020 2021]",
        "a NOT",
        "OR a",
        "a^2x",
        "a^0",
        "tags:x^2",
        '"a b"~',
        '"a b"~500',
        "lucene~3",
        "x~2y",
        "(a b)~2",
        " ".join(["lucene~"] * 21),
    ]
    for query in broken:
        try:
            searcher.parse(query)
        except QuerySyntaxError as error:
            message = syntax_error(error.reason, error.position, "zh")
            assert message.startswith("查询语法错误"), query
            english = r"\b(needs?|expected|missing|unexpected|phrase|range|parenthes[ie]s|remove|shorten|followed)\b"
            assert not re.search(english, message), (query, message)


def test_document_page_contents_title_once_and_a_way_back(client: TestClient) -> None:
    body = "# 长笔记\n\n开头。\n\n## 第一节\n\n`inline_code` 文字。\n\n## 第二节\n\n> 引用\n\n### 小节\n\n结尾。\n"
    client.post("/api/docs", json=[{"id": "long", "title": "长笔记", "body": body, "date": "2030-01-01"}])
    page = client.get("/doc/long", params={"q": "第一节 引用"}).text
    assert page.count("<h1") == 1  # the note's own "# 长笔记" is not shown under the page title
    assert re.search(r'<h2 id="s-第一节">第一节</h2>', page) and 'href="#s-第一节"' in page  # contents
    assert 'class="toc-3"' in page
    assert re.search(r'<a href="/search\?q=[^"]+" id="back-to-results">', page)
    marks = re.search(r'data-marks="([^"]*)"', page)
    assert marks and set(json.loads(html.unescape(marks.group(1)))) == {"第一节", "引用"}
    # The query's syntax is not marked: field names, filters, boosts and fuzzy marks.
    page = client.get("/doc/long", params={"q": "title:第一节^2 引用~ tags:x -结尾"}).text
    marks = re.search(r'data-marks="([^"]*)"', page)
    assert marks and set(json.loads(html.unescape(marks.group(1)))) == {"第一节", "引用"}
    short = client.get("/doc/a").text
    assert 'class="toc"' not in short and "back-to-results" not in short  # no contents for a short note


def test_a_document_page_marks_what_a_fuzzy_word_found(client: TestClient) -> None:
    client.post("/api/docs", json=[{"id": "fz", "title": "集群作业", "body": "Apache Spark 作业的调度"}])
    marks_of = lambda q: set(  # noqa: E731
        json.loads(html.unescape(re.search(r'data-marks="([^"]*)"', client.get("/doc/fz", params={"q": q}).text)[1]))
    )
    assert "Spark" in marks_of("spak~ 调度")  # the word the results page marked too, as written
    assert marks_of("spak 调度") == {"spak", "调度"}  # no ~: only the words as typed
    assert "Spark" not in marks_of("调度 -spak~")  # an excluded word marks nothing


def test_a_document_page_marks_the_words_its_results_page_marked(client: TestClient) -> None:
    """As written in the document: a traditional query's simplified word, a pinyin query's
    Chinese word, the word holding a lone character."""
    client.post("/api/docs", json=[{"id": "zh", "title": "笔记", "body": "倒排索引与搜索引擎的检索"}])
    marks_of = lambda q: set(  # noqa: E731
        json.loads(html.unescape(re.search(r'data-marks="([^"]*)"', client.get("/doc/zh", params={"q": q}).text)[1]))
    )
    assert "检索" in marks_of("檢索")
    assert "倒排索引" in marks_of("dpsy")
    assert "搜索引擎" in marks_of("擎")
    assert marks_of("title:(") == {"title"}  # a query the parser refuses: its words only


def test_result_links_carry_the_query(client: TestClient) -> None:
    page = client.get("/search", params={"q": "rank"}).text
    assert re.search(r'class="hit-link" href="/doc/\w+\?q=rank"', page)


def test_no_results_offers_popular_tags_and_recent_documents(client: TestClient) -> None:
    page = client.get("/search", params={"q": "qqqzzzxxx"}).text
    assert 'class="tagcloud popular"' in page and 'class="recent"' in page
    assert page.count('class="tag"') >= 1 and "/doc/f" in page  # f is the newest note


def test_tag_cloud_is_sized_by_frequency(client: TestClient) -> None:
    sizes = {int(size) for size in re.findall(r'class="tag size-(\d)', client.get("/").text)}
    assert len(sizes) >= 2 and sizes <= {1, 2, 3, 4}


def test_a_date_range_filters_the_search_page(client: TestClient) -> None:
    page = client.get("/search", params={"q": "", "from": "2024-03-01", "to": "2024-12-31"}).text
    assert set(card_ids(page)) == {"c", "d", "g"}  # 2024-07-08, 2024-10-01, 2024-03-18
    assert 'name="from" value="2024-03-01"' in page and 'id="date-range"' in page
    open_ended = client.get("/search", params={"q": "", "from": "2025"}).text
    assert card_ids(open_ended) == ["f"]
    bad = client.get("/search", params={"q": "", "from": "last week"})
    assert bad.status_code == 400 and "write it as 2024, 2024-05 or 2024-05-01" in bad.text


def test_the_search_page_takes_filter_expressions_as_the_api_does(client: TestClient) -> None:
    # A link from elsewhere (a bookmark, the API's own syntax) narrows the page the same way.
    params = {"q": "", "filter": "date:>=2024-03-01", "to": "2024-12-31"}
    page = client.get("/search", params=params).text
    api = client.get("/api/search", params={"filter": ["date:>=2024-03-01", "date:<=2024-12-31"]}).json()
    assert set(card_ids(page)) == {hit["id"] for hit in api["hits"]} == {"c", "d", "g"}
    # The filter is shown and can be removed; the date form keeps it.
    assert re.search(r'class="chip filter" href="/search\?to=2024-12-31"', page)
    assert 'type="hidden" name="filter" value="date:&gt;=2024-03-01"' in page
    bad = client.get("/search", params={"q": "", "filter": "nosuch:1"})
    assert bad.status_code == 400 and "nosuch" in bad.text
