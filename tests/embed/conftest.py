"""A tiny encoder built in a fixture — random weights, a word-level tokenizer — so embedding
tests run offline and fast, through the same graph builder and backend as the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

WORDS = ["倒排", "索引", "搜索", "引擎", "rank", "bm25", "fusion", "vector", "dense", "sparse", "spark", "模型"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    tokenizers = pytest.importorskip("tokenizers")
    from zhisou.embed.onnx_backend import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE
    from zhisou.embed.onnx_graph import build_encoder
    from zhisou.embed.weights import EncoderConfig, random_weights

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
