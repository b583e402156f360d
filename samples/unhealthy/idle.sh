#!/bin/sh
# Stay up without ever listening on $PORT: a release whose health check never passes.
trap 'echo "unhealthy: stopping"; exit 0' TERM INT
echo "unhealthy: release ${BERTH_RELEASE:-unknown} running, not listening on port ${PORT:-5000}"
while :; do
    sleep 3600 &
    wait $!
done
