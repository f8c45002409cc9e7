"""Mongo access on PyMongo's AsyncMongoClient: created inside the running loop (lifespan),
never shared across event loops or forks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

T = TypeVar("T")

Document = dict[str, Any]


def connect(uri: str, app_name: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        uri,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
        uuidRepresentation="standard",
    )


async def in_transaction(
    client: AsyncMongoClient[Document],
    work: Callable[[AsyncClientSession], Awaitable[T]],
) -> T:
    """Run `work` in one transaction; PyMongo retries transient errors and unknown commits."""
    async with client.start_session() as session:
        return await session.with_transaction(work)


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")


__all__ = [
    "AsyncClientSession",
    "AsyncDatabase",
    "AsyncMongoClient",
    "Document",
    "connect",
    "in_transaction",
    "ping",
]
