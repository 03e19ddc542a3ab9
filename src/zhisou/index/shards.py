"""A sharded index: N ordinary indexes (``shard-000`` …) under one folder, and the record that
ties them together.

``shards_<G>.json`` is a sharded index's commit point, as ``manifest_<N>.json`` is a shard's:
it names each shard's committed generation, so a reader opens every shard at the generation the
same sharded commit left it — never shard 0 after a commit and shard 1 before it. A sharded
commit commits the shards that changed, then writes the next record (atomically); a commit
interrupted between the two is rolled back when the next writer opens (``ShardedWriter``).

A document lives in the shard its id hashes to (``shard_of``: CRC-32 of the UTF-8 id, modulo
N — stable across processes and machines, so a Spark executor and a later ``add`` agree), so
replacing or deleting it touches one shard.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhisou._version import __version__
from zhisou.errors import CorruptIndexError
from zhisou.index.directory import atomic_write_bytes
from zhisou.index.manifest import checksum_matches, checksummed, read_newest

FORMAT = "zhisou-shards"
FORMAT_VERSION = 1
HASH = "crc32-utf8"
MAX_SHARDS = 256
_RECORD_RE = re.compile(r"^shards_(\d+)\.json$")


def shard_name(number: int) -> str:
    return f"shard-{number:03d}"


def shard_of(doc_id: str, count: int) -> int:
    """The shard a document with this (normalised) id lives in."""
    return zlib.crc32(doc_id.encode("utf-8", "surrogatepass")) % count


@dataclass(frozen=True)
class ShardSet:
    """One sharded commit: the schema, and each shard's folder and committed generation."""

    generation: int
    schema: dict[str, Any]
    shards: tuple[str, ...]
    generations: tuple[int, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return record_file_name(self.generation)

    @property
    def count(self) -> int:
        return len(self.shards)

    def paths(self, root: Path) -> list[Path]:
        return [root / name for name in self.shards]

    def next(self, generations: Sequence[int]) -> ShardSet:
        return ShardSet(self.generation + 1, self.schema, self.shards, tuple(generations), self.settings)

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "zhisou_version": __version__,
            "generation": self.generation,
            "hash": HASH,
            "schema": self.schema,
            "settings": self.settings,
            "shards": [{"path": p, "generation": g} for p, g in zip(self.shards, self.generations)],
        }
        return checksummed(data)

    def write(self, root: Path) -> None:
        atomic_write_bytes(root / self.file_name, self.to_json())

    @classmethod
    def parse(cls, raw: bytes, source: str) -> ShardSet:
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise CorruptIndexError(f"{source}: not a zhisou shard record (damaged, or not written by zhisou)")
            if data.get("format_version") != FORMAT_VERSION or data.get("hash") != HASH:
                raise CorruptIndexError(
                    f"{source}: sharded format {data.get('format_version')}/{data.get('hash')} is not supported "
                    f"by zhisou {__version__}; rebuild the index"
                )
            if not checksum_matches(data):
                raise CorruptIndexError(f"{source}: checksum mismatch; the index is damaged (restore it)")
            shards = data["shards"]
            names = tuple(str(s["path"]) for s in shards)
            if not names or any(not re.fullmatch(r"shard-\d{3}", n) for n in names):
                raise CorruptIndexError(f"{source}: names no shards, or a shard outside the index folder")
            return cls(
                generation=int(data["generation"]),
                schema=data["schema"],
                shards=names,
                generations=tuple(int(s["generation"]) for s in shards),
                settings=dict(data.get("settings", {})),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise CorruptIndexError(f"{source}: unreadable shard record ({exc})") from exc


def record_file_name(generation: int) -> str:
    return f"shards_{generation}.json"


def record_generations(root: Path) -> list[int]:
    """Generations of the shard records in ``root``, newest first (empty: not a sharded index)."""
    try:
        names = [entry.name for entry in root.iterdir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted((int(m.group(1)) for n in names if (m := _RECORD_RE.match(n))), reverse=True)


def is_sharded(root: Path) -> bool:
    return bool(record_generations(Path(root)))


def load_shard_set(root: Path) -> ShardSet:
    """The current sharded commit at ``root``."""
    missing = f"no sharded zhisou index at {root}"
    return read_newest(root, record_generations, record_file_name, ShardSet.parse, missing)


def remove_old_records(root: Path, keep: set[int]) -> None:
    """Delete the shard records other than the generations in ``keep``."""
    for generation in record_generations(root):
        if generation not in keep:
            path = root / record_file_name(generation)
            try:
                if FORMAT.encode() in path.read_bytes()[:64]:
                    path.unlink()
            except FileNotFoundError:
                pass
