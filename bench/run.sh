#!/usr/bin/env bash
# Runs every benchmark and prints one table per benchmark (also saved to bench/results/latest.md).
# Each starts the real processes on its own ports and runtime folder; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMCAT_SETUP_TESTS=1 bash scripts/setup.sh
mkdir -p bench/results
{
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME"), $(date -u +%Y-%m-%d)"
    echo
    echo "### Page server time and queries"
    .venv/bin/python -m bench.pages "${BENCH_PAGE_RUNS:-200}"
    echo
    echo "### HLS latency"
    .venv/bin/python -m bench.hls_latency "${BENCH_LATENCY_SECONDS:-30}"
} | tee bench/results/latest.md
