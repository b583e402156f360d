#!/usr/bin/env bash
# Build the Debian bookworm stack (build image = run image) with debootstrap and `docker import`, python3 included.
#
#   scripts/debian-stack.sh [TAG]        default TAG: berth-stack/bookworm:1
#
# The root filesystem is kept as a tarball in $BERTH_STACK_CACHE (default /var/cache/berth/stack-bookworm.tar.gz),
# so a machine debootstraps once: later runs only import it (seconds), and do nothing at all when the image exists.
# The mirror is $BERTH_DEBIAN_MIRROR (default http://deb.debian.org/debian). Needs root (debootstrap) and dockerd.
# Register the result:  manage.py addstack bookworm berth-stack/bookworm:1 --default
set -euo pipefail

tag=${1:-berth-stack/bookworm:1}
cache=${BERTH_STACK_CACHE:-/var/cache/berth/stack-bookworm.tar.gz}
mirror=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=python3,python3-venv,python3-pip,ca-certificates,busybox

if docker image inspect "${tag}" >/dev/null 2>&1; then
    echo "debian-stack: ${tag} exists"
    exit 0
fi
if [[ ! -s ${cache} ]]; then
    command -v debootstrap >/dev/null || { echo "debian-stack: apt-get install -y debootstrap" >&2; exit 1; }
    [[ $(id -u) == 0 ]] || { echo "debian-stack: debootstrap needs root" >&2; exit 1; }
    work=$(mktemp -d /var/tmp/berth-stack.XXXXXX)
    trap 'rm -rf "${work}"' EXIT
    started=$(date +%s)
    debootstrap --variant=minbase --include="${packages}" bookworm "${work}/rootfs" "${mirror}" >"${work}/log" 2>&1 || {
        tail -20 "${work}/log" >&2
        exit 1
    }
    # No package cache or lists in the image; a world-writable /tmp and an /app for the compiled app.
    rm -rf "${work}/rootfs/var/cache/apt/archives/"*.deb "${work}/rootfs/var/lib/apt/lists/"*
    mkdir -p "${work}/rootfs/app"
    chmod 1777 "${work}/rootfs/tmp"
    mkdir -p "$(dirname "${cache}")"
    tar -C "${work}/rootfs" --numeric-owner -czf "${cache}.part" .
    mv "${cache}.part" "${cache}"
    echo "debian-stack: debootstrap took $(($(date +%s) - started)) s; root filesystem kept in ${cache}"
fi
started=$(date +%s)
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    "${cache}" "${tag}" >/dev/null
echo "debian-stack: imported ${tag} in $(($(date +%s) - started)) s"
