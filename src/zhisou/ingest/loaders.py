"""Source loaders: files → records. Each loader yields ``Record`` or, for a bad record,
an ``IngestError`` naming the file and line, so the pipeline can skip it or stop.

=============================  ==========================================================
extension                      what becomes a document
=============================  ==========================================================
.jsonl .ndjson                 each line, a JSON object
.json                          an array of objects, or one object
.csv                           each row (header = field names)
.parquet                       each row (needs ``pip install 'zhisou[parquet]'``)
.md .markdown                  the file: YAML front matter (title, date, tags, ...) + body
.html .htm                     the file: <title> and the visible text (UTF-8, else the
                               charset its <meta> declares)
.txt                           the file: name as title, content as body
=============================  ==========================================================
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import yaml

from zhisou.errors import IngestError
from zhisou.index.documents import MAX_DOCUMENT_BYTES

# A CSV field may be as large as a document (the csv module's default stops at 128 KiB and then
# loses the rest of the file).
csv.field_size_limit(MAX_DOCUMENT_BYTES)


@dataclass(frozen=True)
class Record:
    doc: dict[str, Any]
    source: str
    line: int | None
    size: int  # bytes of input this record came from, for progress


Loaded = Record | IngestError
Loader = Callable[[Path, Path], Iterator[Loaded]]


def _file_id(path: Path, root: Path) -> str:
    """A file's document id: its path relative to the index's files root, without the
    extension, ``/``-separated (``notes/sub/a.md`` under ``notes`` → ``sub/a``)."""
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        relative = Path(path.name)
    return relative.with_suffix("").as_posix()


def relative_path(path: Path, root: Path) -> str:
    """What the ``path`` field of a file's document holds: the path relative to the files root,
    with its extension."""
    return path.resolve().relative_to(root.resolve()).as_posix()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read file ({exc.strerror})", str(path)) from exc


def _read_text(path: Path, raw: bytes | None = None) -> str:
    """A file's text as UTF-8 (a byte-order mark, which editors on Windows write, dropped)."""
    raw = _read_bytes(path) if raw is None else raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise IngestError(f"invalid UTF-8 at byte {exc.start}; re-save the file as UTF-8", str(path), line) from exc


# <meta charset="gbk"> or <meta http-equiv="Content-Type" content="text/html; charset=gb2312">
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Labels browsers read as GBK. GB18030 is a superset of both: a page labelled GB2312 often holds GBK characters.
_GB_LABELS = frozenset({"gb2312", "gbk", "gb18030", "x-gbk", "gb_2312-80", "csgb2312", "chinese", "iso-ir-58"})


def _read_html(path: Path) -> str:
    """A page's text: UTF-8 when it is (whatever its markup says: editors convert files and
    leave the old declaration), else in the charset its ``<meta>`` declares in the first 4 KiB,
    as a browser reads it — Chinese pages saved as GBK or GB2312 are common."""
    raw = _read_bytes(path)
    try:
        return _read_text(path, raw)
    except IngestError:
        declared = _META_CHARSET.search(raw[:4096])
        if declared is None:
            raise
    label = declared.group(1).decode("ascii").lower()
    codec = "gb18030" if label in _GB_LABELS else label
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"neither UTF-8 nor its declared {label} (byte {exc.start}); re-save it as UTF-8"
        raise IngestError(message, str(path), line) from None
    except (LookupError, ValueError):  # no such codec, or not one that turns bytes into text
        message = f"not UTF-8, and its declared charset {label!r} is not one zhisou reads; re-save it as UTF-8"
        raise IngestError(message, str(path)) from None


_UTF8_BOM = b"\xef\xbb\xbf"


