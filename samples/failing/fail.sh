#!/bin/sh
# Exit with status 1 at once: a release whose processes cannot start.
echo "failing: release ${BERTH_RELEASE:-unknown} exits with status 1" >&2
exit 1
