#!/usr/bin/env bash
# Usage: scripts/sample-context.sh NAME DEST
# Copy the sample app NAME (httpd, worker, failing, unhealthy) and /bin/busybox into the
# directory DEST, ready for `docker build DEST`. Prints DEST.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 NAME DEST   (NAME: httpd, worker, failing, unhealthy)" >&2
    exit 2
fi
name=$1
dest=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src="${root}/samples/${name}"
busybox="${BERTH_BUSYBOX:-/bin/busybox}"

if [[ ! -f "${src}/Dockerfile" ]]; then
    echo "$0: unknown sample app '${name}' (no ${src}/Dockerfile)" >&2
    exit 2
fi
if [[ ! -x "${busybox}" ]]; then
    echo "$0: ${busybox} is missing: install Debian's busybox-static (make install)" >&2
    exit 1
fi
mkdir -p "${dest}"
cp -R "${src}/." "${dest}/"
cp "${busybox}" "${dest}/busybox"
echo "${dest}"