def load_jsonl(path: Path, root: Path) -> Iterator[Loaded]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        yield IngestError(f"cannot read file ({exc.strerror})", str(path))
        return
    with handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(_UTF8_BOM):  # an editor's byte-order mark, not data
                raw = raw[len(_UTF8_BOM) :]
            if not raw.strip():
                continue
            try:
                value = _parse_json(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield IngestError(f"invalid UTF-8 at byte {exc.start} of the line", str(path), number)
                continue
            except ValueError as exc:
                yield IngestError(str(exc), str(path), number)
                continue
            if not isinstance(value, dict):
                yield IngestError(f"expected a JSON object, got {type(value).__name__}", str(path), number)
                continue
            yield Record(value, str(path), number, len(raw))


def _parse_json(text: str) -> Any:
    """JSON, with every way it can fail as a ``ValueError`` carrying a readable message."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ValueError(f"unreadable JSON ({exc})") from None


def load_json(path: Path, root: Path) -> Iterator[Loaded]:
    try:
        value = _parse_json(_read_text(path))
    except IngestError as exc:
        yield exc
        return
    except ValueError as exc:
        yield IngestError(str(exc), str(path))
        return
    items = value if isinstance(value, list) else [value]
    size = max(path.stat().st_size // max(len(items), 1), 1)
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield Record(item, str(path), None, size)
        else:
            yield IngestError(f"item {number}: expected a JSON object, got {type(item).__name__}", str(path))


def load_csv(path: Path, root: Path) -> Iterator[Loaded]:
    try:
        text = _read_text(path)
    except IngestError as exc:
        yield exc
        return
    rows = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None  # the first row that is not blank
    while True:
        line = rows.line_num + 1  # where the next row starts (a quoted value may hold line breaks)
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:  # that row is skipped; the reader goes on with the next line
            yield IngestError(f"malformed CSV ({exc})", str(path), line)
            if header is None:
                return  # the header itself is unreadable
            continue
        if not row:
            continue  # a blank line
        if header is None:
            header = row
        elif len(row) > len(header):
            yield IngestError("row has more values than the header has columns", str(path), line)
        else:
            doc = {name: value for name, value in zip(header, row) if value != ""}
            yield Record(doc, str(path), line, max(len(text) // max(line, 1), 1))


def load_parquet(path: Path, root: Path) -> Iterator[Loaded]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        yield IngestError("reading Parquet needs pyarrow: pip install 'zhisou[parquet]'", str(path))
        return
    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        yield IngestError(f"not a readable Parquet file ({exc})", str(path))
        return
    size = max(path.stat().st_size // max(table.metadata.num_rows, 1), 1)
    row_number = 0
    for batch in table.iter_batches():
        for row in batch.to_pylist():
            row_number += 1
            yield Record({k: v for k, v in row.items() if v is not None}, str(path), row_number, size)


def _split_front_matter(text: str) -> tuple[str | None, str, int]:
    """(front matter, body, line where the body starts)."""
    if not text.startswith("---"):
        return None, text, 1
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return None, text, 1
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
    return None, text, 1


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML's safe loader, minus two hazards of untrusted files: aliases (a few lines of
    anchors can expand to billions of values — the "billion laughs") and timestamps (dates stay
    the text written, so an impossible date is reported by the index, not by the YAML parser)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not supported", event.start_mark)
        return super().compose_node(parent, index)


_FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp", _FrontMatterLoader.construct_yaml_str)


def load_markdown(path: Path, root: Path) -> Iterator[Loaded]:
    try:
        text = _read_text(path).replace("\r\n", "\n")  # a file saved on Windows reads as on Unix
    except IngestError as exc:
        yield exc
        return
    front, body, _ = _split_front_matter(text)
    doc: dict[str, Any] = {}
    if front is not None:
        try:
            meta = yaml.load(front, Loader=_FrontMatterLoader) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = (mark.line if mark is not None else 0) + 2
            problem = getattr(exc, "problem", None) or "malformed"
            yield IngestError(f"YAML front matter: {problem}", str(path), line)
            return
        except (ValueError, RecursionError) as exc:
            yield IngestError(f"YAML front matter: {exc}", str(path), 2)
            return
        if not isinstance(meta, dict):
            yield IngestError("front matter must be a mapping (key: value lines)", str(path), 2)
            return
        doc.update(meta)
    body = body.strip("\n")
    if "title" not in doc:
        first = body.lstrip().split("\n", 1)[0]
        doc["title"] = first.lstrip("#").strip() if first.startswith("#") else path.stem
    doc.setdefault("id", _file_id(path, root))
    doc["body"] = body
    yield Record(doc, str(path), None, path.stat().st_size)


class _TextExtractor(HTMLParser):
    _SKIP: ClassVar[frozenset[str]] = frozenset({"script", "style", "noscript", "template"})
    _BLOCK: ClassVar[frozenset[str]] = frozenset("p div br li h1 h2 h3 h4 h5 h6 tr section article pre".split())
    _INLINE: ClassVar[frozenset[str]] = frozenset("b i em strong span small sub sup code".split())
    TITLE_CHARS = 500

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.text: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if "title" in self._stack and tag not in self._INLINE:
            # An unclosed <title>: it ends where the page's structure starts, so it cannot
            # swallow the body.
            del self._stack[self._stack.index("title") :]
        self._stack.append(tag)
        if tag in self._BLOCK:
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop() == tag:
                break

    @property
    def open_tags(self) -> list[str]:
        return self._stack

    def handle_data(self, data: str) -> None:
        if "title" in self._stack:
            self.title.append(data)
        elif not self._SKIP.intersection(self._stack):
            self.text.append(data)


def load_html(path: Path, root: Path) -> Iterator[Loaded]:
    try:
        text = _read_html(path)
    except IngestError as exc:
        yield exc
        return
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    title = " ".join("".join(parser.title).split())
    if "title" in parser.open_tags or len(title) > parser.TITLE_CHARS:
        # A <title> never closed and no tag after it: its first line is the title, the rest body.
        first, _, rest = "".join(parser.title).strip().partition("\n")
        title = " ".join(first.split())[: parser.TITLE_CHARS]
        parser.text.insert(0, rest)
    body = "\n".join(line.strip() for line in "".join(parser.text).splitlines() if line.strip())
    title = title or path.stem
    yield Record({"id": _file_id(path, root), "title": title, "body": body}, str(path), None, path.stat().st_size)


def load_text(path: Path, root: Path) -> Iterator[Loaded]:
    try:
        text = _read_text(path).replace("\r\n", "\n")
    except IngestError as exc:
        yield exc
        return
    yield Record({"id": _file_id(path, root), "title": path.stem, "body": text}, str(path), None, path.stat().st_size)


LOADERS: dict[str, Loader] = {
    ".jsonl": load_jsonl,
    ".ndjson": load_jsonl,
    ".json": load_json,
    ".csv": load_csv,
    ".parquet": load_parquet,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".txt": load_text,
}


# One document per file, its id made from the file's path: these must sit under the files root.
FILE_DOCUMENTS = frozenset({".md", ".markdown", ".html", ".htm", ".txt"})
PATH_FIELD = "path"  # stored on every document read from a file: where it came from


def source_files(path: Path) -> Iterator[tuple[Path, Path]]:
    """(file, root) pairs: the file itself, or every loadable file under a folder, sorted."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in LOADERS and not child.name.startswith("."):
                yield child, path
    else:
        yield path, path.parent


def load(path: Path, root: Path | None = None) -> Iterator[Loaded]:
    """Records of one file or folder; unknown extensions and missing paths are errors.

    ``root`` (absolute): the index's files root. A Markdown, HTML or text file is one document
    whose id is its path relative to the root (unless its front matter names an ``id``) and whose
    ``path`` field keeps that path with its extension; such a file outside the root is refused,
    since its id could clash with another's. Records of data files (JSONL, CSV, …) carry their
    own ids. Without ``root`` the folder named is the root (the file's own folder for a file)."""
    if not path.exists():
        yield IngestError("no such file or folder", str(path))
        return
    for file, folder in source_files(path):
        loader = LOADERS.get(file.suffix.lower())
        if loader is None:
            known = " ".join(sorted(LOADERS))
            yield IngestError(f"unknown file type {file.suffix!r}; zhisou reads {known}", str(file))
            continue
        base = folder.resolve() if root is None else root
        one_document = file.suffix.lower() in FILE_DOCUMENTS
        if one_document and not file.resolve().is_relative_to(base):
            yield IngestError(
                f"outside this index's files root {base}: document ids are paths relative to it; "
                "index the file from under the root, or give it an id: in its front matter",
                str(file),
            )
            continue
        where = relative_path(file, base) if one_document else None
        try:
            for item in loader(file, base):
                if where is not None and isinstance(item, Record):
                    item.doc.setdefault(PATH_FIELD, where)
                yield item
        except (OSError, ValueError, RecursionError, MemoryError) as exc:
            # Whatever a hostile file does to a parser, the rest of the ingest goes on.
            yield IngestError(f"cannot read the rest of this file ({type(exc).__name__}: {exc})", str(file))
