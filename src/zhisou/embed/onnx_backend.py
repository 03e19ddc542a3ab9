"""The default backend: an encoder exported to ONNX, run by ONNX Runtime, tokenized by
Hugging Face ``tokenizers`` — no PyTorch at run time.

A model directory holds ``model.onnx`` (inputs ``input_ids``/``attention_mask``, output
``sentence_embedding``: ``onnx_graph`` writes such graphs; an output ``last_hidden_state`` or
``token_embeddings`` is mean-pooled here instead), ``tokenizer.json`` and ``zhisou-model.json``
(name, dimension, longest input, the query and passage prefixes e5 models need).

Texts of similar length run together, ``BATCH_TOKENS`` padded tokens a forward pass — except
through a graph quantized dynamically (ONNX Runtime's ``quantize_dynamic``, the default int8
model): it scales each pass's activations by their range over the whole batch, so a text's vector
would depend on the texts beside it (cosine 0.993–0.996 between a passage embedded alone and in
a batch). Such a model encodes one text a pass: the same text has the same vector whichever
build, shard, Spark partition or evaluation embeds it, and on this machine passages embed no
slower (benchmarks/RESULTS.md, "One text a forward pass for the int8 model").
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zhisou.embed.base import Progress, normalize
from zhisou.errors import ZhisouError

MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE = "model.onnx", "tokenizer.json", "zhisou-model.json"
# Padded tokens a forward pass. Measured on 2 cores (200 dureader-robust passages of ~190 tokens,
# 300 scifact queries of ~25): 1,024 embeds the passages in 7.9 s and the queries in 1.6 s with
# the fp32 model, 8,192 in 12.5 s and 2.5 s; one text a pass 8.6 s and 2.8 s.
BATCH_TOKENS = 1024
# Operators that quantize activations with a range taken over the whole batch.
_BATCH_SCALED_OPS = frozenset({"DynamicQuantizeLinear", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM"})


@dataclass(frozen=True)
class ModelConfig:
    name: str
    dimension: int
    max_tokens: int = 512
    query_prefix: str = ""
    passage_prefix: str = ""
    kind: str = "onnx"  # or "static": a token table (``static_backend.py``)

    @classmethod
    def load(cls, directory: Path) -> ModelConfig:
        data = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        return cls(
            str(data["name"]),
            int(data["dimension"]),
            int(data.get("max_tokens", 512)),
            str(data.get("query_prefix", "")),
            str(data.get("passage_prefix", "")),
            str(data.get("kind", "onnx")),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "dimension": self.dimension,
            "max_tokens": self.max_tokens,
            "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix,
            "kind": self.kind,
        }


class OnnxEmbedder:
    def __init__(self, directory: Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as error:
            raise ZhisouError(
                f"semantic search needs the semantic extra ({error.name} is missing): pip install 'zhisou[semantic]'"
            ) from None
        directory = Path(directory)
        for required in (MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE):
            if not (directory / required).is_file():
                raise ZhisouError(f"{directory}: no {required}; not a zhisou model directory")
        self.directory = directory
        self.config = ModelConfig.load(directory)
        self.name, self.dimension, self.max_tokens = self.config.name, self.config.dimension, self.config.max_tokens
        self.tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        outputs = [o.name for o in self.session.get_outputs()]
        pooled = "sentence_embedding" in outputs
        self._output = (
            "sentence_embedding"
            if pooled
            else next((n for n in ("token_embeddings", "last_hidden_state") if n in outputs), outputs[0])
        )
        self._pooled = pooled
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._batch_tokens: int | None = None  # found on the first encoding of several texts

    @property
    def batch_tokens(self) -> int:
        """Padded tokens a forward pass: ``BATCH_TOKENS``, or 0 (one text a pass) for a graph
        whose activations are quantized over the whole batch (see the module)."""
        if self._batch_tokens is None:
            try:
                import onnx
            except ImportError:  # the graph cannot be read: one text a pass is right for any graph
                self._batch_tokens = 0
                return 0
            graph = onnx.load(str(self.directory / MODEL_FILE), load_external_data=False).graph
            scaled = any(node.op_type in _BATCH_SCALED_OPS for node in graph.node)
            self._batch_tokens = 0 if scaled else BATCH_TOKENS
        return self._batch_tokens

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.config.query_prefix + t for t in texts], None)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self._encode([self.config.passage_prefix + t for t in texts], progress)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        self.tokenizer.no_truncation()
        try:
            encodings = self.tokenizer.encode_batch([self.config.passage_prefix + t for t in texts])
        finally:
            self.tokenizer.enable_truncation(self.max_tokens)
        return [len(e.ids) for e in encodings]

    def _encode(self, texts: list[str], progress: Progress | None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")  # similar lengths pad little
        budget = self.batch_tokens if len(texts) > 1 else 0
        start = 0
        while start < len(order):
            longest = len(encodings[order[start]].ids)
            stop = start + 1
            while stop < len(order):
                longest = max(longest, len(encodings[order[stop]].ids))
                if longest * (stop + 1 - start) > budget:
                    break
                stop += 1
            batch = order[start:stop]
            out[batch] = self._run([encodings[i].ids for i in batch])
            if progress is not None:
                progress(len(batch))
            start = stop
        return normalize(out)

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, token_ids in enumerate(ids):
            input_ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        (result,) = self.session.run([self._output], feed)
        if self._pooled:
            return np.asarray(result)
        weights = mask[:, :, None].astype(np.float32)
        return (result * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
