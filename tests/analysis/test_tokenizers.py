"""The Latin split's fast path (``latin_terms``) gives exactly the regex's tokens."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from zhisou.analysis.tokenizers import _LATIN_TOKEN_RE, latin_terms

# Letters, digits and every character the token rules treat specially (apostrophes, underscore,
# dot, hyphen), spaces and controls, and a few non-ASCII characters that send text to the regex.
ALPHABET = st.sampled_from([*"abcXYZ019 '_.-,;\t\n\x1f%", "é", "’", "ß", "٣", "²"])


@settings(max_examples=600, deadline=None)
@given(st.text(ALPHABET, max_size=60))
@example("version 3.14.1 of e.g. don't stop_words at 1.5. end.")
@example("a3.5 3.5a .5 5. 'quoted' __init__ x'")
def test_latin_terms_equal_the_regex(text: str) -> None:
    assert latin_terms(text) == _LATIN_TOKEN_RE.findall(text)
