#!/usr/bin/env bash
# The benches against real stores: docker-compose.yml's MongoDB replica set (authentication
# on), RabbitMQ and Redis, published on loopback by deploy/compose.bench.yml, under their own
# compose project (mock-interview-bench: `make stack`'s data is not touched). The services
# under test run on the host as each bench starts them (scripts/devstack.py), with the
# operators' credentials from .env, since each bench makes databases, queues and keys of its
# own with a fresh prefix. Figures go to .data/bench-compose/<bench>.txt.
#   scripts/bench-compose.sh [bench ...]     (default: store_ops interviews eventkit gateway)
# KEEP=1 leaves the containers running afterwards (`docker compose -p mock-interview-bench down -v`).
# Written where no Docker engine runs: `make compose-check` validates the override, the
# script itself was not run here (README says so).
set -euo pipefail
cd "$(dirname "$0")/.."
# Compose v2 (`up --wait`); make bench runs the same benches against the development servers
docker compose version >/dev/null 2>&1 || { echo "bench-compose: needs Docker with the compose plugin (v2)" >&2; exit 2; }
compose=(docker compose)
[ -f .env ] || { scripts/gen-env.sh > .env && chmod 600 .env && echo "bench-compose: wrote .env with fresh secrets"; }
set -a; . ./.env; set +a

project=(-p mock-interview-bench -f docker-compose.yml -f deploy/compose.bench.yml)
cleanup() { [ "${KEEP:-0}" = 1 ] || "${compose[@]}" "${project[@]}" down -v --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT
"${compose[@]}" "${project[@]}" up -d --wait mongo rabbitmq redis
"${compose[@]}" "${project[@]}" run --rm mongo-users >/dev/null

export MONGO_URI="mongodb://${MONGO_ROOT_USER:-root}:${MONGO_ROOT_PASSWORD}@127.0.0.1:${BENCH_MONGO_PORT:-27117}/?authSource=admin&directConnection=true"
export RABBITMQ_URL="amqp://${RABBITMQ_ADMIN_USER}:${RABBITMQ_ADMIN_PASS}@127.0.0.1:${BENCH_RABBITMQ_PORT:-5673}/"
export REDIS_URL="redis://:${REDIS_PASSWORD}@127.0.0.1:${BENCH_REDIS_PORT:-6380}/0"
UV=$(scripts/ensure-uv.sh)
out=.data/bench-compose
mkdir -p "$out"
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(store_ops interviews eventkit gateway)
for bench in "${benches[@]}"; do
  echo "bench-compose: bench/$bench.py against compose's MongoDB, RabbitMQ and Redis"
  $UV run python "bench/$bench.py" 2>&1 | tee "$out/$bench.txt"
done
echo "bench-compose: figures in $out/"
