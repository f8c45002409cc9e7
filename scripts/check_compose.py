"""Validate docker-compose.yml without a Docker engine: the Compose Specification JSON schema
(deploy/schemas/compose-spec.json), then the platform's rules - every service of ours built
from deploy/Dockerfile with its name as the SERVICE build argument, the web app from
deploy/web/Dockerfile, every image built here hardened (non-root, read-only root filesystem,
no capabilities, no privilege escalation), healthchecks, `depends_on` conditions that point at
real services, no dependency cycles, only the web app published (the browser's one origin,
proxying the API to the gateway), MongoDB a replica set with authentication (a keyFile), one
database user and one broker user per service (each service's MONGO_URI names its own user and
database, its RABBITMQ_URL its own user; the broker's definitions give each service exactly
servicekit.broker's permissions and hold no guest), each secret handed only to who uses it,
every variable the file interpolates documented in `.env.example`, and no secret written into
either file.

    python scripts/check_compose.py [docker-compose.yml] [--env-example .env.example]

Exit status: 0 valid, 1 invalid.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from secret_patterns import SECRET_NAME, SECRET_VALUE, URL_CREDENTIALS
from servicekit.broker import broker_permissions

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "deploy" / "schemas" / "compose-spec.json"
DOCKERFILE = "deploy/Dockerfile"  # the one image recipe; SERVICE picks what it builds
# Images that are not a Python service, each with its own recipe: the web app's static server.
OTHER_IMAGES = {"web": "deploy/web/Dockerfile"}
PUBLIC = {"web": 8080}  # the only published service and its container port
# Who may be handed each secret of .env (interpolated into its definition); anyone else
# getting it fails the check. Per service: MONGO_PASSWORD_<SERVICE> (its own and mongo-users),
# RABBITMQ_PASSWORD_<SERVICE> (its own and the broker), added by secret_users().
MONGO = "mongo"  # the database server
MONGO_SETUP = "mongo-users"  # creates the per-service users, as root
RABBITMQ = "rabbitmq"
RABBITMQ_DEFINITIONS = "deploy/rabbitmq/definitions.json"
RABBITMQ_DEFINITIONS_MOUNT = "/etc/mock-interview/definitions.json"
RABBITMQ_CONF = "deploy/rabbitmq/rabbitmq.conf"
SECRET_USERS = {
    "MONGO_ROOT_PASSWORD": {MONGO, MONGO_SETUP},
    "MONGO_REPLICA_SET_KEY": {MONGO},
    "MONGO_BACKUP_PASSWORD": {MONGO_SETUP},
    "RABBITMQ_ADMIN_PASS": {RABBITMQ},
    "JWT_PRIVATE_KEY": {"auth"},
    "STRIPE_API_KEY": {"billing"},
    "STRIPE_WEBHOOK_SECRET": {"billing"},
    "AI_API_KEY": {"ai-runner"},
    "S3_SECRET": {"ai-runner", "minio-setup"},
    "SMTP_PASSWORD": {"notifications"},
    "UNSUBSCRIBE_SECRET": {"notifications"},
    "REDIS_PASSWORD": {"redis", "gateway"},
    "MINIO_ROOT_PASSWORD": {"minio", "minio-setup"},
}
ROOT_USERS = {"root", "0"}
# `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
PLACEHOLDER = re.compile(r"^(|change-me|changeme|<[^>]*>|\"<[^>]*>\")$")


def variable_suffix(service: str) -> str:
    return service.upper().replace("-", "_")


def database_of(service: str) -> str:
    """servicekit.settings: mi_<service_name>, dashes as underscores."""
    return "mi_" + service.replace("-", "_")


def secret_users(ours: Iterable[str]) -> dict[str, set[str]]:
    users = {k: set(v) for k, v in SECRET_USERS.items()}
    for name in ours:
        users[f"MONGO_PASSWORD_{variable_suffix(name)}"] = {name, MONGO_SETUP}
        users[f"RABBITMQ_PASSWORD_{variable_suffix(name)}"] = {name, RABBITMQ}
    return users


def strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {k: v for k, _, v in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def only_interpolation(value: str) -> bool:
    """The whole value comes from the environment (`${VAR...}`), nothing literal: required,
    or optional with an empty default (`${VAR:-}`: unset, which the services read as unset)."""
    match = INTERPOLATION.fullmatch(value.strip())
    if match is None:
        return False
    return match.group(2) not in ("-", ":-") or not match.group(3)


def parse_env_example(path: Path) -> tuple[dict[str, str], set[str], list[str]]:
    """(variables set, variables mentioned only in comments, problems)."""
    values: dict[str, str] = {}
    mentioned: set[str] = set()
    problems: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            commented = re.match(r"#\s*([A-Z][A-Z0-9_]*)=", line)
            if commented:
                mentioned.add(commented.group(1))
            if SECRET_VALUE.search(line):
                problems.append(f"{path.name}:{number}: a comment holds what looks like a secret")
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            problems.append(f"{path.name}:{number}: not KEY=VALUE: {line[:60]!r}")
            continue
        values[key] = value
        unquoted = value.strip().strip("'\"") if len(value) > 1 else value
        if SECRET_VALUE.search(value) or (URL_CREDENTIALS.search(value)):
            problems.append(f"{path.name}:{number}: {key} holds what looks like a real secret")
        elif SECRET_NAME.search(key) and not PLACEHOLDER.match(unquoted) and "<" not in value:
            problems.append(
                f"{path.name}:{number}: {key} must be a placeholder (empty, change-me or "
                f"<how to get one>), not a value"
            )
    return values, mentioned, problems


def build_args_problems(name: str, build: dict[str, Any], base: Path, ours: set[str]) -> list[str]:
    """A service of ours builds deploy/Dockerfile with SERVICE set to its own name, and the
    Python package the image starts (PACKAGE, else SERVICE) has a main module."""
    if name not in ours:
        return []
    problems: list[str] = []
    raw = build.get("args") or {}
    if isinstance(raw, list):
        pairs = (str(item).partition("=") for item in raw)
        args = {k: v for k, _, v in pairs}
    else:
        args = {str(k): "" if v is None else str(v) for k, v in raw.items()}
    if Path(build.get("dockerfile", "Dockerfile")) != Path(DOCKERFILE):
        problems.append(f"{name}: must be built from {DOCKERFILE}, not {build.get('dockerfile')}")
    if args.get("SERVICE") != name:
        problems.append(f"{name}: build arg SERVICE must be {name!r} (got {args.get('SERVICE')!r})")
        return problems
    package = args.get("PACKAGE") or name
    if not (base / "services" / name / "src" / package / "main.py").is_file():
        problems.append(
            f"{name}: services/{name}/src/{package}/main.py does not exist "
            "(set the PACKAGE build arg to the service's Python package)"
        )
    return problems


def image_user(dockerfile: Path) -> str | None:
    """The user the image runs as: its Dockerfile's last USER (None: never set, so root)."""
    user = None
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].upper() == "USER":
            user = words[1]
    return user


