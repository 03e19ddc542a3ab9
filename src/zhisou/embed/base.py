"""What every embedder offers: queries and passages in, L2-normalized float32 rows out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

Progress = Callable[[int], None]  # called with how many texts were encoded since the last call
# Raised when the same model would give a text another vector (2: a dynamically quantized graph
# encodes one text a forward pass; 3: the default int8 model's weights are scaled per channel).
# What an evaluation's cache of embedded indexes is keyed by.
EMBEDDING_VERSION = 3


class Embedder(Protocol):
    name: str  # recorded in an index: a query must be encoded by the model that encoded it
    dimension: int
    max_tokens: int  # longest input, special tokens included; longer input is cut

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """``len(texts) × dimension`` unit vectors (float32)."""

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """``len(texts) × dimension`` unit vectors (float32), encoded in batches."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text takes as a passage (specials and prefix included): what passage
        splitting bounds."""


def normalize(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row stays zero), as float32."""
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)
