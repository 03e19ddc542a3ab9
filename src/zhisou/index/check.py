"""``zhisou check``: read every file the current commit references and report every problem,
one line each naming the file (as Lucene's CheckIndex does), rather than stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from zhisou.errors import CorruptIndexError, ZhisouError
from zhisou.index.deletes import read_live
from zhisou.index.manifest import load_generation, load_latest
from zhisou.index.segment import components_of, deletes_file_name
from zhisou.index.segment_reader import SegmentReader, map_component, verify_file
from zhisou.index.shards import is_sharded, load_shard_set


@dataclass
class CheckReport:
    generation: int | None = None
    segments: int = 0
    files: int = 0
    documents: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_index(directory: Path) -> CheckReport:
    """Every referenced file: present, of the recorded size, framed for its segment and
    component, matching its checksum; then each segment's structure. Nothing is cached.
    A sharded index: its record, then every shard at the generation the record names."""
    if is_sharded(directory):
        return _check_shards(directory)
    return _check_one(directory, None)


def _check_shards(root: Path) -> CheckReport:
    report = CheckReport()
    try:
        record = load_shard_set(root)
    except ZhisouError as error:
        report.problems.append(str(error))
        return report
    report.generation = record.generation
    report.files = 1
    for path, generation in zip(record.paths(root), record.generations):
        part = _check_one(path, generation)
        report.segments += part.segments
        report.files += part.files
        report.documents += part.documents
        report.problems += [f"{path.name}: {problem}" for problem in part.problems]
    return report


def _check_one(directory: Path, generation: int | None) -> CheckReport:
    report = CheckReport()
    try:
        manifest = load_latest(directory) if generation is None else load_generation(directory, generation)
    except FileNotFoundError:
        report.problems.append(f"{directory}: generation {generation}, which the shard record names, is missing")
        return report
    except ZhisouError as error:
        report.problems.append(str(error))
        return report
    report.generation = manifest.generation
    report.segments = len(manifest.segments)
    report.files = 1  # the manifest, checked by loading it
    for meta in manifest.segments:
        damaged = False
        try:
            components = components_of(meta)
        except ValueError as error:
            report.problems.append(str(error))
            continue
        for component in components:
            path = directory / component.file_name(meta.name)
            report.files += 1
            info = meta.files.get(component.suffix)
            try:
                if info is None:
                    raise CorruptIndexError(f"segment {meta.name}: the manifest lists no {component.suffix} file")
                map_component(path, component, meta)  # size, header, footer (touches two pages)
                verify_file(path, info.crc32, remember=False)
            except CorruptIndexError as error:
                report.problems.append(str(error))
                damaged = True
        if meta.del_gen:
            path = directory / deletes_file_name(meta.name, meta.del_gen)
            report.files += 1
            try:
                read_live(path, meta.doc_count, meta.uid_bytes, meta.del_crc32)
            except CorruptIndexError as error:
                report.problems.append(str(error))
                damaged = True
        if not damaged:
            try:
                segment = SegmentReader(directory, meta)
                segment.check_postings()
                report.documents += int(segment.live_mask().sum())
            except CorruptIndexError as error:
                report.problems.append(str(error))
    return report
