"""`make compose-check` and `make k8s-check` pass on the committed manifests and fail on
broken copies: a dependency on a service that does not exist, a committed secret, a second
published port, a Deployment without containers, a loosened securityContext, a missing
default-deny NetworkPolicy..."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import check_compose
import check_k8s
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
K8S = REPO / "deploy" / "k8s"
ENV = {**os.environ, "PYTHON": sys.executable}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=ENV, cwd=REPO, timeout=120
    )


# ----------------------------------------------------------------------- compose


@pytest.fixture
def compose_project(tmp_path: Path) -> Path:
    """A copy of what the compose check reads: the file, .env.example, the Dockerfiles (and
    the web server's configuration), and each service's pyproject.toml and main module."""
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    wanted = [
        "deploy/Dockerfile",
        "deploy/web/*",
        "deploy/rabbitmq/*",
        "deploy/mongo/*",
        "services/*/pyproject.toml",
        "services/*/src/*/main.py",
    ]
    for source in (path for pattern in wanted for path in REPO.glob(pattern)):
        target = tmp_path / source.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    return tmp_path


def edit_compose(project: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    path = project / "docker-compose.yml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_compose_check_accepts_the_committed_file() -> None:
    done = run(REPO / "scripts" / "compose-check.sh")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid (Compose Specification schema) and within policy" in done.stdout
    if shutil.which("docker-compose") or run("docker", "compose", "version").returncode == 0:
        assert "config` accepts" in done.stdout, done.stdout  # the real Compose agreed too


def test_compose_check_exits_non_zero_on_a_dependency_on_an_unknown_service(
    compose_project: Path,
) -> None:
    def depend_on_ghost(doc: dict[str, Any]) -> None:
        doc["services"]["gateway"]["depends_on"]["mailer"] = {"condition": "service_healthy"}

    path = edit_compose(compose_project, depend_on_ghost)
    done = run(REPO / "scripts" / "compose-check.sh", path)
    assert done.returncode != 0
    assert "depends on unknown service 'mailer'" in done.stderr


def test_the_real_compose_also_rejects_an_unknown_dependency(compose_project: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("Debian's docker-compose is not installed (scripts/install-ops-tools.sh)")
    path = edit_compose(
        compose_project,
        lambda doc: doc["services"]["auth"]["depends_on"].update(
            {"ghost": {"condition": "service_healthy"}}
        ),
    )
    shutil.copy(compose_project / ".env.example", compose_project / ".env")
    done = subprocess.run(
        [tool, "-f", str(path), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=compose_project,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ghost" in done.stderr


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        pytest.param(
            lambda d: d["services"]["redis"]["environment"].update(
                REDIS_PASSWORD="hunter2-hunter2"
            ),
            "REDIS_PASSWORD must come from .env",
            id="literal-password",
        ),
        pytest.param(
            lambda d: d["services"]["gateway"]["environment"].update(
                REDIS_URL="redis://:s3cr3t@redis:6379/0"
            ),
            "REDIS_URL has a password written in its URL",
            id="password-in-url",
        ),
        pytest.param(
            lambda d: d["services"]["billing"]["environment"].update(
                STRIPE_API_KEY="sk_live_51HxQeLAbCdEfGhIjKlMn"
            ),
            "STRIPE_API_KEY must come from .env",
            id="stripe-key",
        ),
        pytest.param(
            lambda d: d["services"]["auth"].update(ports=["8001:8000"]),
            "auth: publishes ports; only web may",
            id="second-published-port",
        ),
        pytest.param(
            lambda d: d["services"]["gateway"].update(ports=["8000:8000"]),
            "gateway: publishes ports; only web may",
            id="gateway-published-beside-the-web-app",
        ),
        pytest.param(
            lambda d: d["services"].pop("web"),
            "web: no service in the compose file (built from deploy/web/Dockerfile)",
            id="web-app-missing",
        ),
        pytest.param(
            lambda d: d["services"]["web"]["build"].update(dockerfile="deploy/Dockerfile"),
            "web: must be built from deploy/web/Dockerfile",
            id="web-app-from-the-python-recipe",
        ),
        pytest.param(
            lambda d: d["services"]["web"].update(user="root"),
            "web: runs as root",
            id="web-app-as-root",
        ),
        pytest.param(
            lambda d: d["services"]["web"].pop("read_only"),
            "web: read_only must be true",
            id="web-app-writable-root",
        ),
        pytest.param(
            lambda d: d["services"]["web"].pop("cap_drop"),
            "web: cap_drop must contain ALL",
            id="web-app-with-capabilities",
        ),
        pytest.param(
            lambda d: d["services"]["gateway"].update(security_opt=[]),
            "gateway: security_opt must contain no-new-privileges:true",
            id="privilege-escalation",
        ),
        pytest.param(
            lambda d: d["services"]["billing"].pop("healthcheck"),
            "billing: long-running service without a healthcheck",
            id="no-healthcheck",
        ),
        pytest.param(
            lambda d: d["services"]["auth"].update(
                depends_on={"gateway": {"condition": "service_healthy"}}
            ),
            "dependency cycle",
            id="cycle",
        ),
        pytest.param(
            lambda d: d["services"]["ai-runner"]["depends_on"].update(
                {"minio-setup": {"condition": "service_healthy"}}
            ),
            "waits for minio-setup to be healthy, but it has no healthcheck",
            id="one-shot-awaited-as-healthy",
        ),
        pytest.param(
            lambda d: d["services"]["mongo"].update(command=["--bind_ip_all"]),
            "MongoDB must run as a replica set",
            id="mongo-standalone",
        ),
        pytest.param(
            lambda d: d["services"].pop("billing"),
            "services/billing has no service",
            id="service-missing",
        ),
        pytest.param(
            lambda d: d["services"]["billing"]["build"].update(
                dockerfile="services/billing/Dockerfile"
            ),
            "billing: must be built from deploy/Dockerfile",
            id="own-dockerfile",
        ),
        pytest.param(
            lambda d: d["services"]["billing"]["build"]["args"].update(SERVICE="auth"),
            "billing: build arg SERVICE must be 'billing'",
            id="wrong-service-arg",
        ),
        pytest.param(
            lambda d: d["services"]["ai-runner"]["build"]["args"].pop("PACKAGE"),
            "services/ai-runner/src/ai-runner/main.py does not exist",
            id="package-not-importable",
        ),
        pytest.param(
            lambda d: d["services"]["auth"].update(restart_policy="always"),
            "schema: services.auth",
            id="unknown-key",
        ),
        pytest.param(
            lambda d: d["services"]["gateway"].update(env_file=".env"),
            "gateway: env_file hands it every secret of the file",
            id="shared-env-file",
        ),
        pytest.param(
            lambda d: d["services"]["ai-runner"]["environment"].update(
                JWT_PRIVATE_KEY="${JWT_PRIVATE_KEY:?set it}"
            ),
            "ai-runner: is handed JWT_PRIVATE_KEY, which only ['auth'] use",
            id="signing-key-in-the-sandbox",
        ),
        pytest.param(
            lambda d: d["services"]["notifications"]["environment"].update(
                STRIPE_API_KEY="${STRIPE_API_KEY:-sk_test_fallback}"
            ),
            "notifications: STRIPE_API_KEY must come from .env",
            id="secret-with-a-literal-default",
        ),
        pytest.param(
            lambda d: d["services"]["interviews"]["environment"].update(
                SMTP_PASSWORD="${SMTP_PASSWORD:?set it}"
            ),
            "${SMTP_PASSWORD} is required but .env.example does not set it",
            id="undocumented-variable",
        ),
        pytest.param(
            lambda d: d["services"]["mongo"].update(
                command=[
                    d["services"]["mongo"]["command"][0].replace(
                        " --keyFile /tmp/mongo-keyfile", ""
                    )
                ]
            ),
            "mongo: MongoDB must run with authentication: --keyFile",
            id="mongo-without-auth",
        ),
        pytest.param(
            lambda d: d["services"]["mongo"]["environment"].pop("MONGO_INITDB_ROOT_PASSWORD"),
            "mongo: MONGO_INITDB_ROOT_PASSWORD must come from .env",
            id="mongo-without-root-password",
        ),
        pytest.param(
            lambda d: d["services"]["auth"]["environment"].update(
                MONGO_URI="mongodb://mongo:27017/?replicaSet=rs0"
            ),
            "auth: MONGO_URI is not a mongodb:// URL with a user",
            id="mongo-uri-without-user",
        ),
        pytest.param(
            lambda d: d["services"]["auth"]["environment"].update(
                MONGO_URI="mongodb://root:${MONGO_ROOT_PASSWORD:?x}@mongo:27017/mi_auth"
                "?replicaSet=rs0&authSource=admin"
            ),
            "auth: is handed MONGO_ROOT_PASSWORD, which only ['mongo', 'mongo-users'] use",
            id="service-with-the-root-user",
        ),
        pytest.param(
            lambda d: d["services"]["billing"]["environment"].update(
                MONGO_URI="mongodb://auth:${MONGO_PASSWORD_AUTH:?x}@mongo:27017/mi_auth"
                "?replicaSet=rs0&authSource=mi_auth"
            ),
            "billing: MONGO_URI must use its own user 'billing', not 'auth'",
            id="service-with-another-services-user",
        ),
        pytest.param(
            lambda d: d["services"]["interviews"]["environment"].update(
                MONGO_URI="mongodb://interviews:${MONGO_PASSWORD_INTERVIEWS:?x}@mongo:27017/"
                "mi_auth?replicaSet=rs0&authSource=mi_auth"
            ),
            "interviews: MONGO_URI must name its own database mi_interviews",
            id="service-on-another-database",
        ),
        pytest.param(
            lambda d: d["services"]["interviews"]["environment"].update(
                MONGO_URI="mongodb://interviews:${MONGO_PASSWORD_INTERVIEWS:?x}@mongo:27017/"
                "mi_interviews?replicaSet=rs0&authSource=admin"
            ),
            "interviews: MONGO_URI must name its own database mi_interviews",
            id="service-user-defined-in-admin",
        ),
        pytest.param(
            lambda d: d["services"]["notifications"]["environment"].update(
                MONGO_URI="mongodb://notifications:${MONGO_PASSWORD_BILLING:?x}@mongo:27017/"
                "mi_notifications?replicaSet=rs0&authSource=mi_notifications"
            ),
            "notifications: is handed MONGO_PASSWORD_BILLING, which only ['billing', 'mongo-",
            id="service-with-another-services-password",
        ),
        pytest.param(
            lambda d: d["services"]["gateway"]["environment"].update(
                RABBITMQ_URL="amqp://auth:${RABBITMQ_PASSWORD_AUTH:?x}@rabbitmq:5672/"
            ),
            "gateway: RABBITMQ_URL must use its own user 'gateway', not 'auth'",
            id="broker-user-of-another-service",
        ),
        pytest.param(
            lambda d: d["services"]["billing"]["environment"].pop("RABBITMQ_URL"),
            "billing: no RABBITMQ_URL (its own broker user)",
            id="service-without-broker-user",
        ),
        pytest.param(
            lambda d: d["services"]["rabbitmq"]["environment"].update(
                RABBITMQ_DEFAULT_USER="mock-interview",
                RABBITMQ_DEFAULT_PASS="${RABBITMQ_ADMIN_PASS:?x}",
            ),
            "rabbitmq: RABBITMQ_DEFAULT_USER: one shared account",
            id="broker-default-user",
        ),
        pytest.param(
            lambda d: d["services"]["rabbitmq"].update(
                volumes=[v for v in d["services"]["rabbitmq"]["volumes"] if "conf.d" not in v]
            ),
            "rabbitmq: must load the definitions at boot",
            id="broker-definitions-not-loaded",
        ),
        pytest.param(
            lambda d: d["services"]["rabbitmq"]["environment"].pop("RABBITMQ_PASSWORD_GATEWAY"),
            "rabbitmq: deploy/rabbitmq/definitions.json needs RABBITMQ_PASSWORD_GATEWAY",
            id="broker-missing-a-password",
        ),
        pytest.param(
            lambda d: d["services"]["mongo-users"]["environment"].update(
                MONGO_SERVICES="auth interviews ai-runner notifications"
            ),
            "mongo-users: MONGO_SERVICES ['ai-runner', 'auth', 'interviews', 'notifications'] "
            "must be exactly the services with a MONGO_URI",
            id="database-user-not-created",
        ),
        pytest.param(
            lambda d: d["services"]["billing"]["depends_on"].pop("mongo-users"),
            "billing: must wait for mongo-users",
            id="service-before-its-database-user",
        ),
    ],
)
def test_compose_check_rejects(
    compose_project: Path, change: Callable[[dict[str, Any]], None], complaint: str
) -> None:
    path = edit_compose(compose_project, change)
    problems = check_compose.check(path, compose_project / ".env.example")
    assert any(complaint in p for p in problems), problems


def _definitions(project: Path) -> tuple[Path, dict[str, Any]]:
    path = project / "deploy" / "rabbitmq" / "definitions.json"
    return path, json.loads(path.read_text())


def _user(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(u for u in doc["users"] if u["name"] == name)
    return found


def _grant(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in doc["permissions"] if p["user"] == name)
    return found


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        pytest.param(
            lambda d: d["users"].append({"name": "guest", "password": "guest", "tags": []}),
            "defines the guest user",
            id="guest",
        ),
        pytest.param(
            lambda d: _grant(d, "auth").update(configure=".*", write=".*", read=".*"),
            "auth's permissions must be exactly servicekit.broker.broker_permissions('auth')",
            id="service-may-use-every-queue",
        ),
        pytest.param(
            lambda d: _grant(d, "notifications").update(read="^(billing\\..+|mi\\.events)$"),
            "notifications's permissions must be exactly",
            id="service-reads-another-services-queues",
        ),
        pytest.param(
            lambda d: d["users"].remove(_user(d, "billing")),
            "no user 'billing' (one per service)",
            id="service-without-its-user",
        ),
        pytest.param(
            lambda d: _user(d, "auth").update(password="0123456789abcdef0123456789abcdef"),
            "auth's password must be the ${RABBITMQ_PASSWORD_AUTH} placeholder",
            id="committed-broker-password",
        ),
        pytest.param(
            lambda d: _user(d, "gateway").update(tags=["administrator"]),
            "gateway must have no tags",
            id="service-is-broker-admin",
        ),
        pytest.param(
            lambda d: d["users"].append({"name": "shared", "password": "${X}", "tags": []}),
            "user 'shared' is no service of ours",
            id="shared-broker-user",
        ),
    ],
)
def test_compose_check_rejects_broker_definitions(
    compose_project: Path, change: Callable[[dict[str, Any]], None], complaint: str
) -> None:
    path, doc = _definitions(compose_project)
    change(doc)
    path.write_text(json.dumps(doc))
    problems = check_compose.check(
        compose_project / "docker-compose.yml", compose_project / ".env.example"
    )
    assert any(complaint in p for p in problems), problems


def test_the_broker_definitions_are_what_the_code_says() -> None:
    import rabbitmq_definitions

    assert rabbitmq_definitions.main(["--check"]) == 0
    names = rabbitmq_definitions.services()
    assert names == ["ai-runner", "auth", "billing", "gateway", "interviews", "notifications"]


def test_compose_check_rejects_a_real_secret_in_env_example(compose_project: Path) -> None:
    example = compose_project / ".env.example"
    pem = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519"], capture_output=True, text=True, check=True
    ).stdout.replace("\n", "\\n")
    example.write_text(
        re.sub(
            r"^JWT_PRIVATE_KEY=.*$", f'JWT_PRIVATE_KEY="{pem}"', example.read_text(), flags=re.M
        ).replace("RABBITMQ_PASSWORD_AUTH=change-me", "RABBITMQ_PASSWORD_AUTH=9f8e7d6c5b4a39281706")
    )
    problems = check_compose.check(compose_project / "docker-compose.yml", example)
    assert any("JWT_PRIVATE_KEY holds what looks like a real secret" in p for p in problems)
    assert any("RABBITMQ_PASSWORD_AUTH must be a placeholder" in p for p in problems)


def test_gen_env_makes_a_usable_env_from_the_example() -> None:
    """`scripts/gen-env.sh > .env` is the first step of `make stack`: every placeholder
    replaced, the signing key a real Ed25519 key, MinIO's key length limits met."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from dotenv import dotenv_values

    done = run(REPO / "scripts" / "gen-env.sh")
    assert done.returncode == 0, done.stderr
    import io

    values = dotenv_values(stream=io.StringIO(done.stdout))
    assert "change-me" not in done.stdout
    key = serialization.load_pem_private_key(values["JWT_PRIVATE_KEY"].encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    assert 3 <= len(values["S3_KEY"]) <= 20 and 8 <= len(values["S3_SECRET"]) <= 40
    # one database and one broker password per service, all different; hex, as the broker's
    # entrypoint writes them into its definitions unescaped
    per_service = {k: v for k, v in values.items() if re.match(r"(MONGO|RABBITMQ)_PASSWORD_", k)}
    assert len(per_service) == 5 + 6
    assert all(re.fullmatch(r"[0-9a-f]{32}", v or "") for v in per_service.values())
    assert len(set(per_service.values())) == len(per_service)
    # a MongoDB keyFile's content: 6 to 1024 characters of the base64 alphabet
    assert re.fullmatch(r"[A-Za-z0-9+/=]{6,1024}", values["MONGO_REPLICA_SET_KEY"] or "")
    again = dotenv_values(stream=io.StringIO(run(REPO / "scripts" / "gen-env.sh").stdout))
    assert again["REDIS_PASSWORD"] != values["REDIS_PASSWORD"]


def test_ci_builds_each_image_with_the_build_args_compose_uses() -> None:
    """CI's image matrix comes from docker-compose.yml: every service once from
    deploy/Dockerfile, the AI runner with its package name and the packages its sandbox
    needs, and the web app from its own Dockerfile."""
    done = run(sys.executable, REPO / "scripts" / "image_matrix.py")
    assert done.returncode == 0, done.stderr
    include = json.loads(done.stdout)["include"]
    services = sorted(p.parent.name for p in REPO.glob("services/*/pyproject.toml"))
    assert sorted(entry["service"] for entry in include) == sorted([*services, "web"])
    recipes = {e["service"]: e["dockerfile"] for e in include}
    assert recipes == {**{s: "deploy/Dockerfile" for s in services}, "web": "deploy/web/Dockerfile"}
    assert all((REPO / recipe).is_file() for recipe in recipes.values())
    args = {e["service"]: e["build-args"].splitlines() for e in include}
    assert args["web"] == []
    assert args["auth"] == ["SERVICE=auth"]
    assert args["ai-runner"] == [
        "SERVICE=ai-runner",
        "PACKAGE=ai_runner",
        "APT_PACKAGES=bubblewrap nodejs",
    ]


# -------------------------------------------------------------------- kubernetes


def test_k8s_check_accepts_every_overlay() -> None:
    done = run(REPO / "scripts" / "k8s-check.sh")
    assert done.returncode == 0, done.stdout + done.stderr
    for overlay in ("dev", "prod"):
        assert re.search(rf"overlays/{overlay}: \d+ objects valid", done.stdout), done.stdout


def test_k8s_check_exits_non_zero_on_a_broken_overlay(tmp_path: Path) -> None:
    shutil.copytree(K8S, tmp_path / "k8s")
    deployment = tmp_path / "k8s" / "base" / "auth" / "deployment.yaml"
    doc = yaml.safe_load(deployment.read_text())
    del doc["spec"]["template"]["spec"]["containers"]
    deployment.write_text(yaml.safe_dump(doc))
    done = run(REPO / "scripts" / "k8s-check.sh", tmp_path / "k8s" / "overlays" / "prod")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Deployment/auth: schema: spec.template.spec: 'containers' is a required property" in (
        done.stderr
    )


def test_k8s_check_exits_non_zero_when_kustomize_cannot_build(tmp_path: Path) -> None:
    shutil.copytree(K8S, tmp_path / "k8s")
    kustomization = tmp_path / "k8s" / "base" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - mailer\n")  # no such folder
    done = run(REPO / "scripts" / "k8s-check.sh", tmp_path / "k8s" / "overlays" / "dev")
    assert done.returncode == 1
    assert "kustomize build failed" in done.stderr


def built(overlay: str) -> list[dict[str, Any]]:
    kustomize = check_k8s.find_kustomize()
    assert kustomize, "kubectl kustomize or kustomize is needed for make k8s-check"
    return [
        o for o in yaml.safe_load_all(check_k8s.build(K8S / "overlays" / overlay, kustomize)) if o
    ]


@pytest.fixture(scope="module")
def prod_objects() -> list[dict[str, Any]]:
    return built("prod")


@pytest.fixture(scope="module")
def dev_objects() -> list[dict[str, Any]]:
    return built("dev")


def find(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def pod(objs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    spec: dict[str, Any] = find(objs, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def container(objs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return find(objs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


def triggers(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    triggers: list[dict[str, Any]] = find(objs, "ScaledObject", "ai-runner")["spec"]["triggers"]
    return triggers


def trigger(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(t for t in triggers(objs) if t["type"] == kind)


def drop_trigger(objs: list[dict[str, Any]], kind: str) -> None:
    triggers(objs).remove(trigger(objs, kind))


def scale_on_queue_length(objs: list[dict[str, Any]]) -> None:
    """The old signal: the AI runner's RabbitMQ queues, which its consumers keep empty."""
    drop_trigger(objs, "prometheus")
    triggers(objs).append(
        {
            "type": "rabbitmq",
            "metadata": {
                "protocol": "amqp",
                "queueName": "ai-runner.main.SessionRequested",
                "mode": "QueueLength",
                "value": "5",
                "hostFromEnv": "RABBITMQ_URL",
            },
        }
    )


def add_secret(objs: list[dict[str, Any]]) -> None:
    objs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "mock-interview-secrets", "namespace": "mock-interview"},
            "stringData": {"STRIPE_API_KEY": "sk_live_51HxQeLAbCdEfGhIjKlMn"},
        }
    )


def backup_container(objs: list[dict[str, Any]]) -> dict[str, Any]:
    cronjob = find(objs, "CronJob", "mongo-backup")
    found: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    return found


BREAKAGES: list[Any] = [
    pytest.param(
        lambda o: backup_container(o).update(image="amazon/aws-cli:2.17.0"),
        "CronJob/mongo-backup: container backup: image 'amazon/aws-cli:2.17.0' is not the "
        "platform's own image",
        id="backup-third-party-image",
    ),
    pytest.param(
        lambda o: backup_container(o).update(
            image="registry.example.com/mock-interview/interviews:1.4.2"
        ),
        "CronJob/mongo-backup: container backup: image "
        "'registry.example.com/mock-interview/interviews:1.4.2' must be pinned by digest here",
        id="backup-app-image-by-tag",
    ),
    pytest.param(
        lambda o: backup_container(o).update(
            image="registry.example.com/mock-interview/interviews@sha256:" + "1" * 64
        ),
        "is not the platform's own image",
        id="backup-image-other-than-the-deployments",
    ),
    pytest.param(
        add_secret,
        "Secret/mock-interview-secrets: a Secret object is committed",
        id="committed-secret",
    ),
    pytest.param(
        lambda o: container(o, "billing")["env"].append(
            {"name": "STRIPE_WEBHOOK_SECRET", "value": "whsec_abcdefghijklmnop"}
        ),
        "STRIPE_WEBHOOK_SECRET has a literal value",
        id="literal-secret-env",
    ),
    pytest.param(
        lambda o: find(o, "ConfigMap", "mock-interview-config")["data"].update(
            MONGO_URI="mongodb://admin:hunter2@mongodb:27017/"
        ),
        "MONGO_URI holds what looks like a secret value",
        id="credentials-in-configmap",
    ),
    pytest.param(
        lambda o: container(o, "gateway")["securityContext"].update(readOnlyRootFilesystem=False),
        "Deployment/gateway: container gateway: readOnlyRootFilesystem must be true",
        id="writable-root",
    ),
    pytest.param(
        lambda o: container(o, "auth")["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
        "capabilities.add is not allowed",
        id="added-capability",
    ),
    pytest.param(
        lambda o: container(o, "interviews")["securityContext"].update(
            seccompProfile={"type": "Unconfined"}
        ),
        "Deployment/interviews: container interviews: seccompProfile Unconfined is not allowed",
        id="unconfined-outside-the-sandbox",
    ),
    pytest.param(
        lambda o: find(o, "Deployment", "ai-runner")["spec"]["template"]["spec"].pop("hostUsers"),
        "own user namespace (hostUsers: false)",
        id="sandbox-without-user-namespace",
    ),
    pytest.param(
        lambda o: container(o, "billing").pop("readinessProbe"),
        "readinessProbe must GET /readyz",
        id="no-readiness-probe",
    ),
    pytest.param(
        lambda o: container(o, "auth")["resources"].pop("limits"),
        "resources.limits.cpu is missing",
        id="no-limits",
    ),
    pytest.param(
        lambda o: container(o, "gateway").update(image="registry.example.com/mi/gateway:latest"),
        "is not pinned to a tag or digest",
        id="latest-image",
    ),
    pytest.param(
        lambda o: find(o, "Deployment", "auth")["spec"]["template"]["spec"].update(
            automountServiceAccountToken=True
        ),
        "Deployment/auth: automountServiceAccountToken must be false",
        id="token-mounted",
    ),
    pytest.param(
        lambda o: o.remove(find(o, "NetworkPolicy", "default-deny-all")),
        "no default-deny NetworkPolicy",
        id="no-default-deny",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "auth-from-services")["spec"]["ingress"].append(
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                        }
                    }
                ]
            }
        ),
        "namespace ingress-nginx may not reach ['auth']",
        id="auth-exposed-to-ingress",
    ),
    pytest.param(
        lambda o: o.remove(find(o, "HorizontalPodAutoscaler", "billing")),
        "Deployment/billing: no HorizontalPodAutoscaler or ScaledObject scales it",
        id="billing-not-autoscaled",
    ),
    pytest.param(
        lambda o: drop_trigger(o, "prometheus"),
        "ScaledObject/ai-runner: must have a prometheus trigger whose query reads ai_jobs_pending",
        id="keda-without-backlog-trigger",
    ),
    pytest.param(
        scale_on_queue_length,
        "ScaledObject/ai-runner: must have a prometheus trigger whose query reads ai_jobs_pending",
        id="keda-on-queue-length",
    ),
    pytest.param(
        lambda o: trigger(o, "prometheus")["metadata"].update(
            query='sum(ai_jobs_pending{namespace="mock-interview"})'
        ),
        "the prometheus query must take ai_jobs_pending once, not once per replica",
        id="keda-backlog-counted-per-replica",
    ),
    pytest.param(
        lambda o: trigger(o, "prometheus")["metadata"].pop("serverAddress"),
        "the prometheus trigger on ai_jobs_pending needs metadata.serverAddress",
        id="keda-backlog-without-prometheus-address",
    ),
    pytest.param(
        lambda o: drop_trigger(o, "cpu"),
        "ScaledObject/ai-runner: must also scale on CPU (a cpu trigger)",
        id="keda-without-cpu",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "rabbitmq-access")["spec"]["ingress"].append(
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
                ],
                "ports": [{"protocol": "TCP", "port": 5672}],
            }
        ),
        "NetworkPolicy/rabbitmq-access: ingress from namespace 'keda' is not an allowed peer",
        id="keda-reaches-rabbitmq",
    ),
    pytest.param(
        lambda o: find(o, "Ingress", "gateway")["spec"].pop("tls"),
        "Ingress/gateway: must terminate TLS",
        id="ingress-without-tls",
    ),
    pytest.param(
        lambda o: find(o, "Ingress", "gateway")["spec"]["rules"][0]["http"]["paths"][0]["backend"][
            "service"
        ].update(name="auth"),
        "Ingress/gateway: routes to 'auth': only gateway and web are public",
        id="ingress-to-an-internal-service",
    ),
    pytest.param(
        lambda o: container(o, "web")["securityContext"].update(readOnlyRootFilesystem=False),
        "Deployment/web: container web: readOnlyRootFilesystem must be true",
        id="web-writable-root",
    ),
    pytest.param(
        lambda o: pod(o, "web")["securityContext"].update(runAsUser=101),
        "Deployment/web: pod securityContext.runAsUser must be 10001",
        id="web-as-the-images-nginx-user",
    ),
    pytest.param(
        lambda o: o.remove(find(o, "HorizontalPodAutoscaler", "web")),
        "Deployment/web: needs a CPU HorizontalPodAutoscaler",
        id="web-not-autoscaled",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "web-from-ingress")["spec"]["ingress"][0]["from"][0][
            "namespaceSelector"
        ]["matchLabels"].update({"kubernetes.io/metadata.name": "default"}),
        "NetworkPolicy/web-from-ingress: ingress from namespace 'default' is not an allowed peer",
        id="web-reached-from-another-namespace",
    ),
    pytest.param(
        lambda o: o.remove(find(o, "PodDisruptionBudget", "interviews")),
        "Deployment/interviews: no PodDisruptionBudget covers its pods",
        id="no-pdb",
    ),
    pytest.param(
        lambda o: find(o, "Service", "gateway")["spec"]["ports"].append(
            {"name": "ops", "port": 9090, "targetPort": "ops", "protocol": "TCP"}
        ),
        "Service/gateway: exposes the ops port",
        id="ops-port-in-a-service",
    ),
    pytest.param(
        lambda o: container(o, "billing")["readinessProbe"]["httpGet"].update(port="http"),
        "Deployment/billing: container billing: readinessProbe must use the ops port",
        id="probe-on-the-api-port",
    ),
    pytest.param(
        lambda o: container(o, "auth")["ports"].pop(),
        "Deployment/auth: container auth: needs a port named ops on 9090",
        id="no-ops-port",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "services-from-prometheus")["spec"]["ingress"][0][
            "ports"
        ].append({"protocol": "TCP", "port": 8000}),
        "NetworkPolicy/services-from-prometheus: the monitoring namespace may reach",
        id="monitoring-reaches-the-api-port",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "gateway-from-ingress")["spec"]["ingress"][0][
            "ports"
        ].append({"protocol": "TCP", "port": 9090}),
        "NetworkPolicy/gateway-from-ingress: ingress-nginx may reach the ops port of ['gateway']",
        id="ingress-reaches-the-ops-port",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "services-from-gateway")["spec"]["ingress"][0].pop(
            "ports"
        ),
        "pods of this namespace may reach the ops port of "
        "['billing', 'interviews', 'notifications']",
        id="every-port-open-to-the-gateway",
    ),
    pytest.param(
        lambda o: find(o, "ConfigMap", "mock-interview-config")["data"].pop("OPS_PORT"),
        "ConfigMap mock-interview-config must set OPS_PORT",
        id="no-ops-port-setting",
    ),
    pytest.param(
        lambda o: find(o, "ConfigMap", "mock-interview-config")["data"].update(API_DOCS="true"),
        "API_DOCS is on: /docs and /openapi.json would be public",
        id="api-docs-public",
    ),
    pytest.param(
        lambda o: next(e for e in container(o, "billing")["env"] if e["name"] == "MONGO_URI")[
            "valueFrom"
        ]["secretKeyRef"].update(key="MONGO_URI"),
        "Deployment/billing: MONGO_URI must come from its own Secret key (MONGO_URI_BILLING",
        id="shared-database-user",
    ),
    pytest.param(
        lambda o: next(e for e in container(o, "billing")["env"] if e["name"] == "RABBITMQ_URL")[
            "valueFrom"
        ]["secretKeyRef"].update(key="RABBITMQ_URL_AUTH"),
        "Deployment/billing: RABBITMQ_URL shares the key RABBITMQ_URL_AUTH with auth",
        id="billing-as-the-auth-broker-user",
    ),
    pytest.param(
        lambda o: pod(o, "gateway").update(terminationGracePeriodSeconds=10),
        "Deployment/gateway: terminationGracePeriodSeconds 10 < preStop + graceful shutdown",
        id="sigkill-mid-shutdown",
    ),
    pytest.param(
        lambda o: pod(o, "ai-runner").pop("nodeSelector"),
        "Deployment/ai-runner: the sandbox must run on its own nodes",
        id="sandbox-on-shared-nodes",
    ),
    pytest.param(
        lambda o: pod(o, "gateway").update(
            tolerations=[{"key": "mock-interview/sandbox", "operator": "Exists"}]
        ),
        "Deployment/gateway: tolerates the mock-interview/sandbox taint",
        id="gateway-on-sandbox-nodes",
    ),
    pytest.param(
        lambda o: find(o, "Deployment", "auth")["metadata"].update(
            namespace="mock-interview-sandbox"
        ),
        "Deployment/auth: runs in the sandbox's namespace mock-interview-sandbox",
        id="auth-beside-the-sandbox",
    ),
    pytest.param(
        lambda o: container(o, "ai-runner")["env"].append(
            {
                "name": "JWT_PRIVATE_KEY",
                "valueFrom": {
                    "secretKeyRef": {"name": "mock-interview-secrets", "key": "JWT_PRIVATE_KEY"}
                },
            }
        ),
        "Deployment/ai-runner: the sandbox reads Secrets ['mock-interview-secrets']",
        id="sandbox-reads-the-signing-key",
    ),
    pytest.param(
        lambda o: container(o, "billing")["env"].append(
            {
                "name": "AI_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": "ai-runner-secrets", "key": "AI_API_KEY"}},
            }
        ),
        "Deployment/billing: reads ai-runner-secrets",
        id="billing-reads-the-sandbox-secret",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "ai-runner-egress")["spec"]["egress"][0]["to"][0][
            "podSelector"
        ]["matchLabels"].update({"app.kubernetes.io/name": "billing"}),
        "NetworkPolicy/ai-runner-egress: ai-runner may reach ['billing']",
        id="sandbox-reaches-billing",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "auth-from-ai-runner")["spec"]["podSelector"][
            "matchLabels"
        ].update({"app.kubernetes.io/name": "billing"}),
        "NetworkPolicy/auth-from-ai-runner: ai-runner (namespace mock-interview-sandbox) may not "
        "reach ['billing']",
        id="billing-admits-the-sandbox",
    ),
    pytest.param(
        lambda o: o.remove(find(o, "CronJob", "mongo-backup")),
        "no CronJob mongo-backup: nothing backs MongoDB up",
        id="no-backup",
    ),
    pytest.param(
        lambda o: find(o, "CronJob", "mongo-backup")["spec"].update(schedule="0 2 * * 0"),
        "CronJob/mongo-backup: schedule '0 2 * * 0' must run at least daily",
        id="weekly-backup",
    ),
    pytest.param(
        lambda o: find(o, "CronJob", "mongo-backup")["spec"].update(concurrencyPolicy="Allow"),
        "CronJob/mongo-backup: concurrencyPolicy must be Forbid",
        id="overlapping-backups",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "mongodb-access")["spec"]["ingress"][0]["from"][0][
            "podSelector"
        ]["matchExpressions"][0]["values"].remove("mongo-maintenance"),
        "CronJob/mongo-backup: no NetworkPolicy lets its pods into MongoDB",
        id="backup-cannot-reach-mongo",
    ),
    pytest.param(
        lambda o: find(o, "CronJob", "mongo-backup")["spec"]["jobTemplate"]["spec"]["template"][
            "spec"
        ]["containers"][0]["securityContext"].update(readOnlyRootFilesystem=False),
        "CronJob/mongo-backup: container backup: readOnlyRootFilesystem must be true",
        id="backup-writable-root",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "mongo-maintenance-egress")["spec"]["egress"].append(
            {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}}}]}
        ),
        "NetworkPolicy/mongo-maintenance-egress: mongo-backup may reach ['redis']",
        id="backup-reaches-redis",
    ),
    pytest.param(
        lambda o: o.remove(find(o, "PodMonitor", "ai-runner")),
        "no PodMonitor scrapes ai-runner on its ops port",
        id="not-scraped",
    ),
    pytest.param(
        lambda o: find(o, "PodMonitor", "mock-interview-services")["spec"]["podMetricsEndpoints"][
            0
        ].update(port="http"),
        "no PodMonitor scrapes gateway on its ops port",
        id="scraped-on-the-api-port",
    ),
    pytest.param(
        lambda o: find(o, "Deployment", "auth")["spec"]["template"]["metadata"].update(
            annotations={"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}
        ),
        "Deployment/auth: prometheus.io/* scrape annotations",
        id="scraped-twice",
    ),
    pytest.param(
        lambda o: find(o, "PrometheusRule", "mock-interview-alerts")["spec"]["groups"][0][
            "rules"
        ].pop(),
        "no PrometheusRule holds deploy/observability/alerts.yml as it is",
        id="rules-out-of-date",
    ),
    pytest.param(
        lambda o: o.remove(find(o, "PrometheusRule", "mock-interview-alerts")),
        "no PrometheusRule holds deploy/observability/alerts.yml as it is",
        id="no-rules",
    ),
    pytest.param(
        lambda o: o.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mock-interview"}}
        ),
        "Namespace/mock-interview: a Namespace in the app's kustomization",
        id="namespace-in-the-app",
    ),
    pytest.param(
        lambda o: pod(o, "auth").update(priorityClassName="system-cluster-critical"),
        "Deployment/auth: priorityClassName 'system-cluster-critical' is not a PriorityClass",
        id="foreign-priority-class",
    ),
    pytest.param(
        lambda o: pod(o, "interviews").pop("priorityClassName"),
        "Deployment/interviews: priorityClassName None is not a PriorityClass",
        id="no-priority-class",
    ),
    pytest.param(
        lambda o: pod(o, "gateway")["topologySpreadConstraints"][0].update(
            whenUnsatisfiable="ScheduleAnyway"
        ),
        "Deployment/gateway: needs a hard spread over nodes",
        id="soft-node-spread",
    ),
    pytest.param(
        lambda o: container(o, "billing")["resources"]["requests"].update(memory="128Mi"),
        "Deployment/billing: container billing: memory request 128Mi must equal its limit",
        id="memory-overcommitted",
    ),
    pytest.param(
        lambda o: find(o, "HorizontalPodAutoscaler", "auth")["spec"].update(minReplicas=2),
        "HorizontalPodAutoscaler/auth: at least 2 replicas: a node drain",
        id="two-replicas",
    ),
    pytest.param(
        lambda o: find(o, "ScaledObject", "ai-runner")["spec"].pop("fallback"),
        "ScaledObject/ai-runner: a prometheus trigger needs spec.fallback",
        id="keda-without-fallback",
    ),
    pytest.param(
        lambda o: container(o, "auth").update(
            image="registry.example.com/mock-interview/auth:0.1.0"
        ),
        "Deployment/auth: container auth: image 'registry.example.com/mock-interview/auth:0.1.0' "
        "must be pinned by digest here",
        id="prod-image-by-tag",
    ),
    pytest.param(
        lambda o: o.remove(find(o, "PodDisruptionBudget", "notifications")),
        "Deployment/notifications: no PodDisruptionBudget covers its pods",
        id="notifications-without-pdb",
    ),
    pytest.param(
        lambda o: o.remove(find(o, "HorizontalPodAutoscaler", "notifications")),
        "Deployment/notifications: needs a CPU HorizontalPodAutoscaler",
        id="notifications-not-autoscaled",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "notifications-egress")["spec"]["egress"].append(
            {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "interviews"}}}]}
        ),
        "NetworkPolicy/notifications-egress: notifications may reach ['interviews']",
        id="notifications-reaches-interviews",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "notifications-egress")["spec"]["egress"][3][
            "ports"
        ].append({"protocol": "TCP", "port": 80}),
        "notifications may reach public addresses on [80] (allowed: [465, 587])",
        id="notifications-to-the-web",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "notifications-egress")["spec"]["egress"].append({}),
        "an egress rule of notifications reaches every peer",
        id="notifications-egress-anywhere",
    ),
    pytest.param(
        lambda o: find(o, "NetworkPolicy", "gateway-egress")["spec"]["egress"].append(
            {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mongodb"}}}]}
        ),
        "NetworkPolicy/gateway-egress: gateway may reach ['mongodb']",
        id="gateway-reaches-mongodb",
    ),
]


