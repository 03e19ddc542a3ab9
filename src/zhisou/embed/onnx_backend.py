"""The default backend: an encoder exported to ONNX, run by ONNX Runtime, tokenized by
Hugging Face ``tokenizers`` — no PyTorch at run time.

A model directory holds ``model.onnx`` (inputs ``input_ids``/``attention_mask``, output
``sentence_embedding``: ``onnx_graph`` writes such graphs; an output ``last_hidden_state`` or
``token_embeddings`` is mean-pooled here instead), ``tokenizer.json`` and ``zhisou-model.json``
(name, dimension, longest input, the query and passage prefixes e5 models need).
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
BATCH_TOKENS = 8192  # padded tokens per forward pass: bounds memory, keeps batches full


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
        start = 0
        while start < len(order):
            longest = len(encodings[order[start]].ids)
            stop = start + 1
            while stop < len(order):
                longest = max(longest, len(encodings[order[stop]].ids))
                if longest * (stop + 1 - start) > BATCH_TOKENS:
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
