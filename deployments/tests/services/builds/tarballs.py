"""Hand-made tar archives for build tests: good contexts and every kind of hostile member."""

import io
import tarfile
from pathlib import Path

DOCKERFILE = b"FROM scratch\nCOPY busybox /bin/busybox\n"


def member(name: str, data: bytes = b"", **attrs) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def write(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], *, mode: str = "w:gz") -> Path:
    """Write `members` into the archive `path` (gzip by default) and return it."""
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            if info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.size = 0
                tar.addfile(info)
    return path


def as_bytes(members: list[tuple[tarfile.TarInfo, bytes]], *, mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for info, data in members:
            if info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.size = 0
                tar.addfile(info)
    return buffer.getvalue()
