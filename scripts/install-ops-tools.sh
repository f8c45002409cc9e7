#!/usr/bin/env bash
# Install the tools the ops checks use, from Debian's packages (idempotent; run as root, as
# .ci/run does):
#   docker-compose  Debian's Compose, so `make compose-check` also runs `docker-compose config`
#   promtool        from Debian's prometheus package (extracted only: no server is installed
#                   or started), so the alert rules are checked and unit-tested by promtool
#   nginx           from Debian's nginx package (extracted only, as promtool), so tests/ops
#                   run the web app's nginx.conf (deploy/web) and check what it serves
#   rabbitmq-server installed but never started as a system service (policy-rc.d refuses it,
#                   and the port is the CI broker's), so tests/ops/test_broker_users.py
#                   starts a private node of its own with compose's broker definitions
# `kubectl kustomize` (for `make k8s-check`) comes with the machine image; the Kubernetes
# schemas come with the Python dev dependency kubernetes-validate.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then echo "install-ops-tools: run as root" >&2; exit 1; fi
updated=0
apt_update() { [ "$updated" = 1 ] || { apt-get update -qq; updated=1; }; }

if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  echo "install-ops-tools: installing docker-compose"
  apt_update
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi

if ! command -v promtool >/dev/null 2>&1; then
  echo "install-ops-tools: installing promtool"
  apt_update
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq prometheus 2>/dev/null && dpkg -x prometheus_*.deb root)
  install -m 0755 "$work/root/usr/bin/promtool" /usr/local/bin/promtool
fi

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "install-ops-tools: installing nginx (the binary only)"
  apt_update
  nginx_work=$(mktemp -d)
  (cd "$nginx_work" && apt-get download -qq nginx 2>/dev/null && dpkg -x nginx_*.deb root)
  install -m 0755 "$nginx_work/root/usr/sbin/nginx" /usr/local/bin/nginx
  rm -rf "$nginx_work"
fi
if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "install-ops-tools: installing rabbitmq-server (not started)"
  apt_update
  had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  [ "$had_policy" = 1 ] || printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
  [ "$had_policy" = 1 ] || rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
  fi
fi
echo "install-ops-tools: $(docker-compose version --short 2>/dev/null || docker compose version --short), $(promtool --version 2>&1 | head -1)"
