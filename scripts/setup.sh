#!/usr/bin/env bash
# Installs whatever StreamCat needs and is missing on Debian 12: Debian packages,
# the Python virtualenv (.venv) with pinned packages, and the npm packages copied
# into static/vendor/. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# coturn relays WebRTC for viewers behind strict NATs; certbot gets certificates (STREAMCAT_TLS=acme).
DEB_PACKAGES=(redis-server nginx libnginx-mod-rtmp libnginx-mod-stream ffmpeg libsrt1.5-gnutls janus coturn certbot)
if [[ "${STREAMCAT_SETUP_TESTS:-0}" == 1 ]]; then
    # pebble: a local ACME CA for the certificate tests; libnss3-tools: a test CA Chromium trusts.
    DEB_PACKAGES+=(chromium postgresql fonts-dejavu-core iproute2 gcc libc6-dev pebble libnss3-tools)
fi

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "Installing Debian packages: ${missing[*]}"
    SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
requirements=requirements.txt
[[ "${STREAMCAT_SETUP_TESTS:-0}" == 1 ]] && requirements=requirements-dev.txt
stamp=".venv/.installed-$(sha256sum "$requirements" requirements.txt | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
    .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
    touch "$stamp"
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
mkdir -p static/vendor
cp node_modules/hls.js/dist/hls.min.js static/vendor/hls.min.js
cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart.umd.min.js
cp node_modules/amazon-ivs-web-broadcast/dist/amazon-ivs-web-broadcast.js static/vendor/amazon-ivs-web-broadcast.js
# The IVS Player SDK ships CommonJS plus worker assets: bundle it for the browser.
if [[ ! -f static/vendor/amazon-ivs-player/player.js || node_modules/amazon-ivs-player/package.json -nt static/vendor/amazon-ivs-player/player.js ]]; then
    mkdir -p static/vendor/amazon-ivs-player
    cp node_modules/amazon-ivs-player/dist/assets/* static/vendor/amazon-ivs-player/
    npx --no-install esbuild node_modules/amazon-ivs-player/dist/index.js --bundle --format=iife \
        --global-name=IVSPlayer --minify --log-level=warning --outfile=static/vendor/amazon-ivs-player/player.js
fi

.venv/bin/python manage.py migrate --noinput -v 0
.venv/bin/python manage.py collectstatic --noinput -v 0
