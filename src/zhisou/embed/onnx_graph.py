"""A BERT-style encoder as an ONNX graph, built from numpy weights with ``onnx.helper``.

Inputs ``input_ids`` and ``attention_mask`` (int64, batch × tokens); outputs
``token_embeddings`` (the last hidden states) and ``sentence_embedding`` (their mean over the
unmasked tokens, not normalized). Post-layer-norm blocks, exact (erf) GELU, positions from 0 —
the layout of multilingual-e5-small as ``weights.read_packed`` returns it. No PyTorch: the
graph is written node by node, so the conversion needs only ``onnx`` (and onnxruntime to
quantize). ``reference_forward`` computes the same in numpy, for tests.
"""

from __future__ import annotations

import math

import numpy as np

from zhisou.embed.weights import EncoderWeights

OPSET = 17


def build_encoder(weights: EncoderWeights, name: str = "encoder"):  # type: ignore[no-untyped-def]
    """The ONNX model (``onnx.ModelProto``) of ``weights``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    config = weights.config
    hidden, heads = config.hidden, config.heads
    head_dim = hidden // heads
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    counter = iter(range(1_000_000))

    def const(array: np.ndarray, label: str) -> str:
        tensor_name = f"{label}_{next(counter)}"
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), tensor_name))
        return tensor_name

    def node(op: str, inputs: list[str], **attributes: object) -> str:
        output = f"{op.lower()}_{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def linear(x: str, weight: np.ndarray, bias: np.ndarray, label: str) -> str:
        product = node("MatMul", [x, const(weight.T.astype(np.float32), f"{label}_w")])
        return node("Add", [product, const(bias.astype(np.float32), f"{label}_b")])

    def layer_norm(x: str, scale: np.ndarray, bias: np.ndarray, label: str) -> str:
        return node(
            "LayerNormalization",
            [x, const(scale, f"{label}_scale"), const(bias, f"{label}_bias")],
            axis=-1,
            epsilon=config.layer_norm_eps,
        )

    # Embeddings: word + position + token type 0, then layer norm.
    words = node("Gather", [const(weights.word, "word_embeddings"), "input_ids"])
    length = node("Gather", [node("Shape", ["input_ids"]), const(np.array([1], dtype=np.int64), "tokens_axis")])
    position_vectors = node(
        "Slice",
        [
            const(weights.position, "position_embeddings"),
            const(np.array([0], dtype=np.int64), "first_position"),
            length,
            const(np.array([0], dtype=np.int64), "rows_axis"),
        ],
    )
    x = node("Add", [words, position_vectors])
    x = node("Add", [x, const(weights.token_type, "token_type_embedding")])
    x = layer_norm(x, *weights.embedding_norm, "embeddings")

    # Attention mask → an additive bias over keys: 0 where a token is, -10,000 where padding is.
    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    key_mask = node("Unsqueeze", [mask, const(np.array([1, 2], dtype=np.int64), "mask_axes")])
    inverted = node("Sub", [const(np.array(1.0, dtype=np.float32), "one_f"), key_mask])
    bias = node("Mul", [inverted, const(np.array(-10_000.0, dtype=np.float32), "minus_big")])
    split_heads = const(np.array([0, 0, heads, head_dim], dtype=np.int64), "split_heads")
    merge_heads = const(np.array([0, 0, hidden], dtype=np.int64), "merge_heads")
    scale = const(np.array(1.0 / math.sqrt(head_dim), dtype=np.float32), "attention_scale")
    half = const(np.array(0.5, dtype=np.float32), "half")
    one = const(np.array(1.0, dtype=np.float32), "one_gelu")
    root_half = const(np.array(1.0 / math.sqrt(2.0), dtype=np.float32), "root_half")

    for number, layer in enumerate(weights.layers):
        label = f"layer{number}"
        q = node(
            "Transpose",
            [node("Reshape", [linear(x, layer["q.w"], layer["q.b"], f"{label}_q"), split_heads])],
            perm=[0, 2, 1, 3],
        )
        k = node(
            "Transpose",
            [node("Reshape", [linear(x, layer["k.w"], layer["k.b"], f"{label}_k"), split_heads])],
            perm=[0, 2, 3, 1],
        )
        v = node(
            "Transpose",
            [node("Reshape", [linear(x, layer["v.w"], layer["v.b"], f"{label}_v"), split_heads])],
            perm=[0, 2, 1, 3],
        )
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), bias])
        context = node("MatMul", [node("Softmax", [scores], axis=-1), v])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        attended = linear(context, layer["ao.w"], layer["ao.b"], f"{label}_attention_output")
        x = layer_norm(node("Add", [x, attended]), layer["aln.w"], layer["aln.b"], f"{label}_attention_norm")
        inner = linear(x, layer["fi.w"], layer["fi.b"], f"{label}_intermediate")
        gelu = node(
            "Mul", [node("Mul", [inner, half]), node("Add", [one, node("Erf", [node("Mul", [inner, root_half])])])]
        )
        output = linear(gelu, layer["fo.w"], layer["fo.b"], f"{label}_output")
        x = layer_norm(node("Add", [x, output]), layer["oln.w"], layer["oln.b"], f"{label}_output_norm")

    nodes.append(helper.make_node("Identity", [x], ["token_embeddings"]))
    token_mask = node("Unsqueeze", [mask, const(np.array([2], dtype=np.int64), "token_axis")])
    summed = node(
        "ReduceSum", [node("Mul", [x, token_mask]), const(np.array([1], dtype=np.int64), "seq_axis")], keepdims=0
    )
    counts = node("ReduceSum", [mask, const(np.array([1], dtype=np.int64), "seq_axis_mask")], keepdims=1)
    floor = const(np.array(1e-9, dtype=np.float32), "count_floor")
    nodes.append(helper.make_node("Div", [summed, node("Max", [counts, floor])], ["sentence_embedding"]))

    graph = helper.make_graph(
        nodes,
        name,
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [
            helper.make_tensor_value_info("token_embeddings", TensorProto.FLOAT, ["batch", "tokens", hidden]),
            helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden]),
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="zhisou")
    model.ir_version = 8
    return model


def reference_forward(weights: EncoderWeights, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """The mean-pooled sentence embeddings, computed in numpy (float64): what the graph must give."""
    config = weights.config
    heads, hidden = config.heads, config.hidden
    head_dim = hidden // heads
    eps = config.layer_norm_eps

    def norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * scale + bias

    batch, length = input_ids.shape
    x = weights.word[input_ids].astype(np.float64) + weights.position[:length] + weights.token_type
    x = norm(x, *weights.embedding_norm)
    bias = (1.0 - attention_mask[:, None, None, :]) * -10_000.0
    from math import erf

    verf = np.vectorize(erf)
    for layer in weights.layers:

        def project(part: str, y: np.ndarray, layer: dict[str, np.ndarray] = layer) -> np.ndarray:
            return y @ layer[f"{part}.w"].T.astype(np.float64) + layer[f"{part}.b"]

        q = project("q", x).reshape(batch, length, heads, head_dim).transpose(0, 2, 1, 3)
        k = project("k", x).reshape(batch, length, heads, head_dim).transpose(0, 2, 3, 1)
        v = project("v", x).reshape(batch, length, heads, head_dim).transpose(0, 2, 1, 3)
        scores = q @ k / math.sqrt(head_dim) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities = scores / scores.sum(-1, keepdims=True)
        context = (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = norm(x + project("ao", context), layer["aln.w"], layer["aln.b"])
        inner = project("fi", x)
        x = norm(x + project("fo", 0.5 * inner * (1 + verf(inner / math.sqrt(2)))), layer["oln.w"], layer["oln.b"])
    mask = attention_mask[:, :, None].astype(np.float64)
    return (x * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
