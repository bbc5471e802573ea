#!/usr/bin/env bash
# Set up everything that is missing, then run StreamCat with the whole local media plane.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python manage.py ensure_demo_admin
exec .venv/bin/python manage.py runstack
