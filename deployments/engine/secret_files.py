"""Secret files: config vars written as files into a container at run time, in RAM only, before it starts.

Each directory that holds secret files is a tmpfs volume (the local driver's `type=tmpfs`). A holder container, a
busybox that only sleeps, keeps the volumes mounted while the files are copied in (`put_archive` into the running
holder) and for as long as the app container lives: the local driver unmounts a tmpfs, and forgets its files, when
no running container uses it any more, and an app container restarted by the engine would otherwise come back to an
empty directory. The app container mounts the same volumes read-only and starts only once the files are there, so
its process never races their writing. Nothing lands in an image layer, the container's writable layer, its
environment, its labels or its inspect: each file is mode 0400, owned by the user the container runs as.

Holders carry `berth.secrets-of=<app container id>`, and volumes `berth.secrets=1`; removing an app container
removes its holder and volumes (`release`), and garbage collection sweeps what a crash left
(`secrets_sweep`).
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import tarfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import docker.errors
import docker.types
from django.conf import settings

from deployments.engine.client import EngineError, EngineSpec, client_for, fakeable, translated
from deployments.engine.labels import MANAGED_LABEL, SECRET_HOLDER_LABEL, SECRET_VOLUME_LABEL

HOLDER_IMAGE = "berth-secret-holder:1"
HOLDER_DOCKERFILE = b'FROM scratch\nCOPY busybox /busybox\nCMD ["/busybox", "sleep", "2147483647"]\n'
SECRET_VOLUME_SUFFIX = "-secrets-"  # noqa: S105 - a name part, not a secret
HOLDER_NANO_CPUS = 100_000_000  # a tenth of a CPU: it only sleeps
HOLDER_HEALTH_INTERVAL_NS = 300 * 1_000_000_000
FILE_MODE = 0o400
# The volume's root: the container's user may reach a file whose name it knows, not list the directory.
DIR_MODE = "0711"
# Directories a secret file may not be mounted over: the volume hides everything the image has there.
# Paths inside the container, not on this machine.
SYSTEM_DIRS = "/ /bin /boot /dev /etc /home /lib /lib64 /proc /root /run /sbin /sys /tmp /usr /usr/bin /usr/lib /var"
RESERVED_DIRS = frozenset([*SYSTEM_DIRS.split(), "/usr/local", "/usr/local/bin", "/usr/sbin"])
# Volumes left by a start that crashed are swept once this old (a start in progress is younger).
SWEEP_AGE_SECONDS = 600


@dataclass(frozen=True)
class Mounted:
    """One tmpfs volume of a container: the directory it appears at and the files (name -> bytes) it holds."""

    directory: str
    volume: str
    files: dict[str, bytes]


def path_problem(path: str) -> str:
    """Why `path` cannot hold a secret file ('' when it can): absolute, normalised, not in a system directory."""
    if not isinstance(path, str) or not path.startswith("/"):
        return "The file path must be absolute, e.g. /run/secrets/db.pem."
    if len(path) > 255 or any(ch in path for ch in "\x00\n\r:,"):
        return "The file path is too long or holds a character a mount cannot take (NUL, newline, ':' or ',')."
    if posixpath.normpath(path) != path or path.endswith("/"):
        return "The file path must be normalised: no '.', '..', doubled or trailing slashes."
    directory = posixpath.dirname(path)
    if directory in RESERVED_DIRS:
        return (
            f"{directory} cannot hold a secret file: its volume would hide the image's own {directory}. "
            "Use a directory of its own, e.g. /run/secrets/."
        )
    return ""


def _by_directory(files: dict[str, bytes]) -> dict[str, dict[str, bytes]]:
    grouped: dict[str, dict[str, bytes]] = {}
    for path, data in sorted(files.items()):
        grouped.setdefault(posixpath.dirname(path), {})[posixpath.basename(path)] = data
    return grouped


def _tmpfs_size(files: dict[str, bytes]) -> str:
    pages = sum(len(data) // 4096 + 1 for data in files.values())
    return f"{max(pages * 4 + 64, 256)}k"


def volumes_create(client, *, name: str, files: dict[str, bytes]) -> list[Mounted]:
    """Create one tmpfs volume per directory of `files` for the container `name` (nothing is mounted yet)."""
    mounted = []
    for number, (directory, entries) in enumerate(_by_directory(files).items()):
        volume = f"{name}{SECRET_VOLUME_SUFFIX}{number}"
        client.api.create_volume(
            name=volume,
            driver="local",
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": f"size={_tmpfs_size(entries)},mode={DIR_MODE}"},
            labels={MANAGED_LABEL: "1", SECRET_VOLUME_LABEL: "1"},
        )
        mounted.append(Mounted(directory=directory, volume=volume, files=entries))
    return mounted


def app_mounts(mounted: list[Mounted]) -> list[docker.types.Mount]:
    """The app container's read-only mounts of its secret volumes (never copied up from the image)."""
    return [
        docker.types.Mount(target=item.directory, source=item.volume, type="volume", read_only=True, no_copy=True)
        for item in mounted
    ]


def _holder_image(client) -> str:
    """The holder image: BERTH_SECRET_HOLDER_IMAGE when set (present or pulled), else built here from busybox."""
    configured = settings.BERTH_SECRET_HOLDER_IMAGE
    image = configured or HOLDER_IMAGE
    try:
        client.images.get(image)
        return image
    except docker.errors.ImageNotFound:
        pass
    if configured:
        client.images.pull(configured)
        return configured
    busybox = Path(settings.BERTH_BUSYBOX)
    if not busybox.is_file():
        raise EngineError(
            f"Secret files need the holder image {HOLDER_IMAGE}, which is built from a static busybox, and "
            f"{busybox} is missing: install Debian's busybox-static, or set BERTH_SECRET_HOLDER_IMAGE."
        )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, "Dockerfile", HOLDER_DOCKERFILE, mode=0o644)
        _add(tar, "busybox", busybox.read_bytes(), mode=0o755)
    buffer.seek(0)
    client.images.build(fileobj=buffer, custom_context=True, tag=image, rm=True, labels={MANAGED_LABEL: "1"})
    return image


