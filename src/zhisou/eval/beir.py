"""Reading a BEIR-format dataset: ``corpus.jsonl[.gz]`` (``_id``, ``title``, ``text``),
``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (query-id, corpus-id, score,
after a header line)."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from zhisou.errors import ZhisouError


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")  # a byte-order mark is not part of the first record


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ZhisouError(f"{path}:{number}: malformed JSON ({exc.msg})") from exc


@dataclass(frozen=True)
class BeirDataset:
    directory: Path
    split: str
    corpus_path: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @property
    def name(self) -> str:
        return self.directory.resolve().name

    @classmethod
    def load(cls, directory: Path, split: str = "test") -> BeirDataset:
        directory = Path(directory)
        corpus = next((directory / n for n in ("corpus.jsonl", "corpus.jsonl.gz") if (directory / n).exists()), None)
        if corpus is None:
            raise ZhisouError(f"{directory}: no corpus.jsonl or corpus.jsonl.gz; is this a BEIR dataset directory?")
        queries_path = next(
            (directory / n for n in ("queries.jsonl", "queries.jsonl.gz") if (directory / n).exists()), None
        )
        if queries_path is None:
            raise ZhisouError(f"{directory}: no queries.jsonl")
        qrels_path = directory / "qrels" / f"{split}.tsv"
        if not qrels_path.exists():
            available = sorted(p.stem for p in (directory / "qrels").glob("*.tsv"))
            raise ZhisouError(f"{qrels_path} does not exist; splits here: {', '.join(available) or 'none'}")
        queries = {str(q["_id"]): str(q["text"]) for q in _jsonl(queries_path)}
        qrels: dict[str, dict[str, int]] = {}
        with _open_text(qrels_path) as handle:
            for number, line in enumerate(handle, start=1):
                parts = line.rstrip("\n").split("\t")
                if number == 1 and not parts[-1].lstrip("-").isdigit():
                    continue  # header
                if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
                    raise ZhisouError(f"{qrels_path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score'")
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
        missing = [q for q in qrels if q not in queries]
        if missing:
            raise ZhisouError(
                f"{qrels_path}: {len(missing)} judged queries are not in queries.jsonl (e.g. {missing[0]})"
            )
        return cls(directory, split, corpus, queries, qrels)

    def documents(self) -> Iterator[dict[str, Any]]:
        """Corpus documents as zhisou documents: title and text in one ``body`` field (Pyserini "flat")."""
        for doc in _jsonl(self.corpus_path):
            title = str(doc.get("title") or "").strip()
            text = str(doc.get("text") or "")
            yield {"id": str(doc["_id"]), "body": f"{title} {text}".strip()}

    def fingerprint(self) -> str:
        """Changes when the corpus file changes: part of the index cache key."""
        stat = self.corpus_path.stat()
        raw = f"{self.corpus_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        return hashlib.sha1(raw.encode()).hexdigest()[:12]
