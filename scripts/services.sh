#!/usr/bin/env bash
# Make sure the services Berth runs and tests against answer; idempotent.
#
# Usage: scripts/services.sh [--extra-hosts N] [--tls-host] [--registry] [--stop-host K]
#
#   (always)          PostgreSQL on 127.0.0.1:5432 (+ database "berth"), Redis on 127.0.0.1:6379,
#                     dockerd on unix:///var/run/docker.sock
#   --extra-hosts N   N more dockerd instances, hosts 2..N+1, each a separate Docker host for
#                     multi-host tests: unix:///run/berth-docker-K.sock (K = 2..N+1)
#   --tls-host        one more dockerd, a Docker host reached only over TLS: tcp://127.0.0.1:2376
#                     with --tlsverify (client certificates required). Its CA, server and client
#                     certificates are made once under $BERTH_DATA_DIR/tls/ (ca.pem, server-cert.pem,
#                     server-key.pem, client-cert.pem, client-key.pem)
#   --registry        Docker Distribution (Debian's docker-registry) on 127.0.0.1:5000
#   --stop-host K     stop extra host K (to test a host that went down) and exit; run the
#                     script again with --extra-hosts to bring it back
#
# Logs and state go under $BERTH_DATA_DIR (default ./var): log/dockerd.log, log/dockerd-K.log,
# log/dockerd-tls.log, log/registry.log, registry/config.yml, registry/data/, tls/.
set -euo pipefail

export PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${root}"

args="$*"
extra_hosts=0
registry=0
tls_host=0
stop_host=""
while (($#)); do
    case $1 in
        --extra-hosts) extra_hosts=${2:?--extra-hosts needs a number}; shift 2 ;;
        --extra-hosts=*) extra_hosts=${1#*=}; shift ;;
        --registry) registry=1; shift ;;
        --stop-host) stop_host=${2:?--stop-host needs a host number}; shift 2 ;;
        --stop-host=*) stop_host=${1#*=}; shift ;;
        --tls-host) tls_host=1; shift ;;
        -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "services: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if ! [[ ${extra_hosts} =~ ^[0-8]$ ]]; then
    echo "services: --extra-hosts takes 0 to 8 (hosts 2..9 have subnets 10.22-10.29)" >&2
    exit 2
fi

data_dir=${BERTH_DATA_DIR:-var}
mkdir -p "${data_dir}/log"
data_dir=$(cd "${data_dir}" && pwd)
log_dir="${data_dir}/log"

# One run at a time (parallel pytest workers, make -j): two would start two daemons at once.
# The daemons started below must not inherit this descriptor, or they would hold the lock.
if touch "${data_dir}/services.lock" 2>/dev/null; then
    exec 9>>"${data_dir}/services.lock"
    flock 9
fi

say() { echo "services: $*"; }
die() { echo "services: $*" >&2; exit 1; }
need_root() {
    if [[ $(id -u) -ne 0 ]]; then
        die "$1 is not running and starting it needs root: run 'sudo bash scripts/services.sh ${args}' or start it yourself"
    fi
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s until it succeeds.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.2
    done
}

http_ok() {
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null
}

# live_pid FILE: print the pid in FILE when that process runs (a zombie does not count).
live_pid() {
    local pid state
    pid=$(cat "$1" 2>/dev/null) || return 1
    state=$(ps -o stat= -p "${pid}" 2>/dev/null) || return 1
    [[ -n ${state} && ${state} != Z* ]] && echo "${pid}"
}

stop_extra_host() {
    local k=$1 pid
    if pid=$(live_pid "/run/berth-docker-${k}.pid"); then
        say "stopping extra host ${k} (dockerd pid ${pid})"
        kill "${pid}"
        wait_for 30 "dockerd ${k} exit" bash -c "! ps -o stat= -p ${pid} | grep -qv '^Z'" || kill -9 "${pid}"
    else
        say "extra host ${k} is not running"
    fi
}
if [[ -n ${stop_host} ]]; then
    stop_extra_host "${stop_host}"
    exit 0
fi

# --- PostgreSQL -----------------------------------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_up; then
    need_root PostgreSQL
    version=$(ls /etc/postgresql | sort -V | tail -1)
    say "starting PostgreSQL ${version}"
    pg_ctlcluster --skip-systemctl-redirect "${version}" main start 9>&-
    wait_for 30 PostgreSQL pg_up || die "PostgreSQL does not answer on 127.0.0.1:5432"