@pytest.mark.parametrize(("change", "complaint"), BREAKAGES)
def test_k8s_check_rejects(
    prod_objects: list[dict[str, Any]],
    change: Callable[[list[dict[str, Any]]], None],
    complaint: str,
) -> None:
    objs = yaml.safe_load(yaml.safe_dump(prod_objects))  # a deep copy per case
    change(objs)
    problems = check_k8s.check_stream(yaml.safe_dump_all(objs), "prod")
    assert any(complaint in p for p in problems), problems


def hpa_metrics(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    metrics: list[dict[str, Any]] = find(objs, "HorizontalPodAutoscaler", "ai-runner")["spec"][
        "metrics"
    ]
    return metrics


def external_metric(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m for m in hpa_metrics(objs) if m["type"] == "External")


# The dev overlay scales the AI runner with the plain HPA on the External metric.
DEV_BREAKAGES: list[Any] = [
    pytest.param(
        lambda o: hpa_metrics(o).remove(external_metric(o)),
        "HorizontalPodAutoscaler/ai-runner: must scale on the ai_jobs_pending backlog",
        id="hpa-without-backlog-metric",
    ),
    pytest.param(
        lambda o: external_metric(o)["external"]["metric"].update(
            name="rabbitmq_queue_messages_ready"
        ),
        "HorizontalPodAutoscaler/ai-runner: must scale on the ai_jobs_pending backlog",
        id="hpa-on-queue-depth",
    ),
    pytest.param(
        lambda o: hpa_metrics(o).remove(next(m for m in hpa_metrics(o) if m["type"] == "Resource")),
        "HorizontalPodAutoscaler/ai-runner: must scale on CPU",
        id="hpa-without-cpu",
    ),
]


@pytest.mark.parametrize(("change", "complaint"), DEV_BREAKAGES)
def test_k8s_check_rejects_in_dev(
    dev_objects: list[dict[str, Any]],
    change: Callable[[list[dict[str, Any]]], None],
    complaint: str,
) -> None:
    objs = yaml.safe_load(yaml.safe_dump(dev_objects))  # a deep copy per case
    change(objs)
    problems = check_k8s.check_stream(yaml.safe_dump_all(objs), "dev")
    assert any(complaint in p for p in problems), problems


def test_the_committed_prod_overlay_is_clean_in_process(prod_objects: list[dict[str, Any]]) -> None:
    assert check_k8s.check_stream(yaml.safe_dump_all(prod_objects), "prod") == []


def test_the_cluster_base_holds_the_namespaces_and_nothing_namespaced() -> None:
    kustomize = check_k8s.find_kustomize()
    assert kustomize
    text = check_k8s.build(K8S / "cluster", kustomize)
    assert check_k8s.check_cluster_stream(text, "cluster") == []
    kinds = {(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(text) if o}
    assert {("Namespace", "mock-interview"), ("Namespace", "mock-interview-dev")} <= kinds
    broken = (
        text
        + "---\n"
        + yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "y"}}
        )
    )
    assert any(
        "only Namespaces and cluster-scoped" in p
        for p in check_k8s.check_cluster_stream(broken, "cluster")
    )


