#!/bin/sh
# Render the page from the environment, then serve it on $PORT.
# The page names the release, so a test can tell which release answered. The root filesystem is read-only
# and the user unprivileged, so the site is rendered into the tmpfs /tmp.
set -eu
port="${PORT:-5000}"
site=/tmp/www
mkdir -p "${site}"
cp -R /www/. "${site}/"
# /tmp is mounted noexec: the CGI scripts run from the image's read-only /www.
rm -rf "${site}/cgi-bin"
ln -s /www/cgi-bin "${site}/cgi-bin"
cat > "${site}/index.html" <<HTML
<!doctype html>
<title>berth sample httpd</title>
<h1>berth sample httpd</h1>
<p>release: <span id="release">${BERTH_RELEASE:-unknown}</span></p>
<p>greeting: <span id="greeting">${GREETING:-hello}</span></p>
<p>host: <span id="host">$(hostname)</span></p>
HTML
printf '%s\n' "${BERTH_RELEASE:-unknown}" > "${site}/release.txt"
echo "httpd: release ${BERTH_RELEASE:-unknown} listening on port ${port}"
httpd -f -p "${port}" -h "${site}" &
child=$!
# A trap makes SIGTERM stop the server promptly even when this shell is PID 1 (no --init).
trap 'echo "httpd: stopping"; kill "${child}" 2>/dev/null; wait "${child}"; exit 0' TERM INT
wait "${child}"
