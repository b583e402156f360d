#!/usr/bin/env bash
# Build the small busybox stack (samples/stack-busybox, FROM scratch) as TAG when missing, and register it.
#   scripts/busybox-stack.sh [TAG]     default TAG: berth-stack/busybox:1
# `make run` calls it, so a `git push` of a static site or a Procfile app builds with buildpacks out of the box.
set -euo pipefail
tag=${1:-berth-stack/busybox:1}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! docker image inspect "${tag}" >/dev/null 2>&1; then
    work=$(mktemp -d)
    trap 'rm -rf "${work}"' EXIT
    bash "${root}/scripts/sample-context.sh" stack-busybox "${work}/ctx" >/dev/null
    docker build -q -t "${tag}" "${work}/ctx" >/dev/null
fi
"${root}/.venv/bin/python" "${root}/manage.py" addstack busybox "${tag}"
