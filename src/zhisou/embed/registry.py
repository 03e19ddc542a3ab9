"""Embedding models by name: one loaded per process and name, shared by writers and searchers.

- ``multilingual-e5-small`` (the default) — int8 ONNX made from packaged weights on first use
  (``prepare``); ``multilingual-e5-small-fp32`` its full-precision variant;
  ``multilingual-e5-small-static`` a static token table distilled from it (``distill``);
- a folder holding ``zhisou-model.json`` (a model ``prepare``, ``distill`` or the user made) —
  ONNX Runtime, or the static backend when its config says ``"kind": "static"``;
- anything else — a Hugging Face name or folder, through sentence-transformers if installed.
"""

from __future__ import annotations

import threading
from pathlib import Path

from zhisou.embed.base import Embedder
from zhisou.embed.onnx_backend import CONFIG_FILE
from zhisou.embed.prepare import DEFAULT_MODEL

_LOADED: dict[str, Embedder] = {}
_LOCK = threading.Lock()


def load_embedder(name: str) -> Embedder:
    """The embedder called ``name`` (loaded once per process)."""
    with _LOCK:
        found = _LOADED.get(name)
        if found is None:
            found = _LOADED[name] = _load(name)
        return found


def register_embedder(name: str, embedder: Embedder) -> None:
    """Serve ``embedder`` under ``name`` (tests, or a model built in code)."""
    with _LOCK:
        _LOADED[name] = embedder


def _load(name: str) -> Embedder:
    from zhisou.embed.onnx_backend import OnnxEmbedder
    from zhisou.embed.prepare import prepare_default

    if name in (DEFAULT_MODEL, f"{DEFAULT_MODEL}-int8"):
        return OnnxEmbedder(prepare_default("int8"))
    if name == f"{DEFAULT_MODEL}-fp32":
        return OnnxEmbedder(prepare_default("fp32"))
    if name == f"{DEFAULT_MODEL}-static":
        from zhisou.embed.prepare import prepare_static
        from zhisou.embed.static_backend import StaticEmbedder

        return StaticEmbedder(prepare_static())
    path = Path(name).expanduser()
    if (path / CONFIG_FILE).is_file():
        from zhisou.embed.onnx_backend import ModelConfig

        if ModelConfig.load(path).kind == "static":
            from zhisou.embed.static_backend import StaticEmbedder

            return StaticEmbedder(path)
        return OnnxEmbedder(path)
    from zhisou.embed.st_backend import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(name)


def check_available(name: str) -> None:
    """Raise the one-line error loading ``name`` would raise for a missing package, without
    loading it (ONNX Runtime and tokenizers for zhisou models)."""
    import importlib.util

    from zhisou.errors import ZhisouError

    if (Path(name).expanduser() / CONFIG_FILE).is_file() or name.startswith(DEFAULT_MODEL):
        for package in ("onnxruntime", "tokenizers"):
            if importlib.util.find_spec(package) is None:
                needs = f"{name}, which needs {package}: pip install 'zhisou[semantic]'"
                raise ZhisouError(f"this index embeds its documents with {needs}")
