"""Fixtures the Spark tests share with others."""

from tests.embed.conftest import tiny_model  # noqa: F401 - a fixture: a small ONNX encoder on disk
