"""The real pages in headless Chromium (Debian's ``chromium``, driven by Playwright).

Skipped when no Chromium is installed, unless ZHISOU_REQUIRE_BROWSER=1 (as in .ci/run, which
installs it): then a missing browser fails the run instead of hiding the tests.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_NOTES
from zhisou import Index
from zhisou.ingest import ingest
from zhisou.serve.background import serving
from zhisou.serve.searchlog import SearchLog
from zhisou.serve.settings import ServeSettings

playwright_api = pytest.importorskip("playwright.sync_api")


def chromium_path() -> str | None:
    candidates = [os.environ.get("ZHISOU_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    for candidate in candidates:
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="module")
def notes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = Index.create(tmp_path_factory.mktemp("browser") / "notes")
    ingest(index, [SAMPLE_NOTES])
    index.close()
    return index.directory


@pytest.fixture(scope="module")
def base_url(notes_dir: Path) -> Iterator[str]:
    with serving(ServeSettings(notes_dir, port=0)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("ZHISOU_REQUIRE_BROWSER") == "1":
            pytest.fail("ZHISOU_REQUIRE_BROWSER=1 but no chromium is installed (apt-get install chromium)")
        pytest.skip("no chromium installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, base_url: str):  # type: ignore[no-untyped-def]
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the pages' policy
    # forbids; test_pages_run_under_their_content_security_policy covers the policy itself.
    context = browser.new_context(
        base_url=base_url, locale="en-US", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    opened = context.new_page()
    yield opened
    context.close()


def card_titles(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [title.strip() for title in page.locator(".card h2").all_inner_texts()]


def test_home_feed_paginates(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    assert page.locator("h1").inner_text() == "Latest updates"
    first_page = card_titles(page)
    assert len(first_page) == 10
    page.locator("a[rel=next]").click()
    page.wait_for_url("**/?page=2")
    second_page = card_titles(page)
    assert len(second_page) == 10 and not set(first_page) & set(second_page)
    page.locator(".pagination a", has_text="5").click()
    page.wait_for_url("**/?page=5")
    assert 1 <= len(card_titles(page)) <= 10
    assert page.locator(".pagination [aria-current=page]").inner_text() == "5"


def test_search_as_you_type_in_chinese_and_english(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search")
    page.locator("#q").fill("倒排索引")
    page.wait_for_url("**/search?q=*")
    page.locator("#results mark").first.wait_for()
    assert "倒排索引" in card_titles(page)[0]
    page.locator("#q").fill("learning to rank")
    page.wait_for_function("document.querySelector('.card h2').innerText.includes('Learning to Rank')")
    assert page.locator(".summary").inner_text().endswith("ms)")


def test_facets_mode_switch_and_did_you_mean(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search?q=索引")
    total = page.locator(".summary").inner_text()
    page.locator(".facet[data-facet=tag]").first.click()
    page.wait_for_url("**tag=*")
    assert page.locator(".facet.active").count() == 1 and page.locator(".summary").inner_text() != total
    assert page.locator(".mode.disabled[data-mode=semantic]").get_attribute("aria-disabled") == "true"
    page.locator("a.mode[data-mode=keyword]").click()
    page.wait_for_url("**mode=keyword*")
    assert page.locator(".mode.active").inner_text() == "Keyword"
    page.goto("/search?q=segmnet")
    page.locator("#did-you-mean").click()
    page.wait_for_url("**q=segment*")
    assert card_titles(page)


def test_open_a_result_then_follow_a_related_document(page, notes_dir: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search?q=HNSW")
    first = page.locator("a.hit-link").first
    doc_id = first.get_attribute("data-id")
    first.click()
    page.wait_for_url(f"**/doc/{doc_id}?q=*")
    assert page.locator("article.document h1").inner_text()
    related = page.locator("a.related-link").first
    related_title = related.inner_text()
    related.click()
    page.wait_for_url(lambda url: "/doc/" in url and not url.endswith(f"/doc/{doc_id}"))
    assert page.locator("article.document h1").inner_text() == related_title
    deadline = time.monotonic() + 5
    clicks: list[dict[str, object]] = []
    while time.monotonic() < deadline and not clicks:
        clicks = [e for e in SearchLog(notes_dir / "logs").events() if e["event"] == "click" and e["id"] == doc_id]
        time.sleep(0.1)
    assert clicks and clicks[-1]["rank"] == 1


def test_keyboard_language_and_dark_mode(browser, base_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=base_url, locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"}, bypass_csp=True
    )
    page = context.new_page()
    page.goto("/")
    assert page.locator("h1").inner_text() == "最近更新"
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("分词")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    assert card_titles(page)
    page.locator("#q").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.rank") == "2"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.id") == "q"
    before = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.locator("#theme-toggle").click()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != before
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") in ("dark", "light")
    context.close()


def test_phone_layout_has_no_horizontal_scroll(browser, base_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=base_url, viewport={"width": 375, "height": 740}, is_mobile=True, bypass_csp=True
    )
    page = context.new_page()
    page.goto("/search?q=检索")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()


def test_phone_suggestions_fit_the_screen_in_chinese(browser, base_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=base_url, viewport={"width": 375, "height": 740}, is_mobile=True, bypass_csp=True, locale="zh-CN"
    )
    page = context.new_page()
    page.goto("/")
    page.locator("#q").press_sequentially("dpsy")
    option = page.locator("#suggest-list [role=option]").first
    option.wait_for()
    box = page.locator("#suggest-list").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert option.locator("small").inner_text() == "标题"  # the source, in the page's language
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()


def test_pages_run_under_their_content_security_policy(browser, base_url: str) -> None:  # type: ignore[no-untyped-def]
    """No inline script anywhere: with the policy enforced, search as you type, the theme
    toggle, document pages and the API docs work and the browser reports no violation."""
    context = browser.new_context(base_url=base_url, locale="en-US")
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security" in message.text else None)
    page.goto("/")
    page.locator("#theme-toggle").click()
    page.goto("/search")
    page.locator("#q").fill("倒排索引")
    page.locator(".card h2 a").first.wait_for()
    assert card_titles(page)
    page.locator(".card h2 a").first.click()
    page.wait_for_url("**/doc/**")
    page.goto("/api/docs")
    page.locator(".swagger-ui .info").wait_for()
    context.close()
    assert violations == []


def test_a_document_id_with_dot_segments_links_to_its_own_page(notes_dir: Path, browser) -> None:  # type: ignore[no-untyped-def]
    index = Index.open(notes_dir)
    odd = {"id": "notes/../secret/./x", "title": "Dot segments", "body": "zebracorn dot segment id"}
    index.add(odd)
    index.commit()
    index.close()
    with serving(ServeSettings(notes_dir, port=0, search_log=False)) as url:
        context = browser.new_context(base_url=url, locale="en-US")
        page = context.new_page()
        page.goto("/search?q=zebracorn")
        page.locator(".card h2 a").first.click()
        page.wait_for_url("**/doc?id=*")
        assert page.locator("article.document h1").inner_text() == "Dot segments"
        context.close()


@pytest.fixture(scope="module")
def semantic_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from zhisou.cli.demo import semantic_installed
    from zhisou.schema import Schema, SemanticSpec

    if not semantic_installed():
        pytest.skip("the semantic extra is not installed")
    index = Index.create(tmp_path_factory.mktemp("semantic") / "notes", Schema.default().with_semantic(SemanticSpec()))
    ingest(index, [SAMPLE_NOTES])
    index.close()
    with serving(ServeSettings(index.directory, port=0)) as url:
        yield url


def test_switch_to_semantic_and_hybrid(browser, semantic_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=semantic_url, locale="en-US", bypass_csp=True)
    page = context.new_page()
    page.goto("/search?q=如何加快大模型的生成速度")
    assert page.locator(".mode.disabled").count() == 0  # every mode runs on an index with vectors
    page.locator("a.mode[data-mode=semantic]").click()
    page.wait_for_url("**mode=semantic*")
    assert page.locator(".mode.active").inner_text() == "Semantic"
    assert card_titles(page)[0].startswith("投机采样")  # no note uses the query's words
    page.locator("a.mode[data-mode=hybrid]").click()
    page.wait_for_url("**mode=hybrid*")
    assert page.locator(".mode.active").inner_text() == "Hybrid"
    assert card_titles(page)[0].startswith("投机采样")
    context.close()


LONG_NOTE = {
    "id": "wide-note",
    "title": "宽内容",
    "body": "# 宽内容\n\n一段说明。\n\n```\n"
    + "x" * 400
    + "\n```\n\n| 列一 | 列二 | 列三 | 列四 | 列五 | 列六 |\n|---|---|---|---|---|---|\n"
    + "| "
    + " | ".join(["很长的单元格内容" * 4] * 6)
    + " |\n",
    "tags": ["排版"],
}


@pytest.fixture(scope="module")
def wide_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    index = Index.create(tmp_path_factory.mktemp("wide") / "notes")
    ingest(index, [SAMPLE_NOTES])
    index.add(LONG_NOTE)
    index.add({"id": "styled-note", "title": "样式", "body": "# 样式\n\n用 `slow_query_log` 查。\n\n> 一段引用。\n"})
    index.commit()
    index.close()
    with serving(ServeSettings(index.directory, port=0, search_log=False)) as url:
        yield url


def test_phone_document_page_scrolls_code_and_tables_inside_their_box(browser, wide_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=wide_url, viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto("/doc/wide-note")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    code = page.locator(".prose pre").first
    assert code.evaluate("e => e.scrollWidth > e.clientWidth")  # the long line scrolls inside its box
    for selector in (".prose pre", ".prose table"):  # and neither box sticks out of the screen
        assert page.locator(selector).first.evaluate("e => e.getBoundingClientRect().right <= window.innerWidth + 0.5")
    assert page.locator(".prose table").first.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    context.close()


def test_phone_search_puts_the_tag_filter_before_the_pagination(browser, base_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=base_url, viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto("/search?q=索引")
    facets = page.locator(".facets").bounding_box()
    pagination = page.locator(".pagination").bounding_box()
    assert facets is not None and pagination is not None and facets["y"] < pagination["y"]
    context.close()


def test_home_searches_as_you_type_and_arrows_walk_the_results(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.locator("#q").focus()
    page.keyboard.press("ArrowDown")  # the feed is not a result list: focus stays in the box
    assert page.evaluate("document.activeElement.id") == "q"
    page.locator("#q").fill("倒排索引")
    page.wait_for_url("**/search?q=*")
    page.locator("#results mark").first.wait_for()
    assert "倒排索引" in card_titles(page)[0]
    page.locator("#q").focus()
    page.keyboard.press("Escape")  # suggestions (if open) close first; then the arrows walk results
    page.locator("#q").focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.rank") == "1"


def test_suggestions_in_chinese_and_pinyin_picked_with_the_keyboard(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    box = page.locator("#q")
    box.press_sequentially("倒排")
    first = page.locator("#suggest-list [role=option]").first
    first.wait_for()
    assert first.get_attribute("data-text") == "倒排索引的基本结构"
    assert first.locator("mark").inner_text() == "倒排"  # the typed prefix is marked
    assert box.get_attribute("aria-expanded") == "true"
    box.fill("")
    box.press_sequentially("bm25 打")  # found folded, shown as the title is written, the typed part marked
    page.wait_for_function(
        "document.querySelector('#suggest-list [role=option]') && "
        "document.querySelector('#suggest-list [role=option]').dataset.text === 'BM25 打分公式详解'"
    )
    assert first.locator("mark").inner_text() == "BM25 打"
    box.fill("")
    box.press_sequentially("dpsy")  # initials
    page.wait_for_function(
        "document.querySelector('#suggest-list [role=option]') && "
        "document.querySelector('#suggest-list [role=option]').dataset.text.startsWith('倒排索引')"
    )
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "suggest-0"
    assert first.get_attribute("aria-selected") == "true"
    box.press("Enter")
    page.wait_for_function("decodeURIComponent(location.search).includes('倒排索引的基本结构')")
    page.locator(".card h2").first.wait_for()
    assert "倒排索引" in card_titles(page)[0]
    assert page.locator("#q").input_value() == "倒排索引的基本结构"
    box.fill("")
    box.press_sequentially("daop")  # full pinyin, on the results page; Esc closes the list
    page.locator("#suggest-list [role=option]").first.wait_for()
    box.press("Escape")
    assert page.locator("#suggest-list").is_hidden() and box.get_attribute("aria-expanded") == "false"


def test_layout_and_typography(page) -> None:  # type: ignore[no-untyped-def]
    """The header lines up with the content column; facets are checkboxes; a result opened from
    a search has the query's words marked and a way back; inline code and quotes are styled."""
    page.goto("/search?q=索引")
    brand = page.locator(".brand").bounding_box()
    feed = page.locator("main .layout").bounding_box()
    assert brand is not None and feed is not None and abs(brand["x"] - feed["x"]) <= 1
    facet = page.locator(".facet").first
    assert facet.evaluate("e => getComputedStyle(e, '::before').borderTopWidth") != "0px"
    facet.click()
    page.wait_for_url("**tag=*")
    active = page.locator(".facet.active").first
    assert active.evaluate("e => getComputedStyle(e, '::before').backgroundColor") != "rgba(0, 0, 0, 0)"
    page.goto("/search?q=倒排索引")
    page.locator("a.hit-link").first.click()
    page.wait_for_url("**/doc/**q=*")
    page.locator(".prose mark").first.wait_for()
    assert (
        "倒排" in page.locator(".prose mark").first.inner_text()
        or "索引" in page.locator(".prose mark").first.inner_text()
    )
    page.locator("#back-to-results").click()
    page.wait_for_url("**/search?q=*")
    assert card_titles(page)


def test_inline_code_and_quotes_are_styled(browser, wide_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=wide_url)
    page = context.new_page()
    page.goto("/doc/styled-note")
    code = page.locator(".prose p code").first
    assert code.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert page.locator(".prose blockquote").evaluate("e => getComputedStyle(e).borderLeftWidth") != "0px"
    assert page.locator("article h1").count() == 1
    context.close()


def test_chinese_renders_with_a_real_font(page) -> None:  # type: ignore[no-untyped-def]
    """Two different Chinese characters drawn in the page's font differ: with no CJK font both
    would be the same empty box (as screenshots taken in CI once showed)."""
    page.goto("/")
    differs = page.evaluate(
        """() => {
        const draw = (char) => {
            const canvas = document.createElement("canvas");
            canvas.width = 64; canvas.height = 64;
            const context = canvas.getContext("2d");
            context.font = "48px " + getComputedStyle(document.body).fontFamily;
            context.fillText(char, 4, 52);
            return Array.from(context.getImageData(0, 0, 64, 64).data).join(",");
        };
        return draw("倒") !== draw("排") && draw("搜") !== draw("索");
    }"""
    )
    assert differs
