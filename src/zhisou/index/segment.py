"""A segment: an immutable, self-contained slice of the index, and the files it may hold.

Every segment holds the required components (``Component``: terms, postings, positions,
lengths, columns, stored fields, ids). A segment may also hold optional components of other
kinds (``OptionalComponent``: embeddings, an ANN graph), registered by the module that owns
them; the manifest's ``files`` say which a segment holds, and a reader refuses a segment with
a component it does not know (the index was written by a newer zhisou) rather than ignore it.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zhisou.index.codec import CODEC_VERSION, READABLE_CODECS


class _FileKind:
    """What a required component's ``(suffix, dtype)`` value says."""

    value: tuple[str, type]

    @property
    def suffix(self) -> str:
        return self.value[0]

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(self.value[1])

    def file_name(self, segment: str) -> str:
        return f"{segment}.{self.suffix}"

    @property
    def required(self) -> bool:
        return True


class Component(_FileKind, enum.Enum):
    """The files every segment of the current codec holds; file names are ``<segment>.<suffix>``."""

    TERM_KEYS = ("tdk", np.uint8)  # sorted term keys ``field \x1f term`` (UTF-8), concatenated
    TERM_OFFSETS = ("tdo", np.uint32)  # start of each key in TERM_KEYS, plus the end
    TERM_INFO = ("tdi", np.uint32)  # per term: postings start, doc freq, positions start (in words)
    POSTINGS = ("pst", np.uint32)  # per term: doc ids and frequencies in packed blocks (index/postings.py)
    POSITIONS = ("pos", np.uint32)  # per term: the positions of its postings in packed blocks
    LENGTHS = ("len", np.uint32)  # tokens per (text field, doc), field-major
    COLUMNS = ("col", np.float64)  # date/number values per (column field, doc); NaN = missing
    STORE = ("sto", np.uint8)  # stored fields: zlib-compressed JSON blocks
    STORE_INDEX = ("sti", np.int64)  # start of each stored block, plus the end
    IDS = ("ids", np.uint8)  # document ids (UTF-8), concatenated in doc order
    ID_OFFSETS = ("ido", np.int64)  # start of each id in IDS, plus the end


class Codec2Component(_FileKind, enum.Enum):
    """The files of a codec-2 segment (2026-12-01) that differ from codec 3's: the term
    dictionary's numbers as i64, postings as plain i32 arrays (``index/legacy.py`` reads them);
    its other files are ``Component``'s."""

    TERM_OFFSETS = ("tdo", np.int64)
    TERM_INFO = ("tdi", np.int64)  # per term: postings start, doc freq, positions start (in values)
    DOCS = ("doc", np.int32)  # segment-local doc ids, ascending within a term
    FREQS = ("frq", np.int32)  # the term frequency of each posting
    POSITIONS = ("pos", np.int32)  # the positions of every posting, in posting order


CODEC2_SHARED = (
    Component.TERM_KEYS,
    Component.LENGTHS,
    Component.COLUMNS,
    Component.STORE,
    Component.STORE_INDEX,
    Component.IDS,
    Component.ID_OFFSETS,
)


@dataclass(frozen=True)
class OptionalComponent:
    """A file a segment may hold besides the required ones.

    ``per_doc``: the payload is rows of equal width that belong to documents — one row per
    document, or, with ``counts`` (the suffix of a one-row-per-document integer component),
    that many rows per document, grouped in document order (an embedding per passage). A merge
    keeps it when every source segment holds it, gathering the rows of live documents.
    Otherwise the component is derived data (an index over such rows, say) that merges drop
    and its owner rebuilds."""

    suffix: str
    dtype: np.dtype[Any]
    per_doc: bool
    description: str
    counts: str | None = None

    def file_name(self, segment: str) -> str:
        return f"{segment}.{self.suffix}"

    @property
    def required(self) -> bool:
        return False


