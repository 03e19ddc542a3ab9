"""A tiny encoder built in a fixture — random weights, a word-level tokenizer — so embedding
tests run offline and fast, through the same graph builder and backend as the real model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zhisou.embed.weights import EncoderConfig, EncoderWeights

WORDS = ["倒排", "索引", "搜索", "引擎", "rank", "bm25", "fusion", "vector", "dense", "sparse", "spark", "模型"]


def random_weights(config: EncoderConfig, seed: int = 0) -> EncoderWeights:
    """A small random encoder: a model built in a fixture, nothing downloaded."""
    rng = np.random.default_rng(seed)
    h, f = config.hidden, config.intermediate

    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    layers = []
    for _ in range(config.layers):
        layer = {f"{p}.w": normal(h, h) for p in ("q", "k", "v", "ao")}
        layer |= {"fi.w": normal(f, h), "fo.w": normal(h, f)}
        layer |= {f"{p}.b": normal(h) for p in ("q", "k", "v", "ao", "fo")} | {"fi.b": normal(f)}
        layer |= {f"{n}.w": 1 + normal(h) for n in ("aln", "oln")} | {f"{n}.b": normal(h) for n in ("aln", "oln")}
        layers.append(layer)
    return EncoderWeights(
        config,
        normal(config.vocab, h),
        normal(config.max_positions, h),
        normal(h),
        (1 + normal(h), normal(h)),
        layers,
    )


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    tokenizers = pytest.importorskip("tokenizers")
    from zhisou.embed.onnx_backend import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE
    from zhisou.embed.onnx_graph import build_encoder

    directory = tmp_path_factory.mktemp("tiny-model")
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "query": 4, "passage": 5, ":": 6}
    for word in WORDS:
        vocab[word] = len(vocab)
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.save(str(directory / TOKENIZER_FILE))
    config = EncoderConfig(
        hidden=32, layers=2, heads=4, intermediate=64, vocab=len(vocab), max_positions=16, layer_norm_eps=1e-12
    )
    onnx.save_model(build_encoder(random_weights(config, seed=3)), str(directory / MODEL_FILE))
    (directory / CONFIG_FILE).write_text(
        json.dumps(
            {
                "name": "tiny-test",
                "dimension": 32,
                "max_tokens": 16,
                "query_prefix": "query: ",
                "passage_prefix": "passage: ",
            }
        ),
        encoding="utf-8",
    )
    return directory
