#!/usr/bin/env bash
# Print a ready-to-use `.env` for docker compose: `.env.example` with every `change-me`
# replaced by a fresh random secret and a new Ed25519 JWT signing key.
#   scripts/gen-env.sh > .env && chmod 600 .env
set -euo pipefail
cd "$(dirname "$0")/.."
command -v openssl >/dev/null || { echo "gen-env: openssl is needed" >&2; exit 1; }

key=$(openssl genpkey -algorithm ed25519 | awk '{printf "%s\\n", $0}')
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    JWT_PRIVATE_KEY=*) printf 'JWT_PRIVATE_KEY="%s"\n' "$key" ;;
    # MinIO: access keys at most 20 characters, secret keys at most 40
    S3_KEY=change-me) printf 'S3_KEY=ai-runner-%s\n' "$(openssl rand -hex 4)" ;;
    *=change-me) printf '%s=%s\n' "${line%%=*}" "$(openssl rand -hex 16)" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < .env.example