def test_a_dev_overlay_may_use_tags(dev_objects: list[dict[str, Any]]) -> None:
    """Digests are required where the overlay is named prod (DIGEST_PINNED), not in dev."""
    assert all(":dev" in container(dev_objects, n)["image"] for n in ("auth", "gateway"))
    assert check_k8s.check_stream(yaml.safe_dump_all(dev_objects), "dev") == []


def test_the_committed_dev_overlay_is_clean_in_process(dev_objects: list[dict[str, Any]]) -> None:
    assert check_k8s.check_stream(yaml.safe_dump_all(dev_objects), "dev") == []


# ---------------------------------------------------------------------- the runbook

RUNBOOK = REPO / "docs" / "runbook.md"


def test_the_runbooks_kubectl_commands_name_objects_the_prod_overlay_defines(
    prod_objects: list[dict[str, Any]],
) -> None:
    """A restore that stops writers by name must name every writer: a service added later
    and missing here would keep writing into the database being restored."""
    text = RUNBOOK.read_text()
    names = {(o["kind"], o["metadata"]["name"]) for o in prod_objects}
    deployments = {n for k, n in names if k == "Deployment"}
    keda = {n for k, n in names if k == "ScaledObject"}
    for ref in re.findall(r"scaledobject ([a-z][\w-]*)", text):
        assert ref in keda, ref
    for ref in re.findall(r"cronjob[/ ]([a-z][\w-]*)", text):
        assert ("CronJob", ref) in names, ref
    for path in re.findall(r"deploy/k8s/maintenance/[\w.-]+\.yaml", text):
        assert (REPO / path).is_file(), path
    stops = re.findall(r"scale deploy ([a-z][a-z -]*?) --replicas=0", text)
    for group in stops:
        assert set(group.split()) <= deployments, group
    restore = text[text.index("## Restore") : text.index("## Republishing")]
    stopped = set(
        re.search(r"scale deploy ([a-z][a-z -]*?) --replicas=0", restore).group(1).split()
    )
    paused = set(
        re.findall(r"annotate scaledobject ([\w-]+) autoscaling.keda.sh/paused-replicas=0", restore)
    )
    writers = deployments - {"web"}  # web serves static files only
    assert writers <= stopped | paused, writers - stopped - paused
    # and every one of them is started again
    restarted = set(
        re.search(r"scale deploy ([a-z][a-z -]*?) --replicas=3", restore).group(1).split()
    )
    assert stopped <= restarted
    assert all(
        f"annotate scaledobject {n} autoscaling.keda.sh/paused-replicas-" in restore for n in paused
    )


