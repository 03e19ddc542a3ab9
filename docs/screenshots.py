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
SHOTS = [
    ("screenshot-home.png", "/", "zh-CN", "light"),
    ("screenshot-search.png", "/search?q=倒排索引", "zh-CN", "light"),
    ("screenshot-search-en-dark.png", "/search?q=learning+to+rank", "en-US", "dark"),
    ("screenshot-document.png", "/doc/hnsw", "zh-CN", "light"),
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
            for name, path, locale, scheme in SHOTS:
                context = browser.new_context(
                    base_url=base_url, locale=locale, color_scheme=scheme, viewport={"width": 1280, "height": 860}
                )
                page = context.new_page()
                page.goto(path)
                page.screenshot(path=DOCS / name)
                context.close()
                print(f"wrote docs/{name}")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
