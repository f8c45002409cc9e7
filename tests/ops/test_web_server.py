"""The web app's own container (deploy/web): on the host the browser uses, every path of the
gateway's API reaches the gateway and every route of the app reaches the app - through the
Ingress in Kubernetes and through the web container's proxy under docker compose - and its
nginx serves pages with the gateway's security headers and CSP, hashed assets cached a year,
client routes with index.html, and passes the API to the gateway (status events as they
come, a problem+json when the gateway is down).

The nginx tests run the committed nginx.conf and gateway.conf (paths adjusted to a scratch
directory) with Debian's nginx, installed by scripts/install-ops-tools.sh; without it they
are skipped and the routing and header checks above still run."""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import check_k8s
import httpx
import pytest
import yaml
from export_openapi import gateway_openapi
from gateway.entrypoints.edge import SECURITY_HEADERS, WEB_CSP

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "deploy" / "web"
K8S = REPO / "deploy" / "k8s"


# ------------------------------------------------------------------------------ routing


@functools.cache
def api_paths() -> list[str]:
    """A request path for every operation of the gateway's OpenAPI (its `/` is the web app's
    page when the gateway serves it, so it is the app's here), and its docs."""
    operations: dict[str, Any] = gateway_openapi()["paths"]  # type: ignore[assignment]
    paths = [re.sub(r"\{[^}]+\}", "x1", p) for p in operations if p != "/"]
    assert len(paths) > 10
    return [*paths, "/docs", "/docs/oauth2-redirect", "/openapi.json"]


def app_routes() -> list[str]:
    """Every route of the app's router, with a sample id, and a hashed asset."""
    router = (REPO / "web" / "src" / "router.tsx").read_text()
    routes = [re.sub(r":\w+", "abc123", p) for p in re.findall(r'path: "(/[^"]*)"', router)]
    assert {"/", "/billing", "/admin", "/admin/questions", "/room/abc123"} <= set(routes)
    return [*routes, "/assets/index-AbC123.js", "/favicon.ico"]


def ingress_backend(paths: list[dict[str, Any]], request_path: str) -> str | None:
    """The Service an Ingress sends a path to, by the Ingress API's rules: Prefix matches whole
    path elements (a trailing slash is ignored), the longest match wins, Exact before Prefix."""
    best: tuple[int, int, str] | None = None
    for rule in paths:
        want, kind = rule["path"], rule["pathType"]
        if kind == "Exact":
            matched = request_path == want
        elif kind == "Prefix":
            elements = [e for e in want.split("/") if e]
            matched = request_path.split("/")[1 : len(elements) + 1] == elements
        else:
            pytest.fail(f"pathType {kind} is not portable across ingress controllers")
        if matched:
            score = (len(want.rstrip("/")), 1 if kind == "Exact" else 0, rule["backend"])
            if best is None or score[:2] > best[:2]:
                best = score
    return None if best is None else best[2]["service"]["name"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_ingress_sends_the_api_to_the_gateway_and_the_rest_to_the_app(overlay: str) -> None:
    kustomize = check_k8s.find_kustomize()
    assert kustomize, "kubectl kustomize or kustomize is needed"
    objs = [o for o in yaml.safe_load_all(check_k8s.build(K8S / "overlays" / overlay, kustomize))]
    ingresses = [o for o in objs if o and o["kind"] == "Ingress"]
    assert len(ingresses) == 1 and len(ingresses[0]["spec"]["rules"]) == 1
    paths = ingresses[0]["spec"]["rules"][0]["http"]["paths"]
    wrong = {p: ingress_backend(paths, p) for p in api_paths()}
    assert {p: b for p, b in wrong.items() if b != "gateway"} == {}
    pages = {p: ingress_backend(paths, p) for p in app_routes()}
    assert {p: b for p, b in pages.items() if b != "web"} == {}


def compose_sends_to_gateway(request_path: str) -> bool:
    """Whether deploy/web/gateway.conf's regex locations take the path (nginx's exact
    locations, /healthz and /readyz, are the web server's own and never API paths)."""
    text = (WEB / "gateway.conf").read_text()
    patterns = re.findall(r"^location ~ (\S+) \{", text, re.MULTILINE)
    assert patterns, "gateway.conf has no regex location"
    return any(re.search(p, request_path) for p in patterns)


def test_the_compose_proxy_sends_the_same_paths_to_the_gateway() -> None:
    assert [p for p in api_paths() if not compose_sends_to_gateway(p)] == []
    assert [p for p in app_routes() if compose_sends_to_gateway(p)] == []


# ------------------------------------------------------------------- headers and image


def header_lines(conf: Path) -> dict[str, str]:
    found = re.findall(r'^add_header (\S+) "([^"]*)" always;$', conf.read_text(), re.MULTILINE)
    return {name.lower(): value for name, value in found}


def test_the_pages_carry_the_gateways_security_headers_and_csp() -> None:
    want = {k.decode(): v.decode() for k, v in SECURITY_HEADERS}
    want["content-security-policy"] = WEB_CSP.decode()
    assert header_lines(WEB / "security-headers.conf") == want
    assert "'unsafe-inline'" not in WEB_CSP.decode().split("script-src")[1].split(";")[0]


def test_the_build_context_holds_what_the_web_image_copies_and_not_node_modules() -> None:
    """deploy/ is left out of every build context (.dockerignore); each file the web image
    copies from it must be let back in, and the app's installed packages and build stay out
    (the image installs and builds its own)."""
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    copied = re.findall(r"^COPY (deploy/\S+)", (WEB / "Dockerfile").read_text(), re.MULTILINE)
    assert copied and [c for c in copied if f"!{c}" not in ignore] == []
    assert {"**/node_modules", "web/dist"} <= set(ignore)


# ------------------------------------------------------------------------ real nginx


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    candidates = [found] if found else []
    candidates += ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/bin/nginx"]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


NGINX = nginx_binary()
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (scripts/install-ops-tools.sh)"
)
MIME = "types { text/html html; text/css css; application/javascript js; }\n"
ASSET = "assets/index-AbC123.js"
ASSET_BODY = "export const app = 1;\n" * 200  # above gzip_min_length


