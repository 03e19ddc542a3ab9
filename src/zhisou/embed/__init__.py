"""Embeddings for semantic recall: the ``Embedder`` interface and its backends.

Importing this package is light; the backends import ONNX Runtime, tokenizers or
sentence-transformers when a model is loaded.
"""

from zhisou.embed.base import Embedder, normalize

__all__ = ["Embedder", "normalize"]
