"""Distil a static embedder from a transformer, as model2vec does (Tulkens and van Dongen, 2024):
every vocabulary token is encoded alone by the transformer; the vectors are centred and reduced
by PCA (which also evens out the dimensions' variance), and each is weighted down the more
frequent its token — frequency estimated from the token's rank under Zipf's law (the
tokenizer's vocabulary ordered by frequency, as sentencepiece vocabularies are) and turned into
a weight like SIF's a / (a + p). A text's embedding is then the mean of its tokens' rows.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zhisou.embed.onnx_backend import CONFIG_FILE, TOKENIZER_FILE, OnnxEmbedder
from zhisou.embed.prepare import model_folder
from zhisou.embed.static_backend import EMBEDDINGS_FILE

DIMENSION = 256
SIF_A = 1e-4  # model2vec's default SIF coefficient
BATCH = 2048  # tokens encoded per forward pass


def token_vectors(source: OnnxEmbedder, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Every vocabulary token encoded alone, between the tokenizer's own start and end tokens
    (mean-pooled like any text; not normalized)."""
    specials = source.tokenizer.encode("").ids  # e.g. [<s>, </s>]
    head, tail = specials[:1], specials[1:]
    size = source.tokenizer.get_vocab_size()
    out = np.zeros((size, source.dimension), dtype=np.float32)
    for start in range(0, size, BATCH):
        ids = range(start, min(start + BATCH, size))
        out[start : start + len(ids)] = source._run([[*head, token, *tail] for token in ids])
        if progress is not None:
            progress(len(ids))
    return out


def reduce(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """Centred and projected on the ``dimension`` principal components (all of them when
    ``dimension`` is at least the width: a rotation, inner products of centred rows kept)."""
    centred = vectors - vectors.mean(axis=0)
    covariance = centred.T.astype(np.float64) @ centred
    values, axes = np.linalg.eigh(covariance)
    keep = axes[:, np.argsort(values)[::-1][: min(dimension, vectors.shape[1])]]
    return (centred @ keep).astype(np.float32)


def zipf_weights(size: int, a: float = SIF_A) -> np.ndarray:
    """a / (a + p(rank)) with p ∝ 1 / rank: rare (late) tokens count most."""
    ranks = np.arange(1, size + 1, dtype=np.float64)
    p = 1.0 / ranks
    p /= p.sum()
    return (a / (a + p)).astype(np.float32)


def distill(
    source: OnnxEmbedder,
    target: Path,
    name: str,
    *,
    dimension: int = DIMENSION,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write a static model distilled from ``source`` into ``target`` (atomically)."""
    vectors = token_vectors(source, progress)
    table = reduce(vectors, dimension) * zipf_weights(len(vectors))[:, None]
    with model_folder(target) as work:
        np.save(work / EMBEDDINGS_FILE, table.astype(np.float16))
        shutil.copyfile(source.directory / TOKENIZER_FILE, work / TOKENIZER_FILE)
        config = {
            "name": name,
            "dimension": int(table.shape[1]),
            "max_tokens": 8192,
            "kind": "static",
            "distilled_from": source.name,
        }
        (work / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
    return target
