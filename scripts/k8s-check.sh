#!/usr/bin/env bash
# Validate the Kubernetes manifests: `kustomize build` of each overlay (the `kustomize`
# binary, else `kubectl kustomize`), every object against the Kubernetes JSON schemas
# offline and strict (kubernetes-validate; KEDA kinds against deploy/schemas/keda.sh), then
# the platform's policies (scripts/check_k8s.py). Exits non-zero on any problem.
#   scripts/k8s-check.sh [overlay-dir ...]        (default: every deploy/k8s/overlays/*)
# K8S_VERSION picks the schemas (default 1.32.0).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${PYTHON:-}" ]; then read -ra python <<< "$PYTHON"
elif [ -x "$repo/.venv/bin/python" ]; then python=("$repo/.venv/bin/python")
else python=(uv run --frozen python); fi
exec "${python[@]}" "$repo/scripts/check_k8s.py" "$@"