def test_a_maintenance_job_without_the_maintenance_label_is_refused(
    tmp_path: Path, prod_objects: list[dict[str, Any]]
) -> None:
    """The bare `kubectl run` of the old runbook: default-deny-all kept it out of MongoDB."""
    for source in (K8S / "maintenance").glob("*.yaml"):
        text = source.read_text().replace(
            "app.kubernetes.io/name: mongo-maintenance", "run: restore"
        )
        (tmp_path / source.name).write_text(text)
    report = check_k8s.Report("prod")
    check_k8s.check_maintenance(prod_objects, report, root=tmp_path)
    assert any(
        "do not get it into MongoDB" in p and "mongo-restore.yaml" in p for p in report.problems
    )
    assert any("rebuild-sessions.yaml" in p for p in report.problems)
    clean = check_k8s.Report("prod")
    check_k8s.check_maintenance(prod_objects, clean)
    assert clean.problems == []


@pytest.mark.parametrize("image", ["mongo:7.0", "registry.example.com/mock-interview/interviews:1"])
def test_a_maintenance_job_with_a_literal_image_is_refused(
    tmp_path: Path, prod_objects: list[dict[str, Any]], image: str
) -> None:
    """The restore and the rebuilds run the image a Deployment runs now (read from it when
    the Job is created), so a third-party tool by tag or a stale tag of ours is refused."""
    for source in (K8S / "maintenance").glob("*.yaml"):
        text = source.read_text().replace('"${INTERVIEWS_IMAGE}"', image)
        (tmp_path / source.name).write_text(text)
    report = check_k8s.Report("prod")
    check_k8s.check_maintenance(prod_objects, report, root=tmp_path)
    for name in ("mongo-restore.yaml", "rebuild-sessions.yaml"):
        assert any(
            name in p and f"image {image!r} must be ${{<SERVICE>_IMAGE}}" in p
            for p in report.problems
        ), report.problems


