"""Build contexts from untrusted archives: inspect every member, refuse the unsafe, re-pack the rest.

Nothing is ever extracted to disk. Each member of the uploaded tar (plain, gzip, bzip2 or xz) is checked from its
header before its data is read, and the accepted members are copied into a new, uncompressed tar with normalised
owners and modes: that re-packed file is the only thing the engine sees.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from deployments.models.apps import PROCESS_TYPE_PATTERN

# Files a build reads from the context besides the Dockerfile.
PROCFILE = "Procfile"
_MAX_MEMBERS = 100_000
_MAX_SMALL_FILE = 64 * 1024
PROCESS_TYPE_NAME = re.compile(rf"^{PROCESS_TYPE_PATTERN}$")
_PROCFILE_LINE = re.compile(rf"^({PROCESS_TYPE_PATTERN})\s*:\s*(.+)$")


class UnsafeArchive(ValueError):
    """The archive cannot become a build context; the message says which member and why."""


@dataclass
class ContextSummary:
    """What the sanitized context holds that the build needs to know before it runs."""

    dockerfile: str
    dockerfile_text: str
    procfile: dict[str, str] = field(default_factory=dict)
    members: int = 0
    size_bytes: int = 0


def normalise_path(name: str) -> str:
    """Return the member's path relative to the context root, or raise UnsafeArchive."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
        raise UnsafeArchive(f"archive member {name!r} has an absolute path")
    if "\\" in name:
        name = name.replace("\\", "/")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"archive member {name!r} climbs out of the context with '..'")
    return "/".join(parts)


def _inside(path: str) -> bool:
    """Whether a normalised relative path stays inside the context root."""
    return path != ".." and not path.startswith("../") and not path.startswith("/")


def _check_link(member: tarfile.TarInfo, name: str, seen: set[str]) -> str:
    """Return the normalised link target of a symlink or hard link, or raise UnsafeArchive."""
    target = member.linkname
    if member.issym():
        if target.startswith("/"):
            raise UnsafeArchive(f"symlink {name!r} points to the absolute path {target!r}")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if not _inside(resolved):
            raise UnsafeArchive(f"symlink {name!r} points outside the context ({target!r})")
        return target
    # A hard link names another member of the same archive, which must already be accepted.
    linked = normalise_path(target)
    if linked not in seen:
        raise UnsafeArchive(f"hard link {name!r} points to {target!r}, which is not a file of the archive")
    return linked


def parse_procfile(text: str) -> dict[str, str]:
    """Return {process type: command} from a Procfile; blank lines and comments are skipped."""
    processes: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PROCFILE_LINE.match(line)
        if match:
            processes[match.group(1)] = match.group(2).strip()
    return processes


def sanitize(
    source: Path, dest: Path, *, dockerfile: str = "Dockerfile", max_bytes: int, require_dockerfile: bool = True
) -> ContextSummary:
    """Copy the safe members of the archive `source` into the plain tar `dest` and summarise it.

    Raise UnsafeArchive when a member has an absolute path or `..`, is a device, FIFO or a link leading outside
    the context, when the files add up to more than `max_bytes` once uncompressed, or when the Dockerfile is
    missing. `dest` is removed on failure.
    """
    wanted_dockerfile = normalise_path(dockerfile or "Dockerfile")
    if not wanted_dockerfile:
        raise UnsafeArchive("the Dockerfile path is empty")
    summary = ContextSummary(dockerfile=wanted_dockerfile, dockerfile_text="")
    seen: set[str] = set()
    try:
        # Stream mode ("r|*"): each member is read once, in order, and nothing seeks back into a compressed stream.
        with tarfile.open(source, mode="r|*") as inp, tarfile.open(dest, mode="w", format=tarfile.PAX_FORMAT) as out:
            for member in inp:
                summary.members += 1
                if summary.members > _MAX_MEMBERS:
                    raise UnsafeArchive(f"the archive has more than {_MAX_MEMBERS} members")
                name = normalise_path(member.name)
                if not name:
                    continue  # the root directory entry itself
                if member.ischr() or member.isblk():
                    raise UnsafeArchive(f"archive member {name!r} is a device file")
                if member.isfifo():
                    raise UnsafeArchive(f"archive member {name!r} is a FIFO")
                if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                    raise UnsafeArchive(f"archive member {name!r} has an unsupported type")
                clean = tarfile.TarInfo(name)
                clean.mtime = member.mtime
                clean.uid = clean.gid = 0
                clean.uname = clean.gname = ""
                # Keep permission bits, drop setuid/setgid: nothing in a tenant image needs to gain privileges.
                clean.mode = member.mode & 0o1777
                if member.isdir():
                    clean.type = tarfile.DIRTYPE
                    out.addfile(clean)
                elif member.issym() or member.islnk():
                    clean.type = member.type
                    clean.linkname = _check_link(member, name, seen)
                    out.addfile(clean)
                else:
                    summary.size_bytes += member.size
                    if summary.size_bytes > max_bytes:
                        raise UnsafeArchive(
                            f"the archive holds more than {max_bytes // (1024 * 1024)} MB once uncompressed "
                            f"(the limit of a build context)"
                        )
                    clean.type = tarfile.REGTYPE
                    clean.size = member.size
                    data = inp.extractfile(member)
                    if name in (wanted_dockerfile, PROCFILE) and member.size <= _MAX_SMALL_FILE:
                        content = data.read()
                        _capture(summary, name, content)
                        out.addfile(clean, io.BytesIO(content))
                    else:
                        out.addfile(clean, data)
                seen.add(name)
    except tarfile.TarError as error:
        dest.unlink(missing_ok=True)
        raise UnsafeArchive(f"the source is not a readable tar or tar.gz archive ({error})") from error
    except (UnsafeArchive, OSError, EOFError):
        dest.unlink(missing_ok=True)
        raise
    if not require_dockerfile and wanted_dockerfile not in seen:
        return summary  # no Dockerfile: a buildpack build (services/builds/buildpacks.py)
    if not summary.dockerfile_text and wanted_dockerfile not in seen:
        dest.unlink(missing_ok=True)
        raise UnsafeArchive(f"no Dockerfile: the archive has no file named {wanted_dockerfile!r} at its root")
    if not summary.dockerfile_text:
        dest.unlink(missing_ok=True)
        raise UnsafeArchive(f"{wanted_dockerfile!r} must be a regular file under 64 KB")
    return summary


def _capture(summary: ContextSummary, name: str, content: bytes) -> None:
    text = content.decode("utf-8", errors="replace")
    if name == summary.dockerfile:
        summary.dockerfile_text = text
    if name == PROCFILE:
        summary.procfile = parse_procfile(text)


def declared_build_args(dockerfile_text: str) -> set[str]:
    """Return the names of the ARG instructions of a Dockerfile (line continuations joined)."""
    joined = re.sub(r"\\\r?\n", " ", dockerfile_text)
    names: set[str] = set()
    for line in joined.splitlines():
        match = re.match(r"^\s*ARG\s+(.+)$", line, flags=re.IGNORECASE)
        if not match:
            continue
        for item in match.group(1).split():
            names.add(item.split("=", 1)[0])
    return names


def pack_directory(root: Path, dest: Path, *, exclude: tuple[str, ...] = (".git",)) -> None:
    """Write the tree under `root` (symlinks kept as links, top-level `exclude` names skipped) to the tar `dest`."""
    with tarfile.open(dest, mode="w", format=tarfile.PAX_FORMAT) as out:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if relative.parts[0] in exclude:
                continue
            out.add(path, arcname=str(relative), recursive=False)
