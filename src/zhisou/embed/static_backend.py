"""A static embedder, in the manner of model2vec: one vector per vocabulary token, a text the
mean of its tokens' vectors. No network runs at encoding time — a table lookup and a sum per
token — so it encodes thousands of passages a second on one core, at a cost in quality (no
context: word order and sense are lost). ``distill.py`` makes one from a transformer.

A model directory holds ``embeddings.npy`` (vocabulary × dimension, float16 or float32),
``tokenizer.json`` and ``zhisou-model.json`` with ``"kind": "static"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zhisou.embed.base import Progress, normalize
from zhisou.embed.onnx_backend import CONFIG_FILE, TOKENIZER_FILE, ModelConfig
from zhisou.errors import ZhisouError

EMBEDDINGS_FILE = "embeddings.npy"
BATCH = 1024  # texts per progress report


class StaticEmbedder:
    def __init__(self, directory: Path) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ZhisouError("static embeddings need tokenizers: pip install 'zhisou[semantic]'") from None
        directory = Path(directory)
        for required in (EMBEDDINGS_FILE, TOKENIZER_FILE, CONFIG_FILE):
            if not (directory / required).is_file():
                raise ZhisouError(f"{directory}: no {required}; not a static zhisou model directory")
        self.directory = directory
        self.config = ModelConfig.load(directory)
        self.name, self.dimension, self.max_tokens = self.config.name, self.config.dimension, self.config.max_tokens
        self.table = np.load(directory / EMBEDDINGS_FILE, mmap_mode="r")
        if self.table.ndim != 2 or self.table.shape[1] != self.dimension:
            raise ZhisouError(
                f"{directory / EMBEDDINGS_FILE}: shape {self.table.shape}, config says {self.dimension} wide"
            )
        self.tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, None)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self._encode(texts, progress)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def _encode(self, texts: Sequence[str], progress: Progress | None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        vocabulary = len(self.table)
        for start in range(0, len(texts), BATCH):
            chunk = list(texts[start : start + BATCH])
            encodings = self.tokenizer.encode_batch(chunk, add_special_tokens=False)
            ids = [np.asarray(e.ids[: self.max_tokens], dtype=np.int64) for e in encodings]
            ids = [row[row < vocabulary] for row in ids]  # a tokenizer larger than the table: unknown ids drop
            lengths = np.array([len(row) for row in ids])
            if lengths.sum():
                rows = np.asarray(self.table[np.concatenate(ids)], dtype=np.float32)
                starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
                filled = lengths > 0  # a text without tokens stays a zero row
                out[start : start + len(chunk)][filled] = np.add.reduceat(rows, starts[filled])
            if progress is not None:
                progress(len(chunk))
        return normalize(out)  # the mean's direction: dividing by the count would not change it