def hardening_problems(name: str, svc: dict[str, Any], dockerfile: Path) -> list[str]:
    """An image built here runs non-root, on a read-only root filesystem, with no capability
    and no privilege escalation (what x-service gives the Python services)."""
    problems: list[str] = []
    user = str(svc.get("user") or (image_user(dockerfile) if dockerfile.is_file() else "") or "")
    if not user or user.split(":")[0] in ROOT_USERS:
        problems.append(f"{name}: runs as root (set USER in its Dockerfile or `user:`)")
    if svc.get("read_only") is not True:
        problems.append(f"{name}: read_only must be true (a tmpfs for what it writes)")
    if "ALL" not in (svc.get("cap_drop") or []):
        problems.append(f"{name}: cap_drop must contain ALL")
    if "no-new-privileges:true" not in (svc.get("security_opt") or []):
        problems.append(f"{name}: security_opt must contain no-new-privileges:true")
    return problems


def check(compose_path: Path, env_example: Path) -> list[str]:
    problems: list[str] = []
    base = compose_path.parent
    try:
        doc = yaml.safe_load(compose_path.read_text())
    except yaml.YAMLError as exc:
        return [f"{compose_path.name}: YAML: {exc}"]
    if not isinstance(doc, dict):
        return [f"{compose_path.name}: not a mapping"]

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"schema: {path}: {error.message[:300]}")
    if problems:
        return problems

    services: dict[str, dict[str, Any]] = doc.get("services") or {}
    if not services:
        return ["no services"]

    one_shots = {n for n, s in services.items() if str(s.get("restart", "no")) == "no"}
    healthy = {
        n
        for n, s in services.items()
        if s.get("healthcheck") and not s["healthcheck"].get("disable")
    }

    # -- every service of ours built from the one Dockerfile, named by its SERVICE build arg
    ours = {p.parent.name for p in (base / "services").glob("*/pyproject.toml")}
    for name in sorted(ours - set(services)):
        problems.append(f"services/{name} has no service in the compose file")
    for name, recipe in OTHER_IMAGES.items():
        other = services.get(name)
        if other is None:
            problems.append(f"{name}: no service in the compose file (built from {recipe})")
            continue
        build = other.get("build")
        built_from = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else None
        if built_from is None or Path(built_from) != Path(recipe):
            problems.append(f"{name}: must be built from {recipe}")
    for name, svc in services.items():
        if "build" not in svc and "image" not in svc:
            problems.append(f"{name}: neither build nor image")
        build = svc.get("build")
        if name in ours and not build:
            problems.append(f"{name}: must be built from {DOCKERFILE} (SERVICE={name})")
        if build:
            if isinstance(build, str):
                build = {"context": build}
            context = base / build.get("context", ".")
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if build.get("context", ".") not in (".", "./"):
                problems.append(f"{name}: build context must be the repository root (.)")
            if not dockerfile.is_file():
                problems.append(f"{name}: {dockerfile.relative_to(base)} does not exist")
            problems += build_args_problems(name, build, base, ours)
            problems += hardening_problems(name, svc, dockerfile)
        elif ":" not in str(svc.get("image", "")).rsplit("/", 1)[-1]:
            problems.append(f"{name}: image {svc.get('image')!r} has no tag")

        # -- health and start order
        if name not in one_shots and name not in healthy:
            problems.append(f"{name}: long-running service without a healthcheck")
        depends = svc.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on must give a condition for each dependency")
            depends = {dep: {"condition": "service_started"} for dep in depends}
        for dep, how in depends.items():
            condition = (how or {}).get("condition", "service_started")
            if dep not in services:
                problems.append(f"{name}: depends on unknown service {dep!r}")
            elif condition == "service_healthy" and dep not in healthy:
                problems.append(f"{name}: waits for {dep} to be healthy, but it has no healthcheck")
            elif condition == "service_completed_successfully" and dep not in one_shots:
                problems.append(f"{name}: waits for {dep} to complete, but it is long-running")
            elif condition == "service_started":
                problems.append(
                    f"{name}: depends on {dep} without waiting for it (use service_healthy "
                    "or service_completed_successfully)"
                )

        # -- exposure
        ports = svc.get("ports") or []
        if name in PUBLIC:
            targets = []
            for port in ports:
                target = (
                    port.get("target") if isinstance(port, dict) else str(port).rsplit(":", 1)[-1]
                )
                targets.append(int(str(target).split("/")[0]))
            if targets != [PUBLIC[name]]:
                problems.append(f"{name}: must publish exactly container port {PUBLIC[name]}")
        elif ports:
            problems.append(f"{name}: publishes ports; only {', '.join(PUBLIC)} may")
        if svc.get("network_mode") == "host" or svc.get("privileged"):
            problems.append(f"{name}: host networking and privileged mode are not allowed")
        if svc.get("env_file"):
            problems.append(
                f"{name}: env_file hands it every secret of the file; list the variables it "
                "uses under environment"
            )
        used = {var for text in strings(svc) for var, _, _ in INTERPOLATION.findall(text)}
        for secret, users in secret_users(ours).items():
            if secret in used and name not in users:
                problems.append(f"{name}: is handed {secret}, which only {sorted(users)} use")

        # -- secrets never written here
        for key, value in environment(svc).items():
            masked = INTERPOLATION.sub("${}", value)
            if SECRET_NAME.search(key) and not only_interpolation(value):
                problems.append(
                    f"{name}: {key} must come from .env (${{{key}:?...}}), not a literal"
                )
            creds = URL_CREDENTIALS.search(masked)
            if creds and creds.group(1) != "${}":
                problems.append(f"{name}: {key} has a password written in its URL")
        for text in strings(svc):
            if SECRET_VALUE.search(text):
                problems.append(f"{name}: holds what looks like a secret: {text[:40]!r}...")

    problems += cycles(services)

    # -- MongoDB must be a replica set (transactions, change streams) with authentication
    mongo = [
        n
        for n, s in services.items()
        if str(s.get("image", "")).startswith("mongo:") and n != MONGO_SETUP
    ]
    if not mongo:
        problems.append("no MongoDB service")
    for name in mongo:
        started = " ".join(map(str, [*strings(services[name].get("entrypoint") or [])]))
        started += " " + " ".join(strings(services[name].get("command") or []))
        if "--replSet" not in started:
            problems.append(f"{name}: MongoDB must run as a replica set (--replSet)")
        if "--keyFile" not in started:
            problems.append(
                f"{name}: MongoDB must run with authentication: --keyFile (which implies it)"
            )
        if not only_interpolation(
            environment(services[name]).get("MONGO_INITDB_ROOT_PASSWORD", "")
        ):
            problems.append(f"{name}: MONGO_INITDB_ROOT_PASSWORD must come from .env")
    for name, svc in services.items():
        uri = environment(svc).get("MONGO_URI")
        if uri and "replicaSet=" not in uri:
            problems.append(f"{name}: MONGO_URI must name the replica set (replicaSet=...)")
    problems += credentials_problems(services, ours, base)

    # -- .env.example documents every variable the file reads
    if not env_example.is_file():
        problems.append(f"{env_example.name} is missing")
        return problems
    values, mentioned, env_problems = parse_env_example(env_example)
    problems += env_problems
    for text in strings(doc):
        for var, op, _ in INTERPOLATION.findall(text):
            if op in ("", ":?", "?") and var not in values:
                problems.append(f"${{{var}}} is required but {env_example.name} does not set it")
            elif var not in values and var not in mentioned:
                problems.append(f"${{{var}}} is not documented in {env_example.name}")
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", ".env"],
        cwd=base,
        capture_output=True,
        check=False,
    )
    if tracked.returncode == 0:
        problems.append(".env is committed: remove it from git (it holds the secrets)")
    return problems


