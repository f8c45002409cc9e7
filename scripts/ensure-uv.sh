#!/usr/bin/env bash
# Print a command that runs uv, installing uv from PyPI first if this machine has none.
set -euo pipefail
if command -v uv >/dev/null 2>&1; then echo uv; exit 0; fi
PY=$(command -v python3 || command -v python)
if "$PY" -m uv --version >/dev/null 2>&1; then echo "$PY -m uv"; exit 0; fi
echo "uv not found: installing it with pip (once)" >&2
"$PY" -m pip install --quiet uv >&2 || "$PY" -m pip install --quiet --user uv >&2
echo "$PY -m uv"
