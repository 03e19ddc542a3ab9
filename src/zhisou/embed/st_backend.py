"""Any sentence-transformers model the user has — a Hugging Face name already in the local
cache, or a local folder — through ``sentence-transformers`` (and PyTorch), when installed.
Nothing is downloaded unless ``HF_HUB_OFFLINE`` is unset and the hub is reachable."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zhisou.embed.base import Progress, normalize
from zhisou.errors import ZhisouError

BATCH = 32


class SentenceTransformerEmbedder:
    def __init__(self, name: str, *, query_prefix: str = "", passage_prefix: str = "") -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ZhisouError(
                f"model {name!r} is not a zhisou model directory; loading it needs sentence-transformers "
                "(pip install sentence-transformers torch==2.13.0)"
            ) from None
        try:
            self.model = SentenceTransformer(name, device="cpu")
        except Exception as error:  # the library raises many kinds; the user needs one line
            raise ZhisouError(f"cannot load embedding model {name!r}: {error}") from None
        self.name = name
        dimension = self.model.get_sentence_embedding_dimension()
        if not dimension:
            raise ZhisouError(f"model {name!r} does not say its embedding dimension")
        self.dimension = int(dimension)
        self.max_tokens = int(getattr(self.model, "max_seq_length", 512) or 512)
        lowered = name.lower()
        e5 = "e5" in lowered and not (query_prefix or passage_prefix)
        self.query_prefix = "query: " if e5 else query_prefix
        self.passage_prefix = "passage: " if e5 else passage_prefix

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], None)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], progress)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        tokenizer = self.model.tokenizer
        return [len(tokenizer(self.passage_prefix + t)["input_ids"]) for t in texts]

    def _encode(self, texts: list[str], progress: Progress | None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            out[start : start + len(batch)] = self.model.encode(batch, convert_to_numpy=True, batch_size=BATCH)
            if progress is not None:
                progress(len(batch))
        return normalize(out)
