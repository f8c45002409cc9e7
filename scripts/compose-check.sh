#!/usr/bin/env bash
# Validate docker-compose.yml where no Docker engine runs (CI): first our own check
# (Compose Specification schema + the platform's rules, scripts/check_compose.py), then the
# Compose implementation's own `config`: Docker's compose plugin if present, else Debian's
# docker-compose (scripts/install-ops-tools.sh installs it). Exits non-zero on any problem.
#   scripts/compose-check.sh [docker-compose.yml [.env.example]]
# REQUIRE_COMPOSE=1 makes a missing Compose implementation an error instead of a notice.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
compose=$(realpath "${1:-$repo/docker-compose.yml}")
env_example=$(realpath "${2:-$(dirname "$compose")/.env.example}")

if [ -n "${PYTHON:-}" ]; then read -ra python <<< "$PYTHON"
elif [ -x "$repo/.venv/bin/python" ]; then python=("$repo/.venv/bin/python")
else python=(uv run --frozen python); fi
"${python[@]}" "$repo/scripts/check_compose.py" "$compose" --env-example "$env_example"

if docker compose version >/dev/null 2>&1; then tool=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then tool=(docker-compose)
else
  echo "compose-check: no Compose implementation installed: checked against the schema only" \
       "(scripts/install-ops-tools.sh installs Debian's docker-compose)"
  [ "${REQUIRE_COMPOSE:-0}" = 1 ] && exit 1
  exit 0
fi
# `config` interpolates from an .env and resolves build contexts: give it a scratch
# project directory holding .env.example as its .env, never the real .env.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$env_example" "$scratch/.env"
"${tool[@]}" -f "$compose" --project-directory "$scratch" --env-file "$scratch/.env" config --quiet
echo "compose-check: \`${tool[*]} config\` accepts $compose ($("${tool[@]}" version --short 2>/dev/null || echo '?'))"
# and with make bench-compose's override (the stores published on loopback)
bench_override="$(dirname "$compose")/deploy/compose.bench.yml"
if [ -f "$bench_override" ]; then
  "${tool[@]}" -f "$compose" -f "$bench_override" --project-directory "$scratch" --env-file "$scratch/.env" config --quiet
  echo "compose-check: \`${tool[*]} config\` accepts it with $(basename "$bench_override")"
fi
