"""Retrieval modes: one registry for the CLI, the API, the web UI and ``zhisou eval``.

A mode names a way of ranking: ``keyword`` (BM25 over the inverted index; ``bm25`` in
``zhisou eval``), ``semantic`` (embeddings and ANN; ``dense`` in eval), ``hybrid`` (both,
fused) and ``ltr`` (a learned model reorders the head of hybrid, or of keyword on an index
without vectors). A mode is offered where it can run: the semantic ones once an index holds
vectors, ``ltr`` once it holds an active ranking model.
"""

from __future__ import annotations

from dataclasses import dataclass

from zhisou.errors import ZhisouError


@dataclass(frozen=True)
class Mode:
    name: str
    needs_vectors: bool
    implemented: bool  # a mode planned but not built yet is listed, and refused with a reason
    aliases: tuple[str, ...] = ()
    needs_model: bool = False  # a trained ranking model, active in the index


MODES: dict[str, Mode] = {
    mode.name: mode
    for mode in (
        Mode("keyword", needs_vectors=False, implemented=True, aliases=("bm25",)),
        Mode("semantic", needs_vectors=True, implemented=True, aliases=("dense",)),
        Mode("hybrid", needs_vectors=True, implemented=True),
        Mode("ltr", needs_vectors=False, implemented=True, needs_model=True),
    )
}
SEARCH_MODES: tuple[str, ...] = ("keyword", "semantic", "hybrid", "ltr")


def resolve(name: str) -> Mode:
    """The mode called ``name`` (or one of its aliases); a one-line error naming the choices."""
    for mode in MODES.values():
        if name == mode.name or name in mode.aliases:
            return mode
    choices = ", ".join(f"{m.name} ({'/'.join(m.aliases)})" if m.aliases else m.name for m in MODES.values())
    raise ZhisouError(f"unknown mode {name!r}; choose one of: {choices}")


def available(has_vectors: bool, has_model: bool = False) -> list[str]:
    """The search modes that can run on an index (with or without vectors, a ranking model)."""
    return [
        name
        for name in SEARCH_MODES
        if MODES[name].implemented
        and (has_vectors or not MODES[name].needs_vectors)
        and (has_model or not MODES[name].needs_model)
    ]


def search_mode(name: str, has_vectors: bool, has_model: bool = False) -> Mode:
    """The search mode ``name`` (or an alias) if it can run on an index (with or without
    vectors, an active ranking model); else one line saying why not and what to use."""
    mode = resolve(name)  # an unknown name: the error names every mode
    if mode.name not in SEARCH_MODES:
        raise ZhisouError(f"mode {name!r} is not a search mode; choose one of: {', '.join(SEARCH_MODES)}")
    if mode.needs_vectors and not has_vectors:
        raise ZhisouError(f"mode {name!r} needs an index with vectors; this one has none, use mode keyword")
    if mode.needs_model and not has_model:
        raise ZhisouError(f"mode {name!r} needs a trained ranking model; train one with zhisou ltr train")
    if not mode.implemented:
        raise ZhisouError(f"mode {name!r} is not built yet; use mode keyword")
    return mode
