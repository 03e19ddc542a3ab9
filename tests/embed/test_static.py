"""The static backend and its distillation, on the tiny model: each step checked against a
computation by hand, and a static model serving semantic search end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.embed.test_semantic_search import corpus
from zhisou import Index, Schema
from zhisou.embed.registry import load_embedder
from zhisou.schema import FieldSpec, SemanticSpec

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def static_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zhisou.embed.distill import distill
    from zhisou.embed.onnx_backend import OnnxEmbedder

    return distill(
        OnnxEmbedder(tiny_model), tmp_path_factory.mktemp("static") / "tiny-static", "tiny-static", dimension=8
    )


def test_token_vectors_are_the_transformer_on_each_token_alone(tiny_model: Path) -> None:
    from zhisou.embed.distill import token_vectors
    from zhisou.embed.onnx_backend import OnnxEmbedder

    source = OnnxEmbedder(tiny_model)
    vectors = token_vectors(source)
    assert vectors.shape == (source.tokenizer.get_vocab_size(), source.dimension)
    bos, eos = source.tokenizer.encode("").ids
    for token in (4, 9, len(vectors) - 1):
        assert vectors[token] == pytest.approx(source._run([[bos, token, eos]])[0], abs=1e-5)


def test_reduce_keeps_inner_products_at_full_width_and_zipf_favours_rare_tokens() -> None:
    from zhisou.embed.distill import reduce, zipf_weights

    rows = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32)
    centred = rows - rows.mean(0)
    full = reduce(rows, 6)
    assert full @ full.T == pytest.approx(centred @ centred.T, abs=1e-3)
    narrow = reduce(rows, 3)
    assert narrow.shape == (50, 3)
    assert np.var(narrow, axis=0)[0] >= np.var(narrow, axis=0)[2]  # components by variance
    weights = zipf_weights(1000)
    assert np.all(np.diff(weights) > 0) and 0 < weights[0] < weights[-1] < 1


def test_a_text_is_the_normalized_sum_of_its_token_rows(static_model: Path) -> None:
    embedder = load_embedder(str(static_model))
    assert embedder.dimension == 8 and type(embedder).__name__ == "StaticEmbedder"
    table = np.load(static_model / "embeddings.npy").astype(np.float32)
    text = "倒排 索引 索引 spark"
    ids = embedder.tokenizer.encode(text, add_special_tokens=False).ids
    expected = table[ids].sum(0)
    (vector,) = embedder.encode_queries([text])
    assert vector == pytest.approx(expected / np.linalg.norm(expected), abs=1e-5)
    assert embedder.count_tokens([text]) == [len(ids)] == [4]
    empty = embedder.encode_passages(["", text])
    assert not empty[0].any() and empty[1] == pytest.approx(vector)  # no tokens: a zero row


def test_a_static_model_serves_semantic_search(static_model: Path, tmp_path: Path) -> None:
    schema = Schema(
        (FieldSpec("title", "text"), FieldSpec("body", "text"), FieldSpec("tags", "keyword")),
        semantic=SemanticSpec(model=str(static_model), passage_tokens=16, overlap_tokens=2),
    )
    index = Index.create(tmp_path / "ix", schema)
    docs = corpus(20)
    index.add(docs)
    index.commit()
    result = index.search("spark 模型", mode="semantic", size=5, with_docs=False)
    assert len(result.ids) == 5
    embedder = load_embedder(str(static_model))
    query = embedder.encode_queries(["spark 模型"])[0]
    by_id = {d["id"]: d for d in docs}
    top = by_id[result.ids[0]]
    from zhisou.embed.passages import split_passages

    passages = split_passages([top["body"]], [top["title"]], embedder.count_tokens, 16, 2)
    best = max(float(v @ query) for v in embedder.encode_passages([p.text for p in passages]))
    assert result.scores[0] == pytest.approx(best, abs=1e-5)