@dataclass
class Upstream:
    """A stand-in gateway: answers with what it was sent; streams status events one at a
    time, the second only once the test says it got the first."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    first_event_received: threading.Event = field(default_factory=threading.Event)
    holding_second_event: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])


def start_upstream() -> Upstream:
    upstream = Upstream()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            upstream.seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }
            )
            if self.path.endswith("/events"):
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-store")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for number in (1, 2):
                    event = f"id: {number}\ndata: ready\n\n".encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                    self.wfile.flush()
                    if number == 1:
                        upstream.holding_second_event.set()
                        upstream.first_event_received.wait(5)
                        upstream.holding_second_event.clear()
                self.wfile.write(b"0\r\n\r\n")
                return
            reply = json.dumps({"path": self.path, "body": body}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PUT = do_DELETE = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    upstream.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=upstream.server.serve_forever, daemon=True).start()
    return upstream


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_config(root: Path, port: int, gateway: str | None) -> Path:
    """The committed configuration with the image's paths moved under `root`: its /etc/nginx
    in root/etc, /tmp in root/run, the build in root/html; and, as docker compose mounts it,
    gateway.conf in routes.d pointed at `gateway`."""
    etc, run, html = root / "etc", root / "run", root / "html"
    for folder in (etc / "routes.d", run, html / "assets"):
        folder.mkdir(parents=True)
    system_mime = Path("/etc/nginx/mime.types")
    (etc / "mime.types").write_text(system_mime.read_text() if system_mime.is_file() else MIME)
    conf = (WEB / "nginx.conf").read_text()
    conf = conf.replace("/tmp/", f"{run}/").replace("/etc/nginx/", f"{etc}/")
    conf = conf.replace("/usr/share/nginx/html", str(html))
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    assert conf.count(str(root)) >= 8, "nginx.conf no longer uses the paths this test moves"
    (etc / "nginx.conf").write_text(conf)
    shutil.copy(WEB / "security-headers.conf", etc / "security-headers.conf")
    if gateway is not None:
        routes = (WEB / "gateway.conf").read_text()
        assert "http://gateway:8000" in routes
        (etc / "routes.d" / "gateway.conf").write_text(
            routes.replace("http://gateway:8000", gateway)
        )
    (html / "index.html").write_text(
        f'<!doctype html><script type="module" src="/{ASSET}"></script><div id="root"></div>'
    )
    (html / ASSET).write_text(ASSET_BODY)
    (html / f"{ASSET}.gz").write_bytes(gzip.compress(ASSET_BODY.encode(), 9))
    return etc / "nginx.conf"


def nginx_command(conf: Path, *extra: str) -> list[str]:
    assert NGINX is not None
    # as root (CI), workers would drop to `nobody`, who cannot read pytest's 0700 folders
    directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    return [NGINX, "-e", "stderr", "-c", str(conf), "-g", directives, *extra]


@dataclass
class WebServer:
    url: str
    upstream: Upstream
    html: Path


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[WebServer]:
    """nginx.conf with docker compose's gateway.conf, in front of a stand-in gateway."""
    upstream = start_upstream()
    port = free_port()
    conf = nginx_config(tmp_path, port, f"http://127.0.0.1:{upstream.port}")
    log = (tmp_path / "nginx.log").open("w")
    process = subprocess.Popen(nginx_command(conf), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nginx did not start: {(tmp_path / 'nginx.log').read_text()}")
            time.sleep(0.05)
        yield WebServer(f"http://127.0.0.1:{port}", upstream, tmp_path / "html")
    finally:
        process.terminate()
        process.wait(10)
        log.close()
        assert upstream.server is not None
        upstream.server.shutdown()


@needs_nginx
def test_nginx_accepts_the_configuration_as_built_for_kubernetes_and_for_compose(
    tmp_path: Path,
) -> None:
    """Kubernetes: routes.d is empty (the Ingress routes the API); compose: gateway.conf."""
    for shape, gateway in (("k8s", None), ("compose", "http://127.0.0.1:9")):
        conf = nginx_config(tmp_path / shape, free_port(), gateway)
        command = nginx_command(conf, "-t")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


@needs_nginx
def test_pages_and_client_routes_get_the_app_with_the_gateways_headers_never_cached(
    web_server: WebServer,
) -> None:
    index = (web_server.html / "index.html").read_text()
    for path in ["/", "/dashboard", "/room/abc123", "/billing", "/admin", "/admin/questions"]:
        page = httpx.get(web_server.url + path)
        assert page.status_code == 200, path
        assert page.text == index, path
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["content-security-policy"] == WEB_CSP.decode()
        for name, value in SECURITY_HEADERS:
            assert page.headers[name.decode()] == value.decode(), (path, name)
        assert page.headers["server"] == "nginx"  # no version
    assert web_server.upstream.seen == []


@needs_nginx
def test_hashed_assets_are_cached_a_year_compressed_and_a_missing_one_is_404(
    web_server: WebServer,
) -> None:
    asset = httpx.get(f"{web_server.url}/{ASSET}", headers={"accept-encoding": "gzip"})
    assert asset.status_code == 200 and asset.text == ASSET_BODY
    assert asset.headers["content-encoding"] == "gzip"
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in asset.headers["content-type"]
    assert asset.headers["vary"] == "Accept-Encoding"

    # a chunk name from an older deploy: a 404, not index.html parsed as JavaScript, and
    # nothing that tells a cache to keep the answer
    missing = httpx.get(f"{web_server.url}/assets/index-0ld.js")
    assert missing.status_code == 404 and '<div id="root">' not in missing.text
    assert "cache-control" not in missing.headers
    assert missing.headers["x-content-type-options"] == "nosniff"

    for probe in ("/healthz", "/readyz"):
        assert httpx.get(web_server.url + probe).text == "ok\n"


@needs_nginx
def test_the_api_reaches_the_gateway_with_the_browsers_host_and_address(
    web_server: WebServer,
) -> None:
    host = web_server.url.removeprefix("http://")
    refreshed = httpx.post(
        f"{web_server.url}/auth/refresh",
        json={},
        headers={"x-forwarded-for": "203.0.113.9", "cookie": "refresh_token=abc"},
    )
    assert refreshed.json() == {"path": "/auth/refresh", "body": "{}"}
    seen = web_server.upstream.seen[-1]["headers"]
    assert seen["host"] == host and seen["x-forwarded-host"] == host
    assert seen["x-forwarded-proto"] == "http"
    # the client's own X-Forwarded-For is replaced, so it cannot pick its rate-limit identity
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["cookie"] == "refresh_token=abc"

    for path in ["/billing/subscription", "/admin/stats", "/interviews?limit=5", "/docs"]:
        assert httpx.get(web_server.url + path).json()["path"] == path
    # not the API: the app's pages and nginx's own probes
    before = len(web_server.upstream.seen)
    for path in ["/billing", "/admin", "/healthz", "/users"]:
        httpx.get(web_server.url + path)
    assert len(web_server.upstream.seen) == before


@needs_nginx
def test_status_events_reach_the_browser_while_the_stream_is_open(web_server: WebServer) -> None:
    with httpx.stream("GET", f"{web_server.url}/interviews/s1/events", timeout=10) as events:
        assert events.headers["content-type"] == "text/event-stream"
        lines = events.iter_lines()
        # the gateway holds the second event (and the end of the stream) until this one
        # arrived: an event must reach the browser while its stream is still open
        assert next(lines) == "id: 1"
        assert web_server.upstream.holding_second_event.is_set()
        web_server.upstream.first_event_received.set()
        assert [line for line in lines if line] == ["data: ready", "id: 2", "data: ready"]


@needs_nginx
def test_a_gateway_that_is_down_is_a_problem_the_app_can_show(web_server: WebServer) -> None:
    assert web_server.upstream.server is not None
    web_server.upstream.server.shutdown()
    web_server.upstream.server.server_close()
    down = httpx.get(f"{web_server.url}/user/me")
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert down.headers["retry-after"] == "5"
    assert down.json()["code"] == "service_unavailable" and down.json()["detail"]
    assert httpx.get(f"{web_server.url}/dashboard").status_code == 200
