#!/usr/bin/env bash
# Build the web app into web/dist (served by the gateway at / in `make run`), only when its
# sources changed since the last build. Installs its npm packages from the lock when they are
# missing or stale. With --check (CI), also fails when the committed API types are not what
# the committed OpenAPI generates.
set -euo pipefail
cd "$(dirname "$0")/../web"
command -v npm >/dev/null || { echo "build-web: npm (Node.js 20+) is needed to build the web app" >&2; exit 1; }
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "build-web: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
if [ "${1:-}" = "--check" ]; then
  npm run --silent gen >/dev/null 2>&1
  if ! git diff --quiet -- src/api/schema.d.ts; then
    echo "build-web: web/src/api/schema.d.ts is not what web/src/api/openapi.json generates; run 'make web-types' and commit" >&2
    exit 1
  fi
fi
stamp=dist/.built
if [ -f "$stamp" ] && [ -z "$(find src index.html package-lock.json vite.config.ts tsconfig.json -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
echo "build-web: building the web app" >&2
npm run --silent build
touch "$stamp"
