#!/usr/bin/env bash
# Save everything StreamCat would lose into one archive (README, "Backup and restore").
# Safe while StreamCat runs. Arguments go to `manage.py backup`, e.g. --output FILE.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$root" && bash scripts/setup.sh)
# Run from the caller's folder, so a relative --output means what they typed.
exec "$root/.venv/bin/python" "$root/manage.py" backup "$@"
