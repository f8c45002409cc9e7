"""The web app's built files (web/dist), served at `/` on the API's own origin: no CORS, and
the refresh cookie (path /auth, SameSite=Strict) reaches the API as it is.

Hashed assets are cached for a year; index.html is never cached, so a deploy is seen on the
next load. A browser asking for an HTML page at a path no API route has (a client route such
as /dashboard or /room/<id>) gets index.html, and the app's router takes it from there."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, Response

IMMUTABLE = "public, max-age=31536000, immutable"


class WebApp:
    """The files of one build, read from disk on each request (the OS caches them)."""

    def __init__(self, dist: Path) -> None:
        self.dist = dist.resolve()
        self.index = self.dist / "index.html"

    @property
    def built(self) -> bool:
        return self.index.is_file()

    def page(self) -> Response:
        return FileResponse(
            self.index,
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    def asset(self, name: str) -> Response | None:
        target = (self.dist / "assets" / name).resolve()
        if not target.is_relative_to(self.dist / "assets") or not target.is_file():
            return None
        media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media_type, headers={"Cache-Control": IMMUTABLE})


def wants_page(request: Request) -> bool:
    """A browser navigating (GET/HEAD asking for HTML), not an API client."""
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", "")
