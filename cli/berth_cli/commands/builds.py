"""deploy (upload a context, an image or a git ref, then follow the build), builds and builds:cancel."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from berth_cli import archive, output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import ApiError, Client, multipart, quote
from berth_cli.wait import release_wait_or_fail

FINISHED = {"succeeded", "failed", "cancelled", "error"}
BUILD_COLUMNS = [
    ("build", lambda b: build_id(b)),
    ("status", "status"),
    ("source", "source_kind"),
    ("image", "image"),
    ("created", lambda b: output.when(b.get("created_at"))),
]
BUILD_FIELDS = [
    ("build", lambda b: build_id(b)),
    ("by", "created_by"),
    "status",
    ("cancelled by", "cancelled_by"),
    ("source", "source_kind"),
    "image",
    "digest",
    ("size", "size_bytes"),
    "layers",
    ("processes", "process_types"),
    "warnings",
    "error",
    ("created", lambda b: output.when(b.get("created_at"))),
    ("finished", lambda b: output.when(b.get("finished_at"))),
]


def build_id(build: dict):
    """The build's key in its URL: its per-app `number` (`id` when the answer has no number)."""
    return build.get("number", build.get("id"))


def register(verbs, parents) -> None:
    common = [parents.json, parents.tenant, parents.app]
    p = verbs.add_parser("deploy", parents=common, help="build DIR (default .) or an image, and follow the build")
    p.add_argument("directory", nargs="?", default=".", metavar="DIR")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--image", metavar="REF", help="deploy an existing image instead of building DIR")
    source.add_argument("--git", metavar="URL", help="build a git repository instead of DIR")
    p.add_argument("--ref", default="", help="the git ref to build (with --git; default: the server's, main)")
    p.add_argument("--dockerfile", default="Dockerfile", help="the Dockerfile's path inside DIR")
    p.add_argument("--no-follow", action="store_true", help="return once the build is accepted")
    p.add_argument("--wait", action="store_true", help="then wait until its release is rolled out")
    p.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    p.set_defaults(func=run_deploy)
    p = verbs.add_parser("builds", parents=common, help="list an app's builds")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("builds:info", parents=common, help="show a build and its log")
    p.add_argument("id")
    p.set_defaults(func=run_info)
    p = verbs.add_parser("builds:cancel", parents=common, help="cancel a queued or running build")
    p.add_argument("id")
    p.set_defaults(func=run_cancel)


def _start(args, client: Client, path: str) -> dict:
    if args.image:
        return client.post(path, {"image": args.image})
    if args.git:
        return client.post(path, {"git": {"url": args.git, **({"ref": args.ref} if args.ref else {})}})
    directory = Path(args.directory)
    if not directory.is_dir():
        raise UsageError(f"{args.directory} is not a directory")
    if not (directory / args.dockerfile).is_file():
        raise UsageError(f"{directory / args.dockerfile} does not exist: a build context needs a Dockerfile")
    tarball, count = archive.pack(directory)
    output.note(f"Uploading {count} files ({len(tarball) / 1024:.1f} KiB) from {directory.resolve()}...")
    fields = {"dockerfile": args.dockerfile} if args.dockerfile != "Dockerfile" else {}
    body, content_type = multipart(fields, {"source": ("source.tar.gz", tarball, "application/gzip")})
    return client.request("POST", path, data=body, content_type=content_type, timeout=600)


def follow(client: Client, path: str, build: dict, *, interval: float, stream=None) -> dict:
    """Poll the build until it finishes, writing each new part of its log; return the last answer."""
    stream = stream or sys.stdout
    printed = 0
    while True:
        log = build.get("log") or ""
        if len(log) > printed:
            stream.write(log[printed:])
            stream.flush()
            printed = len(log)
        if build.get("status") in FINISHED:
            if printed and not log.endswith("\n"):
                stream.write("\n")
            return build
        time.sleep(interval)
        build = client.get(f"{path}{quote(build_id(build))}/")


def run_deploy(args, client: Client) -> int:
    path = app_path(args.tenant, args.app) + "builds/"
    build = _start(args, client, path)
    if args.no_follow:
        if args.json:
            output.emit_json(build)
        else:
            print(f"Build {build_id(build)} is {build.get('status', 'pending')}.")
        return 0
    if not args.json:
        output.note(f"Build {build_id(build)} started.")
    build = follow(client, path, build, interval=args.interval, stream=sys.stderr if args.json else sys.stdout)
    if args.json:
        output.emit_json(build)
    status = build.get("status")
    if status != "succeeded":
        reason = f": {build['error']}" if build.get("error") else ""
        sys.stderr.write(f"error: build {build_id(build)} {status}{reason}\n")
        return 1
    release = _release_of(client, args, build)
    if not args.json:
        suffix = f"; released v{release}" if release else ""
        image = f" Image {build['image']}" if build.get("image") else ""
        print(f"Build {build_id(build)} succeeded{suffix}.{image}")
    if args.wait:
        if not release:
            raise ApiError(f"build {build_id(build)} created no release to wait for.", status=200)
        release_wait_or_fail(client, tenant=args.tenant, app=args.app, version=release, interval=args.interval)
    return 0


def _release_of(client: Client, args, build: dict) -> int | None:
    """The version the build released: named in the answer, else the newest release when it is this build's."""
    release = build.get("release")
    if isinstance(release, dict):
        release = release.get("version")
    if isinstance(release, int):
        return release
    try:
        newest = client.get(app_path(args.tenant, args.app) + "releases/", query={"limit": 1})
    except ApiError:
        return None
    results = newest.get("results") if isinstance(newest, dict) else None
    if results and results[0].get("build") == build.get("number"):
        return results[0].get("version")
    return None


def run_list(args, client: Client) -> int:
    builds = client.list(app_path(args.tenant, args.app) + "builds/")
    output.listing(builds, BUILD_COLUMNS, empty=f"{args.app} has no builds.", as_json=args.json)
    return 0


def run_info(args, client: Client) -> int:
    build = client.get(f"{app_path(args.tenant, args.app)}builds/{quote(args.id)}/")
    if args.json:
        output.emit_json(build)
        return 0
    output.fields(build, BUILD_FIELDS)
    if build.get("log"):
        print()
        sys.stdout.write(build["log"] if build["log"].endswith("\n") else build["log"] + "\n")
    return 0


def run_cancel(args, client: Client) -> int:
    build = client.post(f"{app_path(args.tenant, args.app)}builds/{quote(args.id)}/cancel/")
    if args.json:
        output.emit_json(build)
    else:
        print(f"Build {build_id(build)} cancelled.")
    return 0
