#!/bin/sh
# Print numbered lines on stdout: "line 1", "line 2", ...
#   LINES_COUNT     how many lines; 0 (the default) means without end
#   LINES_INTERVAL  seconds between two lines, fractions allowed (default 1; 0 prints as fast as it can)
#   LINES_EXIT      1: exit 0 after the last line; otherwise (default) stay up, idle, so that a
#                   finished worker is not taken for a crashed one and restarted (duplicate lines)
set -u
count="${LINES_COUNT:-0}"
interval="${LINES_INTERVAL:-1}"
trap 'echo "worker: stopping after line $((i - 1))"; exit 0' TERM INT
echo "worker: release ${BERTH_RELEASE:-unknown} starting, count=${count} interval=${interval}" >&2
i=1
while [ "${count}" -eq 0 ] || [ "${i}" -le "${count}" ]; do
    echo "line ${i}"
    i=$((i + 1))
    if [ "${interval}" != "0" ]; then
        sleep "${interval}" &
        wait $!
    fi
done
echo "worker: done after $((i - 1)) lines" >&2
if [ "${LINES_EXIT:-0}" = "1" ]; then
    exit 0
fi
while :; do
    sleep 3600 &
    wait $!
done
