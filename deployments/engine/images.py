"""Images on an engine: build with a live log, tag, push to and pull from the registry, inspect, history, export.

Builds use the Engine API's /build directly (the classic builder, what every supported dockerd offers) so that the
log streams line by line and the build can be cut off at its time limit or when it is cancelled: closing the
connection makes dockerd cancel the build and kill its running step, and the image is never tagged.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker.errors
from docker.utils.json_stream import json_stream

from deployments.engine.client import EngineError, EngineSpec, client_for, fakeable, translated

PUSH_TIMEOUT = 600
# How often the watch of a running build looks at its time limit and its stop event.
_WATCH_SECONDS = 0.1


class BuildError(EngineError):
    """The build itself failed (bad Dockerfile, failing step, time limit): `message` is what the user reads."""


class BuildStopped(BuildError):
    """The build was stopped on request (its `stop` event was set) before it ended."""


def _cut(response) -> None:
    """Shut the socket of a streaming response down, which unblocks its reader and makes dockerd cancel."""
    with contextlib.suppress(Exception):
        sock = response.raw._fp.fp.raw._sock
        sock.shutdown(socket.SHUT_RDWR)


def build(
    spec: EngineSpec,
    *,
    context: Path,
    dockerfile: str,
    tag: str,
    buildargs: dict[str, str],
    memory_mb: int,
    timeout: float,
    on_line: Callable[[str], None],
    stop: threading.Event | None = None,
    nocache: bool = False,
    network: str = "",
) -> str:
    """Build the plain tar `context` into `tag` on `spec`, calling `on_line` with each log line; return the image id.

    No label is added: the classic builder turns each label into one more step (a container and a commit, about a
    third of a second each), and the image's name already says whose it is.

    Raise BuildError with the engine's reason when a step fails, the Dockerfile is invalid or the build takes more
    than `timeout` seconds, BuildStopped when `stop` is set before the build ends (the engine interrupts the running
    step and tags nothing), and EngineError when the engine cannot be reached. `nocache` runs every step again;
    `network` names the network of the RUN steps ("none": no network at all), the engine's default when empty.
    """
    api = client_for(spec, timeout=int(timeout) + 30).api
    params = {
        "t": tag,
        "dockerfile": dockerfile,
        "rm": "1",
        "forcerm": "1",
        "pull": "0",
        "q": "0",
        "memory": memory_mb * 1024 * 1024,
        # Equal to memory: no swap on top of the limit.
        "memswap": memory_mb * 1024 * 1024,
        "buildargs": json.dumps(buildargs),
    }
    if nocache:
        params["nocache"] = "1"
    if network:
        params["networkmode"] = network
    expired = threading.Event()
    stopped = threading.Event()
    ended = threading.Event()
    stop = stop or threading.Event()
    image_id = ""
    error = ""
    with translated(spec.name, "Build"), context.open("rb") as body:
        response = api._post(
            api._url("/build"),
            data=body,
            params=params,
            headers={"Content-Type": "application/x-tar"},
            stream=True,
            timeout=int(timeout) + 30,
        )
        api._raise_for_status(response)

        def watch() -> None:
            # One thread ends the build at its time limit or as soon as `stop` is set, whichever comes first.
            deadline = time.monotonic() + timeout
            while not ended.wait(_WATCH_SECONDS):
                if stop.is_set() or time.monotonic() >= deadline:
                    (stopped if stop.is_set() else expired).set()
                    _cut(response)
                    return

        watcher = threading.Thread(target=watch, name="build-watch", daemon=True)
        watcher.start()
        try:
            for chunk in json_stream(api._stream_helper(response, decode=False)):
                if "stream" in chunk:
                    for line in chunk["stream"].splitlines():
                        if line.strip():
                            on_line(line.rstrip())
                elif "status" in chunk:
                    on_line(f"{chunk['status']} {chunk.get('progress', '')}".rstrip())
                if "aux" in chunk and isinstance(chunk["aux"], dict) and chunk["aux"].get("ID"):
                    image_id = chunk["aux"]["ID"]
                if "error" in chunk:
                    error = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                    on_line(f"ERROR: {error.strip()}")
        except Exception as exc:
            if not (expired.is_set() or stopped.is_set()):
                raise EngineError(f"Build: the connection to {spec.name} broke ({exc.__class__.__name__})") from exc
        finally:
            ended.set()
            watcher.join()
            response.close()
    if stopped.is_set():
        raise BuildStopped("the build was stopped before it ended", host=spec.name)
    if expired.is_set():
        raise BuildError(f"the build passed its time limit of {int(timeout)} seconds and was stopped", host=spec.name)
    if error:
        raise BuildError(error.strip(), host=spec.name)
    if not image_id:
        raise BuildError("the engine ended the build without an image", host=spec.name)
    return image_id


def names_registry(image: str) -> bool:
    """Say whether `image` names a registry to pull it from (`host.name/...`, `host:port/...`, `localhost/...`)."""
    first = image.split("/", 1)[0]
    return "/" in image and ("." in first or ":" in first or first == "localhost")


@fakeable
def image_reachable(spec: EngineSpec, *, image: str) -> str:
    """Return why the host cannot get `image` ('' when it can: the image is there, or its registry has it).

    Asks the engine itself (the image's inspection, else the registry's manifest through the engine), so a host
    that cannot reach the registry is found out here, not when a container fails to start on it.
    """
    with translated(spec.name, f"Image {image}"):
        client = client_for(spec)
        try:
            client.api.inspect_image(image)
            return ""
        except docker.errors.ImageNotFound:
            pass
        if not names_registry(image):
            return (
                f"image {image} is not on {spec.name} and its name names no registry to pull it from "
                "(set BERTH_REGISTRY so builds are pushed where every host can pull them)"
            )
        try:
            client.api.inspect_distribution(image)
        except docker.errors.APIError as exc:
            return f"image {image} is not on {spec.name} and its registry did not give it: {exc.explanation or exc}"
        return ""


def tag(spec: EngineSpec, *, image: str, repository: str, tag: str) -> None:
    """Give `image` the name `repository:tag`."""
    with translated(spec.name, f"Tag {repository}:{tag}"):
        client_for(spec).api.tag(image, repository, tag=tag, force=True)


def _follow(stream: Iterator[dict], on_line: Callable[[str], None] | None) -> dict:
    """Read a push/pull progress stream; return its last aux record, raise EngineError on an error record."""
    aux: dict = {}
    for chunk in stream:
        if "error" in chunk:
            raise EngineError(chunk.get("errorDetail", {}).get("message") or chunk["error"])
        if isinstance(chunk.get("aux"), dict):
            aux = chunk["aux"]
        if on_line is not None and "status" in chunk and "progress" not in chunk:
            on_line(f"{chunk.get('id', '')} {chunk['status']}".strip())
    return aux


def push(spec: EngineSpec, *, repository: str, tag: str, on_line: Callable[[str], None] | None = None) -> str:
    """Push `repository:tag` to its registry and return the manifest digest (sha256:...)."""
    with translated(spec.name, f"Push {repository}:{tag}"):
        api = client_for(spec, timeout=PUSH_TIMEOUT).api
        try:
            aux = _follow(api.push(repository, tag=tag, stream=True, decode=True), on_line)
        except EngineError as error:
            raise EngineError(
                f"Push {repository}:{tag} failed on {spec.name}: {error.message}", host=spec.name
            ) from None
    digest = aux.get("Digest", "")
    if not digest:
        raise EngineError(f"Push {repository}:{tag}: the registry returned no digest", host=spec.name)
    return digest


def pull(spec: EngineSpec, *, reference: str, on_line: Callable[[str], None] | None = None) -> None:
    """Pull `reference` (repository:tag or repository@digest) onto `spec`."""
    repository, _, rest = reference.partition("@")
    if rest:
        tag_or_digest = rest
    else:
        repository, tag_or_digest = _split_tag(reference)
    with translated(spec.name, f"Pull {reference}"):
        api = client_for(spec, timeout=PUSH_TIMEOUT).api
        try:
            _follow(api.pull(repository, tag=tag_or_digest, stream=True, decode=True), on_line)
        except EngineError as error:
            raise EngineError(f"Pull {reference} failed on {spec.name}: {error.message}", host=spec.name) from None


def _split_tag(reference: str) -> tuple[str, str]:
    """Split `repo[:tag]` where the repository may carry a registry port (127.0.0.1:5000/a/b:3)."""
    head, _, last = reference.rpartition("/")
    if ":" in last:
        name, _, tag_ = last.partition(":")
        return (f"{head}/{name}" if head else name), tag_
    return reference, "latest"


def exists(spec: EngineSpec, reference: str) -> bool:
    """Whether the engine holds the image `reference`."""
    try:
        inspect(spec, reference)
    except EngineError as error:
        if error.not_found:
            return False
        raise
    return True


def inspect(spec: EngineSpec, reference: str) -> dict:
    """Return the engine's inspection of an image (Id, RepoDigests, Size, RootFS.Layers, Config.Labels...)."""
    with translated(spec.name, f"Inspect image {reference}"):
        return client_for(spec).api.inspect_image(reference)


