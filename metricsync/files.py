"""Writes files whole: every file metricsync writes goes to a temporary file in its folder, is
flushed to disk, then renamed over its name, so a kill, a crash or a full disk leaves either the
old file or the new one, never a truncated one."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"  # no definition, plan or schema name ends so: never read as one


def write_whole(path: Path | str, data: bytes | str, *, overwrite: bool = True) -> None:
    """Writes `data` (text as UTF-8) to `path` in one step. Without `overwrite`, an existing
    file is left alone and FileExistsError is raised, even if it appeared a moment ago."""
    path = Path(path)
    content = data.encode("utf-8") if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        _rename(temporary, path, overwrite)
    finally:
        temporary.unlink(missing_ok=True)


def _rename(temporary: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temporary, path)
        return
    try:  # a hard link never replaces: the name is taken whole, or not at all
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(path):
            raise FileExistsError(17, "File exists", str(path)) from None
        os.replace(temporary, path)
