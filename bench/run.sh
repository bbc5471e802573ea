#!/usr/bin/env bash
# Runs every benchmark and prints one table per benchmark (also saved to bench/results/latest.md).
# Each starts the real processes on its own ports and runtime folder; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${STREAMCAT_IN_NETNS:-0}" != 1 ]]; then
    STREAMCAT_SETUP_TESTS=1 bash scripts/setup.sh
fi
source scripts/netns.sh
run_in_private_network "$@"
mkdir -p bench/results
{
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME"), $(date -u +%Y-%m-%d)"
    echo
    echo "### Page server time and queries"
    .venv/bin/python -m bench.pages "${BENCH_PAGE_RUNS:-200}"
    echo
    echo "### HLS latency"
    .venv/bin/python -m bench.hls_latency "${BENCH_LATENCY_SECONDS:-30}"
    echo
    echo "### Playback authorisation (private channels)"
    .venv/bin/python -m bench.playback_auth "${BENCH_AUTH_SECONDS:-20}"
    echo
    echo "### Stage (WebRTC) glass-to-glass latency"
    .venv/bin/python -m bench.stage_latency "${BENCH_STAGE_SECONDS:-20}"
    echo
    echo "### Server-side composition"
    .venv/bin/python -m bench.composition "${BENCH_COMPOSITION_SECONDS:-20}"
    echo
    echo "### Transcoding (renditions)"
    .venv/bin/python -m bench.transcode "${BENCH_TRANSCODE_SECONDS:-20}"
    echo
    echo "### Chat fan-out (one room)"
    .venv/bin/python -m bench.chat_fanout "${BENCH_CHAT_SECONDS:-20}"
    echo
    echo "### HTTPS: the certificate read at every handshake"
    .venv/bin/python -m bench.tls_handshake "${BENCH_TLS_SECONDS:-10}"
    echo
    echo "### Faults: each part killed during a broadcast"
    .venv/bin/python -m bench.faults "${BENCH_FAULT_ROUNDS:-3}"
} | tee bench/results/latest.md