def test_only_the_sandbox_namespace_may_relax_pod_security(
    prod_objects: list[dict[str, Any]],
) -> None:
    cluster = check_k8s.cluster_objects()
    enforce = "pod-security.kubernetes.io/enforce"
    levels = {
        o["metadata"]["name"]: o["metadata"]["labels"][enforce]
        for o in cluster
        if o["kind"] == "Namespace"
    }
    assert levels == {
        "mock-interview": "restricted",
        "mock-interview-dev": "restricted",
        "mock-interview-sandbox": "privileged",
        "mock-interview-dev-sandbox": "privileged",
    }
    relaxed = yaml.safe_load(yaml.safe_dump(cluster))
    for o in relaxed:
        if o["kind"] == "Namespace" and o["metadata"]["name"] == "mock-interview":
            o["metadata"]["labels"][enforce] = "privileged"
    problems = check_k8s.check_stream(yaml.safe_dump_all(prod_objects), "prod", cluster=relaxed)
    assert any(
        "Deployment/auth: its namespace mock-interview must enforce Pod Security restricted" in p
        for p in problems
    ), problems


def test_the_ai_runner_lives_in_its_own_namespace_wired_to_the_app(
    prod_objects: list[dict[str, Any]], dev_objects: list[dict[str, Any]]
) -> None:
    """namespace-wiring fills in each overlay's own namespaces: a policy or URL pointing at
    another environment's namespace would silently cut (or open) the path."""
    for objs, app, sandbox in (
        (prod_objects, "mock-interview", "mock-interview-sandbox"),
        (dev_objects, "mock-interview-dev", "mock-interview-dev-sandbox"),
    ):
        assert find(objs, "Deployment", "ai-runner")["metadata"]["namespace"] == sandbox
        assert {
            o["metadata"]["namespace"]
            for o in objs
            if o["kind"] == "Deployment" and o["metadata"]["name"] != "ai-runner"
        } == {app}
        config = find(objs, "ConfigMap", "mock-interview-config")["data"]
        assert config["AI_RUNNER_URL"] == f"http://ai-runner.{sandbox}.svc.cluster.local:8000"
        runner = find(objs, "ConfigMap", "ai-runner-config")["data"]
        assert runner["AUTH_URL"] == f"http://auth.{app}.svc.cluster.local:8000"
        text = yaml.safe_dump_all(objs)
        assert "APP_NAMESPACE" not in text and "SANDBOX_NAMESPACE" not in text
    query = trigger(prod_objects, "prometheus")["metadata"]["query"]
    assert 'namespace="mock-interview-sandbox"' in query
