"""The gateway serves the built web app on the API's origin: pages with a CSP that allows no
inline script, hashed assets cached for a year, client routes answered with the app for a
browser but a problem+json for an API client; and the app's OpenAPI copy is the gateway's."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from gateway.main import create_app
from gateway.settings import Settings
from servicekit.testing import running

REPO = Path(__file__).resolve().parents[4]
HTML = {"accept": "text/html,application/xhtml+xml"}


def test_the_web_apps_openapi_copy_is_the_gateways() -> None:
    """web/src/api/schema.d.ts is generated from this copy; a contract change must reach it
    (`make web-types`), or the app would be typed against an API that no longer exists."""
    spec = importlib.util.spec_from_file_location(
        "export_openapi", REPO / "scripts" / "export_openapi.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (REPO / "web" / "src" / "api" / "openapi.json").read_text()
    current = module.render(module.gateway_openapi())
    assert json.loads(committed) == json.loads(current), "run `make web-types` and commit"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(
        '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>'
    )
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('app')")
    (tmp_path / "secret.txt").write_text("not an asset")
    return tmp_path


async def test_pages_assets_and_client_routes(isolation: dict[str, Any], dist: Path) -> None:
    app = create_app(Settings(**isolation, web_dist=str(dist)))
    async with running(app, ready_timeout=60) as client:
        page = await client.get("/", headers=HTML)
        assert page.status_code == 200 and "/assets/index-abc123.js" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("style-src")[0]
        assert page.headers["cache-control"] == "no-cache"

        asset = await client.get("/assets/index-abc123.js")
        assert asset.status_code == 200 and asset.text == "console.log('app')"
        assert "javascript" in asset.headers["content-type"]
        assert "immutable" in asset.headers["cache-control"]

        # a client route, opened in a browser: the app; asked by an API client: a problem
        room = await client.get("/room/some-session", headers=HTML)
        assert room.status_code == 200 and room.headers["content-type"].startswith("text/html")
        api = await client.get("/room/some-session", headers={"accept": "application/json"})
        assert api.status_code == 404 and api.json()["code"] == "not_found"
        # API routes stay API routes, even for a browser
        me = await client.get("/user/me", headers=HTML)
        assert me.status_code == 401

        # nothing outside the assets folder, however spelled
        for path in ("/assets/missing.js", "/assets/..%2fsecret.txt", "/assets/../secret.txt"):
            refused = await client.get(path)
            assert refused.status_code in (400, 404), path
            assert "not an asset" not in refused.text


async def test_without_a_build_the_root_is_a_problem_not_a_crash(
    isolation: dict[str, Any], tmp_path: Path
) -> None:
    app = create_app(Settings(**isolation, web_dist=str(tmp_path / "not-built")))
    async with running(app, ready_timeout=60) as client:
        root = await client.get("/", headers=HTML)
        assert root.status_code == 404 and root.json()["code"] == "not_found"
