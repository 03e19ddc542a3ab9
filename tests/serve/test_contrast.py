"""Every text/background pair of the web UI meets WCAG AA (4.5:1) in both themes (issue:
Chinese-first quality, item 14). The colours are read from style.css, so a change there that
breaks a pair fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STYLE = Path(__file__).parents[2] / "src" / "zhisou" / "serve" / "static" / "style.css"

# (text, background) as the stylesheet uses them: body and muted text on the page and on cards,
# links and tags, marks, and the text of accent-filled buttons, pages and tags.
PAIRS = [
    ("text", "bg"),
    ("text", "surface"),
    ("muted", "bg"),
    ("muted", "surface"),
    ("muted", "accent-soft"),
    ("accent", "bg"),
    ("accent", "surface"),
    ("accent", "accent-soft"),
    ("mark-text", "mark"),
    ("on-accent", "accent"),
    ("text", "accent-soft"),
]


def _variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def themes() -> dict[str, dict[str, str]]:
    css = STYLE.read_text(encoding="utf-8")
    light = _variables(re.search(r":root\s*\{(.*?)\}", css, re.S).group(1))  # type: ignore[union-attr]
    dark_block = re.search(r':root\[data-theme="dark"\]\s*\{(.*?)\}', css, re.S).group(1)  # type: ignore[union-attr]
    media = re.search(r"prefers-color-scheme: dark\).*?\{\s*:root[^{]*\{(.*?)\}", css, re.S).group(1)  # type: ignore[union-attr]
    dark = {**light, **_variables(dark_block)}
    assert _variables(media) == _variables(dark_block), "the two dark blocks must agree"
    return {"light": light, "dark": dark}


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_formula_matches_known_ratios() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ff7a66") == pytest.approx(2.55, abs=0.01)  # the old dark accent button


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_every_pair_meets_wcag_aa(theme: str, text: str, background: str) -> None:
    colours = themes()[theme]
    ratio = contrast(colours[text], colours[background])
    assert ratio >= 4.5, f"{theme}: --{text} on --{background} is {ratio:.2f}:1"


def test_no_hard_coded_text_colour_on_the_accent() -> None:
    """Filled accent elements take --on-accent, not a fixed white that fails in one theme."""
    css = STYLE.read_text(encoding="utf-8")
    assert "color: #fff" not in css
