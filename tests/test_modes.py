"""One registry of retrieval modes for the CLI, API, UI and eval."""

from __future__ import annotations

import pytest

from zhisou.errors import ZhisouError
from zhisou.modes import MODES, SEARCH_MODES, available, resolve


def test_names_and_aliases_resolve() -> None:
    assert resolve("keyword") is resolve("bm25") is MODES["keyword"]
    assert resolve("dense") is MODES["semantic"]
    with pytest.raises(ZhisouError, match="choose one of: keyword \\(bm25\\), semantic \\(dense\\), hybrid, ltr"):
        resolve("magic")


def test_what_an_index_can_run() -> None:
    assert available(has_vectors=False) == ["keyword"]
    assert set(available(has_vectors=True)) <= set(SEARCH_MODES)
    assert [m for m in SEARCH_MODES if MODES[m].needs_vectors] == ["semantic", "hybrid"]