def history(spec: EngineSpec, reference: str) -> list[dict]:
    """Return the layer history of an image (CreatedBy, Size, Comment per step), newest first."""
    with translated(spec.name, f"History of {reference}"):
        return client_for(spec).api.history(reference)


def export(spec: EngineSpec, reference: str) -> Iterator[bytes]:
    """Stream `docker save` of an image: a tar of its config, manifest and every layer."""
    with translated(spec.name, f"Save {reference}"):
        yield from client_for(spec, timeout=PUSH_TIMEOUT).api.get_image(reference)


def remove(spec: EngineSpec, reference: str) -> None:
    """Remove one name of an image (the layers go when no name is left); a missing image is not an error."""
    try:
        with translated(spec.name, f"Remove image {reference}"):
            client_for(spec).api.remove_image(reference, noprune=False)
    except EngineError as error:
        if not error.not_found:
            raise


def copy_out(spec: EngineSpec, *, image: str, path: str, dest: Path, max_bytes: int) -> bool:
    """Write `path` of `image` (a tar, as the Engine API's archive endpoint gives it) to `dest`; False past max_bytes.

    The container is created, never started, and removed afterwards. Past `max_bytes` nothing is kept.
    """
    with translated(spec.name, f"Copy {path} out of {image}"):
        client = client_for(spec, timeout=120)
        container = client.containers.create(image, command=["/nonexistent"], network_disabled=True)
        try:
            stream, _ = container.get_archive(path)
            written = 0
            with dest.open("wb") as out:
                for chunk in stream:
                    written += len(chunk)
                    if written > max_bytes:
                        break
                    out.write(chunk)
            if written > max_bytes:
                dest.unlink(missing_ok=True)
                return False
            return True
        finally:
            container.remove(force=True)


def run_once(spec: EngineSpec, *, image: str, command: list[str] | None, name: str, labels: dict[str, str]) -> str:
    """Run a short-lived container of `image` to completion and return its output (used to prove an image runs)."""
    with translated(spec.name, f"Run {image}"):
        client = client_for(spec, timeout=120)
        container = client.containers.run(
            image, command, name=name, labels=labels, detach=True, cap_drop=["ALL"], init=True
        )
        try:
            container.wait(timeout=60)
            return container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)
