"""An index's files root: the folder that file ids are relative to, kept in the index.

A Markdown, HTML or text file is one document whose id is its path relative to the root,
without the extension (``notes/sub/a.md`` → ``sub/a`` when the root is ``notes``), unless its
front matter names an ``id``. The root is the folder (or a file's folder) the first ``zhisou
index`` or ``zhisou sync`` of files was given, or ``--root``; it is recorded in the index's
``sources.json``, so indexing ``notes/`` and later ``notes/sub/`` gives each file one id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from zhisou.errors import ZhisouError
from zhisou.index.directory import atomic_write_bytes
from zhisou.ingest.loaders import FILE_DOCUMENTS, source_files

SOURCES_FILE = "sources.json"


def files_root(index_directory: Path) -> Path | None:
    """The recorded files root, or None before any file was indexed."""
    path = Path(index_directory) / SOURCES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ZhisouError(f"{path}: unreadable ({exc}); delete it and give --root to record the root again") from None
    root = data.get("root") if isinstance(data, dict) else None
    if not isinstance(root, str) or not root:
        raise ZhisouError(f"{path}: no files root in it; delete it and give --root to record the root again")
    return Path(root)


def resolve_root(index_directory: Path, paths: Sequence[Path], explicit: Path | None = None) -> Path | None:
    """The files root for indexing ``paths``: ``explicit`` (``--root``), else the recorded one,
    else the first path that holds files (a folder, or a file's folder) — recorded from then on.
    None when nothing to index is a file document and no root is recorded (data files only)."""
    recorded = files_root(index_directory)
    if explicit is not None:
        root = explicit.resolve()
        if not root.is_dir():
            raise ZhisouError(f"--root {explicit}: not a folder")
        if recorded is not None and recorded != root:
            raise ZhisouError(
                f"this index's files root is {recorded} (ids are paths relative to it), not {root}; "
                f"leave out --root, or delete {Path(index_directory) / SOURCES_FILE} and re-index every file"
            )
    elif recorded is not None:
        return recorded
    else:
        first = next((path for path in paths if _holds_file_documents(path)), None)
        if first is None:
            return None
        root = (first if first.is_dir() else first.parent).resolve()
    if recorded is None:
        Path(index_directory).mkdir(parents=True, exist_ok=True)
        data = json.dumps({"root": str(root)}, ensure_ascii=False) + "\n"
        atomic_write_bytes(Path(index_directory) / SOURCES_FILE, data.encode("utf-8"))
    return root


def _holds_file_documents(path: Path) -> bool:
    if not path.exists():
        return False
    return any(file.suffix.lower() in FILE_DOCUMENTS for file, _ in source_files(path))
