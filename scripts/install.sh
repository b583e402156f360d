#!/usr/bin/env bash
# Install what Berth needs on this machine; idempotent and fast when all is present.
#
#   - Debian packages (docker.io, busybox-static, haproxy, docker-registry, chromium, git, openssl,
#     pebble: the ACME server the certificate tests order from, debootstrap: the Debian stack),
#     through apt-get, only when one of their programs is missing. Without root it prints the
#     apt-get command to run and exits 1.
#   - The virtual environment .venv/ (python3 -m venv) and the Python packages of
#     requirements.txt, reinstalled only when that file changed since the last install
#     (its sha256 is kept in .venv/.berth-requirements.sha256).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${root}"

# "package program..." : the package is needed when any of its programs is missing.
requirements=(
    "docker.io dockerd containerd runc docker-init"
    "busybox-static /bin/busybox"
    "haproxy haproxy"
    "docker-registry docker-registry"
    "chromium chromium"
    "git git"
    "openssl openssl"
    "pebble pebble pebble-challtestsrv"
    "debootstrap debootstrap"
)

have() {
    if [[ $1 == /* ]]; then
        [[ -x $1 ]]
    else
        command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]
    fi
}

missing=()
for line in "${requirements[@]}"; do
    read -r package programs <<<"${line}"
    for program in ${programs}; do
        if ! have "${program}"; then
            missing+=("${package}")
            break
        fi
    done
done
# The busybox copied into images FROM scratch must be the static build, not Debian's "busybox".
if have /bin/busybox && ldd /bin/busybox >/dev/null 2>&1; then
    missing+=("busybox-static")
fi
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && [[ ! -x .venv/bin/python ]]; then
    missing+=("python3-venv")
fi

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install: missing Debian packages: ${missing[*]}" >&2
        echo "install: run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "install: apt-get install -y ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # Berth starts HAProxy itself under BERTH_DATA_DIR; the Debian service must not start (now or at boot) a system
    # haproxy of its own. policy-rc.d answering 101 stops the package's scripts from starting any service.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [[ ! -e ${policy} ]]; then
        printf '#!/bin/sh\nexit 101\n' >"${policy}"
        chmod 755 "${policy}"
        own_policy=1
    fi
    apt-get install -y -q "${missing[@]}" || { ((own_policy)) && rm -f "${policy}"; exit 1; }
    ((own_policy)) && rm -f "${policy}"
    if [[ " ${missing[*]} " == *" haproxy "* ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        systemctl disable --now haproxy >/dev/null 2>&1 || true
    fi
fi

if [[ ! -x .venv/bin/python ]]; then
    echo "install: creating .venv"
    python3 -m venv .venv
fi

if [[ -f requirements.txt ]]; then
    stamp=.venv/.berth-requirements.sha256
    wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
    if [[ ! -f ${stamp} || $(cat "${stamp}") != "${wanted}" ]]; then
        echo "install: pip install -r requirements.txt"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
        echo "${wanted}" >"${stamp}"
    fi
else
    echo "install: no requirements.txt yet, Python packages left as they are" >&2
fi