@dataclass(frozen=True)
class SegmentTerms:
    """A new segment's term dictionary as a producer's ``derive`` sees it: the keys
    (``field \x1f term``, UTF-8) in ascending order and each one's document frequency."""

    keys: Sequence[bytes]
    doc_freqs: np.ndarray

    def field_range(self, field: str) -> tuple[int, int]:
        """The rows of ``field``'s terms (keys sort by field first)."""
        prefix = (field + "\x1f").encode()
        return bisect.bisect_left(self.keys, prefix), bisect.bisect_left(self.keys, prefix[:-1] + b"\x20")


class ComponentProducer:
    """Computes optional components for each new segment a writer flushes (an embedder
    producing passage vectors and each document's passage count, say), from the documents'
    stored fields in doc order; and, optionally, derived components from those."""

    def produce(self, docs: Sequence[dict[str, Any]]) -> dict[OptionalComponent, np.ndarray]:
        raise NotImplementedError

    def derive(
        self, components: Mapping[OptionalComponent, np.ndarray], terms: SegmentTerms
    ) -> dict[OptionalComponent, np.ndarray]:
        """Derived components (a search structure over per-document rows, say) made from a
        segment's per-document ones and its term dictionary: at flush, after ``produce``, and
        after a merge, from the merged rows and terms (a merge keeps rows, never derived
        data). None by default."""
        return {}


SegmentComponent = Component | Codec2Component | OptionalComponent
OPTIONAL_COMPONENTS: dict[str, OptionalComponent] = {}
_SUFFIX = re.compile(r"[a-z0-9]{2,8}")


def register_component(component: OptionalComponent) -> OptionalComponent:
    """Make an optional component known to readers, writers, merges and ``zhisou check``."""
    if not _SUFFIX.fullmatch(component.suffix) or component.suffix == "del":
        raise ValueError(f"component suffix {component.suffix!r} must be 2-8 lower-case letters or digits, not 'del'")
    if component.suffix in {c.suffix for c in Component}:
        raise ValueError(f"component suffix {component.suffix!r} is a required component's")
    if component.counts is not None:
        counts = OPTIONAL_COMPONENTS.get(component.counts)
        if not component.per_doc or counts is None or not counts.per_doc or counts.counts is not None:
            raise ValueError(f"component {component.suffix!r}: counts must name a registered one-row-per-doc component")
    known = OPTIONAL_COMPONENTS.get(component.suffix)
    if known is not None and known != component:
        raise ValueError(f"component suffix {component.suffix!r} is already registered as {known.description!r}")
    OPTIONAL_COMPONENTS[component.suffix] = component
    return component


def components_of(meta: SegmentMeta) -> list[SegmentComponent]:
    """The components a segment holds: every required one, then its optional ones by suffix.
    Raises ``ValueError`` for a file of a kind this version does not know."""
    out: list[SegmentComponent] = list(Component) if meta.codec == CODEC_VERSION else [*CODEC2_SHARED, *Codec2Component]
    core = {c.suffix for c in out}
    for suffix in sorted(set(meta.files) - core):
        component = OPTIONAL_COMPONENTS.get(suffix)
        if component is None:
            raise ValueError(
                f"segment {meta.name} holds a .{suffix} file this version of zhisou does not know; "
                "open the index with the zhisou that wrote it, or a newer one"
            )
        out.append(component)
    return out


# The optional components zhisou itself writes: passage embeddings for semantic recall
# (computed by ``embed/store.py``), known to every reader whether or not it can embed.
PASSAGE_COUNTS = register_component(
    OptionalComponent("pcn", np.dtype(np.int32), True, "passages per document (semantic recall)")
)
PASSAGE_VECTORS = register_component(
    OptionalComponent("pvc", np.dtype(np.float32), True, "passage embeddings, by document", counts="pcn")
)
PASSAGE_SPANS = register_component(
    OptionalComponent("psp", np.dtype(np.int32), True, "passage character spans, by document", counts="pcn")
)
# Derived from the passage vectors of a segment with many of them (``embed/ann.py``).
PASSAGE_GRAPH = register_component(
    OptionalComponent("hnsw", np.dtype(np.uint8), False, "HNSW graph over the passage vectors (faiss)")
)
# Autocomplete (``suggest/phrases.py``): each document's titles and tags with the keys they are
# found under, and the sorted key table derived from them and the segment's Chinese words.
SUGGEST_COUNTS = register_component(
    OptionalComponent("sgn", np.dtype(np.int32), True, "bytes of suggestion phrases per document")
)
SUGGEST_PHRASES = register_component(
    OptionalComponent("sgp", np.dtype(np.uint8), True, "suggestion phrases and their keys, by document", counts="sgn")
)
SUGGEST_TABLE = register_component(
    OptionalComponent("sgt", np.dtype(np.uint8), False, "autocomplete key table over phrases and words")
)


