"""The commit point: ``manifest_<N>.json`` lists the live segments of generation N.

A commit writes a new manifest atomically (temp file, fsync, rename, fsync directory), so a
reader sees either the previous commit or the new one, never a mixture. The newest manifest
is the index's current state. Its last key, ``checksum``, is the CRC32 of the manifest written
without it: a damaged manifest is an error, never a silently different index.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from zhisou._version import __version__
from zhisou.errors import CorruptIndexError, IndexNotFoundError
from zhisou.index.codec import CODEC_VERSION
from zhisou.index.directory import atomic_write_bytes
from zhisou.index.segment import SegmentMeta

FORMAT = "zhisou-index"
FORMAT_VERSION = 3
CODEC = "zhisou3"
# Older formats this version still opens, with the codec their segments were written in: a
# format-2 index's segments are codec 2 (``index/legacy.py``); its next commit is format 3.
_READABLE_FORMATS = {(FORMAT_VERSION, CODEC): CODEC_VERSION, (2, "zhisou2"): 2}
_OPEN_ATTEMPTS = 20
_MANIFEST_RE = re.compile(r"^manifest_(\d+)\.json$")


@dataclass(frozen=True)
class Manifest:
    generation: int
    schema: dict[str, Any]
    segments: tuple[SegmentMeta, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    user_data: dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return manifest_file_name(self.generation)

    @property
    def doc_count(self) -> int:
        return sum(segment.live_count for segment in self.segments)

    def referenced_files(self) -> set[str]:
        names = {self.file_name}
        for segment in self.segments:
            names.update(segment.file_names())
        return names

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "codec": CODEC,
            "zhisou_version": __version__,
            "generation": self.generation,
            "schema": self.schema,
            "settings": self.settings,
            "segments": [segment.to_dict() for segment in self.segments],
            "user_data": self.user_data,
        }
        return checksummed(data)

    def write(self, directory: Path) -> None:
        atomic_write_bytes(directory / self.file_name, self.to_json())

    @classmethod
    def parse(cls, raw: bytes, source: str) -> Manifest:
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise CorruptIndexError(f"{source}: not a zhisou manifest (damaged, or not written by zhisou)")
            segment_codec = _READABLE_FORMATS.get((data.get("format_version"), data.get("codec")))
            if segment_codec is None:
                raise CorruptIndexError(
                    f"{source}: index format {data.get('format_version')}/{data.get('codec')} is not supported "
                    f"by zhisou {__version__} (it reads 3/zhisou3 and 2/zhisou2); rebuild the index"
                )
            if not checksum_matches(data):
                raise CorruptIndexError(f"{source}: manifest checksum mismatch; the index is damaged (restore it)")
            return cls(
                generation=int(data["generation"]),
                schema=data["schema"],
                segments=tuple(SegmentMeta.from_dict(s, segment_codec) for s in data["segments"]),
                settings=dict(data.get("settings", {})),
                user_data=dict(data.get("user_data", {})),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise CorruptIndexError(f"{source}: unreadable manifest ({exc})") from exc


def checksummed(data: dict[str, Any]) -> bytes:
    """``data`` as the JSON of a commit point: its last key ``checksum`` the CRC32 of the rest."""
    return _dump({**data, "checksum": _checksum(data)})


def checksum_matches(data: dict[str, Any]) -> bool:
    """Whether the ``checksum`` of a parsed commit point (removed from ``data``) matches the rest."""
    recorded = data.pop("checksum", None)
    return recorded == _checksum(data)


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def _checksum(data: dict[str, Any]) -> int:
    """CRC32 of the manifest serialized without its checksum (key order is kept by JSON parsing,
    so a reader re-serializes exactly what the writer checksummed)."""
    return zlib.crc32(_dump(data))


def manifest_file_name(generation: int) -> str:
    return f"manifest_{generation}.json"


def manifest_generations(directory: Path) -> list[int]:
    """Generations of the manifests present, newest first."""
    try:
        names = [entry.name for entry in directory.iterdir()]
    except FileNotFoundError:
        return []
    except NotADirectoryError as exc:
        raise IndexNotFoundError(f"{directory} is a file, not an index directory") from exc
    return sorted((int(m.group(1)) for n in names if (m := _MANIFEST_RE.match(n))), reverse=True)


def load_latest(directory: Path) -> Manifest:
    """The current commit of the index at ``directory``."""
    missing = f"no zhisou index at {directory}; create one with `zhisou init {directory}` or `zhisou index`"
    return read_newest(directory, manifest_generations, manifest_file_name, Manifest.parse, missing)


class CommitPoint(Protocol):
    generation: int


C = TypeVar("C", bound=CommitPoint)


def read_newest(
    directory: Path,
    generations_of: Callable[[Path], list[int]],
    file_name: Callable[[int], str],
    parse: Callable[[bytes, str], C],
    missing: str,
) -> C:
    """The newest commit point in ``directory`` (a manifest, a shard record): listed, read and
    parsed, listing again when a commit removed the file in between; ``missing`` when none."""
    for _attempt in range(_OPEN_ATTEMPTS):
        generations = generations_of(directory)
        if not generations:
            raise IndexNotFoundError(missing)
        path = directory / file_name(generations[0])
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue  # a commit removed it after publishing a newer one: list again
        except OSError as exc:
            raise CorruptIndexError(f"{path}: cannot read the commit point ({exc.strerror})") from exc
        point = parse(raw, str(path))
        if point.generation != generations[0]:
            raise CorruptIndexError(f"{path}: names generation {point.generation}; the index is damaged")
        return point
    raise CorruptIndexError(
        f"{directory}: commit points keep vanishing while opening; is another program deleting them?"
    )


def load_generation(directory: Path, generation: int) -> Manifest:
    """Commit ``generation`` of the index at ``directory`` (a shard, opened at the generation its
    sharded commit names). ``FileNotFoundError`` when it is gone (a newer commit removed it)."""
    path = directory / manifest_file_name(generation)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CorruptIndexError(f"{path}: cannot read the manifest ({exc.strerror})") from exc
    manifest = Manifest.parse(raw, str(path))
    if manifest.generation != generation:
        raise CorruptIndexError(f"{path}: names generation {manifest.generation}; the index is damaged")
    return manifest
