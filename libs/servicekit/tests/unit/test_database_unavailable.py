"""A route whose Mongo cannot be reached answers a problem+json 503 with Retry-After (the
caller retries; the gateway passes it on), not a 500 that reads like a bug."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from servicekit.problems import install_problem_handlers
from servicekit.testing import free_port


async def test_mongo_out_of_reach_is_a_503_with_retry_after() -> None:
    # nothing listens on this port: the real driver times out selecting a server
    client: AsyncMongoClient = AsyncMongoClient(
        f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        serverSelectionTimeoutMS=200,
    )
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/sessions")
    async def sessions() -> dict[str, int]:
        return {"count": await client["db"]["sessions"].count_documents({})}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/sessions")
    finally:
        await client.close()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "database_unavailable"