SEGMENT_NAME = re.compile(r"seg_[0-9a-f]+")


def new_segment_name() -> str:
    """A name no other writer will pick: 64 random bits, no shared counter, so segments written
    in other processes or on other machines (Spark executors) can join an index."""
    return f"seg_{uuid.uuid4().hex[:16]}"


def deletes_file_name(segment: str, generation: int) -> str:
    return f"{segment}_{generation}.del"


@dataclass(frozen=True)
class FileInfo:
    size: int
    crc32: int


@dataclass(frozen=True)
class SegmentMeta:
    """What the manifest records of a segment: its name, size, deletes and file checksums."""

    name: str
    doc_count: int
    files: dict[str, FileInfo]
    del_gen: int = 0
    del_count: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    uid: str = ""  # 16 random bytes, hex: every file's header carries them
    del_crc32: int = 0  # checksum of the deletes file of ``del_gen``
    codec: int = CODEC_VERSION  # the layout of its files: 3, or 2 (read through ``index/legacy.py``)
    # ANALYSIS_VERSION of the analysis its terms came from (0: not recorded, an older writer);
    # a merge keeps the oldest of its sources', as it copies their terms.
    analysis: int = 0

    @property
    def uid_bytes(self) -> bytes:
        return bytes.fromhex(self.uid)

    @property
    def live_count(self) -> int:
        return self.doc_count - self.del_count

    def file_names(self) -> list[str]:
        """Every file of the segment: its components (required and optional), its deletes."""
        names = [f"{self.name}.{suffix}" for suffix in self.files]
        if self.del_gen:
            names.append(deletes_file_name(self.name, self.del_gen))
        return names

    def with_deletes(self, del_gen: int, del_count: int, del_crc32: int) -> SegmentMeta:
        return dataclasses.replace(self, del_gen=del_gen, del_count=del_count, del_crc32=del_crc32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uid": self.uid,
            "doc_count": self.doc_count,
            "del_gen": self.del_gen,
            "del_count": self.del_count,
            "del_crc32": self.del_crc32,
            "fields": self.fields,
            "files": {key: {"size": info.size, "crc32": info.crc32} for key, info in self.files.items()},
            "codec": self.codec,
            "analysis": self.analysis,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], codec: int = CODEC_VERSION) -> SegmentMeta:
        """``codec``: the segment's codec when ``data`` names none (a manifest of format 2
        names none: all its segments are codec 2)."""
        meta = cls(
            name=str(data["name"]),
            doc_count=int(data["doc_count"]),
            files={str(key): FileInfo(int(v["size"]), int(v["crc32"])) for key, v in data["files"].items()},
            del_gen=int(data.get("del_gen", 0)),
            del_count=int(data.get("del_count", 0)),
            fields=dict(data.get("fields", {})),
            uid=str(data["uid"]),
            del_crc32=int(data.get("del_crc32", 0)),
            codec=int(data.get("codec", codec)),
            analysis=int(data.get("analysis", 0)),
        )
        if meta.codec not in READABLE_CODECS:
            raise ValueError(
                f"segment {meta.name}: codec {meta.codec} is not one this zhisou reads {READABLE_CODECS}; "
                "open the index with the zhisou that wrote it, or rebuild it"
            )
        if not all(_SUFFIX.fullmatch(suffix) for suffix in meta.files):
            raise ValueError(f"segment {meta.name}: a file suffix is not 2-8 lower-case letters or digits")
        if len(meta.uid) != 32 or not 0 <= meta.del_count <= meta.doc_count or meta.doc_count < 0:
            raise ValueError(f"segment {meta.name}: implausible uid or counts")
        bytes.fromhex(meta.uid)
        return meta
