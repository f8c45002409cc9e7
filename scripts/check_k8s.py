"""Validate the Kubernetes manifests: `kustomize build` of every overlay, each object against
the Kubernetes JSON schemas (kubernetes-validate, offline, strict: unknown fields fail) or our
own schemas for the KEDA kinds, then the platform's policies (probes, resources, hardened
securityContext, no committed secrets, NetworkPolicies, autoscaling, TLS ingress).

    python scripts/check_k8s.py                      # every deploy/k8s/overlays/*
    python scripts/check_k8s.py deploy/k8s/overlays/prod
    python scripts/check_k8s.py --rendered built.yaml  # an already built stream

Exit status: 0 valid, 1 invalid manifests, 2 a tool is missing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from secret_patterns import PRIVATE_KEY, SECRET_NAME, SECRET_VALUE, URL_CREDENTIALS

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OVERLAYS = REPO / "deploy" / "k8s" / "overlays"
# Namespaces and PriorityClasses: applied once by the cluster's owner, never by an overlay
CLUSTER = REPO / "deploy" / "k8s" / "cluster"
# The alert rules, promtool-tested; the PrometheusRule must carry exactly these
ALERTS = REPO / "deploy" / "observability" / "alerts.yml"
# Overlays whose images must be pinned by digest (a tag can be moved to other bytes)
DIGEST_PINNED = {"prod"}
SCHEMAS = REPO / "deploy" / "schemas"
KUBERNETES_VERSION = os.environ.get("K8S_VERSION", "1.32.0")

# The only Secrets manifests may reference: created out of band (deploy/k8s/README.md).
EXTERNAL_SECRETS = {"mock-interview-secrets", "gateway-tls", "ai-runner-secrets"}
# The sandbox's own Secret (only its keys) and the one Secret it may read
SANDBOX_SECRET = "ai-runner-secrets"
# Services that must scale on CPU with an HPA.
CPU_SCALED = {"gateway", "auth", "interviews", "billing", "web", "notifications"}
# Workloads nobody calls over HTTP: no Service (Prometheus and the kubelet reach the pods).
NO_SERVICE: set[str] = set()
# Services that must scale on a backlog gauge in Prometheus, and on CPU: a KEDA `prometheus`
# trigger whose query reads the gauge, or an HPA External metric of that name. The AI runner's
# RabbitMQ queues are no signal: its consumers only record a job in Mongo and ack, so the
# queues stay near empty while jobs wait (deploy/k8s/components/ai-runner-keda).
BACKLOG_SCALED = {"ai-runner": "ai_jobs_pending"}
# The one workload allowed to relax seccomp/procMount/AppArmor: its bubblewrap sandbox
# needs user namespaces and a fresh /proc (see sandbox/ai-runner/deployment.yaml).
SANDBOXED = {"ai-runner"}
# ...on nodes of its own: this label, and a taint only its pods tolerate
SANDBOX_POOL = ("mock-interview/pool", "sandbox")
SANDBOX_TAINT = "mock-interview/sandbox"
# What the Ingress may route to: the API and the web app's static files, on one host.
PUBLIC = {"gateway", "web"}
# Whom each workload may reach inside the cluster (by app.kubernetes.io/name), and on which
# ports it may reach public (ipBlock) addresses: a NetworkPolicy that opens more fails.
EGRESS: dict[str, tuple[set[str], set[int]]] = {
    "gateway": (
        {"auth", "interviews", "billing", "notifications", "ai-runner", "rabbitmq", "redis"},
        set(),
    ),
    "auth": ({"auth", "rabbitmq", "mongodb"}, set()),
    "interviews": ({"auth", "rabbitmq", "mongodb"}, set()),
    "billing": ({"auth", "rabbitmq", "mongodb"}, {443}),  # Stripe
    "ai-runner": ({"auth", "rabbitmq", "mongodb", "minio"}, {443}),  # the model provider
    "notifications": ({"auth", "rabbitmq", "mongodb"}, {465, 587}),  # JWKS; SMTP submission
    "web": (set(), set()),
    "mongo-backup": ({"mongodb", "minio"}, {443}),  # the dump, and S3 off the cluster
}
# One-off Jobs the runbook creates with envsubst (restore, rebuilds): checked as if created
MAINTENANCE = REPO / "deploy" / "k8s" / "maintenance"
MAINTENANCE_SAMPLE = {
    "PREFIX": "mongo/2025/01/01/mi-20250101T020000Z",
    "INTERVIEWS_IMAGE": "registry.example.com/mock-interview/interviews@sha256:" + "0" * 64,
}
# A maintenance Job's image: always the one a Deployment runs now, read from it when the Job
# is created (`kubectl get deploy ... -o jsonpath=...`), never a literal image or tag
MAINTENANCE_IMAGE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*_IMAGE\}$")
# What a stopping pod needs before SIGKILL: the preStop sleep, uvicorn's graceful period
# (GRACEFUL_SHUTDOWN_SECONDS, deploy/Dockerfile: open SSE streams are closed after it), then
# the lifespan's own bounded steps (outbox relay, broker, AI jobs handing back their leases)
DOCKERFILE = REPO / "deploy" / "Dockerfile"
SHUTDOWN_STEPS_SECONDS = 10
# Connection strings that carry a user: each workload its own (its own database / broker
# permissions), never one shared key
PER_SERVICE_CREDENTIALS = ("MONGO_URI", "RABBITMQ_URL")
# The CronJob the BackupMissing alert watches (deploy/observability/alerts.yml)
BACKUP_CRONJOB = "mongo-backup"
# Namespaces that may reach a pod of ours from outside the namespace, and what they may reach.
OUTSIDE_PEERS = {
    "ingress-nginx": PUBLIC,
    "monitoring": None,  # None: any pod (metrics scraping)
}
USER_ID = 10001
# The ConfigMap every Python service reads; its OPS_PORT is where /healthz, /readyz and
# /metrics are served (servicekit), the only port the probes and Prometheus use.
CONFIG = "mock-interview-config"
# The AI runner's copy in its own namespace: the same OPS_PORT
SANDBOX_CONFIG = "ai-runner-config"
OPS_PORT_NAME = "ops"


# ------------------------------------------------------------------------ building


def find_kustomize() -> list[str] | None:
    """`kustomize build` or `kubectl kustomize`, whichever is installed."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        probe = subprocess.run(
            ["kubectl", "kustomize", "--help"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["kubectl", "kustomize"]
    return None


def build(overlay: Path, kustomize: list[str]) -> str:
    done = subprocess.run([*kustomize, str(overlay)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(done.stderr.strip() or done.stdout.strip())
    return done.stdout


class BuildError(Exception):
    pass


# ----------------------------------------------------------------------- reporting


@dataclass
class Report:
    where: str
    problems: list[str] = field(default_factory=list)

    def add(self, obj: dict[str, Any] | None, message: str) -> None:
        self.problems.append(f"{self.where}: {ident(obj)}{message}")


def ident(obj: dict[str, Any] | None) -> str:
    if not obj:
        return ""
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', '?')}/{meta.get('name', '?')}: "


# ------------------------------------------------------------------------- schemas


class SchemaUnavailable(Exception):
    pass


@functools.cache
def _k8s_validator(kind: str, api_version: str) -> Any:
    """A strict Draft 2020-12 validator for one built-in kind (cached: the definitions file
    of a Kubernetes version is over a megabyte)."""
    try:
        import jsonschema
        from kubernetes_validate import utils as kv
        from referencing import Registry, Resource
    except ImportError as exc:
        raise SchemaUnavailable(
            f"kubernetes-validate is not installed (a dev dependency of the workspace): {exc}"
        ) from exc
    version = [v for v in kv.all_versions() if _vkey(v) <= _vkey(KUBERNETES_VERSION)][-1]
    schema_dir = f"kubernetes-json-schema/v{version}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{schema_dir}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        return None
    definitions = kv.schema_contents(f"{schema_dir}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


@functools.cache
def _crd_validator(kind: str, api_version: str) -> Any:
    import jsonschema

    path = SCHEMAS / f"{api_version.split('/')[0]}" / f"{kind.lower()}.json"
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    if schema.get("x-apiVersion") != api_version:
        return None
    return jsonschema.Draft202012Validator(schema)


def check_schema(obj: dict[str, Any], report: Report) -> None:
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        report.add(obj, "missing kind or apiVersion")
        return
    validator = _crd_validator(kind, api_version) if "." in api_version.split("/")[0] else None
    if validator is None:
        validator = _k8s_validator(kind, api_version)
    if validator is None:
        report.add(obj, f"no schema for {api_version} {kind} (Kubernetes {KUBERNETES_VERSION})")
        return
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        report.add(obj, f"schema: {path}: {error.message[:300]}")


# ------------------------------------------------------------------------ policies


def cluster_objects(root: Path = CLUSTER) -> list[dict[str, Any]]:
    """The cluster-scoped objects the overlays rely on (plain files, no kustomize needed)."""
    objs: list[dict[str, Any]] = []
    for path in sorted(root.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            objs += [o for o in yaml.safe_load_all(path.read_text()) if o]
    return objs


def memory_bytes(quantity: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity))
    if not match or match.group(2) not in {**units, "": 1}:
        return float("nan")
    return float(match.group(1)) * units.get(match.group(2), 1)


def containers(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers"):
        yield from pod_spec.get(key) or []


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels / matchExpressions) matches `labels`."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def check_secrets(objs: list[dict[str, Any]], report: Report) -> None:
    for obj in objs:
        if obj.get("kind") == "Secret":
            report.add(obj, "a Secret object is committed; secrets are created out of band")
        if obj.get("kind") == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                if SECRET_NAME.search(key):
                    report.add(obj, f"{key} looks like a secret: keep it in the Secret")
                if SECRET_VALUE.search(str(value)) or URL_CREDENTIALS.search(str(value)):
                    report.add(obj, f"{key} holds what looks like a secret value")
    for text_obj in objs:
        blob = yaml.safe_dump(text_obj)
        if PRIVATE_KEY.search(blob):
            report.add(text_obj, "contains a private key")


def check_workloads(
    objs: list[dict[str, Any]],
    report: Report,
    cluster: list[dict[str, Any]] | None = None,
    pin_digests: bool = False,
) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objs:
        by_kind.setdefault(obj.get("kind", ""), []).append(obj)
    names = {kind: {o["metadata"]["name"] for o in items} for kind, items in by_kind.items()}
    configmaps = names.get("ConfigMap", set())

    priority_classes = {
        o["metadata"]["name"] for o in cluster or [] if o.get("kind") == "PriorityClass"
    }
    autoscaled: dict[str, list[str]] = {}
    for scaler in by_kind.get("HorizontalPodAutoscaler", []) + by_kind.get("ScaledObject", []):
        least = scaler["spec"].get("minReplicas", scaler["spec"].get("minReplicaCount"))
        if least == 2:
            report.add(
                scaler,
                "at least 2 replicas: a node drain (one pod at a time) leaves a single one; "
                "use 3 (or 1 where one is enough)",
            )
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        target = hpa["spec"]["scaleTargetRef"]
        autoscaled.setdefault(target.get("name"), []).append("hpa")
        if target.get("name") not in names.get(target.get("kind"), set()):
            report.add(hpa, f"scales {target.get('kind')}/{target.get('name')}, which is not here")
        metrics = hpa["spec"].get("metrics") or []
        if target.get("name") in CPU_SCALED | BACKLOG_SCALED.keys():
            cpu = [
                m
                for m in metrics
                if m.get("type") == "Resource" and m.get("resource", {}).get("name") == "cpu"
            ]
            if not cpu:
                report.add(hpa, "must scale on CPU")
        gauge = BACKLOG_SCALED.get(target.get("name"))
        if gauge and not any(
            m.get("type") == "External" and m["external"]["metric"].get("name") == gauge
            for m in metrics
        ):
            report.add(hpa, f"must scale on the {gauge} backlog (an External metric named {gauge})")
    for so in by_kind.get("ScaledObject", []):
        target = so["spec"]["scaleTargetRef"]["name"]
        autoscaled.setdefault(target, []).append("keda")
        if target not in names.get("Deployment", set()):
            report.add(so, f"scales Deployment/{target}, which is not here")
        triggers = so["spec"].get("triggers", [])
        if any(t.get("type") == "prometheus" for t in triggers) and not so["spec"].get("fallback"):
            report.add(
                so,
                "a prometheus trigger needs spec.fallback (replicas to hold while Prometheus "
                "does not answer)",
            )
        if target in BACKLOG_SCALED:
            check_backlog_triggers(so, triggers, BACKLOG_SCALED[target], report)
        for trigger in triggers:
            ref = (trigger.get("authenticationRef") or {}).get("name")
            if ref and ref not in names.get("TriggerAuthentication", set()):
                report.add(so, f"authenticationRef {ref} is not here")
    for auth in by_kind.get("TriggerAuthentication", []):
        for ref in auth["spec"].get("secretTargetRef") or []:
            if ref.get("name") not in EXTERNAL_SECRETS:
                report.add(auth, f"secretTargetRef to unknown Secret {ref.get('name')}")

    service_accounts = {o["metadata"]["name"]: o for o in by_kind.get("ServiceAccount", [])}
    for sa in service_accounts.values():
        if sa.get("automountServiceAccountToken") is not False:
            report.add(sa, "automountServiceAccountToken must be false")

    for dep in by_kind.get("Deployment", []):
        name = dep["metadata"]["name"]
        spec = dep.get("spec") or {}
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        pod = template.get("spec") or {}
        sandboxed = name in SANDBOXED

        scalers = autoscaled.get(name, [])
        if not scalers:
            report.add(dep, "no HorizontalPodAutoscaler or ScaledObject scales it")
        if len(scalers) > 1:
            report.add(dep, f"scaled by more than one autoscaler ({', '.join(scalers)})")
        if name in CPU_SCALED and "hpa" not in scalers:
            report.add(dep, "needs a CPU HorizontalPodAutoscaler")
        if scalers and "replicas" in spec:
            report.add(dep, "sets spec.replicas although an autoscaler owns the count")
        if not selects(spec.get("selector"), labels):
            report.add(dep, "selector does not match the pod template's labels")
        if name not in NO_SERVICE and not any(
            selects({"matchLabels": s["spec"].get("selector") or {}}, labels)
            and s["spec"].get("selector")
            for s in by_kind.get("Service", [])
        ):
            report.add(dep, "no Service selects its pods")
        if not any(
            selects(p["spec"].get("selector"), labels)
            for p in by_kind.get("PodDisruptionBudget", [])
        ):
            report.add(dep, "no PodDisruptionBudget covers its pods")

        if pod.get("priorityClassName") not in priority_classes:
            report.add(
                dep,
                f"priorityClassName {pod.get('priorityClassName')!r} is not a PriorityClass of "
                f"deploy/k8s/cluster ({', '.join(sorted(priority_classes)) or 'none'})",
            )
        if not any(
            t.get("topologyKey") == "kubernetes.io/hostname"
            and t.get("whenUnsatisfiable") == "DoNotSchedule"
            and selects(t.get("labelSelector"), labels)
            for t in pod.get("topologySpreadConstraints") or []
        ):
            report.add(
                dep,
                "needs a hard spread over nodes (topologySpreadConstraints on "
                "kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule)",
            )
        check_pod(
            dep,
            pod,
            report,
            sandboxed=sandboxed,
            service_accounts=service_accounts,
            configmaps=configmaps,
            pin_digests=pin_digests,
            probes=True,
        )

    check_cronjobs(
        by_kind, report, service_accounts, configmaps, priority_classes, pin_digests=pin_digests
    )
    check_credentials(by_kind.get("Deployment", []), report)
    check_grace(by_kind.get("Deployment", []), report)


def check_grace(deployments: list[dict[str, Any]], report: Report) -> None:
    """terminationGracePeriodSeconds covers preStop + uvicorn's graceful period + the
    lifespan's shutdown, so a rollout never SIGKILLs a pod mid-shutdown (AI jobs would keep
    their leases, outbox rows their claims)."""
    found = re.search(r"^ENV GRACEFUL_SHUTDOWN_SECONDS=(\d+)", DOCKERFILE.read_text(), re.M)
    default_graceful = int(found.group(1)) if found else 0
    for dep in deployments:
        pod = dep["spec"]["template"]["spec"]
        for c in pod.get("containers") or []:
            env = {e.get("name"): e.get("value") for e in c.get("env") or []}
            reads_config = any(
                (src.get("configMapRef") or {}).get("name") in (CONFIG, SANDBOX_CONFIG)
                for src in c.get("envFrom") or []
            )
            if not reads_config:
                continue  # not a Python service (the web app's nginx)
            graceful = int(env.get("GRACEFUL_SHUTDOWN_SECONDS") or default_graceful)
            pre_stop = ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}
            needed = int(pre_stop.get("seconds", 0)) + graceful + SHUTDOWN_STEPS_SECONDS
            grace = int(pod.get("terminationGracePeriodSeconds", 30))
            if grace < needed:
                report.add(
                    dep,
                    f"terminationGracePeriodSeconds {grace} < preStop + graceful shutdown "
                    f"({graceful} s) + {SHUTDOWN_STEPS_SECONDS} s of shutdown steps = {needed}",
                )


def check_credentials(deployments: list[dict[str, Any]], report: Report) -> None:
    """One database user and one broker user per service: MONGO_URI / RABBITMQ_URL come from
    a Secret key of that service alone (MONGO_URI_AUTH, ...), so a leaked or compromised
    service holds only its own database's and queues' permissions."""
    owners: dict[tuple[str, str, str], str] = {}
    for dep in deployments:
        name = dep["metadata"]["name"]
        suffix = "_" + name.upper().replace("-", "_")
        for c in containers(dep["spec"]["template"]["spec"]):
            for env in c.get("env") or []:
                if env.get("name") not in PER_SERVICE_CREDENTIALS:
                    continue
                ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
                key = (
                    dep["metadata"].get("namespace", ""),
                    str(ref.get("name")),
                    str(ref.get("key")),
                )
                if not str(ref.get("key", "")).endswith(suffix):
                    report.add(
                        dep,
                        f"{env['name']} must come from its own Secret key "
                        f"({env['name']}{suffix}: its own user), not {ref.get('key')!r}",
                    )
                if key in owners and owners[key] != name:
                    report.add(dep, f"{env['name']} shares the key {key[2]} with {owners[key]}")
                owners[key] = name


def check_cronjobs(
    by_kind: dict[str, list[dict[str, Any]]],
    report: Report,
    service_accounts: dict[str, Any],
    configmaps: set[str],
    priority_classes: set[str],
    *,
    pin_digests: bool = False,
) -> None:
    """The backup exists, runs daily and never twice at once, its pods reach MongoDB, they
    are as locked down as the services', and they run the platform's own image (one a
    Deployment of ours runs, so pinned as the Deployments are: by digest in prod), never a
    third-party image by tag."""
    cronjobs = {o["metadata"]["name"]: o for o in by_kind.get("CronJob", [])}
    ours = app_images(by_kind.get("Deployment", []))
    if BACKUP_CRONJOB not in cronjobs:
        report.add(
            None,
            f"no CronJob {BACKUP_CRONJOB}: nothing backs MongoDB up (BackupMissing watches it)",
        )
    for name, cj in cronjobs.items():
        template = cj["spec"]["jobTemplate"]["spec"]["template"]
        pod = template.get("spec") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        check_pod(
            cj,
            pod,
            report,
            sandboxed=False,
            service_accounts=service_accounts,
            configmaps=configmaps,
            pin_digests=pin_digests,
            probes=False,
        )
        for c in containers(pod):
            if c.get("image") not in ours:
                report.add(
                    cj,
                    f"container {c.get('name')}: image {c.get('image')!r} is not the platform's "
                    f"own image (one our Deployments run: {', '.join(sorted(ours)) or 'none'})",
                )
        if pod.get("priorityClassName") not in priority_classes:
            report.add(cj, f"priorityClassName {pod.get('priorityClassName')!r} is not ours")
        if cj["spec"].get("concurrencyPolicy") != "Forbid":
            report.add(cj, "concurrencyPolicy must be Forbid (two runs would overlap)")
        if name != BACKUP_CRONJOB:
            continue
        fields = str(cj["spec"].get("schedule", "")).split()
        if len(fields) != 5 or fields[2:] != ["*", "*", "*"]:
            report.add(cj, f"schedule {cj['spec'].get('schedule')!r} must run at least daily")
        reaches_mongo = any(
            selects(p["spec"]["podSelector"], {"app.kubernetes.io/name": "mongodb"})
            and any(
                selects(peer.get("podSelector"), labels) and "namespaceSelector" not in peer
                for rule in p["spec"].get("ingress") or []
                for peer in rule.get("from") or []
            )
            for p in by_kind.get("NetworkPolicy", [])
        )
        if not reaches_mongo:
            report.add(cj, "no NetworkPolicy lets its pods into MongoDB (mongodb-access)")


def app_images(deployments: list[dict[str, Any]]) -> set[str]:
    """The images of our Python services as the overlay renders them (the containers that
    read the services' ConfigMap): built from deploy/Dockerfile, which ships
    servicekit.backup."""
    return {
        str(c.get("image"))
        for dep in deployments
        for c in containers(dep["spec"]["template"]["spec"])
        if any(
            (src.get("configMapRef") or {}).get("name") in (CONFIG, SANDBOX_CONFIG)
            for src in c.get("envFrom") or []
        )
    }


def check_pod(
    dep: dict[str, Any],
    pod: dict[str, Any],
    report: Report,
    *,
    sandboxed: bool,
    service_accounts: dict[str, Any],
    configmaps: set[str],
    pin_digests: bool,
    probes: bool,
) -> None:
    """What every pod of ours must be, whatever runs it (Deployment, CronJob): no token, its
    own ServiceAccount, nothing of the host, non-root uid 10001, seccomp, and per container
    no privilege, read-only root, requests = limits for memory, secrets only by reference."""
    if pod.get("automountServiceAccountToken") is not False:
        report.add(dep, "automountServiceAccountToken must be false")
    sa_name = pod.get("serviceAccountName")
    if not sa_name or sa_name not in service_accounts:
        report.add(dep, f"serviceAccountName {sa_name!r} has no ServiceAccount here")
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            report.add(dep, f"{host} is not allowed")
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    for volume in volumes.values():
        if "hostPath" in volume:
            report.add(dep, f"hostPath volume {volume.get('name')} is not allowed")
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True:
        report.add(dep, "pod securityContext.runAsNonRoot must be true")
    if psc.get("runAsUser") != USER_ID:
        report.add(dep, f"pod securityContext.runAsUser must be {USER_ID}")
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        report.add(dep, "pod securityContext.seccompProfile.type must be RuntimeDefault")
    if sandboxed and pod.get("hostUsers") is not False:
        report.add(
            dep, "the sandboxed workload must run in its own user namespace (hostUsers: false)"
        )

    for c in containers(pod):
        cname = c.get("name", "?")
        where = f"container {cname}: "
        image = c.get("image", "")
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image and (":" not in last or last.endswith(":latest")):
            report.add(dep, f"{where}image {image!r} is not pinned to a tag or digest")
        elif pin_digests and "@sha256:" not in image:
            report.add(dep, f"{where}image {image!r} must be pinned by digest here")
        wanted = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"} if probes else {}
        for probe, path in wanted.items():
            got = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
            if got != path:
                report.add(dep, f"{where}{probe} must GET {path} (has {got!r})")
        resources = c.get("resources") or {}
        for bound in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in (resources.get(bound) or {}):
                    report.add(dep, f"{where}resources.{bound}.{res} is missing")
        asked = (resources.get("requests") or {}).get("memory")
        allowed = (resources.get("limits") or {}).get("memory")
        if asked and allowed and memory_bytes(asked) != memory_bytes(allowed):
            report.add(
                dep,
                f"{where}memory request {asked} must equal its limit {allowed} (a node "
                "must not promise memory it may not have)",
            )
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            report.add(dep, f"{where}allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            report.add(dep, f"{where}readOnlyRootFilesystem must be true")
        if sc.get("privileged"):
            report.add(dep, f"{where}privileged is not allowed")
        if sc.get("runAsNonRoot") is False or sc.get("runAsUser") not in (None, USER_ID):
            report.add(dep, f"{where}must run as user {USER_ID}, non-root")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            report.add(dep, f"{where}capabilities.drop must contain ALL")
        if caps.get("add"):
            report.add(dep, f"{where}capabilities.add is not allowed ({caps['add']})")
        seccomp = (sc.get("seccompProfile") or {}).get("type", "RuntimeDefault")
        if seccomp != "RuntimeDefault" and not (
            sandboxed and seccomp in ("Unconfined", "Localhost")
        ):
            report.add(dep, f"{where}seccompProfile {seccomp} is not allowed")
        if sc.get("procMount", "Default") != "Default" and not sandboxed:
            report.add(dep, f"{where}procMount {sc.get('procMount')} is not allowed")
        apparmor = (sc.get("appArmorProfile") or {}).get("type", "RuntimeDefault")
        if apparmor == "Unconfined" and not sandboxed:
            report.add(dep, f"{where}appArmorProfile Unconfined is not allowed")
        mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
        tmp = volumes.get(mounts.get("/tmp", ""), {})
        if "emptyDir" not in tmp:
            report.add(dep, f"{where}needs an emptyDir on /tmp (read-only root filesystem)")
        for source in c.get("envFrom") or []:
            ref = source.get("configMapRef") or {}
            if ref and ref.get("name") not in configmaps:
                report.add(dep, f"{where}envFrom ConfigMap {ref.get('name')} is not here")
            if source.get("secretRef"):
                ref = source["secretRef"]
                if ref.get("name") not in EXTERNAL_SECRETS:
                    report.add(dep, f"{where}envFrom unknown Secret {ref.get('name')}")
        for env in c.get("env") or []:
            key = env.get("name", "")
            secret_ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if secret_ref and secret_ref.get("name") not in EXTERNAL_SECRETS:
                report.add(dep, f"{where}{key} refers to unknown Secret {secret_ref.get('name')}")
            literal = str(env.get("value", ""))
            if "value" in env and (
                SECRET_NAME.search(key)
                or SECRET_VALUE.search(literal)
                or URL_CREDENTIALS.search(literal)
            ):
                report.add(dep, f"{where}{key} has a literal value; take it from the Secret")


def check_ops_port(objs: list[dict[str, Any]], report: Report) -> None:
    """/healthz, /readyz and /metrics only on the ops port, and the ops port reachable only
    by the kubelet (not governed by policies) and the monitoring namespace: no Service
    exposes it (so no Ingress can route to it), no NetworkPolicy opens it to anyone else,
    the probes use it, and /docs stays off (API_DOCS)."""
    config = next(
        (o for o in objs if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == CONFIG),
        None,
    )
    data = (config or {}).get("data") or {}
    if config is None or not str(data.get("OPS_PORT", "")).isdigit():
        report.add(config, f"ConfigMap {CONFIG} must set OPS_PORT (probes and metrics port)")
        return
    ops = int(data["OPS_PORT"])
    if ops == int(data.get("PORT", 8000)):
        report.add(
            config, "OPS_PORT must differ from PORT: the API port is what the Ingress reaches"
        )
    if str(data.get("API_DOCS", "false")).lower() in ("true", "1", "yes", "on"):
        report.add(config, "API_DOCS is on: /docs and /openapi.json would be public")
    if data.get("ENVIRONMENT") != "production" and "API_DOCS" not in data:
        report.add(config, "API_DOCS must be set false outside ENVIRONMENT=production")
    ops_ports = {ops, OPS_PORT_NAME}
    for other in objs:
        if other.get("kind") == "ConfigMap" and other["metadata"]["name"] == SANDBOX_CONFIG:
            if (other.get("data") or {}).get("OPS_PORT") != data["OPS_PORT"]:
                report.add(other, f"OPS_PORT must be {ops}, as in {CONFIG}")

    # name -> (namespace, pod labels) of every Python service (it reads one of the configs)
    workloads: dict[str, tuple[str, dict[str, str]]] = {}
    for dep in (o for o in objs if o.get("kind") == "Deployment"):
        template = dep["spec"]["template"]
        for c in containers(template.get("spec") or {}):
            reads_config = any(
                (src.get("configMapRef") or {}).get("name") in (CONFIG, SANDBOX_CONFIG)
                for src in c.get("envFrom") or []
            )
            if not reads_config:
                continue
            workloads[dep["metadata"]["name"]] = (
                dep["metadata"].get("namespace", ""),
                template["metadata"].get("labels") or {},
            )
            where = f"container {c.get('name')}: "
            declared = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            if declared.get(OPS_PORT_NAME) != ops:
                report.add(dep, f"{where}needs a port named {OPS_PORT_NAME} on {ops} (OPS_PORT)")
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if probe in c and port not in ops_ports:
                    report.add(dep, f"{where}{probe} must use the ops port (has {port!r})")
            annotations = template["metadata"].get("annotations") or {}
            if any(key.startswith("prometheus.io/") for key in annotations):
                report.add(
                    dep,
                    "prometheus.io/* scrape annotations: the PodMonitor scrapes it (both "
                    "would scrape it twice and double every rate)",
                )

    check_monitoring(objs, workloads, report)
    for svc in (o for o in objs if o.get("kind") == "Service"):
        selector = svc["spec"].get("selector") or {}
        here = svc["metadata"].get("namespace", "")
        if not any(
            ns == here and selects({"matchLabels": selector}, labels)
            for ns, labels in workloads.values()
        ):
            continue
        for port in svc["spec"].get("ports") or []:
            if port.get("targetPort", port.get("port")) in ops_ports or port.get("port") == ops:
                report.add(svc, "exposes the ops port: /metrics and /readyz would be routable")

    for policy in (o for o in objs if o.get("kind") == "NetworkPolicy"):
        here = policy["metadata"].get("namespace", "")
        targets = [
            n
            for n, (ns, labels) in workloads.items()
            if ns == here and selects(policy["spec"]["podSelector"], labels)
        ]
        if not targets:
            continue
        for rule in policy["spec"].get("ingress") or []:
            ports = {p.get("port") for p in rule.get("ports") or []}
            for peer in rule.get("from") or []:
                ns = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get(
                    "kubernetes.io/metadata.name"
                )
                if ns == "monitoring":
                    if not ports or ports - ops_ports:
                        report.add(
                            policy,
                            f"the monitoring namespace may reach {sorted(targets)} on "
                            f"{sorted(ports, key=str) or 'every port'}: only the ops port",
                        )
                elif not ports or ports & ops_ports:
                    who = ns or "pods of this namespace"
                    report.add(policy, f"{who} may reach the ops port of {sorted(targets)}")


def check_monitoring(
    objs: list[dict[str, Any]],
    workloads: dict[str, tuple[str, dict[str, str]]],
    report: Report,
) -> None:
    """Every service is scraped by a PodMonitor on the ops port, and the alert rules ship as
    the PrometheusRule rendered from deploy/observability/alerts.yml (promtool-tested)."""
    monitors = [o for o in objs if o.get("kind") == "PodMonitor"]
    for monitor in monitors:
        if (monitor["spec"].get("namespaceSelector") or {}).get("any"):
            report.add(monitor, "namespaceSelector any: would scrape other tenants' pods")
    for name, (namespace, labels) in workloads.items():
        scraped = any(
            m["metadata"].get("namespace", "") == namespace
            and selects(m["spec"].get("selector"), labels)
            and any(
                e.get("port") == OPS_PORT_NAME and e.get("path", "/metrics") == "/metrics"
                for e in m["spec"].get("podMetricsEndpoints") or []
            )
            for m in monitors
        )
        if not scraped:
            report.add(None, f"no PodMonitor scrapes {name} on its {OPS_PORT_NAME} port (/metrics)")
    rules = [o for o in objs if o.get("kind") == "PrometheusRule"]
    expected = yaml.safe_load(ALERTS.read_text())["groups"]
    if not any(r["spec"].get("groups") == expected for r in rules):
        report.add(
            None,
            "no PrometheusRule holds deploy/observability/alerts.yml as it is "
            "(python scripts/render_prometheusrule.py)",
        )


def check_backlog_triggers(
    so: dict[str, Any], triggers: list[dict[str, Any]], gauge: str, report: Report
) -> None:
    """A ScaledObject of a backlog-scaled service: a prometheus trigger on the gauge, taken
    once however many replicas export it, and a cpu trigger."""
    reads = re.compile(rf"\b{re.escape(gauge)}\b")
    backlog = [
        t
        for t in triggers
        if t.get("type") == "prometheus"
        and reads.search((t.get("metadata") or {}).get("query", ""))
    ]
    if not backlog:
        report.add(
            so, f"must have a prometheus trigger whose query reads {gauge} (the job backlog)"
        )
    # Every replica exports the same global count: a query that sums the replicas' copies
    # grows with the replica count and scales up on its own until maxReplicaCount.
    once = re.compile(
        rf"\b(?:max|min|avg)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(\s*{re.escape(gauge)}\b"
    )
    for trigger in backlog:
        meta = trigger.get("metadata") or {}
        for key in ("serverAddress", "threshold"):
            if not meta.get(key):
                report.add(so, f"the prometheus trigger on {gauge} needs metadata.{key}")
        if not once.search(meta.get("query", "")):
            report.add(
                so,
                f"the prometheus query must take {gauge} once, not once per replica "
                f"(e.g. sum(max by (stage) ({gauge}{{...}})))",
            )
    if not any(t.get("type") == "cpu" for t in triggers):
        report.add(so, "must also scale on CPU (a cpu trigger)")


STORES = ("mongodb", "rabbitmq", "redis", "minio")


def workload_pods(objs: list[dict[str, Any]]) -> dict[str, tuple[str, dict[str, str]]]:
    """Every workload of ours (Deployments, CronJobs): name -> (namespace, pod labels)."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for o in objs:
        if o.get("kind") == "Deployment":
            template = o["spec"]["template"]
        elif o.get("kind") == "CronJob":
            template = o["spec"]["jobTemplate"]["spec"]["template"]
        else:
            continue
        labels = (template.get("metadata") or {}).get("labels") or {}
        found[o["metadata"]["name"]] = (o["metadata"].get("namespace", ""), labels)
    return found


def app_namespace(objs: list[dict[str, Any]]) -> str | None:
    """The namespace of mock-interview-config: where the data stores are reached."""
    for o in objs:
        if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == CONFIG:
            return str(o["metadata"].get("namespace", ""))
    return None


def pods_in(
    pods: dict[str, tuple[str, dict[str, str]]], namespace: str, app_ns: str | None
) -> dict[str, dict[str, str]]:
    """The pods a policy of `namespace` can select: our workloads there, and the data stores
    (run outside this stream, labelled app.kubernetes.io/name) in the app namespace."""
    found = {name: labels for name, (ns, labels) in pods.items() if ns == namespace}
    if namespace == app_ns:
        found = {**{n: {"app.kubernetes.io/name": n} for n in STORES}, **found}
    return found


def _peer_namespace(peer: dict[str, Any]) -> str | None:
    selector = peer.get("namespaceSelector")
    if selector is None:
        return None
    return str((selector.get("matchLabels") or {}).get("kubernetes.io/metadata.name") or selector)


def check_sandbox(
    objs: list[dict[str, Any]], report: Report, cluster: list[dict[str, Any]]
) -> None:
    """The code sandbox is contained: alone in its namespace (the only one not enforcing
    Pod Security `restricted`), on its own tainted nodes that nothing else tolerates, with a
    Secret of its own that nobody else reads and that holds none of theirs."""
    pods = workload_pods(objs)
    by_name = {o["metadata"]["name"]: o for o in objs if o.get("kind") in ("Deployment", "CronJob")}
    enforce = {
        o["metadata"]["name"]: (o["metadata"].get("labels") or {}).get(
            "pod-security.kubernetes.io/enforce"
        )
        for o in cluster
        if o.get("kind") == "Namespace"
    }
    runtime_classes = {o["metadata"]["name"] for o in cluster if o.get("kind") == "RuntimeClass"}
    sandbox_namespaces = {ns for name, (ns, _) in pods.items() if name in SANDBOXED}
    for name, (ns, _) in pods.items():
        obj = by_name[name]
        template = (
            obj["spec"]["template"]
            if obj["kind"] == "Deployment"
            else obj["spec"]["jobTemplate"]["spec"]["template"]
        )
        pod = template.get("spec") or {}
        tolerated = [
            t
            for t in pod.get("tolerations") or []
            if t.get("key") == SANDBOX_TAINT or (t.get("operator") == "Exists" and not t.get("key"))
        ]
        referenced = {
            (env.get("valueFrom") or {}).get("secretKeyRef", {}).get("name")
            for c in containers(pod)
            for env in c.get("env") or []
        } | {
            (src.get("secretRef") or {}).get("name")
            for c in containers(pod)
            for src in c.get("envFrom") or []
        }
        referenced.discard(None)
        runtime_class = pod.get("runtimeClassName")
        if runtime_class is not None and runtime_class not in runtime_classes:
            report.add(obj, f"runtimeClassName {runtime_class!r} is not in deploy/k8s/cluster")
        if name in SANDBOXED:
            if (pod.get("nodeSelector") or {}).get(SANDBOX_POOL[0]) != SANDBOX_POOL[1]:
                report.add(
                    obj,
                    f"the sandbox must run on its own nodes (nodeSelector "
                    f"{SANDBOX_POOL[0]}: {SANDBOX_POOL[1]})",
                )
            if not tolerated:
                report.add(obj, f"the sandbox must tolerate the {SANDBOX_TAINT} taint")
            if referenced - {SANDBOX_SECRET}:
                report.add(
                    obj,
                    f"the sandbox reads Secrets {sorted(referenced - {SANDBOX_SECRET})}: only "
                    f"{SANDBOX_SECRET} (its own keys)",
                )
            continue
        if tolerated:
            report.add(obj, f"tolerates the {SANDBOX_TAINT} taint: only the sandbox runs there")
        if SANDBOX_SECRET in referenced:
            report.add(obj, f"reads {SANDBOX_SECRET}, the sandbox's Secret")
        if ns in sandbox_namespaces:
            report.add(obj, f"runs in the sandbox's namespace {ns}: the sandbox runs alone there")
        if enforce.get(ns) != "restricted":
            report.add(
                obj,
                f"its namespace {ns} must enforce Pod Security restricted (deploy/k8s/cluster; "
                f"has {enforce.get(ns)!r})",
            )


def check_network(objs: list[dict[str, Any]], report: Report) -> None:
    policies = [o for o in objs if o.get("kind") == "NetworkPolicy"]
    pods = workload_pods(objs)
    app_ns = app_namespace(objs)
    namespaces = {ns for ns, _ in pods.values()}
    for namespace in sorted(namespaces):
        here = [p for p in policies if p["metadata"].get("namespace", "") == namespace]
        if not any(
            p["spec"].get("podSelector") in ({}, None)
            and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
            for p in here
        ):
            report.add(
                None,
                f"no default-deny NetworkPolicy in {namespace} (podSelector {{}}, Ingress and "
                "Egress, no rules)",
            )
        if not any(
            any(port.get("port") == 53 for port in rule.get("ports") or [])
            for p in here
            for rule in p["spec"].get("egress") or []
        ):
            report.add(None, f"no NetworkPolicy allows DNS (port 53) in {namespace}")
    for p in policies:
        own_ns = p["metadata"].get("namespace", "")
        targets = {
            n
            for n, labels in pods_in(pods, own_ns, app_ns).items()
            if selects(p["spec"]["podSelector"], labels)
        }
        for rule in p["spec"].get("ingress") or []:
            peers = rule.get("from")
            if not peers:
                report.add(p, "an ingress rule without `from` admits every peer")
                continue
            for peer in peers:
                if "ipBlock" in peer:
                    report.add(
                        p, "ingress from an ipBlock: only the ingress controller may reach us"
                    )
                ns_name = _peer_namespace(peer)
                if ns_name is None or ns_name == own_ns:
                    continue
                if ns_name in namespaces:
                    # our other namespace (the AI runner's, or the app's): the sources'
                    # egress allowance must cover each target
                    if "podSelector" not in peer:
                        report.add(p, f"ingress from every pod of namespace {ns_name}")
                        continue
                    sources = [
                        n
                        for n, labels in pods_in(pods, ns_name, app_ns).items()
                        if selects(peer["podSelector"], labels)
                    ]
                    for source in sources:
                        allowed = EGRESS.get(source, (set(), set()))[0]
                        if targets - allowed:
                            report.add(
                                p,
                                f"{source} (namespace {ns_name}) may not reach "
                                f"{sorted(targets - allowed)}",
                            )
                    continue
                if ns_name not in OUTSIDE_PEERS:
                    report.add(p, f"ingress from namespace {ns_name!r} is not an allowed peer")
                    continue
                allowed_targets = OUTSIDE_PEERS[ns_name]
                if allowed_targets is not None and targets - allowed_targets:
                    report.add(
                        p, f"namespace {ns_name} may not reach {sorted(targets - allowed_targets)}"
                    )
    check_egress(policies, pods, app_ns, report)
    for ing in (o for o in objs if o.get("kind") == "Ingress"):
        tls = ing["spec"].get("tls") or []
        if not tls or not all(t.get("secretName") and t.get("hosts") for t in tls):
            report.add(ing, "must terminate TLS (spec.tls with hosts and secretName)")
        hosts = {h for t in tls for h in t.get("hosts") or []}
        for rule in ing["spec"].get("rules") or []:
            if rule.get("host") not in hosts:
                report.add(ing, f"host {rule.get('host')!r} is not covered by TLS")
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = (path.get("backend") or {}).get("service", {}).get("name")
                if backend not in PUBLIC:
                    public = " and ".join(sorted(PUBLIC))
                    report.add(ing, f"routes to {backend!r}: only {public} are public")


def check_egress(
    policies: list[dict[str, Any]],
    pods: dict[str, tuple[str, dict[str, str]]],
    app_ns: str | None,
    report: Report,
) -> None:
    """Each egress rule opens, for the workloads its policy selects, only the peers in EGRESS:
    pods of the allowed names (in this namespace or our other one), public addresses on the
    allowed ports, DNS in kube-system."""
    namespaces = {ns for ns, _ in pods.values()}
    for p in policies:
        own_ns = p["metadata"].get("namespace", "")
        sources = [
            n
            for n, (ns, labels) in pods.items()
            if ns == own_ns and selects(p["spec"]["podSelector"], labels)
        ]
        for rule in p["spec"].get("egress") or []:
            ports = {port.get("port") for port in rule.get("ports") or []}
            for peer in rule.get("to") or [{}]:
                selector = peer.get("podSelector")
                ns_name = _peer_namespace(peer)
                for source in sources:
                    if source not in EGRESS:
                        report.add(p, f"{source} has no egress allowance in check_k8s.EGRESS")
                        continue
                    names, public_ports = EGRESS[source]
                    if ns_name is not None and ns_name not in namespaces:
                        if ns_name != "kube-system" or not ports or ports - {53}:
                            report.add(p, f"{source} may reach namespace {ns_name!r} beyond DNS")
                    elif "ipBlock" in peer:
                        if not ports or ports - public_ports:
                            report.add(
                                p,
                                f"{source} may reach public addresses on "
                                f"{sorted(ports - public_ports, key=str) or 'every port'}"
                                f" (allowed: {sorted(public_ports) or 'none'})",
                            )
                    elif selector is not None or ns_name is not None:
                        there = pods_in(pods, ns_name or own_ns, app_ns)
                        reached = {
                            n for n, labels in there.items() if selects(selector or {}, labels)
                        }
                        if reached - names:
                            report.add(p, f"{source} may reach {sorted(reached - names)}")
                    else:
                        report.add(p, f"an egress rule of {source} reaches every peer")


def check_namespaces(
    objs: list[dict[str, Any]], report: Report, cluster: list[dict[str, Any]]
) -> None:
    for ns in (o for o in objs if o.get("kind") == "Namespace"):
        report.add(
            ns,
            "a Namespace in the app's kustomization: `kubectl delete -k` would delete it and "
            "everything in it; it belongs in deploy/k8s/cluster",
        )
    spaces = {o["metadata"].get("namespace") for o in objs if _namespaced(o)}
    if None in spaces:
        report.add(None, "an object has no namespace")
    declared = {o["metadata"]["name"] for o in cluster if o.get("kind") == "Namespace"}
    if spaces - {None} - declared:
        report.add(
            None,
            f"namespaces used but not declared in deploy/k8s/cluster: "
            f"{sorted(spaces - {None} - declared)}",
        )


def _namespaced(obj: dict[str, Any]) -> bool:
    return obj.get("kind") not in {"Namespace", "PriorityClass", "RuntimeClass", "ClusterRole"}


def check_maintenance(objs: list[dict[str, Any]], report: Report, root: Path = MAINTENANCE) -> None:
    """The runbook's one-off Jobs, as `envsubst | kubectl create` would make them in this
    namespace: schema-valid, locked down like every pod, and labelled so that the policies
    of this stream let them reach MongoDB (a bare `kubectl run` pod is denied everything)."""
    service_accounts = {o["metadata"]["name"]: o for o in objs if o.get("kind") == "ServiceAccount"}
    configmaps = {o["metadata"]["name"] for o in objs if o.get("kind") == "ConfigMap"}
    policies = [o for o in objs if o.get("kind") == "NetworkPolicy"]
    for path in sorted(root.glob("*.yaml")):
        for raw in (o for o in yaml.safe_load_all(path.read_text()) if o):
            pod_spec = (((raw.get("spec") or {}).get("template") or {}).get("spec")) or {}
            for c in containers(pod_spec):
                if not MAINTENANCE_IMAGE.match(str(c.get("image", ""))):
                    report.add(
                        raw,
                        f"{path.name}: container {c.get('name')}: image {c.get('image')!r} "
                        "must be ${<SERVICE>_IMAGE}, the image a Deployment of ours runs now "
                        "(read from it at creation), not a third-party or literal image",
                    )
        text = re.sub(
            r"\$\{(\w+)\}",
            lambda m: MAINTENANCE_SAMPLE.get(m.group(1), m.group(0)),
            path.read_text(),
        )
        for job in (o for o in yaml.safe_load_all(text) if o):
            job.setdefault("metadata", {}).setdefault("name", path.stem)
            before = len(report.problems)
            check_schema(job, report)
            if job.get("kind") != "Job":
                report.add(job, f"{path.name}: only Jobs belong in deploy/k8s/maintenance")
            if len(report.problems) > before:
                continue
            template = job["spec"]["template"]
            labels = (template.get("metadata") or {}).get("labels") or {}
            check_pod(
                job,
                template["spec"],
                report,
                sandboxed=False,
                service_accounts=service_accounts,
                configmaps=configmaps,
                pin_digests=False,
                probes=False,
            )
            admitted = any(
                selects(p["spec"]["podSelector"], {"app.kubernetes.io/name": "mongodb"})
                and any(
                    selects(peer.get("podSelector"), labels) and "namespaceSelector" not in peer
                    for rule in p["spec"].get("ingress") or []
                    for peer in rule.get("from") or []
                )
                for p in policies
            )
            egress = any(
                selects(p["spec"]["podSelector"], labels)
                and any(
                    selects(peer.get("podSelector"), {"app.kubernetes.io/name": "mongodb"})
                    for rule in p["spec"].get("egress") or []
                    for peer in rule.get("to") or []
                )
                for p in policies
            )
            if not (admitted and egress):
                report.add(
                    job,
                    f"{path.name}: its pod labels {labels} do not get it into MongoDB "
                    "through the NetworkPolicies (use app.kubernetes.io/name: mongo-maintenance)",
                )


def check_stream(text: str, where: str, cluster: list[dict[str, Any]] | None = None) -> list[str]:
    report = Report(where)
    cluster = cluster_objects() if cluster is None else cluster
    try:
        objs = [o for o in yaml.safe_load_all(text) if o is not None]
    except yaml.YAMLError as exc:
        return [f"{where}: YAML: {exc}"]
    if not objs:
        return [f"{where}: no objects"]
    for obj in objs:
        if not isinstance(obj, dict):
            report.add(None, f"not an object: {obj!r:.80}")
            continue
        check_schema(obj, report)
    if report.problems:  # policies assume schema-valid objects
        return report.problems
    check_secrets(objs, report)
    pin = Path(where).name in DIGEST_PINNED
    check_workloads(objs, report, cluster, pin_digests=pin)
    check_ops_port(objs, report)
    check_network(objs, report)
    check_namespaces(objs, report, cluster)
    check_sandbox(objs, report, cluster)
    check_maintenance(objs, report)
    return report.problems


def check_cluster_stream(text: str, where: str) -> list[str]:
    """deploy/k8s/cluster: schema-valid Namespaces and cluster-scoped objects only."""
    report = Report(where)
    objs = [o for o in yaml.safe_load_all(text) if o]
    for obj in objs:
        check_schema(obj, report)
        if _namespaced(obj) and obj.get("kind") != "Namespace":
            report.add(obj, "only Namespaces and cluster-scoped objects belong in the cluster base")
    return report.problems


def overlays_under(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/kustomization.yaml"))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overlays", nargs="*", type=Path, help="kustomization directories")
    parser.add_argument(
        "--rendered",
        type=Path,
        action="append",
        default=[],
        help="an already built manifest stream to check",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)

    problems: list[str] = []
    streams: list[tuple[str, str]] = [(str(p), p.read_text()) for p in args.rendered]
    overlays = args.overlays or ([] if args.rendered else overlays_under(DEFAULT_OVERLAYS))
    if overlays:
        kustomize = find_kustomize()
        if kustomize is None:
            print(
                "k8s-check: neither `kustomize` nor `kubectl kustomize` is installed",
                file=sys.stderr,
            )
            return 2
        for overlay in overlays:
            try:
                streams.append((str(overlay), build(overlay, kustomize)))
            except BuildError as exc:
                problems.append(f"{overlay}: kustomize build failed: {exc}")
        try:
            cluster_problems = check_cluster_stream(build(CLUSTER, kustomize), str(CLUSTER))
        except BuildError as exc:
            cluster_problems = [f"{CLUSTER}: kustomize build failed: {exc}"]
        except SchemaUnavailable as exc:
            print(f"k8s-check: {exc}", file=sys.stderr)
            return 2
        problems += cluster_problems
        if not cluster_problems:
            print(f"k8s-check: {CLUSTER}: namespaces and priority classes valid")
        print(f"k8s-check: built {len(overlays)} overlay(s) with `{' '.join(kustomize)}`")
    try:
        for where, text in streams:
            found = check_stream(text, where)
            problems += found
            if not found:
                count = sum(1 for o in yaml.safe_load_all(text) if o)
                print(
                    f"k8s-check: {where}: {count} objects valid "
                    f"(Kubernetes {KUBERNETES_VERSION} schemas, strict) and within policy"
                )
    except SchemaUnavailable as exc:
        print(f"k8s-check: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"k8s-check: FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
