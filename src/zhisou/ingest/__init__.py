"""Ingest: loaders for JSONL, CSV, Parquet, Markdown, HTML and text, and the ingest pipeline."""

from zhisou.ingest.loaders import LOADERS, Record, load
from zhisou.ingest.pipeline import IngestReport, ingest

__all__ = ["LOADERS", "IngestReport", "Record", "ingest", "load"]
