"""A local stand-in for the Gemini REST API, so tests drive the real `google-genai` client.

It serves `POST /{v1,v1beta}/models/{model}:generateContent`, records every request (path,
headers, parsed JSON body) and answers from a script: one `Reply` per call, in order, then
`default` (if given) for every further call. Replies can be a Gemini-shaped success, a
Google-shaped error, a raw non-JSON body, or any of those after a delay (to force client
timeouts). A `responder` callable can compute replies from the request instead.

    async with FakeGemini([FakeGemini.error(429), FakeGemini.ok({"score": 80})]) as fake:
        client = genai.Client(api_key="k", http_options=HttpOptions(base_url=fake.base_url))
        ...
        assert fake.calls == 2
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

API_VERSIONS = ("v1", "v1beta")

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `raw` wins over `body` and is sent as text/plain."""

    status: int = 200
    body: Any = None
    raw: str | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    api_version: str
    model: str
    method: str  # "generateContent"
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def system_text(self) -> str:
        parts = (self.body.get("systemInstruction") or {}).get("parts", [])
        return "".join(p.get("text", "") for p in parts)

    @property
    def user_text(self) -> str:
        return "".join(
            p.get("text", "") for c in self.body.get("contents", []) for p in c.get("parts", [])
        )

    @property
    def generation_config(self) -> dict[str, Any]:
        config = self.body.get("generationConfig") or {}
        return dict(config)


Responder = Callable[[RecordedRequest], Reply]


class FakeGemini:
    """The fake server. Use as an async context manager; it binds a random local port."""

    def __init__(
        self,
        script: Iterable[Reply] = (),
        *,
        default: Reply | None = None,
        responder: Responder | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self._script: deque[Reply] = deque(script)
        self._default = default
        self._responder = responder
        self._api_key = api_key
        self._host = host
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.requests: list[RecordedRequest] = []
        self.port = 0

    # -- building replies --------------------------------------------------------------

    @staticmethod
    def ok(
        payload: Any,
        *,
        prompt_tokens: int = 100,
        output_tokens: int = 50,
        model_version: str = "gemini-2.0-flash",
        finish_reason: str = "STOP",
        delay: float = 0.0,
    ) -> Reply:
        """A success whose first candidate's text is `payload` (JSON-encoded unless str)."""
        if isinstance(payload, BaseModel):
            text = payload.model_dump_json()
        elif isinstance(payload, str):
            text = payload
        else:
            text = json.dumps(payload)
        body = {
            "candidates": [
                {
                    "content": {"parts": [{"text": text}], "role": "model"},
                    "finishReason": finish_reason,
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": prompt_tokens + output_tokens,
            },
            "modelVersion": model_version,
        }
        return Reply(200, body, delay=delay)

    @staticmethod
    def error(
        code: int,
        message: str | None = None,
        status: str | None = None,
        *,
        retry_delay: str | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """A Google-shaped error body, e.g. 429 RESOURCE_EXHAUSTED."""
        error: dict[str, Any] = {
            "code": code,
            "message": message or _MESSAGES.get(code, f"HTTP {code}"),
            "status": status or _STATUS_NAMES.get(code, "UNKNOWN"),
        }
        if retry_delay is not None:
            error["details"] = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
            ]
        return Reply(code, {"error": error}, delay=delay)

    @staticmethod
    def invalid_body(text: str = "<html>upstream hiccup</html>", status: int = 200) -> Reply:
        """A body that is not JSON at all (a proxy's page, a truncated stream)."""
        return Reply(status, raw=text)

    @staticmethod
    def slow(delay: float, then: Reply | None = None) -> Reply:
        """`then` (default: an empty success) after `delay` seconds: forces client timeouts."""
        base = then or FakeGemini.ok({})
        return Reply(base.status, base.body, base.raw, delay, base.headers)

    # -- scripting and inspection -----------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        self._script.extend(replies)

    @property
    def calls(self) -> int:
        return len(self.requests)

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> FakeGemini:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{version}/models/{target}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._closing.set()  # wake handlers still sleeping out a delay
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the endpoint --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        version = request.match_info["version"]
        model, _, method = request.match_info["target"].partition(":")
        if version not in API_VERSIONS or method != "generateContent":
            return _json(self.error(404, f"{request.path} is not served by the fake").body, 404)
        raw = await request.text()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return _json(self.error(400, "Invalid JSON payload received.").body, 400)
        recorded = RecordedRequest(
            api_version=version,
            model=model,
            method=method,
            path=request.path,
            headers=dict(request.headers),
            body=body,
        )
        self.requests.append(recorded)
        if self._api_key is not None and request.headers.get("x-goog-api-key") != self._api_key:
            msg = "API key not valid. Please pass a valid API key."
            return _json(self.error(400, msg).body, 400)
        reply = self._next_reply(recorded)
        if reply.delay:
            try:
                await asyncio.wait_for(self._closing.wait(), reply.delay)
            except TimeoutError:
                pass
        if reply.raw is not None:
            return web.Response(
                status=reply.status,
                text=reply.raw,
                content_type="text/plain",
                headers=reply.headers,
            )
        return _json(reply.body, reply.status, reply.headers)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        if self._script:
            return self._script.popleft()
        if self._responder is not None:
            return self._responder(request)
        if self._default is not None:
            return self._default
        # Not retryable on purpose: an unscripted call should fail the test quickly.
        return self.error(400, "fake_gemini: no scripted reply left", "FAILED_PRECONDITION")


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers=headers or {},
    )