URI = re.compile(
    r"^(?P<scheme>mongodb|amqp)://(?P<user>[^:@/]*)(?::(?P<password>[^@]*))?@(?P<host>[^/?]+)"
    r"(?:/(?P<path>[^?]*))?(?:\?(?P<query>.*))?$"
)


def credentials_problems(
    services: dict[str, dict[str, Any]], ours: set[str], base: Path
) -> list[str]:
    """One database user and one broker user per service, its own: MONGO_URI names the
    service's own user, its password variable and its own database (authSource too);
    RABBITMQ_URL its own user and password variable; mongo-users creates exactly the users
    of the services that have a MONGO_URI; the broker loads definitions holding each
    service's user with exactly servicekit.broker's permissions, and no guest."""
    problems: list[str] = []
    with_mongo: set[str] = set()
    for name, svc in services.items():
        env = environment(svc)
        for key, scheme in (("MONGO_URI", "mongodb"), ("RABBITMQ_URL", "amqp")):
            value = env.get(key)
            if value is None:
                if name in ours and key == "RABBITMQ_URL":
                    problems.append(f"{name}: no RABBITMQ_URL (its own broker user)")
                continue
            found = URI.match(value)
            kind = "MONGO" if scheme == "mongodb" else "RABBITMQ"
            secret = f"{kind}_PASSWORD_{variable_suffix(name)}"
            if found is None or found["scheme"] != scheme:
                problems.append(f"{name}: {key} is not a {scheme}:// URL with a user")
                continue
            if found["user"] != name:
                problems.append(
                    f"{name}: {key} must use its own user {name!r}, not {found['user']!r}"
                )
            password = INTERPOLATION.fullmatch(found["password"] or "")
            if password is None or password.group(1) != secret:
                problems.append(f"{name}: {key}'s password must be ${{{secret}:?...}}")
            if scheme == "mongodb":
                with_mongo.add(name)
                database = database_of(name)
                query = dict(
                    pair.partition("=")[::2] for pair in (found["query"] or "").split("&") if pair
                )
                if found["path"] != database or query.get("authSource") != database:
                    problems.append(
                        f"{name}: MONGO_URI must name its own database {database} (path and "
                        f"authSource=), where its user is defined with readWrite on it alone"
                    )
    missing = sorted(n for n in ours if n in services and n not in with_mongo and n != "gateway")
    for name in missing:
        problems.append(f"{name}: no MONGO_URI (its own database user)")

    setup = services.get(MONGO_SETUP)
    if setup is None:
        problems.append(f"no {MONGO_SETUP} step: nothing creates the services' database users")
    else:
        listed = set(environment(setup).get("MONGO_SERVICES", "").split())
        if listed != with_mongo:
            problems.append(
                f"{MONGO_SETUP}: MONGO_SERVICES {sorted(listed)} must be exactly the services "
                f"with a MONGO_URI {sorted(with_mongo)}"
            )
        for name in sorted(with_mongo):
            if f"MONGO_PASSWORD_{variable_suffix(name)}" not in environment(setup):
                problems.append(
                    f"{MONGO_SETUP}: needs MONGO_PASSWORD_{variable_suffix(name)} to create "
                    f"{name}'s user"
                )
    for name in sorted(n for n in with_mongo if n in services):
        depends = services[name].get("depends_on") or {}
        if not isinstance(depends, dict) or MONGO_SETUP not in depends:
            problems.append(f"{name}: must wait for {MONGO_SETUP} (its database user)")

    broker = services.get(RABBITMQ)
    if broker is None:
        return [*problems, "no rabbitmq service"]
    env = environment(broker)
    for key in ("RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS"):
        if key in env:
            problems.append(
                f"{RABBITMQ}: {key}: one shared account; the users come from {RABBITMQ_DEFINITIONS}"
            )
    mounts = [str(v) for v in broker.get("volumes") or []]
    if not any(
        v.startswith(f"./{RABBITMQ_DEFINITIONS}:{RABBITMQ_DEFINITIONS_MOUNT}") for v in mounts
    ):
        problems.append(
            f"{RABBITMQ}: must mount ./{RABBITMQ_DEFINITIONS} at {RABBITMQ_DEFINITIONS_MOUNT}"
        )
    conf = base / RABBITMQ_CONF
    if not any(v.startswith(f"./{RABBITMQ_CONF}:/etc/rabbitmq/conf.d/") for v in mounts) or (
        not conf.is_file() or not re.search(r"^load_definitions\s*=", conf.read_text(), re.M)
    ):
        problems.append(
            f"{RABBITMQ}: must load the definitions at boot (./{RABBITMQ_CONF} with "
            "load_definitions, mounted in /etc/rabbitmq/conf.d/)"
        )
    path = base / RABBITMQ_DEFINITIONS
    try:
        definitions = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return [*problems, f"{RABBITMQ_DEFINITIONS}: {exc}"]
    users = {u.get("name"): u for u in definitions.get("users") or []}
    if "guest" in users:
        problems.append(f"{RABBITMQ_DEFINITIONS}: defines the guest user")
    granted = {
        p.get("user"): {k: p.get(k) for k in ("configure", "write", "read")}
        for p in definitions.get("permissions") or []
        if p.get("vhost") == "/"
    }
    broker_users = sorted(n for n in ours if n in services)
    for name in broker_users:
        secret = f"RABBITMQ_PASSWORD_{variable_suffix(name)}"
        user = users.get(name)
        if user is None:
            problems.append(f"{RABBITMQ_DEFINITIONS}: no user {name!r} (one per service)")
            continue
        if user.get("password") != f"${{{secret}}}" or "password_hash" in user:
            problems.append(
                f"{RABBITMQ_DEFINITIONS}: {name}'s password must be the ${{{secret}}} "
                "placeholder (filled from .env at start)"
            )
        if user.get("tags"):
            problems.append(f"{RABBITMQ_DEFINITIONS}: {name} must have no tags (no management)")
        if granted.get(name) != broker_permissions(name):
            problems.append(
                f"{RABBITMQ_DEFINITIONS}: {name}'s permissions must be exactly "
                f"servicekit.broker.broker_permissions({name!r}) (scripts/rabbitmq_definitions.py)"
            )
    for name, user in users.items():
        if name in broker_users:
            continue
        tags = user.get("tags") or []
        if "administrator" not in tags:
            problems.append(f"{RABBITMQ_DEFINITIONS}: user {name!r} is no service of ours")
    for text in strings(definitions):
        for var, _, _ in INTERPOLATION.findall(text):
            if var not in env:
                problems.append(f"{RABBITMQ}: {RABBITMQ_DEFINITIONS} needs {var}, not passed")
    return problems


def cycles(services: dict[str, dict[str, Any]]) -> list[str]:
    graph = {
        n: [d for d in (s.get("depends_on") or {}) if d in services] for n, s in services.items()
    }
    state: dict[str, int] = {}
    found: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                found.append("dependency cycle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    return found


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compose", nargs="?", type=Path, default=REPO / "docker-compose.yml")
    parser.add_argument("--env-example", type=Path, default=None)
    args = parser.parse_args(list(argv) if argv is not None else None)
    env_example = args.env_example or args.compose.parent / ".env.example"
    problems = check(args.compose, env_example)
    for problem in problems:
        print(f"compose-check: FAIL {args.compose.name}: {problem}", file=sys.stderr)
    if not problems:
        print(
            f"compose-check: {args.compose} valid (Compose Specification schema) and within policy"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
