"""One registry of retrieval modes for the CLI, API, UI and eval."""

from __future__ import annotations

import pytest

from zhisou.errors import ZhisouError
from zhisou.modes import MODES, SEARCH_MODES, available, resolve, search_mode


def test_names_and_aliases_resolve() -> None:
    assert resolve("keyword") is resolve("bm25") is MODES["keyword"]
    assert resolve("dense") is MODES["semantic"]
    with pytest.raises(ZhisouError, match="choose one of: keyword \\(bm25\\), semantic \\(dense\\), hybrid, ltr"):
        resolve("magic")


def test_what_an_index_can_run() -> None:
    assert available(has_vectors=False) == ["keyword"]
    assert set(available(has_vectors=True)) <= set(SEARCH_MODES)
    assert [m for m in SEARCH_MODES if MODES[m].needs_vectors] == ["semantic", "hybrid"]
    assert available(has_vectors=False, has_model=True) == ["keyword", "ltr"]
    assert available(has_vectors=True, has_model=True) == ["keyword", "semantic", "hybrid", "ltr"]


def test_ltr_needs_a_model() -> None:
    with pytest.raises(ZhisouError, match="needs a trained ranking model; train one with zhisou ltr train"):
        search_mode("ltr", has_vectors=True, has_model=False)
    assert search_mode("ltr", has_vectors=False, has_model=True) is MODES["ltr"]
