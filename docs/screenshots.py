"""Regenerate the UI screenshots in docs/ from the bundled sample notes.

python docs/screenshots.py        # needs the dev extra and Debian's chromium + fonts-noto-cjk
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from zhisou import Index
from zhisou.ingest import ingest
from zhisou.serve.background import serving
from zhisou.serve.settings import ServeSettings

DOCS = Path(__file__).resolve().parent
NOTES = DOCS.parent / "examples" / "notes"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SHOTS = [  # (file, path, locale, colour scheme, viewport): both widths, both themes
    ("screenshot-home.png", "/", "zh-CN", "light", DESKTOP),
    ("screenshot-search.png", "/search?q=倒排索引", "zh-CN", "light", DESKTOP),
    ("screenshot-search-en-dark.png", "/search?q=learning+to+rank", "en-US", "dark", DESKTOP),
    ("screenshot-document.png", "/doc/hnsw?q=HNSW", "zh-CN", "light", DESKTOP),
    ("screenshot-document-dark.png", "/doc/inverted-index", "zh-CN", "dark", DESKTOP),
    ("screenshot-phone-search.png", "/search?q=分词", "zh-CN", "light", PHONE),
    ("screenshot-phone-home-dark.png", "/", "zh-CN", "dark", PHONE),
    ("screenshot-phone-document-dark.png", "/doc/hnsw", "en-US", "dark", PHONE),
]


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no chromium found: apt-get install chromium fonts-noto-cjk", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as workdir:
        index = Index.create(Path(workdir) / "notes")
        ingest(index, [NOTES])
        index.close()
        with serving(ServeSettings(index.directory, port=0, search_log=False)) as base_url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for name, path, locale, scheme, viewport in SHOTS:
                context = browser.new_context(
                    base_url=base_url,
                    locale=locale,
                    color_scheme=scheme,
                    viewport=viewport,
                    is_mobile=viewport is PHONE,
                    device_scale_factor=2 if viewport is PHONE else 1,
                )
                page = context.new_page()
                page.goto(path)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=DOCS / name)
                context.close()
                print(f"wrote docs/{name}")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
