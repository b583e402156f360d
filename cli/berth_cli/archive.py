"""Pack a build context as a gzipped tarball, leaving out .git and what .dockerignore names."""

from __future__ import annotations

import fnmatch
import io
import os
import tarfile
from pathlib import Path

ALWAYS_EXCLUDED = [".git"]


def read_ignore(directory: Path) -> list[tuple[bool, str]]:
    """Return (negated, pattern) pairs from .git plus the directory's .dockerignore, in order."""
    patterns = [(False, name) for name in ALWAYS_EXCLUDED]
    try:
        lines = (directory / ".dockerignore").read_text().splitlines()
    except OSError:
        return patterns
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        if pattern in ("", "."):
            continue
        patterns.append((negated, pattern))
    return patterns


def _matches(relative: str, pattern: str) -> bool:
    """True when `relative` or one of its parent directories matches `pattern` (Docker's rule)."""
    candidates = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
    parts = relative.split("/")
    for length in range(1, len(parts) + 1):
        prefix = "/".join(parts[:length])
        if any(fnmatch.fnmatchcase(prefix, candidate) for candidate in candidates):
            return True
    return False


def is_excluded(relative: str, patterns: list[tuple[bool, str]]) -> bool:
    """The last matching pattern decides, as in .dockerignore; `!pattern` includes again."""
    excluded = False
    for negated, pattern in patterns:
        if _matches(relative, pattern):
            excluded = not negated
    return excluded


def context_files(directory: Path) -> list[str]:
    """Return the relative paths (files, symlinks and empty directories) the context holds, sorted."""
    patterns = read_ignore(directory)
    can_reinclude = any(negated for negated, _ in patterns)
    chosen: list[str] = []
    for root, dirs, files in os.walk(directory):
        base = Path(root).relative_to(directory).as_posix()
        base = "" if base == "." else base + "/"
        kept_dirs = []
        for name in sorted(dirs):
            relative = base + name
            if os.path.islink(os.path.join(root, name)):
                if not is_excluded(relative, patterns):
                    chosen.append(relative)
            elif can_reinclude or not is_excluded(relative, patterns):
                kept_dirs.append(name)
        dirs[:] = kept_dirs
        chosen.extend(base + name for name in sorted(files) if not is_excluded(base + name, patterns))
        if not files and not dirs and base and not is_excluded(base.rstrip("/"), patterns):
            chosen.append(base.rstrip("/"))
    return sorted(chosen)


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Drop the local owner: the build must not depend on (or reveal) who packed it."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(directory: Path) -> tuple[bytes, int]:
    """Return (the .tar.gz bytes, the number of entries) of the build context in `directory`."""
    names = context_files(directory)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in names:
            archive.add(directory / name, arcname=name, recursive=False, filter=_anonymous)
    return buffer.getvalue(), len(names)
