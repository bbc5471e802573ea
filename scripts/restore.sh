#!/usr/bin/env bash
# Restore an archive made by scripts/backup.sh into this checkout (README, "Backup and
# restore"). Stop StreamCat first. Usage: scripts/restore.sh FILE [--force]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$root" && bash scripts/setup.sh)
exec "$root/.venv/bin/python" "$root/manage.py" restore "$@"