def _add(tar: tarfile.TarFile, name: str, data: bytes, *, mode: int, uid: int = 0, gid: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, gid, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _passwd_lookup(client, container_id: str, path: str, name: str) -> tuple[int, int] | None:
    """(id, primary group) of `name` in the image's /etc/passwd or /etc/group; None when absent."""
    try:
        stream, _stat = client.api.get_archive(container_id, path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        text = member.read().decode("utf-8", "replace") if member else ""
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
            group = fields[3] if len(fields) > 3 and fields[3].isdigit() else fields[2]
            return int(fields[2]), int(group)
    return None


def owner_of(client, *, container_id: str, user: str) -> tuple[int, int]:
    """The numeric uid and gid the container runs as (`user` is its Config.User: '', uid, name, uid:gid...)."""
    if not user:
        return 0, 0
    name, _, group = user.partition(":")
    if name.isdigit():
        uid = int(name)
        gid = 0
    else:
        found = _passwd_lookup(client, container_id, "/etc/passwd", name)
        if found is None:
            raise EngineError(f"The image's user {name} is not in its /etc/passwd, so no secret file can be its own.")
        uid, gid = found
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            found = _passwd_lookup(client, container_id, "/etc/group", group)
            if found is None:
                raise EngineError(f"The image's group {group} is not in its /etc/group.")
            gid = found[0]
    return uid, gid


def hold(client, *, container_id: str, name: str, mounted: list[Mounted], user: str) -> str:
    """Start the holder of `container_id`'s volumes and write the files into them; return the holder's id.

    Called between the app container's create and its start.
    """
    uid, gid = owner_of(client, container_id=container_id, user=user)
    holder = client.containers.create(
        _holder_image(client),
        name=f"{name}-secrets",
        labels={MANAGED_LABEL: "1", SECRET_HOLDER_LABEL: container_id},
        mounts=[
            docker.types.Mount(target=f"/s{number}", source=item.volume, type="volume", no_copy=True)
            for number, item in enumerate(mounted)
        ],
        init=True,
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        network_mode="none",
        mem_limit="16m",
        nano_cpus=HOLDER_NANO_CPUS,
        pids_limit=8,
        # Docker's own health check, so docker-bench's 5.27 holds for the holder too; it only proves it runs.
        healthcheck={"test": ["CMD", "/busybox", "true"], "interval": HOLDER_HEALTH_INTERVAL_NS, "retries": 3},
        log_config=docker.types.LogConfig(type="none"),
    )
    holder.start()
    for number, item in enumerate(mounted):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for filename, data in sorted(item.files.items()):
                _add(tar, filename, data, mode=FILE_MODE, uid=uid, gid=gid)
        if not holder.put_archive(f"/s{number}", buffer.getvalue()):
            raise EngineError(f"The secret files of {name} could not be written into {item.directory}.")
    return holder.id


def volumes_of(attrs: dict) -> list[str]:
    """The secret volumes a container's inspection mounts (to remove them with it when no holder is left)."""
    return [
        mount["Name"]
        for mount in attrs.get("Mounts") or []
        if mount.get("Type") == "volume" and SECRET_VOLUME_SUFFIX in mount.get("Name", "")
    ]


def release(api, *, container_id: str, volumes: list[str] = ()) -> None:
    """Remove the holder of `container_id` (removed already) and the volumes it held, or `volumes`; missing ones
    are gone.

    `api` is a docker APIClient (`client.api`).
    """
    names: set[str] = set(volumes)
    for row in api.containers(all=True, filters={"label": f"{SECRET_HOLDER_LABEL}={container_id}"}):
        names |= {mount["Name"] for mount in row.get("Mounts") or [] if mount.get("Type") == "volume"}
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_container(row["Id"], force=True)
    for volume in sorted(names):
        # A volume an exited container still names stays until that one goes (secrets_sweep).
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            api.remove_volume(volume)


@fakeable
def secrets_sweep(engine: EngineSpec, *, volume_age: int = SWEEP_AGE_SECONDS) -> dict[str, int]:
    """Remove holders whose app container is gone, and secret volumes no container uses, `volume_age` s old.

    Returns {"holders": n, "volumes": n} removed.
    """
    removed = {"holders": 0, "volumes": 0}
    with translated(engine.name, "Sweep secret files"):
        api = client_for(engine).api
        holders = api.containers(all=True, filters={"label": SECRET_HOLDER_LABEL})
        if holders:
            alive = {row["Id"] for row in api.containers(all=True, quiet=True)}
            for row in holders:
                if row["Labels"].get(SECRET_HOLDER_LABEL) not in alive:
                    release(api, container_id=row["Labels"][SECRET_HOLDER_LABEL])
                    removed["holders"] += 1
        found = api.volumes(filters={"label": SECRET_VOLUME_LABEL, "dangling": True}).get("Volumes") or []
        cutoff = time.time() - volume_age
        for volume in found:
            if _created(volume.get("CreatedAt", "")) > cutoff:
                continue
            try:
                api.remove_volume(volume["Name"])
                removed["volumes"] += 1
            except docker.errors.APIError:
                continue
    return removed


def _created(value: str) -> float:
    """Seconds since the epoch of a volume's CreatedAt ('2026-12-03T06:30:00Z'); 0 when unreadable."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