fi
if command -v psql >/dev/null 2>&1 &&
    [[ $(psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'berth'") != 1 ]]; then
    say "creating database berth"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE berth"
fi

# --- Redis ----------------------------------------------------------------------------------
redis_up() { [[ $(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) == PONG ]]; }
if ! redis_up; then
    need_root Redis
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log 9>&-
    wait_for 30 Redis redis_up || die "Redis does not answer on 127.0.0.1:6379"
fi

# --- Docker engines -------------------------------------------------------------------------
tls_dir="${data_dir}/tls"
tls_port=2376
tls_url="tcp://127.0.0.1:${tls_port}"
# An engine on tcp:// is only ever reached with the client certificate made below.
docker_up() {
    if [[ $1 == tcp://* ]]; then
        docker --tlsverify --tlscacert "${tls_dir}/ca.pem" --tlscert "${tls_dir}/client-cert.pem" \
            --tlskey "${tls_dir}/client-key.pem" -H "$1" info >/dev/null 2>&1
    else
        docker -H "$1" info >/dev/null 2>&1
    fi
}

# start_dockerd SOCKET_URL LOG PIDFILE EXEC_ROOT ARGS...: start dockerd in the background
# unless SOCKET_URL answers.
start_dockerd() {
    local url=$1 log=$2 pidfile=$3 exec_root=$4
    shift 4
    if docker_up "${url}"; then
        return 0
    fi
    if [[ $(id -u) -ne 0 && -S ${url#unix://} ]]; then
        die "dockerd at ${url} does not answer this user: $(docker -H "${url}" info 2>&1 | tail -n 1)"
    fi
    need_root "dockerd (${url})"
    if pid=$(live_pid "${pidfile}"); then
        say "dockerd ${pid} for ${url} is running but does not answer yet; waiting"
    else
        # A daemon killed with SIGKILL leaves its pidfiles behind, and its pid may linger as a
        # zombie: dockerd would then refuse to start, or wait for a containerd that is gone.
        rm -f "${pidfile}" "${exec_root}/containerd/containerd.pid"
        say "starting dockerd on ${url} (log ${log})"
        # setsid + nohup: the daemon outlives this script, make and pytest; its output goes to
        # the log only, so a caller reading our stdout through a pipe is not kept waiting.
        nohup setsid dockerd --pidfile "${pidfile}" --exec-root "${exec_root}" "$@" \
            </dev/null >>"${log}" 2>&1 9>&- &
    fi
    if ! wait_for 60 dockerd docker_up "${url}"; then
        tail -n 30 "${log}" >&2
        die "dockerd on ${url} did not answer 'docker info' within 60 s (log ${log})"
    fi
}

# Docker's default pools hold about 30 networks for all engines of the machine, and Berth makes
# one network per tenant per host: the main engine takes /24s from a pool of its own (256).
# --bip keeps docker0 where it was, rather than in that pool.
start_dockerd unix:///var/run/docker.sock "${log_dir}/dockerd.log" /var/run/docker.pid /var/run/docker \
    --bip 172.17.0.1/16 \
    --default-address-pool base=10.200.0.0/16,size=24

# Host K is a separate Docker host on this machine: its own socket, data, exec root, pidfile,
# containerd (dockerd starts one under its exec root) and bridge. Its bridge is made here,
# because --bridge=none would delete the docker0 of the main engine. It runs with
# --iptables=false: a dockerd with iptables flushes the DOCKER chains of the other engine
# when it starts. Published ports still answer on the host through docker-proxy.
# No --default-address-pool: with it, a restarted dockerd deletes the interface "docker0",
# whoever owns it (removeDefaultBridgeInterface in dockerd 20.10). Tenant networks of all
# hosts come from Docker's default pools (172.18-31/16, 192.168/20s), about 30 networks; every
# engine skips subnets already routed on the machine.
for ((k = 2; k <= extra_hosts + 1; k++)); do
    bridge=berthbr-${k}
    if ! ip link show "${bridge}" >/dev/null 2>&1; then
        need_root "bridge ${bridge}"
        ip link add "${bridge}" type bridge
    fi
    if ! ip -4 addr show dev "${bridge}" | grep -q "10\.2${k}\.0\.1/16"; then
        ip addr add "10.2${k}.0.1/16" dev "${bridge}"
    fi
    ip link set "${bridge}" up
    start_dockerd "unix:///run/berth-docker-${k}.sock" "${log_dir}/dockerd-${k}.log" \
        "/run/berth-docker-${k}.pid" "/run/berth-docker-${k}" \
        -H "unix:///run/berth-docker-${k}.sock" \
        --data-root "/var/lib/berth-docker-${k}" \
        --bridge "${bridge}" \
        --iptables=false \
        --ip-masq=false \
        --containerd-namespace "berth-docker-${k}" \
        --containerd-plugins-namespace "berth-docker-${k}-plugins"
done

# The TLS host: like host K, but its API listens only on TLS tcp on loopback and asks every
# client for a certificate signed by its CA (--tlsverify), as a remote Docker host would.
# make_certificate NAME SUBJECT EXTENSIONS: NAME-key.pem and NAME-cert.pem, signed by ca.pem.
make_certificate() {
    local name=$1 subject=$2 extensions=$3
    openssl req -new -newkey rsa:2048 -nodes -subj "${subject}" \
        -keyout "${tls_dir}/${name}-key.pem" -out "${tls_dir}/${name}.csr" 2>/dev/null
    openssl x509 -req -days 3650 -sha256 -in "${tls_dir}/${name}.csr" \
        -CA "${tls_dir}/ca.pem" -CAkey "${tls_dir}/ca-key.pem" -CAcreateserial \
        -extfile <(printf '%s\n' "${extensions}") -out "${tls_dir}/${name}-cert.pem" 2>/dev/null
    rm -f "${tls_dir}/${name}.csr"
}
if ((tls_host)); then
    if ! [[ -s ${tls_dir}/ca.pem && -s ${tls_dir}/server-cert.pem && -s ${tls_dir}/client-cert.pem ]]; then
        command -v openssl >/dev/null 2>&1 || die "openssl is missing: install Debian's openssl"
        say "making the TLS host's CA, server and client certificates in ${tls_dir}"
        rm -rf "${tls_dir}"
        mkdir -p -m 0700 "${tls_dir}"
        (
            umask 077
            openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -sha256 -subj "/CN=Berth test engines CA" \
                -keyout "${tls_dir}/ca-key.pem" -out "${tls_dir}/ca.pem" 2>/dev/null
            make_certificate server "/CN=localhost" \
                "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
            make_certificate client "/CN=berth" \
                "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
        ) || die "openssl could not make the certificates in ${tls_dir}"
    fi
    if pid=$(live_pid /run/berth-docker-tls.pid) && ! docker_up "${tls_url}"; then
        if ! ps -o args= -p "${pid}" | grep -qF -- "--tlscacert ${tls_dir}/ca.pem"; then
            # A test host: another checkout's run started it with its own certificates. Take it over.
            say "restarting the TLS host (dockerd ${pid}) with the certificates in ${tls_dir}"
        else
            # Same files, but made again since it started: it still holds the old CA.
            say "restarting the TLS host (dockerd ${pid}): its certificates were made again"
        fi
        kill "${pid}"
        wait_for 30 "dockerd tls exit" bash -c "! ps -o stat= -p ${pid} | grep -qv '^Z'" || kill -9 "${pid}"
    fi
    bridge=berthbr-tls
    if ! ip link show "${bridge}" >/dev/null 2>&1; then
        need_root "bridge ${bridge}"
        ip link add "${bridge}" type bridge
    fi
    if ! ip -4 addr show dev "${bridge}" | grep -q "10\.30\.0\.1/16"; then
        ip addr add 10.30.0.1/16 dev "${bridge}"
    fi
    ip link set "${bridge}" up
    start_dockerd "${tls_url}" "${log_dir}/dockerd-tls.log" /run/berth-docker-tls.pid /run/berth-docker-tls \
        -H "${tls_url}" \
        --tlsverify \
        --tlscacert "${tls_dir}/ca.pem" \
        --tlscert "${tls_dir}/server-cert.pem" \
        --tlskey "${tls_dir}/server-key.pem" \
        --data-root /var/lib/berth-docker-tls \
        --bridge "${bridge}" \
        --iptables=false \
        --ip-masq=false \
        --containerd-namespace berth-docker-tls \
        --containerd-plugins-namespace berth-docker-tls-plugins
fi

# --- Registry -------------------------------------------------------------------------------
if ((registry)); then
    registry_up() { http_ok http://127.0.0.1:5000/v2/; }
    if ! registry_up; then
        command -v docker-registry >/dev/null 2>&1 || die "docker-registry is missing: run 'make install'"
        mkdir -p "${data_dir}/registry/data"
        config="${data_dir}/registry/config.yml"
        cat >"${config}" <<EOF
# Written by scripts/services.sh; local Docker Distribution for Berth's hosts and tests.
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: ${data_dir}/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
  headers:
    X-Content-Type-Options: [nosniff]
EOF
        say "starting docker-registry on 127.0.0.1:5000 (log ${log_dir}/registry.log)"
        nohup setsid docker-registry serve "${config}" </dev/null >>"${log_dir}/registry.log" 2>&1 9>&- &
        echo $! >"${data_dir}/registry/registry.pid"
        if ! wait_for 30 registry registry_up; then
            tail -n 20 "${log_dir}/registry.log" >&2
            die "docker-registry did not answer on http://127.0.0.1:5000/v2/ within 30 s"
        fi
    fi
fi

ready="postgres 127.0.0.1:5432, redis 127.0.0.1:6379, docker unix:///var/run/docker.sock"
for ((k = 2; k <= extra_hosts + 1; k++)); do
    ready+=", unix:///run/berth-docker-${k}.sock"
done
if ((tls_host)); then
    ready+=", ${tls_url} (TLS, certificates in ${tls_dir})"
fi
if ((registry)); then
    ready+=", registry 127.0.0.1:5000"
fi
say "ready: ${ready}"
